"""End of the caller's turn: the VAD's silence timer alone, or pipecat's Smart Turn v3 model.

With `turn.detector: vad` a turn ends after `vad.stop_secs` of silence. With `smart_turn` the
VAD's stop (set shorter, `turn.smart_turn_vad_stop_secs`) only *proposes* an end: the bundled
LocalSmartTurnAnalyzerV3 (an ONNX model shipped inside pipecat-ai, loaded once per process)
listens to the turn so far and says whether it sounds finished. If not, the stop is held back
— a caller pausing mid-sentence ("I'd like to check on my order … it's one zero zero one")
keeps the turn — until the caller goes on (same turn) or `turn.max_pause_secs` pass.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_agent.config import TurnSettings

PRE_SPEECH_S = 0.5
MAX_TURN_S = 8.0  # what the model looks at (its own limit)


class SmartTurnModel:
    """The Smart Turn v3 ONNX session, shared by every call (inference is thread-safe)."""

    def __init__(self, sample_rate: int) -> None:
        from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

        self._analyzer = LocalSmartTurnAnalyzerV3(sample_rate=sample_rate)
        self._analyzer.set_sample_rate(sample_rate)
        self._lock = threading.Lock()

    def completion_probability(self, pcm16: bytes) -> float:
        audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
        with self._lock:
            # pipecat's analyzer keeps per-stream state; its model call itself is stateless
            return float(self._analyzer._predict_endpoint(audio)["probability"])


class TurnCompletionGate(FrameProcessor):
    """Holds back a VAD stop while the Smart Turn model hears an unfinished sentence."""

    def __init__(self, *, settings: TurnSettings, model: SmartTurnModel | None, **kw) -> None:
        super().__init__(**kw)
        self._s = settings
        self._model = model
        self._audio: deque[bytes] = deque()
        self._audio_bytes = 0
        self._held: VADUserStoppedSpeakingFrame | None = None
        self._release: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if self._model is None or direction != FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, InputAudioRawFrame):
            self._keep(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            if self._held is not None:  # the caller goes on after a pause: the same turn
                await self._cancel_release()
                self._held = None
                return
            self._trim(PRE_SPEECH_S + frame.start_secs)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if not await self._finished():
                self._held = frame
                self._release = self.create_task(self._release_after_pause())
                return
            self._trim(0.0)
        await self.push_frame(frame, direction)

    def _keep(self, frame: InputAudioRawFrame) -> None:
        self._rate = frame.sample_rate
        self._audio.append(frame.audio)
        self._audio_bytes += len(frame.audio)
        self._trim(MAX_TURN_S + PRE_SPEECH_S)

    def _trim(self, keep_s: float) -> None:
        limit = int(keep_s * getattr(self, "_rate", 8000)) * 2
        while self._audio_bytes > limit and self._audio:
            self._audio_bytes -= len(self._audio.popleft())

    async def _finished(self) -> bool:
        if not self._audio:
            return True
        pcm = b"".join(self._audio)
        probability = await asyncio.to_thread(self._model.completion_probability, pcm)
        return probability >= self._s.smart_turn_threshold

    async def _release_after_pause(self) -> None:
        await asyncio.sleep(self._s.max_pause_secs)
        if self._held is not None:
            frame, self._held = self._held, None
            self._trim(0.0)
            await self.push_frame(frame)

    async def _cancel_release(self) -> None:
        if self._release is not None and not self._release.done():
            await self.cancel_task(self._release)
        self._release = None
