"""Speech to text behind one small interface: Whisper in production, a scripted transcriber in
the fast call scripts (voice_agent/testing/)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from voice_agent.config import STTSettings
from voice_agent.pipeline.whisper_turn import TurnTranscript, transcribe_turn


class Transcriber(Protocol):
    """Transcribes one caller turn (16 kHz float32 mono); blocking, run off the event loop."""

    def transcribe(
        self, audio: np.ndarray, allowed: list[str], prior: dict[str, float],
    ) -> TurnTranscript: ...


class WhisperTranscriber:
    """The process-wide faster-whisper model with the phone-line decoding settings."""

    def __init__(self, model, settings: STTSettings) -> None:
        self._model = model
        self._settings = settings

    def transcribe(
        self, audio: np.ndarray, allowed: list[str], prior: dict[str, float],
    ) -> TurnTranscript:
        s = self._settings
        return transcribe_turn(
            self._model, audio, allowed, beam_size=s.beam_size,
            no_speech_threshold=s.no_speech_threshold, window=s.encoder_window, prior=prior,
        )
