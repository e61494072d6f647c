"""Operator logins: argon2 password hashes from config, a signed session cookie.

The cookie holds the operator's name and a session id, signed (itsdangerous) and time-limited;
it is HttpOnly and SameSite=Strict, so another site can neither read it nor send it along.
Logging out revokes the session id in this process, so a copied cookie stops working too. Every
operator route depends on `require_operator` (HTTP) or `websocket_operator` (WebSocket).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, WebSocket
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from voice_agent.config import OperatorSettings

COOKIE = "voice_agent_operator"
COOKIE_PATH = "/operator"
_HASHER = PasswordHasher()
# Verifying against a real hash when the name is unknown keeps the timing the same.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(8))


def hash_password(password: str) -> str:
    """An argon2id hash for `operator.users` in the config."""
    if not password:
        raise ValueError("the password must not be empty")
    return _HASHER.hash(password)


class OperatorAuth:
    """Checks passwords and issues/reads session cookies for one app."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.users = dict(settings.users)
        self.max_age_s = settings.session_max_age_s
        secret = settings.session_secret or secrets.token_hex(32)
        self._signer = URLSafeTimedSerializer(secret, salt="voice-agent-operator-session")
        self._revoked: dict[str, float] = {}  # session id → when its cookie expires anyway
        self.throttle = LoginThrottle(settings.login_max_failures, settings.login_lockout_s)

    @property
    def closed(self) -> bool:
        """No accounts configured: nobody can log in."""
        return not self.users

    def check_password(self, name: str, password: str) -> bool:
        stored = self.users.get(name)
        try:
            return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def session_cookie(self, name: str) -> str:
        return self._signer.dumps({"user": name, "sid": secrets.token_urlsafe(12)})

    def _session(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(data, dict) or data.get("sid") in self._revoked:
            return None
        return data if data.get("user") in self.users else None

    def user_from_cookie(self, cookie: str | None) -> str | None:
        """The operator a cookie belongs to, or None (missing, forged, expired, logged out,
        user removed from the config)."""
        session = self._session(cookie)
        return session["user"] if session else None

    def revoke(self, cookie: str | None) -> None:
        """Log out: this session's cookie is refused from now on."""
        session = self._session(cookie)
        now = time.time()
        self._revoked = {sid: t for sid, t in self._revoked.items() if t > now}
        if session:
            self._revoked[session["sid"]] = now + self.max_age_s


class LoginThrottle:
    """Failed logins per client address: `max_failures` within `window_s` lock it out until
    the oldest of them is `window_s` old. Password guessing stays slow; argon2's CPU is only
    spent on addresses that are not locked out."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def locked_for(self, key: str) -> float:
        """Seconds until this address may try again (0: it may)."""
        now = time.monotonic()
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return 0.0
        return self.window_s - (now - times[0])

    def failed(self, key: str) -> None:
        now = time.monotonic()
        if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
            self._failures = {k: t for k, t in self._failures.items() if self._recent(k, now)}
        times = self._recent(key, now)
        times.append(now)
        self._failures[key] = times

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def _auth(conn: HTTPConnection) -> OperatorAuth:
    return conn.app.state.operator_auth


def require_operator(request: Request) -> str:
    """FastAPI dependency: the logged-in operator's name, or 401."""
    user = _auth(request).user_from_cookie(request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(status_code=401, detail="operator login required")
    return user


def same_origin(conn: HTTPConnection) -> bool:
    """Browsers send Origin on WebSocket handshakes and POSTs; another site's page is refused."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True  # not a browser (tests, tools): the cookie alone decides
    return urlsplit(origin).netloc == conn.headers.get("host")


def websocket_operator(ws: WebSocket) -> str | None:
    """The operator behind a WebSocket handshake, or None (the caller closes with 1008)."""
    if not same_origin(ws):
        return None
    return _auth(ws).user_from_cookie(ws.cookies.get(COOKIE))
