"""Phone audio: μ-law round trip, resampling, WAV files."""

import numpy as np

from voice_agent.audio import (
    read_wav,
    resample,
    rms_dbfs,
    to_phone_line,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


def test_ulaw_round_trip_keeps_a_voice_band_tone_within_g711_error():
    pcm = tone(440, 0.2, 8000)
    encoded = ulaw_encode(pcm)
    assert len(encoded) == len(pcm) // 2  # one byte per sample
    back = np.frombuffer(ulaw_decode(encoded), dtype=np.int16).astype(float)
    orig = np.frombuffer(pcm, dtype=np.int16).astype(float)
    snr = 10 * np.log10(np.sum(orig**2) / np.sum((orig - back) ** 2))
    assert snr > 30  # G.711 μ-law gives ~38 dB on a loud tone


def test_resampling_to_8k_filters_what_a_phone_cannot_carry():
    # 6 kHz is above the 4 kHz Nyquist limit of a phone line: it must vanish, not alias to 2 kHz
    high = tone(6000, 0.5, 22050)
    assert rms_dbfs(resample(high, 22050, 8000)) < -40
    speech_band = tone(1000, 0.5, 22050)
    assert abs(rms_dbfs(resample(speech_band, 22050, 8000)) - rms_dbfs(speech_band)) < 1


def test_wav_written_and_read_back(tmp_path):
    pcm = tone(300, 0.1, 16000)
    write_wav(tmp_path / "x.wav", pcm, 16000)
    data, rate = read_wav(tmp_path / "x.wav")
    assert (data, rate) == (pcm, 16000)


def test_phone_line_is_8k_ulaw():
    out = to_phone_line(tone(500, 1.0, 16000), 16000)
    assert len(out) == 8000
