"""SIP messages (RFC 3261) over UDP: a strict parser and builders for what a trunk endpoint says.

Only what a trunk-facing user agent needs: request/status lines, headers (compact forms folded
to their long names), Content-Length-delimited bodies. Anything malformed raises `SipParseError`
and nothing else (a fuzz test holds us to that), so one bad datagram never reaches a call.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 8192  # far above a trunk INVITE (~1.5 KB); bigger datagrams are refused
MAX_HEADERS = 80
SIP_VERSION = "SIP/2.0"

COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
    "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
    "r": "refer-to", "o": "event",
}
CANONICAL = {
    "via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
    "contact": "Contact", "content-length": "Content-Length", "content-type": "Content-Type",
    "max-forwards": "Max-Forwards", "allow": "Allow", "supported": "Supported",
    "user-agent": "User-Agent", "server": "Server", "refer-to": "Refer-To",
    "referred-by": "Referred-By", "event": "Event", "record-route": "Record-Route",
    "route": "Route", "subscription-state": "Subscription-State", "retry-after": "Retry-After",
}
REQUIRED = ("via", "from", "to", "call-id", "cseq")
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9]{2}) ?(.*)$")
_TAG = re.compile(r";\s*tag=([^;>\s]+)", re.IGNORECASE)
_URI_IN_BRACKETS = re.compile(r"<([^>]*)>")
_PRINTABLE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f]+$")
_CSEQ = re.compile(r"^[0-9]{1,10} [A-Za-z0-9\-.!%*_+`'~]+$")

REASONS = {
    100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted", 400: "Bad Request",
    403: "Forbidden", 405: "Method Not Allowed", 481: "Call/Transaction Does Not Exist",
    486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable",
}


class SipParseError(ValueError):
    """A datagram that is not a well-formed SIP message."""


@dataclass
class SipMessage:
    """A request (method + uri) or a response (status + reason), headers in arrival order."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lowercase name, value)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = (self.get("cseq") or "0 ?").split(None, 1)
        return int(number), method.strip()

    @property
    def from_tag(self) -> str | None:
        return header_tag(self.get("from") or "")

    @property
    def to_tag(self) -> str | None:
        return header_tag(self.get("to") or "")

    def encode(self) -> bytes:
        start = (f"{self.method} {self.uri} {SIP_VERSION}" if self.is_request
                 else f"{SIP_VERSION} {self.status} {self.reason}")
        lines = [start]
        for key, value in self.headers:
            if key != "content-length":
                lines.append(f"{CANONICAL.get(key, key.title())}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def header_tag(value: str) -> str | None:
    match = _TAG.search(value)
    return match.group(1) if match else None


def header_uri(value: str) -> str:
    """The URI of a From/To/Contact/Refer-To value: `"Bob" <sip:b@h>;tag=1` → `sip:b@h`."""
    match = _URI_IN_BRACKETS.search(value)
    return (match.group(1) if match else value.split(";", 1)[0]).strip()


def uri_user(uri: str) -> str | None:
    """`sip:+4930123@trunk` → `+4930123`."""
    rest = uri.split(":", 1)[-1]
    return rest.split("@", 1)[0] if "@" in rest else None


def parse(data: bytes) -> SipMessage:
    """Parse one UDP datagram; raises `SipParseError` for anything that is not valid SIP."""
    if not isinstance(data, bytes | bytearray):
        raise SipParseError("not bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message over {MAX_MESSAGE_BYTES} bytes")
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SipParseError("headers are not UTF-8") from e
    lines = text.split("\r\n")
    msg = _start_line(lines[0])
    _headers(msg, lines[1:])
    for name in REQUIRED:
        if msg.get(name) is None:
            raise SipParseError(f"missing {CANONICAL[name]} header")
    _check_cseq(msg)
    length = msg.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise SipParseError("bad Content-Length")
        n = int(length)
        if n > len(body):
            raise SipParseError("body shorter than Content-Length")
        body = body[:n]
    msg.body = body
    return msg


def _start_line(line: str) -> SipMessage:
    if line.startswith("SIP/"):
        match = _STATUS.match(line)
        if not match:
            raise SipParseError(f"bad status line {line[:60]!r}")
        return SipMessage(status=int(match.group(1)), reason=match.group(2))
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION:
        raise SipParseError(f"bad request line {line[:60]!r}")
    method, uri = parts[0], parts[1]
    if not _TOKEN.match(method) or not method.isupper():
        raise SipParseError(f"bad method {method[:20]!r}")
    if ":" not in uri or any(c.isspace() for c in uri):
        raise SipParseError(f"bad request URI {uri[:60]!r}")
    return SipMessage(method=method, uri=uri)


def _headers(msg: SipMessage, lines: list[str]) -> None:
    for line in lines:
        if line[:1] in (" ", "\t"):  # folded continuation of the previous header
            if not msg.headers:
                raise SipParseError("continuation line before any header")
            key, value = msg.headers[-1]
            msg.headers[-1] = (key, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:60]!r}")
        value = value.strip()
        if value and not _PRINTABLE.match(value):
            raise SipParseError(f"control character in {name[:30]!r}")
        msg.headers.append((COMPACT.get(name, name), value))
        if len(msg.headers) > MAX_HEADERS:
            raise SipParseError("too many headers")


def _check_cseq(msg: SipMessage) -> None:
    parts = (msg.get("cseq") or "").split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
        raise SipParseError("bad CSeq")
    if not _TOKEN.match(parts[1]) or (msg.is_request and parts[1] != msg.method):
        raise SipParseError("CSeq method does not match")
    if not msg.call_id.strip():
        raise SipParseError("empty Call-ID")


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)  # RFC 3261 magic cookie


def response(
    request: SipMessage, status: int, *, to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None, body: bytes = b"",
) -> SipMessage:
    """A response that copies Via/From/To/Call-ID/CSeq (adds our To tag when given)."""
    out = SipMessage(status=status, reason=REASONS.get(status, "Unknown"))
    for name in ("via", "record-route"):
        out.headers += [(name, v) for v in request.get_all(name)]
    to = request.get("to") or ""
    if to_tag and header_tag(to) is None:
        to = f"{to};tag={to_tag}"
    out.headers += [
        ("from", request.get("from") or ""), ("to", to),
        ("call-id", request.call_id), ("cseq", request.get("cseq") or ""),
    ]
    out.headers += headers or []
    out.body = body
    return out


def minimal_400(data: bytes) -> bytes | None:
    """Best effort 400 for a datagram we could not parse, when it still carries enough headers
    to route the answer (Via, From, To, Call-ID, CSeq); None means drop it silently."""
    try:
        text = bytes(data[:MAX_MESSAGE_BYTES]).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - never raise from the error path
        return None
    first, _, rest = text.partition("\r\n")
    if first.startswith("SIP/") or " SIP/2.0" not in first:
        return None  # never answer a response, nor something that is not SIP at all
    found: dict[str, str] = {}
    for line in rest.split("\r\n"):
        if not line:
            break
        name, colon, value = line.partition(":")
        key = COMPACT.get(name.strip().lower(), name.strip().lower())
        if colon and key in REQUIRED and key not in found:
            found[key] = value.strip()
    if any(name not in found for name in REQUIRED):
        return None
    if not all(_PRINTABLE.match(v) for v in found.values()) or not _CSEQ.match(found["cseq"]):
        return None  # echoing control characters or a broken CSeq would be garbage in turn
    lines = [f"{SIP_VERSION} 400 Bad Request"]
    lines += [f"{CANONICAL[k]}: {found[k]}" for k in REQUIRED]
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
