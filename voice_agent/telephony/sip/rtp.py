"""RTP (RFC 3550) packets for one PCMU stream, RFC 4733 telephone-events, and a 20 ms packetiser.

Parsing raises `RtpError` only; the call's socket drops such packets (and packets from an
unexpected address or with a payload type we did not negotiate) without touching the call.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz
DTMF_DIGITS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """Not a usable RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def encode(self) -> bytes:
        first = 0x80  # version 2, no padding, no extension, no CSRC
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(first, second, self.sequence & 0xFFFF,
                            self.timestamp & 0xFFFFFFFF, self.ssrc) + self.payload


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < _HEADER.size:
        raise RtpError("shorter than an RTP header")
    first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError("not RTP version 2")
    offset = _HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        if end == 0 or data[-1] == 0 or data[-1] > end - offset:
            raise RtpError("bad padding")
        end -= data[-1]
    if offset > end:
        raise RtpError("truncated packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, bytes(data[offset:end]), bool(second & 0x80))


@dataclass(frozen=True)
class TelephoneEvent:
    digit: str
    end: bool
    volume: int
    duration: int  # in timestamp units (8 kHz)


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    """RFC 4733 §2.3: event, E bit, volume, duration."""
    if len(payload) < 4:
        raise RtpError("telephone-event payload shorter than 4 bytes")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    if event >= len(DTMF_DIGITS):
        raise RtpError(f"telephone-event {event} is not a DTMF digit")
    return TelephoneEvent(DTMF_DIGITS[event], bool(flags & 0x80), flags & 0x3F, duration)


def telephone_event_payload(digit: str, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", DTMF_DIGITS.index(digit), (0x80 if end else 0) | volume, duration)


class DtmfDetector:
    """One key press per RFC 4733 event: the event's RTP timestamp identifies it, so the
    three redundant end packets (and retransmitted starts) count once."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def feed(self, packet: RtpPacket) -> str | None:
        event = parse_telephone_event(packet.payload)
        if packet.timestamp in self._seen:
            return None
        self._seen.add(packet.timestamp)
        if len(self._seen) > 64:
            self._seen = {packet.timestamp}
        return event.digit


class Packetiser:
    """Our outgoing stream: sequence/timestamp/SSRC bookkeeping, 160 μ-law bytes per packet."""

    def __init__(self, payload_type: int) -> None:
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._talkspurt = True
        self.packets_sent = 0

    def packet(self, ulaw: bytes) -> bytes:
        pkt = RtpPacket(self.payload_type, self._seq, self._ts, self.ssrc, ulaw, self._talkspurt)
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(ulaw)) & 0xFFFFFFFF
        self._talkspurt = False
        self.packets_sent += 1
        return pkt.encode()

    def gap(self, seconds: float) -> None:
        """Silence we did not send still advances the clock; the next packet starts a talkspurt."""
        self._ts = (self._ts + int(seconds * 8000)) & 0xFFFFFFFF
        self._talkspurt = True
