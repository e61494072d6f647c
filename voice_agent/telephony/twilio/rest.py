"""Twilio's REST API: one configured client for outbound calls and call control.

`twilio.api_base_url` points the client elsewhere (tests run a local stand-in for Twilio's cloud).
The client is synchronous (requests): callers run it in a thread, off the event loop.
"""

from __future__ import annotations

import re

from twilio.rest import Client

from voice_agent.config import Settings

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class TwilioConfigError(ValueError):
    """Something Twilio needs is not configured, or a number is not E.164."""


def e164(number: str | None, what: str) -> str:
    """The number itself, or a clear error: Twilio wants E.164 (+, country code, ≤ 15 digits)."""
    cleaned = (number or "").strip()
    if not E164.match(cleaned):
        raise TwilioConfigError(
            f"{what} {number!r} is not an E.164 phone number (e.g. +15551234567: '+', country "
            "code, then up to 15 digits, no spaces)")
    return cleaned


def rest_client(settings: Settings) -> Client:
    tw = settings.twilio
    if not tw.has_credentials:
        raise TwilioConfigError("Twilio REST API needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
                                "(twilio.account_sid / twilio.auth_token)")
    client = Client(tw.account_sid, tw.auth_token)
    if tw.api_base_url:
        client.api.base_url = tw.api_base_url.rstrip("/")
    return client


def public_base(settings: Settings) -> str:
    """Twilio must reach our webhooks: the configured public URL, without a trailing slash."""
    base = settings.server.public_url
    if not base:
        raise TwilioConfigError("server.public_url (VOICE_AGENT_PUBLIC_URL) is not set: Twilio "
                                "needs a public https URL to fetch the call's TwiML from")
    return base.rstrip("/")
