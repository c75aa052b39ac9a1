#!/usr/bin/env bash
# The kit over one greedy plan against five samples, for the seeded SFT guide and the shipped
# GRPO guide (dev, n = 100); the core-alone row is the committed one. Rerun resumes.
cd "$(dirname "$0")/../../.."
export MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
run() {  # out, extra arguments
  mkdir -p "$1" && [ -s "$1/rows.jsonl" ] || head -1 docs/evidence/guide15_sft_seeded_kit_agree0.4_dev100.jsonl > "$1/rows.jsonl"
  local out=$1; shift
  .venv/bin/python experiments/core_transfer.py --cores qwen2.5-coder-0.5b --n 100 --preset-kit --min-agreement 0.4 --out "$out" "$@" >> "$out/log.txt" 2>&1
}
run runs/study/greedy_kit/sft_s1 --run-dir runs/grpo_15b_cons --samples 1
run runs/study/greedy_kit/grpo_s1 --guide policies/gsm8k-1.5b-guide/guide --samples 1
run runs/study/greedy_kit/grpo_s5 --guide policies/gsm8k-1.5b-guide/guide
