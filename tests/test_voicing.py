"""Periodicity detector (voice_agent/pipeline/voicing.py) on the real fixtures, as the phone line
delivers them: 8 kHz after a μ-law round trip, in 20 ms frames.

Measured (threshold 0.5, 40 ms window): speech fixtures 0.18–2.1 s of voiced audio, 60–85 % of
their loud frames, voiced within 0.14 s of their first loud frame; noise fixtures 0–0.02 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from voice_agent.audio import phone_line_pcm, rms_dbfs
from voice_agent.pipeline.voicing import VoicingTracker, is_voiced, periodicity

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
RATE = 8000
FRAME = int(RATE * 0.02) * 2  # 20 ms of 16-bit PCM
BARGEIN = yaml.safe_load((FIXTURES / "bargein.yaml").read_text(encoding="utf-8"))["fixtures"]
SPEECH = [f["id"] for f in BARGEIN if f["kind"] in ("interrupt", "backchannel", "pause")]
NOISE = [f["id"] for f in BARGEIN if f["kind"] == "noise"]
CALLERS = ["en_okay", "en_affirm_yes_please", "en_order_status_1001", "es_opening_hours",
           "de_return", "fr_payment_paypal"]


def _wav(name: str) -> Path:
    bargein = FIXTURES / "bargein" / f"{name}.wav"
    return bargein if bargein.exists() else FIXTURES / f"{name}.wav"


def _run(pcm: bytes) -> tuple[VoicingTracker, list[tuple[float, bool, bool]]]:
    """Feed a call's 20 ms frames; per frame: start time, loud (≥ −40 dBFS), voiced."""
    tracker, frames = VoicingTracker(), []
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        chunk = pcm[i : i + FRAME]
        voiced = tracker.add(chunk, RATE)
        frames.append((i / 2 / RATE, rms_dbfs(chunk) >= -40.0, voiced))
    return tracker, frames


def _pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("name", SPEECH + CALLERS)
def test_speech_is_voiced_early_and_for_long(name: str) -> None:
    tracker, frames = _run(phone_line_pcm(_wav(name)))
    loud = [t for t, is_loud, _ in frames if is_loud]
    voiced = [t for t, _, v in frames if v]
    assert loud and voiced, f"{name}: no voiced frame at all"
    assert voiced[0] - loud[0] <= 0.3, f"{name}: first voiced {voiced[0] - loud[0]:.2f} s in"
    assert tracker.voiced_s >= 0.12, f"{name}: only {tracker.voiced_s:.2f} s voiced"
    share = tracker.voiced_s / (len(loud) * 0.02)
    assert share >= 0.4, f"{name}: {share:.0%} of its loud frames voiced"


@pytest.mark.parametrize("name", NOISE)
def test_noise_is_hardly_voiced(name: str) -> None:
    tracker, frames = _run(phone_line_pcm(_wav(name)))
    loud_s = sum(is_loud for _, is_loud, _ in frames) * 0.02
    assert loud_s >= 0.15, f"{name}: the noise should be loud enough to reach the VAD"
    assert tracker.voiced_s <= 0.06, f"{name}: {tracker.voiced_s:.2f} s voiced"
    assert tracker.voiced_s <= 0.15 * loud_s


def test_every_noise_far_below_the_least_voiced_speech() -> None:
    speech = min(_run(phone_line_pcm(_wav(n)))[0].voiced_s for n in SPEECH)
    noise = max(_run(phone_line_pcm(_wav(n)))[0].voiced_s for n in NOISE)
    assert speech >= 3 * max(noise, 0.02), (speech, noise)


def test_synthetic_signals() -> None:
    t = np.arange(int(0.03 * RATE)) / RATE
    assert is_voiced(_pcm(0.3 * np.sin(2 * np.pi * 150 * t)), RATE)
    assert is_voiced(_pcm(0.3 * np.sign(np.sin(2 * np.pi * 95 * t))), RATE)  # buzz, low voice
    assert not is_voiced(bytes(len(t) * 2), RATE)  # silence
    assert not is_voiced(_pcm(0.001 * np.sin(2 * np.pi * 150 * t)), RATE)  # below the floor
    rng = np.random.default_rng(7)
    for _ in range(50):
        assert not is_voiced(_pcm(0.3 * rng.standard_normal(len(t))), RATE)  # white noise
    assert periodicity(np.zeros(240, dtype=np.float32), RATE) == 0.0
    assert not is_voiced(b"", RATE)


def test_tracker_counts_and_resets() -> None:
    t = np.arange(int(0.5 * RATE)) / RATE
    pcm = _pcm(0.3 * np.sin(2 * np.pi * 150 * t)) + bytes(int(0.5 * RATE) * 2)
    tracker, _ = _run(pcm)
    assert tracker.voiced_s == pytest.approx(0.5, abs=0.041)
    assert tracker.total_s == pytest.approx(1.0)
    tracker.reset()
    assert tracker.voiced_s == tracker.total_s == 0.0
