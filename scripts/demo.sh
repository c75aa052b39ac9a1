#!/usr/bin/env bash
# Set up the environment if needed, then run the offline demo (whole ExecTune recipe, six baselines).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
exec .venv/bin/gcop demo --preset "${GCOP_PRESET:-quick}" "$@"
