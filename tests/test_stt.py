"""Speech to text for phone turns: trimming, token caps, restricted language ID, real Whisper."""

import numpy as np
import pytest

from voice_agent.audio import pcm16_to_float, phone_line_pcm, resample
from voice_agent.pipeline.stt import trim_leading_silence
from voice_agent.pipeline.whisper_turn import (
    encoder_window,
    max_tokens_for,
    restrict_language_probs,
    transcribe_turn,
)

from conftest import fixture_wav


def test_a_second_of_lead_in_silence_is_cut_to_a_short_margin():
    voice = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16).tobytes()
    trimmed = trim_leading_silence(bytes(16000) + voice, 8000)
    assert len(trimmed) == len(voice) + int(8000 * 0.3) * 2
    assert trim_leading_silence(bytes(1600), 8000) == bytes(1600)  # all silence: unchanged


def test_language_probabilities_are_restricted_and_renormalised():
    pairs = [("<|la|>", 0.5), ("<|fr|>", 0.3), ("<|en|>", 0.1), ("<|th|>", 0.1)]
    probs = restrict_language_probs(pairs, ["en", "fr", "es"])
    assert probs["fr"] == pytest.approx(0.75) and probs["en"] == pytest.approx(0.25)
    assert probs["es"] == 0.0


def test_encoder_window_and_token_cap_grow_with_the_turn():
    assert encoder_window(300, "adaptive") == 1000  # a 3 s turn: 10 s window
    assert encoder_window(1350, "adaptive") == 1500
    assert encoder_window(5000, "adaptive") == 3000
    assert encoder_window(300, "full") == 3000
    assert max_tokens_for(3.0) == 52 and max_tokens_for(60) == 220


@pytest.mark.slow
def test_a_spanish_caller_is_identified_among_the_allowed_languages(resources):
    model = resources.models.registry.whisper()
    audio = pcm16_to_float(resample(phone_line_pcm(fixture_wav("es_return")), 8000, 16000))
    turn = transcribe_turn(model, audio, ["en", "es", "fr", "de", "zh"])
    assert turn.language == "es" and "devolución" in turn.text.lower()
    assert sum(turn.language_probs.values()) == pytest.approx(1.0)
    only_english = transcribe_turn(model, audio, ["en"])
    assert only_english.language == "en" and only_english.language_probability == 1.0
