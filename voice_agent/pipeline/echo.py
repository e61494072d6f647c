"""Is the inbound audio the bot's own voice coming back (speakerphone, a loud handset)?

An echo is the bot's audio delayed and attenuated, so its loudness contour follows what was
just played at some delay; a caller talking over it has a contour of their own. The check
compares the 10 ms loudness envelopes (robust to the resampling, μ-law and filtering on the
echo path, which defeat a waveform correlation) of the recent inbound audio and the bot's
recent audio at every delay and takes the best normalised correlation.
"""

from __future__ import annotations

import numpy as np

FRAME = 80  # 10 ms at 8 kHz


def envelope(pcm16: bytes) -> np.ndarray:
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float64)
    n = x.size // FRAME
    return np.sqrt(np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)) if n else np.zeros(0)


def echo_match(inbound: bytes, reference: bytes) -> tuple[float, float]:
    """(correlation, level ratio) at the best delay: the normalised correlation (≤ 1) of the
    loudness envelope of `inbound` with that of a same-length span of `reference` (both 8 kHz
    16-bit PCM), and how loud `inbound` is against that span (an echo is well below 1; a caller
    talking into the phone is not). (0, 0) when too short or silent."""
    x_raw, r = envelope(inbound), envelope(reference)
    n = x_raw.size
    if n < 10 or r.size < n:
        return 0.0, 0.0
    x = x_raw - x_raw.mean()
    x_norm = float(np.sqrt(np.dot(x, x)))
    if x_norm < 1.0:
        return 0.0, 0.0
    raw_spans = np.lib.stride_tricks.sliding_window_view(r, n)
    spans = raw_spans - raw_spans.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", spans, spans))
    corr = np.where(norms > 1.0, (spans @ x) / (np.maximum(norms, 1.0) * x_norm), 0.0)
    best = int(np.argmax(corr))
    level = float(np.sqrt(np.mean(x_raw**2) / max(np.mean(raw_spans[best] ** 2), 1e-9)))
    return float(corr[best]), level

