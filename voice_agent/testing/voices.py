"""Synthetic phone voices for the fast call scripts: speech-like sound without a speech model.

A *voice* here is a harmonic series (the glottal buzz) at a pitch that drifts like a spoken
phrase (falling slowly, a little wobble), shaped by vowel formants that change syllable by
syllable, under a syllable-rate loudness envelope. webrtcvad and the periodicity detector
(pipeline/voicing.py) take it for speech, as they take a real voice (tests/test_scripted_voices.py
checks both). Its pitch is what identifies it: each scripted line is voiced at its own pitch and
`estimate_pitch` finds it again in whatever segment the VAD cut, so the scripted transcriber
knows which line it heard. A *cough* is the opposite: loud band-limited noise bursts with no
pitch, which the VAD may take for speech but the voicing detector must not.
"""

from __future__ import annotations

import numpy as np

from voice_agent.audio import PHONE_RATE
from voice_agent.pipeline.voicing import MIN_DBFS, level_dbfs

# (F1, F2) of a few vowels: the spectrum moves like speech, which is what webrtcvad looks at
VOWELS = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840), (660, 1720))
FORMANT_BW_HZ = 110.0
SYLLABLE_S = (0.16, 0.26)  # 4–6 syllables a second
PITCH_DRIFT = 0.05  # the phrase falls 5 % from start to end (declination), centred on the pitch
PEAK = 0.32  # of full scale: a phone voice at about -20 dBFS RMS


def _formant_gain(freqs: np.ndarray, vowel: tuple[int, int]) -> np.ndarray:
    f1, f2 = vowel
    resonance = sum(1.0 / (1.0 + ((freqs - f) / FORMANT_BW_HZ) ** 2) for f in (f1, f2))
    return 0.15 + resonance  # a floor: the harmonics between the formants are not silent


def voiced_utterance(pitch_hz: float, seconds: float, *, seed: int = 0,
                     rate: int = PHONE_RATE) -> bytes:
    """`seconds` of a synthetic voice (16-bit PCM) whose median pitch is `pitch_hz`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    progress = t / max(seconds, 1e-6)
    f0 = pitch_hz * (1 + PITCH_DRIFT * (0.5 - progress)) * (1 + 0.01 * np.sin(2 * np.pi * 4.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    out = np.zeros(n)
    envelope = np.zeros(n)
    start = 0
    while start < n:
        length = min(n - start, int(rng.uniform(*SYLLABLE_S) * rate))
        part = slice(start, start + length)
        vowel = VOWELS[int(rng.integers(len(VOWELS)))]
        for k in range(1, int(3400 / pitch_hz) + 1):
            gain = _formant_gain(k * f0[part], vowel) / k**0.5
            out[part] += gain * np.sin(k * phase[part])
        # a syllable swells and fades, never quite to silence (the consonant between vowels)
        hump = np.sin(np.pi * np.arange(length) / max(length, 1)) ** 0.6
        envelope[part] = 0.12 + 0.88 * hump
        start += length
    edge = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # no click at either end
    out *= envelope * edge
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * PEAK * 32767).astype(np.int16).tobytes()


def cough(seconds: float = 0.45, *, seed: int = 1, rate: int = PHONE_RATE) -> bytes:
    """Two loud bursts of band-limited noise (a cough, a door knock): no pitch at all."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    noise = rng.standard_normal(n)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0  # what the phone line lets through
    noise = np.fft.irfft(spectrum, n)
    t = np.arange(n) / rate
    envelope = np.zeros(n)
    for at in (0.0, seconds * 0.45):  # "khh… khh"
        after = t - at
        envelope += np.where(after >= 0, np.minimum(1.0, after / 0.01) * np.exp(-after / 0.07), 0)
    out = noise * envelope
    return (out / np.max(np.abs(out)) * 0.5 * 32767).astype(np.int16).tobytes()


def silence(seconds: float, rate: int = PHONE_RATE) -> bytes:
    return bytes(int(seconds * rate) * 2)


def _frame_pitch(x: np.ndarray, rate: int, lo_hz: float, hi_hz: float) -> tuple[float, float]:
    """(pitch, periodicity) of one window: the shortest lag whose normalised autocorrelation
    is near the best one (the best alone may be a multiple of the period: an octave error)."""
    x = x - x.mean()
    n = x.size
    lo, hi = int(rate / hi_hz), min(int(rate / lo_hz) + 1, n - n // 3)
    if hi <= lo + 2:
        return 0.0, 0.0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    lags = np.arange(lo, hi + 1)
    norm = ac[lags] / np.sqrt(np.maximum(energy[n - lags] * (energy[n] - energy[lags]), 1e-12))
    best = float(norm.max())
    # the first local maximum that comes close to the best
    candidates = [i for i in range(1, len(norm) - 1)
                  if norm[i] >= 0.9 * best and norm[i] >= norm[i - 1] and norm[i] >= norm[i + 1]]
    i = candidates[0] if candidates else int(np.argmax(norm))
    shift = 0.0
    if 0 < i < len(norm) - 1:  # parabolic interpolation between lags: sub-sample period
        a, b, c = norm[i - 1], norm[i], norm[i + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
    return rate / (lags[i] + shift), best


def estimate_pitch(samples: np.ndarray, rate: int, *, lo_hz: float = 70.0,
                   hi_hz: float = 420.0, min_periodicity: float = 0.6) -> float | None:
    """Median pitch (Hz) of the voiced 40 ms windows of float audio; None: no voice in it."""
    win, hop = int(0.04 * rate), int(0.02 * rate)
    pitches = []
    for i in range(0, samples.size - win + 1, hop):
        frame = samples[i : i + win]
        if level_dbfs(frame) < MIN_DBFS:
            continue
        pitch, periodic = _frame_pitch(frame, rate, lo_hz, hi_hz)
        if periodic >= min_periodicity:
            pitches.append(pitch)
    # a few voiced windows can be an echo's tail or a click: a voice lasts longer
    return float(np.median(pitches)) if len(pitches) >= 4 else None
