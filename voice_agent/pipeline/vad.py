"""Voice activity detection: a pipecat `VADAnalyzer` on webrtcvad (default) or Silero.

webrtcvad answers voiced/unvoiced per 10 ms frame; the analyzer looks at 30 ms windows and
reports the share of voiced frames as its confidence, so pipecat's start/stop timing logic
(start_secs, stop_secs) applies unchanged. Both engines also remember when the last voiced audio
arrived (`TimedVADAnalyzer.last_voiced_at`): that instant is where a turn's response latency
starts, and the barge-in detector reads it to tell voiced frames from quiet ones.
"""

from __future__ import annotations

import time

import webrtcvad
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

from voice_agent.config import VADSettings

WEBRTC_RATES = (8000, 16000, 32000, 48000)


class TimedVADAnalyzer(VADAnalyzer):
    """A pipecat VADAnalyzer that remembers when it last heard voiced audio."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.last_voiced_at: float | None = None  # monotonic

    def _noted(self, confidence: float) -> float:
        if confidence >= self.params.confidence:
            self.last_voiced_at = time.monotonic()
        return confidence


class WebRTCVADAnalyzer(TimedVADAnalyzer):
    """pipecat VADAnalyzer backed by Google's WebRTC VAD (~2 µs per frame at 8 kHz)."""

    def __init__(
        self, *, aggressiveness: int = 2, sample_rate: int | None = None,
        params: VADParams | None = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, params=params)
        self._vad = webrtcvad.Vad(aggressiveness)

    def set_sample_rate(self, sample_rate: int) -> None:
        rate = self._init_sample_rate or sample_rate
        if rate not in WEBRTC_RATES:
            raise ValueError(f"webrtcvad needs one of {WEBRTC_RATES} Hz, got {rate}")
        super().set_sample_rate(sample_rate)

    def num_frames_required(self) -> int:
        return int(self.sample_rate * 0.03)  # 30 ms window

    def voice_confidence(self, buffer: bytes) -> float:
        step = int(self.sample_rate * 0.01) * 2  # 10 ms of 16-bit samples
        frames = [buffer[i : i + step] for i in range(0, len(buffer) - step + 1, step)]
        if not frames:
            return 0.0
        voiced = sum(self._vad.is_speech(f, self.sample_rate) for f in frames)
        return self._noted(voiced / len(frames))


def timed_silero_analyzer(params: VADParams) -> TimedVADAnalyzer:
    """pipecat's Silero analyzer, remembering the last voiced instant too (imported only when
    configured: it loads its model)."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    class TimedSileroVADAnalyzer(TimedVADAnalyzer, SileroVADAnalyzer):
        def voice_confidence(self, buffer: bytes) -> float:
            return self._noted(super().voice_confidence(buffer))

    return TimedSileroVADAnalyzer(params=params)


def make_vad_analyzer(settings: VADSettings) -> TimedVADAnalyzer:
    """The call's VAD analyzer, as configured (one per call: it holds the call's VAD state)."""
    params = VADParams(
        confidence=settings.confidence, start_secs=settings.start_secs,
        stop_secs=settings.stop_secs, min_volume=settings.min_volume,
    )
    if settings.engine == "silero":
        return timed_silero_analyzer(params)
    return WebRTCVADAnalyzer(aggressiveness=settings.webrtc_aggressiveness, params=params)
