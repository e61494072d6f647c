"""Short-lived, single-use tokens that authenticate a media stream.

The (signed) voice webhook answers TwiML with `<Parameter name="token">`; Twilio hands it back
in the stream's `start.customParameters`. Without it anyone who finds the WebSocket URL could
open calls. A token is HMAC-SHA256-signed, bound to the call's CallSid, expires after
`twilio.stream_token_ttl_s` and is accepted once.

Single use is remembered in this process's memory, so with several workers either route a call's
webhook and stream to one worker or use the Redis event bus (`bus.backend: redis`): then every
worker shares the used-token set in `bus.redis_url` (SET NX with the token's remaining life).
The secret must then be shared too (`twilio.stream_token_secret`); a per-process random one
only works with one worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

from loguru import logger

from voice_agent.config import Settings

VERSION = "v1"


class StreamTokenError(Exception):
    """The stream's token is missing, forged, expired, for another call, or already used."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    """Issues tokens in the webhook; redeems each once when its stream starts."""

    def __init__(
        self, secret: bytes, ttl_s: float, redis_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._ttl_s = ttl_s
        self._clock = clock
        self._used: dict[str, float] = {}  # nonce → expiry (memory mode)
        self._redis = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamTokens:
        tw = settings.twilio
        secret = tw.stream_token_secret.encode() if tw.stream_token_secret else (
            secrets.token_bytes(32))
        # with the Redis event bus (several workers), used tokens are shared through Redis too
        bus = getattr(settings, "bus", None)
        redis_url = bus.redis_url if bus is not None and bus.backend == "redis" else None
        return cls(secret, tw.stream_token_ttl_s, redis_url)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{VERSION}.{body}".encode(), hashlib.sha256).digest())

    def issue(self, call_sid: str) -> str:
        payload = {"sid": call_sid, "exp": round(self._clock() + self._ttl_s, 3),
                   "n": secrets.token_hex(12)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{VERSION}.{body}.{self._sign(body)}"

    def _check(self, token: str | None, call_sid: str | None) -> dict:
        if not token:
            raise StreamTokenError("stream has no token parameter (start it from our TwiML)")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise StreamTokenError("malformed stream token")
        body, signature = parts[1], parts[2]
        if not hmac.compare_digest(signature, self._sign(body)):
            raise StreamTokenError("stream token signature is invalid")
        try:
            payload = json.loads(_unb64(body))
            sid, exp, nonce = str(payload["sid"]), float(payload["exp"]), str(payload["n"])
        except (ValueError, KeyError, TypeError) as e:
            raise StreamTokenError("malformed stream token payload") from e
        if self._clock() > exp:
            raise StreamTokenError("stream token expired")
        if sid != call_sid:
            raise StreamTokenError(f"stream token is for another call ({sid}, not {call_sid})")
        return {"sid": sid, "exp": exp, "n": nonce}

    async def redeem(self, token: str | None, call_sid: str | None) -> None:
        """Accept the token once, or raise StreamTokenError saying why not."""
        payload = self._check(token, call_sid)
        nonce, exp = payload["n"], payload["exp"]
        if self._redis is not None:
            ttl_ms = max(1, int((exp - self._clock()) * 1000) + 1000)
            try:
                fresh = await self._redis.set(f"voice_agent:stream_token:{nonce}", 1,
                                              nx=True, px=ttl_ms)
            except Exception as e:  # fail closed: an unverifiable stream is not a call
                logger.error(f"stream token store (Redis) unavailable: {e}")
                raise StreamTokenError(f"cannot check token reuse: Redis error {e}") from e
            if not fresh:
                raise StreamTokenError("stream token already used")
            return
        now = self._clock()
        # Forget expired ones (they fail on expiry anyway). The TTL is fixed, so the oldest
        # entries expire first: stop at the first live one (O(1) per call, not O(n)).
        while self._used:
            oldest, until = next(iter(self._used.items()))
            if until >= now:
                break
            del self._used[oldest]
        if nonce in self._used:
            raise StreamTokenError("stream token already used")
        self._used[nonce] = exp

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
