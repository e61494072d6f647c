"""Twilio Media Streams edge: TwiML webhooks, signatures, stream tokens, the wire serializer,
REST call control."""
