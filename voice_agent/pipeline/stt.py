"""Speech to text for one call, on the process-wide shared Whisper model.

pipecat's `WhisperSTTService` loads its model in `__init__` (one copy per call) and uses
faster-whisper's defaults (temperature fallback, language detection paid twice). This service
reuses pipecat's `SegmentedSTTService` (VAD-delimited segments, transcription off the audio
path) and only replaces `run_stt`. Each segment's turn timer comes on the VAD stop that ends it
(`TimedVADStopFrame`) and leaves on the transcript's `SegmentResult`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    TranscriptionFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.services.settings import STTSettings as PipecatSTTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.utils.time import time_now_iso8601

from voice_agent.audio import pcm16_to_float, resample, rms_dbfs
from voice_agent.config import STTSettings
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.frames import NoSpeechSegmentFrame, TimedVADStopFrame
from voice_agent.pipeline.language import LanguagePolicy
from voice_agent.pipeline.transcriber import Transcriber
from voice_agent.pipeline.turn_timer import TurnTimer
from voice_agent.pipeline.whisper_turn import WHISPER_RATE, TurnTranscript


@dataclass
class SegmentResult:
    """What a TranscriptionFrame carries for the dialogue stage: the transcript's details, the
    timing of its turn and how long the caller spoke (the language policy's evidence)."""

    transcript: TurnTranscript
    timer: TurnTimer
    audio_s: float = 0.0


LEAD_IN_S = 0.3
VOICED_DBFS = -45.0


def trim_leading_silence(pcm16: bytes, rate: int) -> bytes:
    """Keep at most LEAD_IN_S before the first voiced 20 ms frame.

    pipecat keeps 1 s of audio before the VAD's start; a second of silence makes Whisper rate
    a short turn as "no speech" (seen: no_speech_prob 0.29 → 0.81) and drop it."""
    step = int(rate * 0.02) * 2
    for i in range(0, len(pcm16), step):
        if rms_dbfs(pcm16[i : i + step]) > VOICED_DBFS:
            start = max(0, i - int(rate * LEAD_IN_S) * 2)
            return pcm16[start:]
    return pcm16


class SharedWhisperSTTService(SegmentedSTTService):
    """Transcribes each VAD-delimited caller turn; restricts language ID to the allowed set.

    The TranscriptionFrame carries the transcript; its `result` holds the `TurnTranscript`
    (language probabilities, timing) for the dialogue stage and the events.
    """

    def __init__(
        self, *, transcriber: Transcriber, settings: STTSettings, state: CallState,
        language_policy: LanguagePolicy, **kwargs,
    ) -> None:
        super().__init__(
            trailing_silence_secs=settings.trailing_silence_secs,
            # language=None: each turn's language is detected (restricted to the allowed set)
            settings=PipecatSTTSettings(model=settings.model, language=None),
            **kwargs,
        )
        self._transcriber = transcriber
        self._state = state
        self._language_policy = language_policy
        # pipecat queues one segment per VAD stop and transcribes them in order: the timer each
        # stop brought waits here beside its segment
        self._segment_timers: deque[TurnTimer] = deque()

    @property
    def wants_wav_segments(self) -> bool:
        return False  # raw 16-bit PCM

    def can_generate_metrics(self) -> bool:
        return True

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        if self.is_usable:  # else pipecat drops the segment: no timer waits for it
            timer = frame.timer if isinstance(frame, TimedVADStopFrame) else TurnTimer()
            self._segment_timers.append(timer)
        await super()._handle_user_stopped_speaking(frame)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        timer = self._segment_timers.popleft() if self._segment_timers else TurnTimer()
        audio = trim_leading_silence(audio, self.sample_rate)
        audio_s = len(audio) / 2 / self.sample_rate
        samples = pcm16_to_float(resample(audio, self.sample_rate, WHISPER_RATE))
        try:
            turn = await asyncio.to_thread(
                self._transcriber.transcribe, samples, self._state.allowed_languages,
                self._language_policy.decode_prior(),  # hint: the call's language
            )
        except Exception as e:  # a broken turn is reported; the call goes on
            yield ErrorFrame(f"transcription failed: {e}")
            return
        timer.mark("stt_end")
        if not turn.text:
            # noise or a breath: no turn, no latency; a paused answer may resume
            yield NoSpeechSegmentFrame(audio_s)
            return
        frame = TranscriptionFrame(
            turn.text, self._user_id, time_now_iso8601(), language=turn.decoded_language,
            result=SegmentResult(turn, timer, audio_s),
        )
        frame.interruptible = False  # a barge-in is caused by these words: never drop them
        yield frame

