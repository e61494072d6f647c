"""Outbound calls: Twilio dials the number, then fetches our TwiML like for an inbound call.

The call then runs exactly as an inbound one (signed webhook → stream token → media stream);
its progress comes back as status callbacks (POST /twilio/status → CallStatus events).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from voice_agent.config import Settings
from voice_agent.telephony.twilio.rest import TwilioConfigError, e164, public_base, rest_client


@dataclass
class PlacedCall:
    call_sid: str
    to: str
    from_: str
    status: str
    language: str | None


def place_call(
    settings: Settings, to: str, from_: str | None = None, language: str | None = None
) -> PlacedCall:
    """Ask Twilio to dial `to`; raises TwilioConfigError for bad numbers or missing settings,
    twilio's TwilioRestException when Twilio refuses."""
    to = e164(to, "destination")
    caller_id = e164(from_ or settings.twilio.from_number, "caller ID (--from / twilio."
                     "from_number)")
    if language is not None and language not in settings.languages.allowed:
        raise TwilioConfigError(f"language {language!r} is not one of "
                                f"{settings.languages.allowed}")
    base = public_base(settings)
    query = f"?{urlencode({'lang': language})}" if language else ""
    call = rest_client(settings).calls.create(
        to=to, from_=caller_id, url=f"{base}/twiml{query}", method="POST",
        status_callback=f"{base}/twilio/status", status_callback_method="POST",
        status_callback_event=list(settings.twilio.status_callback_events),
    )
    return PlacedCall(call.sid, to, caller_id, str(call.status), language)
