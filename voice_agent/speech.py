"""The process-wide speech front: voices per language, and the phrase cache.

Engines (piper, espeak, coqui: `voice_agent/tts_engines/`) are chosen per language in config
(`tts.voices`) and built once. Fixed phrases (greeting, hold, transfer, goodbye, repeated
knowledge-base answers) are synthesised once per language/voice and reused: a cache hit skips
synthesis entirely.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from voice_agent.audio import resample
from voice_agent.config import TTSSettings, VoiceSettings
from voice_agent.models import ModelRegistry
from voice_agent.tts_engines import SpeechEngine, SpeechError, make_engine

__all__ = ["SpeechError", "Synthesizer"]


class Synthesizer:
    """Speaks text in a language as 16-bit mono PCM chunks (one per sentence where the engine
    can), with a cache of whole phrases per (engine, voice, text, rate)."""

    def __init__(self, settings: TTSSettings, registry: ModelRegistry, cache_size: int = 1024):
        self._settings = settings
        self._registry = registry
        self._engines: dict[str, SpeechEngine] = {}
        self._cache: dict[tuple[str, str, str, int], bytes] = {}
        self._cache_limit = cache_size
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def voice_for(self, language: str) -> VoiceSettings:
        voice = self._settings.voices.get(language)
        if voice is None:
            raise SpeechError(f"no voice configured for language {language!r}")
        return voice

    def engine_for(self, language: str) -> SpeechEngine:
        with self._lock:
            engine = self._engines.get(language)
        if engine is None:
            engine = make_engine(self.voice_for(language), self._settings, self._registry)
            with self._lock:
                engine = self._engines.setdefault(language, engine)
        return engine

    def stream(self, text: str, language: str) -> Iterator[tuple[bytes, int]]:
        """Yield (pcm16, sample_rate) chunks as soon as each is ready (blocking)."""
        yield from self.engine_for(language).stream(text)

    def _key(self, text: str, language: str, rate: int) -> tuple[str, str, str, int]:
        engine = self.engine_for(language)
        return (engine.name, engine.voice_id, text, rate)

    def phrase(self, text: str, language: str, rate: int) -> bytes:
        """Whole utterance at `rate`, cached: fixed phrases are synthesised once per voice."""
        key = self._key(text, language, rate)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return cached
        self.cache_misses += 1
        pcm = b"".join(resample(chunk, sr, rate) for chunk, sr in self.stream(text, language))
        with self._lock:
            if len(self._cache) >= self._cache_limit:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = pcm
        return pcm

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def cached(self, text: str, language: str, rate: int) -> bytes | None:
        key = self._key(text, language, rate)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            self.cache_hits += 1
        return found
