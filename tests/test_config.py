"""Settings: defaults from config/default.yaml, overridden by a file and the environment."""

import pytest

from voice_agent.config import load_settings


def test_defaults_are_the_embedded_cpu_setup():
    s = load_settings(env={})
    assert s.stt.model == "whisper-base"
    assert (s.stt.device, s.stt.compute_type) == ("cpu", "int8")
    assert s.vad.engine == "webrtc"
    assert s.languages.allowed == ["en", "es", "fr", "de", "zh"]
    assert s.tts.voices["en"].engine == "piper"
    assert s.tts.voices["es"].engine == "espeak"
    assert not s.twilio.has_credentials


def test_conventional_twilio_variables_and_public_url_are_read():
    s = load_settings(env={
        "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret",
        "VOICE_AGENT_PUBLIC_URL": "https://agent.example.com",
    })
    assert s.twilio.account_sid == "AC123" and s.twilio.auth_token == "secret"
    assert s.twilio.has_credentials
    assert s.server.public_url == "https://agent.example.com"


def test_nested_environment_override_for_a_gpu():
    s = load_settings(env={"VOICE_AGENT_STT__DEVICE": "cuda",
                           "VOICE_AGENT_STT__COMPUTE_TYPE": "float16"})
    assert (s.stt.device, s.stt.compute_type) == ("cuda", "float16")


def test_override_file_wins_over_defaults(tmp_path):
    f = tmp_path / "site.yaml"
    f.write_text("vad:\n  engine: silero\n  stop_secs: 0.8\nlanguages:\n  default: es\n")
    s = load_settings(f, env={})
    assert (s.vad.engine, s.vad.stop_secs, s.languages.default) == ("silero", 0.8, "es")
    assert s.vad.start_secs == 0.2  # untouched keys keep their defaults


def test_bad_config_gets_a_clear_error(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("vad:\n  engine: magic\n")
    with pytest.raises(ValueError, match="engine"):
        load_settings(f, env={})
    with pytest.raises(ValueError, match="not found"):
        load_settings(tmp_path / "missing.yaml", env={})
