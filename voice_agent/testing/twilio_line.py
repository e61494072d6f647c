"""A simulated Twilio: plays a caller over the real media-stream WebSocket, as Twilio does.

First, like Twilio, it POSTs the voice webhook (signed with the auth token it is given) and
takes the stream URL and `<Parameter>`s (the single-use stream token among them) from the TwiML.
Then it sends `connected` and `start`, then 20 ms μ-law media frames continuously (silence
between turns), and records what the agent sends back with arrival times. Used by the
end-to-end tests and `voice-agent bench latency`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import numpy as np
import websockets

from voice_agent.audio import PHONE_FRAME_BYTES, is_silent, phone_line_pcm, ulaw_decode, ulaw_encode
from voice_agent.testing.earpiece import Earpiece

SILENCE_ULAW = ulaw_encode(bytes(PHONE_FRAME_BYTES * 2))
ACCOUNT_SID = "AC" + "0" * 32


class WebhookRefused(Exception):
    """The voice webhook did not answer with a stream: HTTP error or `<Reject>`."""


def webhook_url(stream_ws_url: str, language: str | None = None) -> str:
    """The voice webhook on the same server as a media WebSocket URL (ws://h/media → http://h/twiml)."""
    parts = urlsplit(stream_ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    query = urlencode({"lang": language}) if language else ""
    return urlunsplit((scheme, parts.netloc, "/twiml", query, ""))


def parse_connect_twiml(xml: str) -> tuple[str, dict[str, str]]:
    """`<Connect><Stream url>` → (url, parameters); `<Reject>` → WebhookRefused."""
    root = ET.fromstring(xml)
    reject = root.find("Reject")
    if reject is not None:
        raise WebhookRefused(f"call rejected: {reject.get('reason', 'rejected')}")
    stream = root.find("Connect/Stream")
    if stream is None or not stream.get("url"):
        raise WebhookRefused(f"TwiML without <Connect><Stream url>: {xml}")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), params


async def post_webhook(url: str, form: dict[str, str], auth_token: str | None) -> str:
    """POST a form as Twilio does, signed when an auth token is given; the response body."""
    from voice_agent.telephony.twilio.security import SIGNATURE_HEADER, sign

    headers = {SIGNATURE_HEADER: sign(auth_token, url, form)} if auth_token else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=form, headers=headers) as r:
            body = await r.text()
            if r.status != 200:
                raise WebhookRefused(f"{url} answered HTTP {r.status}: {body}")
            return body


def _voiced_frame_starts(pcm16: bytes, threshold_dbfs: float) -> list[int]:
    """Byte offsets of the voiced 20 ms frames of 8 kHz PCM."""
    step = PHONE_FRAME_BYTES * 2
    return [i for i in range(0, len(pcm16), step)
            if not is_silent(pcm16[i : i + step], threshold_dbfs)]


def last_voiced_offset(pcm16: bytes, threshold_dbfs: float = -40.0) -> float:
    """Seconds from the start of the utterance to the end of its last voiced 20 ms frame."""
    voiced = _voiced_frame_starts(pcm16, threshold_dbfs)
    return (voiced[-1] + PHONE_FRAME_BYTES * 2) / 2 / 8000 if voiced else 0.0


def first_voiced_offset(pcm16: bytes, threshold_dbfs: float = -40.0) -> float:
    """Seconds from the start of the utterance to its first voiced 20 ms frame."""
    voiced = _voiced_frame_starts(pcm16, threshold_dbfs)
    return voiced[0] / 2 / 8000 if voiced else 0.0


@dataclass
class TurnResult:
    utterance: str
    latency_s: float | None  # end of caller speech → first non-silent agent audio
    agent_audio_s: float


@dataclass
class SimulatedCall:
    """A call as Twilio places it. `url` is the media WebSocket; `custom_parameters` `from`,
    `to` and `lang` go into the voice webhook (From, To, ?lang=), `webhook_form` adds fields
    (e.g. SIP headers). `fetch_twiml=False` skips the webhook: a bare stream (protocol tests)."""

    url: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    auth_token: str | None = None  # signs the webhook (X-Twilio-Signature), as Twilio does
    fetch_twiml: bool = True
    webhook_form: dict[str, str] = field(default_factory=dict)
    stream_sid: str = field(default_factory=lambda: f"MZ{uuid.uuid4().hex}")
    call_sid: str = field(default_factory=lambda: f"CA{uuid.uuid4().hex}")
    received: list[tuple[float, bytes]] = field(default_factory=list)  # (arrival, pcm16)
    other_messages: list[dict] = field(default_factory=list)
    start_sent_at: float = 0.0
    closed_code: int | None = None
    _ws: websockets.ClientConnection | None = None
    _reader: asyncio.Task | None = None
    _sender_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _mark_tasks: set[asyncio.Task] = field(default_factory=set)  # marks waiting to be echoed
    marks_echoed: list[tuple[float, str]] = field(default_factory=list)
    echo_gain: float = 0.0  # e.g. 0.1: the agent's voice leaks back at -20 dB (speakerphone)
    echo_delay_s: float = 0.15
    # the caller's earpiece: plays the agent's audio, answers `mark` and `clear` as Twilio does
    earpiece: Earpiece = field(default_factory=Earpiece)

    async def _fetch_twiml(self) -> None:
        p = self.custom_parameters
        form = {"CallSid": self.call_sid, "AccountSid": ACCOUNT_SID,
                "From": p.get("from", "+15550001111"), "To": p.get("to", "+15550002222"),
                "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
                **self.webhook_form}
        twiml = await post_webhook(webhook_url(self.url, p.get("lang")), form, self.auth_token)
        self.url, self.custom_parameters = parse_connect_twiml(twiml)

    async def __aenter__(self) -> SimulatedCall:
        if self.fetch_twiml:
            await self._fetch_twiml()
        self._ws = await websockets.connect(self.url, max_size=2**20)
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self.start_sent_at = time.monotonic()
        await self.send_json({
            "event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid, "accountSid": ACCOUNT_SID,
                "callSid": self.call_sid, "tracks": ["inbound"],
                "customParameters": self.custom_parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader:
            await asyncio.wait({self._reader}, timeout=5)
        for task in list(self._mark_tasks):  # the line is gone: no mark comes back now
            task.cancel()

    async def send_json(self, message: dict) -> None:
        await self.send_raw(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame; after the agent hung up, like a phone, the line is just dead."""
        assert self._ws is not None
        async with self._sender_lock:
            try:
                await self._ws.send(data)
            except websockets.ConnectionClosed:
                pass

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                now = time.monotonic()
                if msg.get("event") == "media":
                    pcm = ulaw_decode(base64.b64decode(msg["media"]["payload"]))
                    self.received.append((now, pcm))
                    self.earpiece.play(pcm)
                else:
                    msg["_at"] = now
                    self.other_messages.append(msg)
                    await self._playout_control(msg, now)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed_code = self._ws.close_code

    async def _playout_control(self, msg: dict, now: float) -> None:
        """Twilio's side of `mark` and `clear` (the earpiece model keeps the books)."""
        if msg.get("event") == "mark":
            delay = self.earpiece.mark((msg.get("mark") or {}).get("name", ""))
            task = asyncio.create_task(self._echo_marks_after(delay))
            self._mark_tasks.add(task)
            task.add_done_callback(self._mark_tasks.discard)
        elif msg.get("event") == "clear":
            for name in self.earpiece.clear():  # dropped audio: its marks come back at once
                await self._send_mark(name)

    @property
    def played(self) -> list[tuple[float, bytes]]:
        """(start, pcm) of what the caller's earpiece played, cut where `clear` stopped it."""
        return self.earpiece.played

    @property
    def cleared_at(self) -> list[float]:
        """When each `clear` arrived."""
        return self.earpiece.cleared_at

    def heard_audio(self, since: float = 0.0) -> bytes:
        """What the caller's earpiece played from `since` on, gaps left out."""
        return self.earpiece.heard_audio(since)

    def heard_speech_s(self, since: float = 0.0) -> float:
        """Seconds of the agent's audio the caller heard from `since` on, less the transport's
        padding: pipecat pads every run of audio it flushes to a whole chunk with exact zeros
        (at each pause and each answer's end), which made the length of `heard_audio` vary by
        ±40 ms run to run. Speech itself is seldom exactly zero, so what is lost or repeated
        shows here almost to the sample."""
        pcm = np.frombuffer(self.heard_audio(since), dtype=np.int16)
        return int(np.count_nonzero(pcm)) / 8000

    async def _echo_marks_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        for name in self.earpiece.marks_due():  # none if a `clear` returned them already
            await self._send_mark(name)

    async def _send_mark(self, name: str) -> None:
        self.marks_echoed.append((time.monotonic(), name))
        await self.send_json({"event": "mark", "streamSid": self.stream_sid,
                              "mark": {"name": name}})

    def _with_echo(self, chunk: bytes, t: float) -> bytes:
        """The caller's microphone also picks up the earpiece, `echo_delay_s` late."""
        if not self.echo_gain:
            return chunk
        heard = self.earpiece.audio_at(t - self.echo_delay_s, len(chunk))
        echo = np.frombuffer(heard, dtype=np.int16).astype(np.float32)
        mixed = np.frombuffer(chunk, dtype=np.int16).astype(np.float32) + echo * self.echo_gain
        return np.clip(mixed, -32768, 32767).astype(np.int16).tobytes()

    async def send_dtmf(self, digit: str) -> None:
        await self.send_json({"event": "dtmf", "streamSid": self.stream_sid,
                              "dtmf": {"track": "inbound_track", "digit": digit}})

    @property
    def closed(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def send_frame(self, pcm16: bytes) -> None:
        """One 20 ms media frame of 8 kHz PCM (padded), the earpiece's echo mixed in: for a
        caller that paces the line itself (testing/call_script.py)."""
        step = PHONE_FRAME_BYTES * 2
        chunk = self._with_echo(pcm16[:step].ljust(step, b"\x00"), time.monotonic())
        payload = base64.b64encode(ulaw_encode(chunk)).decode()
        await self.send_json({
            "event": "media", "streamSid": self.stream_sid,
            "media": {"track": "inbound", "payload": payload},
        })

    async def send_audio(self, pcm16: bytes) -> None:
        """Stream 8 kHz PCM as μ-law media frames, paced in real time like a phone line."""
        step = PHONE_FRAME_BYTES * 2
        next_at = time.monotonic()
        for i in range(0, len(pcm16), step):
            if self.closed:
                return
            await self.send_frame(pcm16[i : i + step])
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def send_silence(self, seconds: float) -> None:
        await self.send_audio(bytes(int(seconds * 8000) * 2))

    def first_voiced_after(self, t: float) -> float | None:
        for at, pcm in self.received:
            if at >= t and not is_silent(pcm):
                return at
        return None

    def audio_since(self, t: float) -> bytes:
        return b"".join(pcm for at, pcm in self.received if at >= t)

    async def wait_quiet(self, since: float, quiet_s: float = 0.8, timeout: float = 30.0) -> bool:
        """Keep the line open (silence) until the agent spoke after `since` and then went quiet."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed:
            voiced = [at for at, pcm in self.received if at >= since and not is_silent(pcm)]
            if voiced and time.monotonic() - voiced[-1] >= quiet_s:
                return True
            await self.send_silence(0.1)
        return False

    async def say(self, wav: Path, reply_timeout: float = 30.0) -> TurnResult:
        """Speak one utterance, then wait for the agent's answer to finish."""
        pcm = phone_line_pcm(wav)
        started = time.monotonic()
        await self.send_audio(pcm)
        speech_end = started + last_voiced_offset(pcm)
        await self.wait_quiet(speech_end, timeout=reply_timeout)
        first = self.first_voiced_after(speech_end)
        agent = self.audio_since(speech_end)
        return TurnResult(
            wav.name, None if first is None else first - speech_end, len(agent) / 2 / 8000
        )

    async def stop(self) -> None:
        await self.send_json({
            "event": "stop", "streamSid": self.stream_sid,
            "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid},
        })


async def keep_line_open(call: SimulatedCall, until: float) -> None:
    """Send silence until `until` (monotonic): a phone line never goes quiet."""
    while time.monotonic() < until and not call.closed:
        await call.send_silence(0.02)


async def ask_and_wait_for_answer(
    call: SimulatedCall, question: Path, timeout: float = 20
) -> float:
    """Ask; return when the agent's answer starts (monotonic), keeping the line open."""
    pcm = phone_line_pcm(question)
    sent = time.monotonic()
    await call.send_audio(pcm)
    speech_end = sent + last_voiced_offset(pcm)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        start = call.first_voiced_after(speech_end)
        if start is not None:
            return start
        await call.send_silence(0.02)
    raise TimeoutError("the agent did not answer the question")
