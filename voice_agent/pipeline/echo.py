"""Is the inbound audio the bot's own voice coming back (speakerphone, a loud handset)?

An echo is the bot's audio delayed and attenuated, so it correlates strongly with what was just
played at some delay; a caller talking over it does not. The check slides the recent inbound
audio over the bot's recent audio and takes the best normalised correlation.
"""

from __future__ import annotations

import numpy as np


def echo_correlation(inbound: bytes, reference: bytes) -> float:
    """Best normalised cross-correlation (0…1) of `inbound` with any same-length span of
    `reference` (both 16-bit PCM at one rate); 0 when either is too short or silent."""
    x = np.frombuffer(inbound, dtype=np.int16).astype(np.float64)
    r = np.frombuffer(reference, dtype=np.int16).astype(np.float64)
    n, m = x.size, r.size
    if n < 160 or m < n:
        return 0.0
    x = x - x.mean()
    x_norm = np.sqrt(np.dot(x, x))
    if x_norm < 1e-3 * n:
        return 0.0
    size = 1 << int(np.ceil(np.log2(n + m)))
    # correlation of x with every span of r: ifft(fft(r) * conj(fft(x)))
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(x, size)), size)[: m - n + 1]
    c = np.cumsum(np.concatenate(([0.0], r)))
    c2 = np.cumsum(np.concatenate(([0.0], r * r)))
    span_sum = c[n:] - c[:-n]
    span_energy = np.maximum(c2[n:] - c2[:-n] - span_sum**2 / n, 0.0)
    span_norm = np.sqrt(span_energy)
    corr = corr - span_sum * x.mean()  # x is zero-mean already; kept for clarity
    valid = span_norm > 1e-3 * n
    if not valid.any():
        return 0.0
    return float(np.max(np.abs(corr[valid]) / (x_norm * span_norm[valid])))
