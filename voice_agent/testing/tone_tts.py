"""A tone synthesizer for the fast call scripts: the `Synthesizer` interface, no voice model.

Each sentence becomes a short synthetic voice (testing/voices.py) whose length grows with the
text, so a long answer lasts long enough to be talked over and `heard_text` can be reckoned
from its playing time, as with a real voice. Each language speaks at its own pitch, below the
scripted caller's (a caller line is never mistaken for the agent's echo, and a test can tell
which language the caller heard). Deterministic and cheap: milliseconds a sentence.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator

from voice_agent.audio import PHONE_RATE, resample
from voice_agent.nlu.policy import speech_chunks
from voice_agent.testing.voices import voiced_utterance

# below the scripted caller's pitches (testing/scripted_stt.py), inside the voicing detector's
AGENT_PITCH_HZ = {"en": 92.0, "es": 100.0, "fr": 108.0, "de": 116.0, "zh": 124.0}


class ToneSynthesizer:
    """Speaks text as a synthetic voice: `seconds_per_char` of it per character of text."""

    def __init__(self, seconds_per_char: float = 0.005, min_sentence_s: float = 0.15,
                 rate: int = PHONE_RATE) -> None:
        self.seconds_per_char = seconds_per_char
        self.min_sentence_s = min_sentence_s
        self.rate = rate
        self.spoken: list[tuple[str, str]] = []  # (language, sentence) as synthesised
        self._cache: dict[tuple[str, str, int], bytes] = {}
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def seconds_for(self, text: str) -> float:
        return max(self.min_sentence_s, self.seconds_per_char * len(text))

    def pitch_for(self, language: str) -> float:
        return AGENT_PITCH_HZ.get(language, AGENT_PITCH_HZ["en"])

    def _sentence(self, text: str, language: str) -> bytes:
        seed = zlib.crc32(f"{language}:{text}".encode())  # the same sentence sounds the same
        return voiced_utterance(self.pitch_for(language), self.seconds_for(text), seed=seed,
                                rate=self.rate)

    def stream(self, text: str, language: str) -> Iterator[tuple[bytes, int]]:
        """One chunk a sentence, as Piper yields them."""
        for sentence in speech_chunks(text) or [text]:
            with self._lock:
                self.spoken.append((language, sentence))
            yield self._sentence(sentence, language), self.rate

    def phrase(self, text: str, language: str, rate: int) -> bytes:
        found = self.cached(text, language, rate)
        if found is not None:
            return found
        self.cache_misses += 1
        pcm = b"".join(resample(chunk, sr, rate) for chunk, sr in self.stream(text, language))
        with self._lock:
            self._cache[(language, text, rate)] = pcm
        return pcm

    def cached(self, text: str, language: str, rate: int) -> bytes | None:
        with self._lock:
            found = self._cache.get((language, text, rate))
        if found is not None:
            self.cache_hits += 1
        return found

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def languages_spoken(self) -> list[str]:
        with self._lock:
            return [language for language, _ in self.spoken]
