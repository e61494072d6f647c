"""Make torchaudio importable beside a CPU-only torch (run by scripts/setup.sh).

Coqui TTS imports torchaudio, and PyPI's torchaudio ≥ 2.9 wheels carry a native extension linked
against CUDA torch (`libc10_cuda.so`): on our pinned CPU torch its import fails. Everything Coqui
needs from torchaudio at inference (resampling, mel transforms) is pure Python, and torchaudio
runs without its extension when the library files are absent. So when — and only when — the
extension cannot load, its files are renamed to `*.so.cuda-disabled` (reversible; a
reinstall of torchaudio restores them). Usage: python -m voice_agent.tts_engines.torchaudio_cpu
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

DISABLED = ".cuda-disabled"


def _imports() -> tuple[bool, str]:
    proc = subprocess.run(
        [sys.executable, "-c", "import torchaudio"], capture_output=True, text=True, check=False,
    )
    return proc.returncode == 0, proc.stderr.strip().splitlines()[-1] if proc.stderr else ""


def fix() -> str:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        return "torchaudio is not installed: nothing to do"
    ok, error = _imports()
    if ok:
        return "torchaudio imports: nothing to do"
    if "Could not load this library" not in error and "libc10_cuda" not in error:
        raise SystemExit(f"torchaudio fails to import for another reason: {error}")
    libs = sorted((Path(spec.origin).parent / "lib").glob("*.so"))
    for lib in libs:
        lib.rename(lib.with_name(lib.name + DISABLED))
    ok, error = _imports()
    if not ok:
        raise SystemExit(f"torchaudio still fails to import: {error}")
    return f"disabled torchaudio's CUDA-linked extension ({len(libs)} files): pure-Python mode"


if __name__ == "__main__":
    print(fix())
