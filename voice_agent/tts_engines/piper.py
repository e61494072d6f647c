"""Piper: the shipped English voice; one chunk per sentence as soon as it is ready."""

from __future__ import annotations

from collections.abc import Iterator

from voice_agent.models import ModelRegistry


class PiperEngine:
    name = "piper"

    def __init__(self, registry: ModelRegistry, voice: str) -> None:
        self._registry = registry
        self.voice_id = voice

    def stream(self, text: str) -> Iterator[tuple[bytes, int]]:
        piper = self._registry.piper_voice(self.voice_id)  # loaded once per process
        for chunk in piper.synthesize(text):
            yield chunk.audio_int16_bytes, chunk.sample_rate
