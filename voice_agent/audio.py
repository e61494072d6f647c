"""Audio helpers shared by transports, services and tests: G.711 μ-law, WAV files, resampling."""

from __future__ import annotations

import audioop
import wave
from pathlib import Path

import numpy as np
import soxr

PHONE_RATE = 8000
FRAME_MS = 20
PHONE_FRAME_BYTES = PHONE_RATE * FRAME_MS // 1000  # 160 μ-law bytes per 20 ms


def ulaw_encode(pcm16: bytes) -> bytes:
    """16-bit little-endian PCM → G.711 μ-law."""
    return audioop.lin2ulaw(pcm16, 2)


def ulaw_decode(ulaw: bytes) -> bytes:
    """G.711 μ-law → 16-bit little-endian PCM."""
    return audioop.ulaw2lin(ulaw, 2)


def resample(pcm16: bytes, in_rate: int, out_rate: int) -> bytes:
    """Band-limited (anti-aliased) resampling of 16-bit mono PCM with soxr."""
    if in_rate == out_rate or not pcm16:
        return pcm16
    x = np.frombuffer(pcm16, dtype=np.int16)
    y = soxr.resample(x, in_rate, out_rate, quality="HQ")
    return np.clip(np.round(y), -32768, 32767).astype(np.int16).tobytes()


def pcm16_to_float(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0


def read_wav(path: Path | str) -> tuple[bytes, int]:
    """Read a mono 16-bit WAV; returns (pcm16, sample_rate). Stereo is mixed down."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        rate, channels = w.getframerate(), w.getnchannels()
        data = w.readframes(w.getnframes())
    if channels > 1:
        data = audioop.tomono(data, 2, 0.5, 0.5) if channels == 2 else _mix(data, channels)
    return data, rate


def _mix(data: bytes, channels: int) -> bytes:
    x = np.frombuffer(data, dtype=np.int16).reshape(-1, channels).mean(axis=1)
    return x.astype(np.int16).tobytes()


def write_wav(path: Path | str, pcm16: bytes, rate: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16)


def to_phone_line(pcm16: bytes, rate: int) -> bytes:
    """What a caller's audio becomes on the phone network: 8 kHz μ-law."""
    return ulaw_encode(resample(pcm16, rate, PHONE_RATE))


def rms_dbfs(pcm16: bytes) -> float:
    if not pcm16:
        return -120.0
    x = pcm16_to_float(pcm16)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return 20 * np.log10(max(rms, 1e-6))


def is_silent(pcm16: bytes, threshold_dbfs: float = -50.0) -> bool:
    return rms_dbfs(pcm16) < threshold_dbfs


def phone_line_pcm(path: Path | str) -> bytes:
    """A WAV as it reaches us over the phone: 8 kHz after a μ-law round trip."""
    pcm, rate = read_wav(path)
    return ulaw_decode(ulaw_encode(resample(pcm, rate, PHONE_RATE)))
