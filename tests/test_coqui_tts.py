"""Coqui TTS through the real `TTS.api` path, on a tiny random-weight VITS built for the test
(no package ships Coqui weights); the voice reaches the phone at 8 kHz, anti-aliased."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.audio import PHONE_RATE, resample
from voice_agent.config import load_settings
from voice_agent.models import ModelRegistry
from voice_agent.speech import SpeechError, Synthesizer
from voice_agent.tts_engines.coqui import CoquiEngine, model_files
from voice_agent.tts_engines.tiny_vits import build_tiny_vits


@pytest.fixture(scope="module")
def tiny_vits(tmp_path_factory):
    return build_tiny_vits(tmp_path_factory.mktemp("vits") / "tiny-vits-es")


def coqui_settings(folder, **voice):
    return load_settings(env={}, overrides={
        "tts": {"voices": {"es": {"engine": "coqui", "voice": str(folder), **voice}}},
    })


@pytest.mark.slow  # imports torch + Coqui TTS (~5 s)
def test_the_tiny_vits_loads_and_speaks_through_coquis_api(tiny_vits):
    from TTS.api import TTS

    tts = TTS(model_path=str(tiny_vits / "model.pth"), config_path=str(tiny_vits / "config.json"),
              progress_bar=False)
    samples = np.asarray(tts.tts("¿Podemos seguir en español?"), dtype=np.float32)
    seconds = len(samples) / tts.synthesizer.output_sample_rate
    assert 0.2 < seconds < 10 and float(np.abs(samples).max()) > 0.01


@pytest.mark.slow  # imports torch + Coqui TTS (~5 s)
def test_a_coqui_voice_in_config_speaks_sentence_by_sentence(tiny_vits):
    settings = coqui_settings(tiny_vits)
    engine = CoquiEngine(settings.tts.voices["es"], ModelRegistry(settings))
    chunks = list(engine.stream("Hola. ¿En qué puedo ayudarle?"))
    assert len(chunks) == 2  # one per sentence: the first plays while the second is made
    assert all(rate == 16000 and len(pcm) > 3200 for pcm, rate in chunks)


@pytest.mark.slow  # imports torch + Coqui TTS (~5 s)
def test_the_phrase_cache_skips_synthesis_on_a_hit(tiny_vits):
    settings = coqui_settings(tiny_vits)
    synth = Synthesizer(settings.tts, ModelRegistry(settings))
    first = synth.phrase("Gracias por llamar.", "es", PHONE_RATE)
    assert synth.cache_misses == 1 and len(first) / 2 / PHONE_RATE > 0.2
    again = synth.phrase("Gracias por llamar.", "es", PHONE_RATE)
    assert again is first and synth.cache_hits == 1 and synth.cache_misses == 1
    assert synth.cached("Gracias por llamar.", "es", PHONE_RATE) is first


@pytest.mark.slow  # imports torch + Coqui TTS (~5 s)
def test_a_missing_model_folder_is_a_clear_error(tmp_path):
    settings = coqui_settings(tmp_path / "nowhere")
    synth = Synthesizer(settings.tts, ModelRegistry(settings))
    with pytest.raises(SpeechError, match="config.json"):
        synth.phrase("Hola.", "es", PHONE_RATE)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(SpeechError, match="checkpoint"):
        model_files(tmp_path / "empty")


def test_resampling_to_the_phone_rate_removes_what_would_alias():
    """A 5 kHz tone at 22.05 kHz cannot exist at 8 kHz: naive decimation would fold it to 3 kHz."""
    rate = 22050
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 5000 * t) * 32767).astype("<i2").tobytes()
    speech_band = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes()
    out_tone = np.frombuffer(resample(tone, rate, PHONE_RATE), dtype=np.int16)
    out_band = np.frombuffer(resample(speech_band, rate, PHONE_RATE), dtype=np.int16)
    def rms(x):  # the steady middle, away from the filter's edges
        mid = x[len(x) // 10 : -len(x) // 10].astype(float)
        return np.sqrt(np.mean(mid**2))

    assert rms(out_tone) < 12  # > 60 dB down: filtered out, not folded into the speech band
    assert rms(out_band) > 10000  # the speech band passes
