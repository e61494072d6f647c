"""Between STT and the dialogue: the transcript of a sound that paused the answer decides it.

`BargeInDetector.resolve` judges the words: a backchannel or noise goes no further (the answer
resumes); words that interrupt go on as the caller's turn — but only behind the interruption
itself. The detector broadcasts its `InterruptionFrame` from its own place in the pipeline, in
front of STT, so it reaches the dialogue and TTS a little after this stage has decided; were the
transcript pushed on at once, the dialogue would queue the answer to it and the late
interruption would cancel that new answer too. So the transcript waits here until the
interruption has passed (or `HOLD_LIMIT_S`, should it never come).
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import Frame, InterruptionFrame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.pipeline.bargein import BargeInDetector
from voice_agent.pipeline.frames import NoSpeechSegmentFrame
from voice_agent.pipeline.stt import SegmentResult

HOLD_LIMIT_S = 1.0


class BargeInVerdict(FrameProcessor):
    """With nothing pending every transcript passes; segments without words end here."""

    def __init__(self, *, detector: BargeInDetector, **kwargs) -> None:
        super().__init__(**kwargs)
        self._detector = detector
        self._held: TranscriptionFrame | None = None
        self._hold_timeout: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if downstream and isinstance(frame, TranscriptionFrame):
            await self._on_transcript(frame)
        elif downstream and isinstance(frame, NoSpeechSegmentFrame):
            if self._detector.pending:
                await self._detector.resolve("")
        elif downstream and isinstance(frame, InterruptionFrame):
            await self.push_frame(frame, direction)
            await self._release_held()
        else:
            await self.push_frame(frame, direction)

    async def _on_transcript(self, frame: TranscriptionFrame) -> None:
        if not self._detector.pending:
            await self.push_frame(frame)
            return
        result = frame.result if isinstance(frame.result, SegmentResult) else None
        sure = result.transcript.language_probability if result else 1.0
        language = str(frame.language) if frame.language else None
        if await self._detector.resolve(frame.text, language, sure):
            await self._release_held()  # an earlier one whose interruption never came
            self._held = frame
            self._hold_timeout = self.create_task(self._release_after(HOLD_LIMIT_S))

    async def _release_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._hold_timeout = None
        await self._release_held()

    async def _release_held(self) -> None:
        held, self._held = self._held, None
        if self._hold_timeout is not None:
            task, self._hold_timeout = self._hold_timeout, None
            if task is not asyncio.current_task():
                await self.cancel_task(task)
        if held is not None:
            await self.push_frame(held)
