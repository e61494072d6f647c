"""A scripted transcriber: the `Transcriber` interface for the fast call scripts, no speech model.

Each scripted line is voiced at a pitch of its own (a ladder of pitches 8 % apart, well above
the tone synthesizer's agent voices). Transcribing a VAD segment estimates its median pitch and
looks the line up: the segment may start or end a little differently from the line (the VAD's
start and stop, the pre-roll STT keeps, an echo mixed in) and still be found. A segment with no
voice in it (a cough, a door, line noise) transcribes to nothing, as Whisper's no-speech check
would have it; a voice matching no line comes back as a visible "(unscripted voice …)" so a
test sees what was heard instead of silently passing.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass

import numpy as np

from voice_agent.pipeline.whisper_turn import WHISPER_RATE, TurnTranscript
from voice_agent.testing.voices import estimate_pitch, voiced_utterance

PITCH_LADDER_HZ = tuple(round(140.0 * 1.08**i, 1) for i in range(13))  # 140 … 352 Hz
PITCH_TOLERANCE = 1.04  # a segment within ±4 % of a line's pitch is that line
UNSCRIPTED_PROBABILITY = 0.5  # an unknown voice: words nobody is sure of (they never interrupt)


@dataclass(frozen=True)
class ScriptedLine:
    """What the caller says in one breath, and how Whisper would hear it."""

    text: str
    language: str
    pitch_hz: float
    seconds: float
    language_probability: float = 0.97

    def audio(self) -> bytes:
        """The line's voice: 8 kHz 16-bit PCM."""
        seed = zlib.crc32(self.text.encode())
        return voiced_utterance(self.pitch_hz, self.seconds, seed=seed)


def natural_length_s(text: str) -> float:
    """How long the caller takes to say it: under half a real speaker's time (the scripts run
    in real time), never under the VAD's start or over a breath."""
    return min(1.1, max(0.35, 0.03 * len(text)))


class ScriptedTranscriber:
    """Knows the lines of one call script; hears them back by their pitch."""

    def __init__(self, ladder: tuple[float, ...] = PITCH_LADDER_HZ) -> None:
        self._ladder = ladder
        self._lines: list[ScriptedLine] = []
        self._lock = threading.Lock()
        self.heard: list[TurnTranscript] = []  # every segment transcribed, in order

    def line(self, text: str, language: str, *, seconds: float | None = None,
             sure: float = 0.97) -> ScriptedLine:
        """The scripted line for this text (the same one again if it was said before)."""
        seconds = natural_length_s(text) if seconds is None else seconds
        with self._lock:
            for known in self._lines:
                if (known.text, known.language, known.language_probability) == (
                        text, language, sure) and known.seconds == seconds:
                    return known
            if len(self._lines) >= len(self._ladder):
                raise ValueError(f"a call script holds at most {len(self._ladder)} lines")
            made = ScriptedLine(text, language, self._ladder[len(self._lines)], seconds, sure)
            self._lines.append(made)
            return made

    def line_at(self, pitch_hz: float) -> ScriptedLine | None:
        with self._lock:
            lines = list(self._lines)
        best = min(lines, key=lambda ln: abs(math.log(ln.pitch_hz / pitch_hz)), default=None)
        if best is None or abs(math.log(best.pitch_hz / pitch_hz)) > math.log(PITCH_TOLERANCE):
            return None
        return best

    def transcribe(
        self, audio: np.ndarray, allowed: list[str], prior: dict[str, float],
    ) -> TurnTranscript:
        seconds = audio.size / WHISPER_RATE
        pitch = estimate_pitch(audio, WHISPER_RATE)
        line = None if pitch is None else self.line_at(pitch)
        favoured = max(allowed, key=lambda lang: prior.get(lang, 1.0)) if allowed else "en"
        if pitch is None:  # noise: Whisper's no-speech check drops it
            turn = TurnTranscript("", favoured, 1.0, {favoured: 1.0}, favoured, 0.9, seconds)
        elif line is None:
            turn = TurnTranscript(f"(unscripted voice at {pitch:.0f} Hz)", favoured,
                                  UNSCRIPTED_PROBABILITY, {favoured: UNSCRIPTED_PROBABILITY},
                                  favoured, 0.1, seconds)
        else:
            turn = TurnTranscript(line.text, line.language, line.language_probability,
                                  _spread(line.language, line.language_probability, allowed),
                                  line.language, 0.01, seconds)
        with self._lock:
            self.heard.append(turn)
        return turn


def _spread(language: str, probability: float, allowed: list[str]) -> dict[str, float]:
    """The line's language at its probability, the rest shared by the other languages."""
    others = [lang for lang in allowed if lang != language]
    rest = (1.0 - probability) / len(others) if others else 0.0
    return {language: probability, **{lang: rest for lang in others}}
