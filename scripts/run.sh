#!/usr/bin/env bash
# Sets everything up (if needed) and runs the main job: the voice agent server on the embedded
# defaults (CPU models, in-process event bus). Extra arguments go to `voice-agent serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/voice-agent serve "$@"
