"""Periodicity ("voicing") of phone audio: voiced speech told apart from aperiodic noise.

webrtcvad answers "speech-like spectrum", and a breath, a cough burst or line hiss in the
300–3400 Hz phone band often passes it. What those sounds lack is a pitch: vowels, an "mm" or
an "uh-huh" repeat every 2.5–12.5 ms (80–400 Hz), noise does not repeat at all. This module
measures that with a normalised autocorrelation, pure numpy, cheap enough for every 20 ms
inbound frame (measured in tests/test_voicing.py).
"""

from __future__ import annotations

import numpy as np

MIN_F0_HZ = 80.0  # lowest pitch searched (deep male voice)
MAX_F0_HZ = 400.0  # highest pitch searched (child, raised female voice)
THRESHOLD = 0.5  # normalised autocorrelation peak that counts as periodic (fixtures:
#                 speech frames p90 0.7–0.98, noise frames p90 0.23–0.31)
MIN_DBFS = -40.0  # quieter than this is not counted at all (line hiss, far-off talk)
WINDOW_S = 0.04  # analysis window of the tracker: two pitch periods of an 80 Hz voice and more


def _samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0


def level_dbfs(x: np.ndarray) -> float:
    """RMS level of float samples (−1…1) in dBFS."""
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return 20.0 * float(np.log10(max(rms, 1e-6)))


def periodicity(x: np.ndarray, sample_rate: int) -> float:
    """Highest normalised autocorrelation over the 80–400 Hz pitch lags (≈1 for a steady
    periodic sound, near 0 for noise). Each lag is normalised by the energies of the two
    overlapping parts, so a fading vowel still scores high and a short window is not biased."""
    x = x - x.mean()
    n = x.size
    lo = max(1, int(sample_rate / MAX_F0_HZ))
    hi = min(int(sample_rate / MIN_F0_HZ), n - n // 4)  # keep ≥ 1/4 of the window overlapping
    if hi <= lo:
        return 0.0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[lo : hi + 1]
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    lags = np.arange(lo, hi + 1)
    head = energy[n - lags]  # x[0 : n-lag]
    tail = energy[n] - energy[lags]  # x[lag : n]
    denom = np.sqrt(head * tail)
    valid = denom > 1e-12
    if not valid.any():
        return 0.0
    return float((ac[valid] / denom[valid]).max())


def is_voiced(
    pcm16: bytes, sample_rate: int, *, threshold: float = THRESHOLD, min_dbfs: float = MIN_DBFS
) -> bool:
    """Is this frame (16-bit mono PCM, ~20–40 ms) loud enough and periodic at a pitch?"""
    x = _samples(pcm16)
    if x.size == 0 or level_dbfs(x) < min_dbfs:
        return False
    return periodicity(x, sample_rate) >= threshold


class VoicingTracker:
    """Seconds of voiced (periodic) audio, fed one inbound frame at a time.

    Each frame is judged on a `WINDOW_S` window ending with it (the tail of earlier frames
    in front), so a 20 ms frame still spans two periods of a low voice."""

    def __init__(
        self, *, threshold: float = THRESHOLD, min_dbfs: float = MIN_DBFS,
        window_s: float = WINDOW_S,
    ) -> None:
        self.threshold = threshold
        self.min_dbfs = min_dbfs
        self.window_s = window_s
        self.voiced_s = 0.0  # voiced audio since the last reset
        self.total_s = 0.0  # all audio since the last reset
        self._history = np.zeros(0, dtype=np.float32)

    def reset(self) -> None:
        """Start counting afresh (e.g. at the onset of a new sound)."""
        self.voiced_s = 0.0
        self.total_s = 0.0
        self._history = np.zeros(0, dtype=np.float32)

    def add(self, pcm16: bytes, sample_rate: int) -> bool:
        """Feed one frame; True if it is voiced (its duration is then added to `voiced_s`)."""
        frame = _samples(pcm16)
        if frame.size == 0:
            return False
        keep = max(frame.size, int(self.window_s * sample_rate))
        window = np.concatenate((self._history, frame))[-keep:]
        self._history = window
        seconds = frame.size / sample_rate
        self.total_s += seconds
        voiced = (
            level_dbfs(frame) >= self.min_dbfs
            and periodicity(window, sample_rate) >= self.threshold
        )
        if voiced:
            self.voiced_s += seconds
        return voiced
