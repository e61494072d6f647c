"""Who may talk to us: Twilio webhooks are signed (X-Twilio-Signature), our own API needs a key.

A webhook's signature is HMAC-SHA1(auth token, the URL Twilio requested + its sorted POST
fields). The URL must be the *public* one Twilio used (`server.public_url` + path + query):
behind a proxy or tunnel the request we see has another host and scheme. Without a public URL
the request's own URL is used (direct exposure, local tests).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from fastapi import HTTPException, Request
from loguru import logger
from twilio.request_validator import RequestValidator

from voice_agent.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"
NO_TOKEN = ("no Twilio auth token configured: set TWILIO_AUTH_TOKEN (or twilio.auth_token); "
            "for local tests only, `voice-agent serve --insecure-dev` turns the check off")


def public_request_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the configured public base + this request's path and raw query."""
    query = request.url.query
    base = settings.server.public_url
    if not base:
        return str(request.url)
    return base.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def startup_warning(settings: Settings) -> str | None:
    """What the server should say at start-up about webhook security, if anything."""
    tw = settings.twilio
    if not tw.validate_signatures:
        return ("Twilio signature check is OFF (twilio.validate_signatures=false / "
                "--insecure-dev): anyone can start calls. Local tests only.")
    if not tw.auth_token:
        return f"Twilio webhooks will be refused (403): {NO_TOKEN}"
    return None


async def verified_form(request: Request, settings: Settings) -> dict[str, str]:
    """The webhook's POST fields, or HTTP 403 when the request is not signed by our Twilio."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    tw = settings.twilio
    where = f"{request.method} {request.url.path}"
    if not tw.validate_signatures:
        logger.warning(f"{where}: accepting an UNVERIFIED Twilio webhook (signature check off)")
        return form
    if not tw.auth_token:
        logger.error(f"{where}: refused, {NO_TOKEN}")
        raise HTTPException(403, NO_TOKEN)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        logger.warning(f"{where}: refused, no {SIGNATURE_HEADER} header")
        raise HTTPException(403, f"missing {SIGNATURE_HEADER} header")
    url = public_request_url(settings, request)
    if not RequestValidator(tw.auth_token).validate(url, form, signature):
        logger.warning(f"{where}: refused, {SIGNATURE_HEADER} does not match {url}")
        raise HTTPException(403, f"invalid {SIGNATURE_HEADER} for {url} "
                                 "(is server.public_url the URL Twilio calls?)")
    return form


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """The signature Twilio would send (simulated Twilio, tests)."""
    return RequestValidator(auth_token).compute_signature(url, form)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def configured_key_digests(keys: list[str]) -> list[bytes]:
    """SHA-256 digests of the configured API keys; a malformed `sha256:` entry is an error."""
    out = []
    for i, entry in enumerate(keys):
        if entry.startswith("sha256:"):
            hexdigest = entry.removeprefix("sha256:")
            if not re.fullmatch(r"[0-9a-fA-F]{64}", hexdigest):
                raise ValueError(f"server.api_keys[{i}]: 'sha256:' must be followed by 64 hex "
                                 "digits (make one with `voice-agent api-key`)")
            out.append(bytes.fromhex(hexdigest))
        elif entry:
            out.append(_digest(entry))
    return out


def hash_api_key(key: str) -> str:
    """The config form of an API key: `sha256:<hex>`, so the config file holds no secret."""
    return "sha256:" + _digest(key).hex()


def require_api_key(request: Request, settings: Settings) -> None:
    """HTTP 401 unless the request carries a configured key (`Authorization: Bearer` or
    `X-API-Key`). Keys are compared as SHA-256 digests in constant time."""
    auth = request.headers.get("Authorization", "")
    presented = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else (
        request.headers.get("X-API-Key", "").strip())
    configured = configured_key_digests(settings.server.api_keys)
    if not configured:
        raise HTTPException(401, "API disabled: no server.api_keys configured",
                            headers={"WWW-Authenticate": "Bearer"})
    if not presented:
        raise HTTPException(401, "missing API key (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    digest = _digest(presented)
    # compare against every key, without stopping early: timing says nothing about which
    ok = False
    for known in configured:
        ok |= hmac.compare_digest(digest, known)
    if not ok:
        logger.warning(f"{request.url.path}: refused, unknown API key")
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
