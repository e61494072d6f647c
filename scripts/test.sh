#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow"` for the seconds-long unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check voice_agent tests audio_fixtures scripts
.venv/bin/python -m pytest -q "$@"
