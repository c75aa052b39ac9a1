#!/usr/bin/env bash
# One greedy plan through the kit on 300 dev questions, the seeded SFT guide and the shipped GRPO
# guide (the first 100 come from DSPy's cache of run.sh); waits for run.sh. Rerun resumes.
cd "$(dirname "$0")/../../.."
while pgrep -f "greedy_kit/run.sh" > /dev/null; do sleep 30; done
export MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
run() {  # out, extra arguments
  mkdir -p "$1" && [ -s "$1/rows.jsonl" ] || cp docs/evidence/core05_alone_dev300.jsonl "$1/rows.jsonl"
  local out=$1; shift
  .venv/bin/python experiments/core_transfer.py --cores qwen2.5-coder-0.5b --n 300 --preset-kit --min-agreement 0.4 --out "$out" "$@" >> "$out/log.txt" 2>&1
}
run runs/study/greedy_kit/grpo_s1_dev300 --guide policies/gsm8k-1.5b-guide/guide --samples 1
run runs/study/greedy_kit/sft_s1_dev300 --run-dir runs/grpo_15b_cons --samples 1
