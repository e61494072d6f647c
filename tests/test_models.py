"""The model registry: shipped weights found, split ones assembled once and checked, loaded once."""

import dataclasses

import pytest

from voice_agent.config import load_settings
from voice_agent.models import WHISPER_BASE, ModelNotAvailable, ModelRegistry


def test_split_whisper_is_assembled_once_with_its_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_CACHE", str(tmp_path))
    assert not WHISPER_BASE.is_ready()
    folder = WHISPER_BASE.assemble(progress=False)
    assert (folder / "model.bin").stat().st_size == 145_217_607
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= names
    assert WHISPER_BASE.is_ready()
    mtime = (folder / "model.bin").stat().st_mtime_ns
    WHISPER_BASE.assemble(progress=False)  # second time: nothing is rewritten
    assert (folder / "model.bin").stat().st_mtime_ns == mtime


def test_a_wrong_checksum_is_refused_and_leaves_nothing_half_done(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_CACHE", str(tmp_path))
    damaged = dataclasses.replace(WHISPER_BASE, name="whisper-damaged", sha256="0" * 64)
    with pytest.raises(ModelNotAvailable, match="checksum"):
        damaged.assemble(progress=False)
    assert not damaged.is_ready()
    assert not any(p.name == "model.bin" for p in (tmp_path / "whisper-damaged").iterdir())


def test_a_missing_package_is_named():
    gone = dataclasses.replace(WHISPER_BASE, name="whisper-gone",
                               parts=[("no_such_weights_package", "data/model.bin")])
    assert gone.missing_packages() == ["no_such_weights_package"]
    with pytest.raises(ModelNotAvailable, match="no_such_weights_package"):
        gone.assemble(progress=False)


@pytest.mark.slow
def test_models_load_once_per_process_and_are_shared():
    registry = ModelRegistry(load_settings(env={}))
    assert registry.whisper() is registry.whisper()
    assert registry.piper_voice("piper-joe-en") is registry.piper_voice("piper-joe-en")
    assert registry.loaded() == ["piper:piper-joe-en", "whisper:whisper-base:cpu:int8"]
