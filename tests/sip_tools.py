"""Test-side tools for the SIP edge: run sipp scenarios, a caller's earpiece (an RTP sink), raw
SIP datagrams written by hand (not with the agent's own builder), and settings for a test trunk."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import struct
import time
from pathlib import Path

from voice_agent.audio import read_wav, to_phone_line
from voice_agent.config import SipSettings

SCENARIOS = Path(__file__).parent / "sip_scenarios"


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def sip_resources(res, **sip: object):
    """The loaded models with a SIP endpoint on a free port (and no TTS pre-cache: CPU)."""
    rtp = free_udp_port() // 2 * 2
    base = dict(enabled=True, host="127.0.0.1", port=free_udp_port(),
                rtp_port_min=rtp, rtp_port_max=rtp + 200, allowed_addresses=["127.0.0.1"])
    s = res.settings
    settings = s.model_copy(update={
        "sip": SipSettings(**{**base, **sip}),
        "tts": s.tts.model_copy(update={"precache_answers": False}),
    })
    return res.with_settings(settings)


def write_ulaw(wav: Path, out: Path, trailing_silence_s: float = 1.0) -> float:
    """A fixture WAV as sipp's rtp_stream plays it: raw 8 kHz μ-law. Returns its seconds."""
    pcm, rate = read_wav(wav)
    ulaw = to_phone_line(pcm, rate) + b"\xff" * int(8000 * trailing_silence_s)
    out.write_bytes(ulaw)
    return len(ulaw) / 8000


@dataclasses.dataclass
class Sipp:
    rc: int
    output: str
    messages: str  # -trace_msg: every SIP message sent and received


async def run_sipp(
    scenario: str, agent_port: int, cwd: Path, *args: str, timeout_s: float = 120,
) -> Sipp:
    sipp = shutil.which("sipp")
    assert sipp, "sipp is missing: bash scripts/setup.sh installs it (Debian: sip-tester)"
    msg_file = cwd / f"{scenario}.messages.log"
    proc = await asyncio.create_subprocess_exec(
        sipp, f"127.0.0.1:{agent_port}", "-sf", str(SCENARIOS / f"{scenario}.xml"),
        "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(free_udp_port() // 2 * 2),
        "-s", "agent", "-m", "1", "-nostdin", "-timeout", f"{int(timeout_s)}s", "-timeout_error",
        "-trace_msg", "-message_file", str(msg_file), *args,
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 15)
    messages = msg_file.read_text(errors="replace") if msg_file.exists() else ""
    return Sipp(proc.returncode, out.decode(errors="replace")[-4000:], messages)


class Earpiece(asyncio.DatagramProtocol):
    """The caller's side of the agent's audio: counts RTP packets, keeps their payloads."""

    def __init__(self) -> None:
        self.packets: list[tuple[int, bytes, tuple[str, int]]] = []  # (pt, payload, source)
        self.arrivals: list[float] = []  # monotonic, one per packet

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and data[0] >> 6 == 2:
            self.packets.append((data[1] & 0x7F, data[12:], addr))
            self.arrivals.append(time.monotonic())

    def first_talkspurt(self) -> tuple[int, float]:
        """Packets of the first run without a pause (the greeting) and how long it took."""
        end = 1
        while end < len(self.arrivals) and self.arrivals[end] - self.arrivals[end - 1] < 0.1:
            end += 1
        return end, self.arrivals[end - 1] - self.arrivals[0]

    @property
    def seconds(self) -> float:
        return sum(len(p) for _, p, _ in self.packets) / 8000

    @classmethod
    async def open(cls) -> tuple[Earpiece, asyncio.DatagramTransport, int]:
        loop = asyncio.get_running_loop()
        transport, ear = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", 0))
        return ear, transport, transport.get_extra_info("sockname")[1]


def raw_request(
    method: str, call_id: str, src: tuple[str, int], cseq: int = 1, body: str = "",
    from_tag: str | None = None, to_tag: str | None = None,
) -> bytes:
    to = "<sip:agent@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    content = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{method} sip:agent@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {src[0]}:{src[1]};branch=z9hG4bK-{call_id}-{cseq}\r\n"
        f"From: <sip:+15550002222@{src[0]}>;tag={from_tag or 't-' + call_id}\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:caller@{src[0]}:{src[1]}>\r\nMax-Forwards: 70\r\n{content}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def raw_invite(
    call_id: str, src: tuple[str, int], codecs: str = "0 101", rtp_port: int = 40000,
    rtpmap: str = "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", **kw,
) -> bytes:
    """An INVITE written by hand (`cseq`, `from_tag`, `to_tag` make it a re-INVITE)."""
    body = (f"v=0\r\no=- 1 1 IN IP4 {src[0]}\r\ns=-\r\nc=IN IP4 {src[0]}\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP {codecs}\r\n{rtpmap}")
    return raw_request("INVITE", call_id, src, body=body, **kw)


class RawPeer:
    """A UDP socket that sends hand-written datagrams and reads the status codes that come back."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()
        self.last_reply = b""

    async def ask(self, data: bytes, to: tuple[str, int], wait_s: float = 2.0) -> list[int]:
        """Send one datagram; every status code answered within `wait_s` (final ones end it)."""
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, data, to)
        codes: list[int] = []
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            try:
                reply = await asyncio.wait_for(
                    loop.sock_recv(self.sock, 65535), deadline - loop.time())
            except TimeoutError:
                break
            self.last_reply = reply
            codes.append(int(reply.split(b" ", 2)[1]))
            if codes[-1] >= 200:
                break
        return codes

    def send_rtp(
        self, to: tuple[str, int], pt: int, payload: bytes, seq: int,
        timestamp: int | None = None,
    ) -> None:
        ts = seq * 160 if timestamp is None else timestamp
        header = struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts, 0x1234)
        self.sock.sendto(header + payload, to)

    def close(self) -> None:
        self.sock.close()
