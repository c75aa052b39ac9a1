#!/usr/bin/env bash
# Check that gcop installs into an environment that already has DSPy and TRL without changing
# them (issue 30). In a fresh virtualenv: install torch (the CPU build constraints.txt pins), then
# DSPy and TRL at versions within gcop's ranges, record `pip freeze`, `pip install` gcop from this
# checkout, and fail if any package that was there changed version. Then gcop runs: --version, and
# an import of its trainers. Not part of the test suite (a few minutes, about 1 GB of wheels).
#
#   bash scripts/check_install.sh                                     # newest DSPy/TRL in range
#   DSPY='dspy==3.4.1' TRL='trl==1.16.0' bash scripts/check_install.sh   # the lower ends
#   EXTRA=local bash scripts/check_install.sh                         # another extra ('' for none)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
DSPY="${DSPY:-dspy>=3.4.1,<4}"
TRL="${TRL:-trl>=1.16.0,<2}"
EXTRA="${EXTRA-train}"
torch_pin=$(grep -E '^torch==' constraints.txt)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
pip_install() {  # pip's own output, less its notes about index folders it skips
  "$work/venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
echo "[check_install] $torch_pin, then '$DSPY' '$TRL' in a fresh virtualenv" >&2
pip_install "$torch_pin"
pip_install "$DSPY" "$TRL"
"$work/venv/bin/python" -m pip freeze | sort >"$work/before"
target="$root${EXTRA:+[$EXTRA]}"
echo "[check_install] pip install '$target'" >&2
pip_install "$target"
"$work/venv/bin/python" -m pip freeze | sort >"$work/after"
changed=$(comm -23 "$work/before" "$work/after")
if [ -n "$changed" ]; then
  echo "[check_install] FAIL: installing gcop changed these packages:" >&2
  echo "$changed" >&2
  comm -13 "$work/before" "$work/after" >&2
  exit 1
fi
grep -iE '^(dspy|trl|torch|transformers|peft|litellm)==' "$work/after" | tr '\n' ' ' >&2
echo >&2
"$work/venv/bin/gcop" --version
if [ "$EXTRA" = train ]; then
  (cd "$work" && "$work/venv/bin/python" -c \
    "import gcop.optimizers.sft, gcop.optimizers.grpo.trainer, trl; print('trainers import')")
fi
echo "[check_install] OK: gcop installed beside them, no version changed" >&2
