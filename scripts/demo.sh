#!/usr/bin/env bash
# Set up the environment if needed, then run the offline demo (whole ExecTune recipe, six baselines).
# The quick preset (the default) also evaluates the trained guide this repository ships, on the
# same problems; GCOP_SAVED_POLICY= (empty) leaves it out, a folder path names another one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
preset="${GCOP_PRESET:-quick}"
saved="${GCOP_SAVED_POLICY-policies/gsm8k-1.5b-guide}"
extra=()
if [ "$preset" = quick ] && [ -n "$saved" ] && [[ " $* " != *" --saved-policy "* ]]; then
  extra=(--saved-policy "$saved")
fi
exec .venv/bin/gcop demo --preset "$preset" "${extra[@]}" "$@"
