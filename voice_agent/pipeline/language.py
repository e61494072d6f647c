"""The call's language: per-call switching policy with hysteresis.

Whisper's language ID on a short phone turn is unreliable (a one-word "okay" in a German call,
Spanish taken for Thai before the ID was restricted to the allowed languages). So a turn
detected in another allowed language switches the call only when the evidence is clear:

- one *long, confident* turn (`switch_single_turn_min_audio_s` and
  `switch_single_turn_min_probability`), or
- `switch_consecutive_turns` turns in a row in the same other language, each at least
  `switch_min_audio_s` long and `switch_min_probability` sure;
- at once on an explicit request (the change_language intent, in any language) or a DTMF choice.

Turns shorter than `switch_min_audio_s` or below `switch_min_probability` are no evidence either
way: they neither count towards a switch nor reset the streak. After a switch the STT hint, the
dialogue and knowledge base, and the TTS voice all follow `state.language` from the next sentence
on, and a `language_switched` event is published.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.config import LanguageSettings
from voice_agent.events import LanguageSwitched
from voice_agent.pipeline.call_state import CallState

REASONS = ("request", "detected", "dtmf")


@dataclass
class Observation:
    """One caller turn's language evidence, as the policy judged it."""

    language: str
    probability: float
    audio_s: float
    counted: bool  # long and sure enough to count as evidence


class LanguagePolicy:
    """Decides the call's language turn by turn; one per call, made by the call factory and
    handed to STT (its decoding hint) and the dialogue (turns, requests, keypad choices)."""

    def __init__(self, state: CallState, settings: LanguageSettings) -> None:
        self._state = state
        self._s = settings
        self._streak_language: str | None = None
        self._streak = 0
        self.observations: list[Observation] = []

    @property
    def language(self) -> str:
        return self._state.language

    def observe_turn(self, language: str, probability: float, audio_s: float) -> str | None:
        """Weigh one caller turn's (restricted) language ID; returns the new language if the
        call switched because of it, else None."""
        s = self._s
        counted = (
            language in self._state.allowed_languages
            and probability >= s.switch_min_probability
            and audio_s >= s.switch_min_audio_s
        )
        self.observations.append(Observation(language, probability, audio_s, counted))
        if not counted:
            return None  # a short or unsure turn is no evidence either way
        if language == self.language:
            self._streak_language, self._streak = None, 0
            return None
        if language == self._streak_language:
            self._streak += 1
        else:
            self._streak_language, self._streak = language, 1
        clear_single = (
            probability >= s.switch_single_turn_min_probability
            and audio_s >= s.switch_single_turn_min_audio_s
        )
        # the caller's first words answer a greeting in the default language, which was only
        # a guess: a clear first turn in another language is followed at once
        first = not any(o.counted for o in self.observations[:-1])
        clear_single |= first and probability >= s.switch_first_turn_min_probability
        if clear_single or self._streak >= s.switch_consecutive_turns:
            self.switch(language, "detected")
            return language
        return None

    def switch(self, to: str, reason: str) -> bool:
        """Switch the call to `to` now (request | detected | dtmf); False if already there."""
        if to not in self._state.allowed_languages:
            allowed = ", ".join(self._state.allowed_languages)
            raise ValueError(f"language {to!r} is not allowed (allowed: {allowed})")
        if reason not in REASONS:
            raise ValueError(f"unknown switch reason {reason!r} (one of {', '.join(REASONS)})")
        self._streak_language, self._streak = None, 0
        previous = self._state.language
        if to == previous:
            return False
        self._state.language = to
        self._state.publish(LanguageSwitched(
            call_id=self._state.call_id, from_language=previous, to_language=to, reason=reason,
        ))
        return True

    def decode_prior(self) -> dict[str, float]:
        """Weights for choosing Whisper's decoding language: the call's language is favoured
        (a borderline turn is transcribed in it); the recorded ID itself stays unbiased."""
        return {self.language: self._s.stt_hint_weight}
