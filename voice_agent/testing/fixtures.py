"""The recorded audio fixtures (audio_fixtures/): paths and manifests, for tests and benches."""

from __future__ import annotations

from pathlib import Path

import yaml

from voice_agent.config import REPO_ROOT

FIXTURES = REPO_ROOT / "audio_fixtures"
QUESTION = FIXTURES / "en_opening_hours.wav"  # its answer plays for about ten seconds


def bargein_fixtures() -> list[dict]:
    """audio_fixtures/bargein.yaml: interruptions, backchannels, noises, mid-turn pauses."""
    return yaml.safe_load((FIXTURES / "bargein.yaml").read_text(encoding="utf-8"))["fixtures"]


def bargein_wav(fixture_id: str) -> Path:
    return FIXTURES / "bargein" / f"{fixture_id}.wav"
