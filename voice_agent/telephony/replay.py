"""WAV replay: a telephony edge that plays caller WAVs into the call pipeline like a phone line.

Caller audio goes through what the phone network does to it (8 kHz, G.711 μ-law) and arrives in
20 ms frames, paced in real time by default, with silence between turns, exactly as a Twilio
media stream delivers it. The bot's audio is collected per turn (also through μ-law) so it can be
written to WAV files. After each utterance the caller waits until the bot has answered and gone
quiet before speaking again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipecat.frames.frames import (
    EndTaskFrame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voice_agent.audio import (
    PHONE_RATE,
    is_silent,
    phone_line_pcm,
    resample,
    ulaw_decode,
    ulaw_encode,
)
from voice_agent.pipeline.edge import EdgeCapabilities
from voice_agent.pipeline.frames import MarkEchoFrame, PlayoutMarkFrame
from voice_agent.testing.earpiece import Earpiece

# a replayed line plays what it is sent; marks echo as the paced audio goes out
REPLAY_EDGE = EdgeCapabilities("replay", takes_back_unplayed=False, echoes_marks=True)
FRAME_S = 0.02
FRAME_BYTES = int(PHONE_RATE * FRAME_S) * 2


@dataclass
class ReplayScript:
    """The caller's side of a replayed call."""

    utterances: list[Path]
    realtime: bool = True
    gap_s: float = 0.8  # silence after each utterance (the VAD needs its stop time)
    reply_timeout_s: float = 25.0  # give up waiting for an answer after this
    quiet_after_reply_s: float = 0.6  # bot silent this long → its answer is over


@dataclass
class ReplayRecording:
    """What the caller heard, per turn (turn 0 = greeting), and when."""

    turn_audio: dict[int, bytearray] = field(default_factory=dict)
    speech_end_at: dict[int, float] = field(default_factory=dict)
    first_audio_at: dict[int, float] = field(default_factory=dict)
    last_audio_at: float = 0.0
    current_turn: int = 0

    def add(self, pcm: bytes) -> None:
        self.turn_audio.setdefault(self.current_turn, bytearray()).extend(pcm)
        if not is_silent(pcm):
            now = time.monotonic()
            self.first_audio_at.setdefault(self.current_turn, now)
            self.last_audio_at = now


class ReplayInputTransport(BaseInputTransport):
    def __init__(self, transport: ReplayTransport, params: TransportParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._feed_task: asyncio.Task | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._feed_task is None:
            self._feed_task = self.create_task(self._feed())

    async def _stop_feed(self) -> None:
        if self._feed_task:
            await self.cancel_task(self._feed_task)
            self._feed_task = None

    async def stop(self, frame) -> None:
        await self._stop_feed()
        await super().stop(frame)

    async def cancel(self, frame) -> None:
        await self._stop_feed()
        await super().cancel(frame)

    async def _send(self, pcm: bytes, paced: bool) -> None:
        next_at = time.monotonic()
        for i in range(0, len(pcm), FRAME_BYTES):
            chunk = pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\x00")
            await self.push_audio_frame(InputAudioRawFrame(chunk, PHONE_RATE, 1))
            if paced:
                next_at += FRAME_S
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            else:
                await asyncio.sleep(0)

    async def _wait_for_reply(self, turn: int) -> None:
        script, rec = self._transport.script, self._transport.recording
        deadline = time.monotonic() + script.reply_timeout_s
        silence = bytes(FRAME_BYTES)
        while time.monotonic() < deadline:
            answered = turn in rec.first_audio_at
            if answered and time.monotonic() - rec.last_audio_at >= script.quiet_after_reply_s:
                return
            if script.realtime:
                await self._send(silence, paced=True)  # a phone line never goes quiet
            else:
                await asyncio.sleep(0.02)

    async def _feed(self) -> None:
        script, rec = self._transport.script, self._transport.recording
        try:
            await self._wait_for_reply(0)  # let the greeting play first
            for n, pcm in enumerate(self._transport.caller_audio, start=1):
                rec.current_turn = n
                await self._send(pcm, paced=script.realtime)
                rec.speech_end_at[n] = time.monotonic()
                silence = bytes(int(script.gap_s / FRAME_S) * FRAME_BYTES)
                await self._send(silence, script.realtime)
                await self._wait_for_reply(n)
        finally:  # the caller hangs up after the last turn, or if anything went wrong
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)


class ReplayOutputTransport(BaseOutputTransport):
    """Plays the agent's audio out like Twilio's far end would (voice_agent/testing/earpiece.py:
    in real time, marks echoed once the audio before them has played); `--fast` replays play
    nothing, so their marks come back at once."""

    def __init__(self, transport: ReplayTransport, params: TransportParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._earpiece = Earpiece()

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        pcm = ulaw_decode(ulaw_encode(resample(frame.audio, frame.sample_rate, PHONE_RATE)))
        self._transport.recording.add(pcm)
        if self._transport.script.realtime:  # keep no more than a phone's small buffer ahead
            self._earpiece.play(pcm)
            await asyncio.sleep(max(0.0, self._earpiece.unplayed_s() - 0.04))
        return True

    async def send_message(self, frame: OutputTransportMessageFrame) -> None:
        """A playout mark: echo it once the audio before it has played, as a phone would."""
        if isinstance(frame, PlayoutMarkFrame):
            if self._transport.script.realtime:
                self.create_task(self._echo_due(self._earpiece.mark(frame.mark)))
            else:
                await self._transport.input().push_frame(MarkEchoFrame(frame.mark))

    async def _echo_due(self, delay: float) -> None:
        await asyncio.sleep(delay)
        for name in self._earpiece.marks_due():
            await self._transport.input().push_frame(MarkEchoFrame(name))


class ReplayTransport(BaseTransport):
    """Interchangeable with the Twilio and SIP edges: same pipeline, WAV files for a caller."""

    def __init__(self, script: ReplayScript) -> None:
        super().__init__()
        self.script = script
        self.recording = ReplayRecording()
        # Read every file now: a missing or unreadable WAV fails before the call starts.
        self.caller_audio = [phone_line_pcm(path) for path in script.utterances]
        self._params = TransportParams(
            audio_in_enabled=True, audio_out_enabled=True,
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
        )
        self._input = ReplayInputTransport(self, self._params, name="replay-input")
        self._output = ReplayOutputTransport(self, self._params, name="replay-output")

    def input(self) -> ReplayInputTransport:
        return self._input

    def output(self) -> ReplayOutputTransport:
        return self._output
