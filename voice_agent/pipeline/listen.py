"""Listen-in: copies of a call's audio (caller in, bot out) fanned out to operators.

`ListenTap` sits in the call's pipeline and hands each 8 kHz 16-bit PCM frame to the
`ListenHub`; with nobody listening that is one dictionary lookup. Each listener has a bounded
queue: when a listener's network is slow its frames are dropped, the call never waits.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.audio import PHONE_RATE, resample

CALLER, BOT = 0, 1  # first byte of each listen-in message
SIDES = {"caller": CALLER, "bot": BOT}


class ListenHub:
    """Per-call fan-out of audio frames to listener queues."""

    def __init__(self, queue_frames: int = 50) -> None:
        self._listeners: dict[str, set[asyncio.Queue[bytes]]] = {}
        self.queue_frames = queue_frames  # per side; the app sets it from config
        self.dropped = 0  # frames a slow listener lost (all calls)

    def listening(self, call_id: str) -> bool:
        return bool(self._listeners.get(call_id))

    def subscribe(self, call_id: str) -> asyncio.Queue[bytes]:
        # both sides share one queue: twice the frames per second of one side
        q: asyncio.Queue[bytes] = asyncio.Queue(self.queue_frames * 2)
        self._listeners.setdefault(call_id, set()).add(q)
        return q

    def unsubscribe(self, call_id: str, q: asyncio.Queue[bytes]) -> None:
        listeners = self._listeners.get(call_id)
        if listeners is not None:
            listeners.discard(q)
            if not listeners:
                del self._listeners[call_id]

    def feed(self, call_id: str, side: int, pcm16: bytes) -> None:
        """One frame from a call: never blocks, drops for listeners that are behind."""
        listeners = self._listeners.get(call_id)
        if not listeners:
            return
        message = bytes((side,)) + pcm16
        for q in list(listeners):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1


class ListenTap(FrameProcessor):
    """Copies one side's audio to the hub; passes every frame on untouched.

    side "caller": put right after the input transport (InputAudioRawFrame);
    side "bot": put after the output transport, which passes each frame on once written, so
    listeners hear the bot at the pace the caller does."""

    def __init__(self, *, hub: ListenHub, call_id: str, side: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._hub = hub
        self._call_id = call_id
        self._side = SIDES[side]
        self._frame_type = InputAudioRawFrame if side == "caller" else OutputAudioRawFrame

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (
            direction == FrameDirection.DOWNSTREAM
            and isinstance(frame, self._frame_type)
            and self._hub.listening(self._call_id)
        ):
            pcm = frame.audio
            if frame.sample_rate != PHONE_RATE:
                pcm = resample(pcm, frame.sample_rate, PHONE_RATE)
            self._hub.feed(self._call_id, self._side, pcm)
        await self.push_frame(frame, direction)
