"""Text to speech engines behind one interface, chosen per language in config.

- piper: the shipped English voice (natural; ~0.17 s to first audio for a sentence on 2 cores).
- espeak: espeak-ng for any other language (robotic but intelligible, ~20 ms).

`Synthesizer` is process-wide: voices are loaded once through the model registry, and fixed
phrases (greeting, transfer, goodbye, repeated answers) are cached per language/voice so a cache
hit skips synthesis entirely.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import wave
from collections.abc import Iterator

from voice_agent.audio import resample
from voice_agent.config import TTSSettings, VoiceSettings
from voice_agent.models import ModelRegistry


class SpeechError(RuntimeError):
    """A voice could not speak (missing engine, bad language)."""


class Synthesizer:
    """Speaks text in a language as 16-bit mono PCM chunks (one per sentence for Piper)."""

    def __init__(self, settings: TTSSettings, registry: ModelRegistry, cache_size: int = 1024):
        self._settings = settings
        self._registry = registry
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

    def stream(self, text: str, language: str) -> Iterator[tuple[bytes, int]]:
        """Yield (pcm16, sample_rate) chunks as soon as each is ready (blocking)."""
        voice = self.voice_for(language)
        if voice.engine == "piper":
            piper = self._registry.piper_voice(voice.voice)
            for chunk in piper.synthesize(text):
                yield chunk.audio_int16_bytes, chunk.sample_rate
        else:
            yield self._espeak(text, voice.voice)

    def _espeak(self, text: str, voice: str) -> tuple[bytes, int]:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SpeechError("espeak-ng is not installed (apt-get install espeak-ng)")
        proc = subprocess.run(
            [exe, "-v", voice, "-s", str(self._settings.espeak_rate), "--stdout", text],
            capture_output=True, check=False, timeout=30,
        )
        if proc.returncode != 0 or not proc.stdout:
            raise SpeechError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode()[:200]}")
        with wave.open(io.BytesIO(proc.stdout), "rb") as w:
            return w.readframes(w.getnframes()), w.getframerate()

    def phrase(self, text: str, language: str, rate: int) -> bytes:
        """Whole utterance at `rate`, cached: fixed phrases are synthesised once per voice."""
        voice = self.voice_for(language)
        key = (voice.engine, voice.voice, text, rate)
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
        voice = self.voice_for(language)
        with self._lock:
            return self._cache.get((voice.engine, voice.voice, text, rate))
