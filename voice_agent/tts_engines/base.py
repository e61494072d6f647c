"""The one interface every TTS engine implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np


class SpeechError(RuntimeError):
    """A voice could not speak (missing engine or model, bad language)."""


class SpeechEngine(Protocol):
    name: str  # piper | espeak | coqui
    voice_id: str  # what distinguishes this voice's audio (the cache key)

    def stream(self, text: str) -> Iterator[tuple[bytes, int]]:
        """Yield (16-bit mono PCM, sample rate) chunks as soon as each is ready (blocking)."""
        ...


def float_to_pcm16(samples) -> bytes:
    """Float samples in [-1, 1] (list, numpy or torch) → 16-bit little-endian PCM."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
