#!/usr/bin/env bash
# Sets up everything voice_agent needs on a fresh Debian machine: system packages, .venv/, the package.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # headless, for the operator page's browser test
command -v sipp >/dev/null || need_apt+=(sip-tester)  # sipp: the SIP trunk interop tests
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not ((3,11) <= sys.version_info[:2] < (3,13)))'; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 or 3.12 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi

stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing voice_agent and its dependencies into .venv (torch CPU build)"
  # torch first, pinned: an unpinned resolve would pull a multi-GB CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi

# PyPI's torchaudio is linked to CUDA torch: disable its native extension on our CPU torch
# (Coqui TTS needs only its pure-Python parts). Idempotent; a no-op where it imports.
.venv/bin/python -m voice_agent.tts_engines.torchaudio_cpu

echo "==> preparing offline models"
.venv/bin/voice-agent models --prepare
