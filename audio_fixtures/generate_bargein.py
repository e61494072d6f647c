"""Generate the barge-in fixtures of audio_fixtures/bargein.yaml into audio_fixtures/bargein/.

Speech goes through the same synthesis and phone-line conversion as generate.py; the noises
(cough, door slam, line crackle, breath) are synthesised here from fixed seeds, band-limited
to the phone band like everything a caller sends.

Usage: .venv/bin/python audio_fixtures/generate_bargein.py [--only ID ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate as generate_speech  # noqa: E402

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "bargein.yaml"
OUT = HERE / "bargein"
RATE = 8000


def _band(x: np.ndarray) -> np.ndarray:
    """Phone band (300–3400 Hz) by FFT masking; deterministic and dependency-free."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    spec[(f < 300) | (f > 3400)] = 0
    return np.fft.irfft(spec, x.size)


def _envelope(n: int, attack: int, decay: float) -> np.ndarray:
    t = np.arange(n)
    env = np.exp(-t / (decay * RATE))
    env[:attack] *= np.linspace(0, 1, attack)
    return env


def sound(name: str) -> np.ndarray:
    rng = np.random.default_rng({"cough": 1, "door": 2, "line": 3, "breath": 4}[name])
    if name == "cough":  # two short broadband bursts with a voiced rasp
        parts = []
        for length, f0 in ((0.18, 140), (0.14, 120)):
            n = int(length * RATE)
            t = np.arange(n) / RATE
            burst = rng.standard_normal(n) * 0.8 + 0.4 * np.sign(np.sin(2 * np.pi * f0 * t))
            parts += [burst * _envelope(n, 80, length / 2.5), np.zeros(int(0.08 * RATE))]
        x = np.concatenate(parts)
    elif name == "door":  # a thud and a short rattle
        n = int(0.35 * RATE)
        t = np.arange(n) / RATE
        x = (np.sin(2 * np.pi * 90 * t) + 0.6 * rng.standard_normal(n)) * _envelope(n, 8, 0.05)
    elif name == "line":  # crackle: sparse clicks over hiss for half a second
        n = int(0.5 * RATE)
        x = 0.15 * rng.standard_normal(n)
        clicks = rng.choice(n, 25, replace=False)
        x[clicks] += rng.choice([-1, 1], 25) * 3.0
    else:  # breath: soft, slowly swelling noise
        n = int(0.6 * RATE)
        x = rng.standard_normal(n) * np.hanning(n) * 0.5
    x = _band(x)
    x = x / max(1e-9, np.abs(x).max()) * 10 ** (-6 / 20)  # -6 dBFS peak
    pad = np.zeros(int(0.3 * RATE))
    return np.concatenate([pad, x, np.zeros(int(0.2 * RATE))])


def _quiet_point(x: np.ndarray, fraction: float) -> int:
    """The quietest 10 ms between words nearest to `fraction` of the voiced span: where a
    pause can go without cutting a word (the prosody stays mid-sentence)."""
    frame = RATE // 100
    energy = np.array([np.sqrt(np.mean(x[i : i + frame] ** 2))
                       for i in range(0, x.size - frame, frame)])
    voiced = np.flatnonzero(energy > 0.02)
    lo, hi = voiced[0], voiced[-1]
    target = lo + fraction * (hi - lo)
    window = range(int(target - 25), int(target + 25))
    best = min((i for i in window if lo < i < hi), key=lambda i: energy[i] + abs(i - target) * 1e-4)
    return best * frame


def _write(path: Path, x: np.ndarray) -> None:
    from voice_agent.audio import write_wav

    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16).tobytes()
    write_wav(path, pcm, RATE)


def render(entry: dict[str, Any], tmp: Path) -> Path:
    from voice_agent.audio import read_wav

    out = OUT / f"{entry['id']}.wav"
    if entry["kind"] == "noise":
        _write(out, sound(entry["sound"]))
        return out
    if "pause_at" in entry:  # one sentence said in one breath, a pause cut into it
        path = generate_speech({**entry, "id": f"_{entry['id']}"}, tmp)
        pcm, _ = read_wav(path)
        path.unlink()
        x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64) / 32768
        at = _quiet_point(x, entry["pause_at"])
        gap = np.zeros(int(entry["pause_s"] * RATE))
        _write(out, np.concatenate([x[:at], gap, x[at:]]))
        return out
    texts = entry["text"] if isinstance(entry["text"], list) else [entry["text"]]
    pieces = []
    for i, text in enumerate(texts):
        path = generate_speech({**entry, "id": f"_{entry['id']}_{i}", "text": text}, tmp)
        pcm, _ = read_wav(path)
        path.unlink()
        pieces.append(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) / 32768)
    gap = np.zeros(int(entry.get("pause_s", 0.0) * RATE))
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = np.concatenate([joined, gap, piece])
    _write(out, joined)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID")
    args = parser.parse_args(argv)
    entries = yaml.safe_load(MANIFEST.read_text("utf-8"))["fixtures"]
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            if args.only and entry["id"] not in args.only:
                continue
            path = render(entry, Path(tmp))
            print(f"{path.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
