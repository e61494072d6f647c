"""SDP offer/answer (RFC 4566, 3264) for one audio stream: PCMU/8000 plus telephone-event.

We accept an offer only if it carries PCMU on an RTP/AVP audio line with a unicast IPv4 address;
anything else is a 488 for the caller. Parsing errors raise `SdpError` only.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

PCMU = 0
PTIME_MS = 20


class SdpError(ValueError):
    """An SDP body we cannot use."""


@dataclass
class SdpOffer:
    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str] = field(default_factory=dict)  # pt → "telephone-event/8000"
    direction: str = "sendrecv"

    @property
    def pcmu_pt(self) -> int | None:
        """The payload number the offer uses for PCMU/8000 (0 unless remapped), or None."""
        for pt in self.payload_types:
            codec = self.rtpmap.get(pt, "PCMU/8000" if pt == PCMU else "").lower()
            if codec.startswith("pcmu/8000"):
                return pt
        return None

    @property
    def telephone_event_pt(self) -> int | None:
        for pt in self.payload_types:
            if self.rtpmap.get(pt, "").lower().startswith("telephone-event/8000"):
                return pt
        return None


def parse_offer(body: bytes) -> SdpOffer:
    """The first audio stream of an SDP body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SdpError("SDP is not UTF-8") from e
    session_addr: str | None = None
    media_addr: str | None = None
    audio: tuple[int, list[int]] | None = None
    rtpmap: dict[int, str] = {}
    direction = "sendrecv"
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "m":
            in_audio = audio is None and value.startswith("audio ")
            if in_audio:
                audio = _media_line(value)
        elif kind == "c":
            if audio is None:
                session_addr = _connection(value)
            elif in_audio:
                media_addr = _connection(value)
        elif kind == "a" and in_audio:
            if value.startswith("rtpmap:"):
                pt, _, codec = value[7:].partition(" ")
                if pt.isdigit() and codec:
                    rtpmap[int(pt)] = codec.strip()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = value
    if audio is None:
        raise SdpError("no audio stream offered")
    address = media_addr or session_addr
    if address is None:
        raise SdpError("no connection address")
    port, pts = audio
    return SdpOffer(address, port, pts, rtpmap, direction)


def _media_line(value: str) -> tuple[int, list[int]]:
    parts = value.split()
    if len(parts) < 4 or parts[2] != "RTP/AVP":
        raise SdpError(f"unsupported media line {value[:60]!r}")
    if not parts[1].isdigit() or not 0 <= int(parts[1]) <= 65535:
        raise SdpError("bad media port")
    if not all(p.isdigit() and int(p) < 128 for p in parts[3:]):
        raise SdpError("bad payload type list")
    return int(parts[1]), [int(p) for p in parts[3:]]


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] != "IP4":
        raise SdpError(f"unsupported connection line {value[:60]!r}")
    address = parts[2].split("/", 1)[0]
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as e:
        raise SdpError(f"bad IPv4 address {address[:40]!r}") from e
    if ip.is_multicast:
        raise SdpError("multicast media is not supported")
    return address


def build_answer(
    local_ip: str, port: int, offer: SdpOffer, session_id: int | None = None,
    version: int = 1,
) -> bytes:
    """Our answer: PCMU (in the offer's payload number) + telephone-event if it was offered."""
    sid = session_id or int(time.time())
    pcmu = offer.pcmu_pt
    if pcmu is None:
        raise SdpError("PCMU/8000 not offered")
    pts = [pcmu]
    lines = [
        "v=0", f"o=voice_agent {sid} {version} IN IP4 {local_ip}", "s=voice_agent",
        f"c=IN IP4 {local_ip}", "t=0 0",
    ]
    te = offer.telephone_event_pt
    if te is not None:
        pts.append(te)
    lines.append(f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}")
    lines.append(f"a=rtpmap:{pcmu} PCMU/8000")
    if te is not None:
        lines += [f"a=rtpmap:{te} telephone-event/8000", f"a=fmtp:{te} 0-15"]
    lines += [f"a=ptime:{PTIME_MS}", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
