"""Shared fixtures. Models load once per test session (as in the server: once per process)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from loguru import logger

from voice_agent.config import REPO_ROOT, Settings, load_settings

FIXTURES = REPO_ROOT / "audio_fixtures"
# Tests' Twilio auth token: the server checks webhook signatures, the simulated Twilio signs
TEST_AUTH_TOKEN = "test-twilio-auth-token"

logger.remove()  # pipecat logs every frame at DEBUG; keep test output readable
logger.add(sys.stderr, level="WARNING")


def manifest() -> list[dict]:
    return yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["fixtures"]


def fixture_wav(fixture_id: str) -> Path:
    path = FIXTURES / f"{fixture_id}.wav"
    assert path.exists(), f"missing {path}: run audio_fixtures/generate.py"
    return path


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(env={}, overrides={"twilio": {"auth_token": TEST_AUTH_TOKEN}})


@pytest.fixture(scope="session")
def resources(settings):
    """Real models (Whisper base int8, Piper voice, espeak-ng), loaded once for all slow tests."""
    from voice_agent.pipeline.factory import CallFactory

    factory = CallFactory.load(settings)
    factory.models.warm_up()
    return factory


@pytest.fixture
def fresh_resources(resources):
    """The loaded models with a fresh knowledge base, bus and call registry (calls in one test
    don't mix)."""
    from voice_agent.events import EventBus
    from voice_agent.pipeline.factory import CallFactory

    return CallFactory.around(resources.models.with_fresh_knowledge_base(), EventBus())
