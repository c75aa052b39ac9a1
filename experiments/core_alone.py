"""A core model alone on the evidence preset's test slice, with the preset's core prompt.

The stretch row of the evidence study: does the guided 0.5B core match a bigger model alone?
The model answers each question with the plain prompt and token budget the evidence preset gives
its core, greedy; the scores are written per question, for paired tests against the demo's
``examples.jsonl`` (the same seeded slice, in the same order).

    .venv/bin/python experiments/core_alone.py --model qwen2.5-coder-1.5b --n 80 \
        --out runs/study/core15_test80.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from symbolic_guide_study import core_program

import gcop
from gcop.evaluate import evaluate
from gcop.presets import EVIDENCE
from gcop.tasks import gsm8k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a registry name, e.g. qwen2.5-coder-1.5b")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=EVIDENCE.n_test)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    start = time.time()
    core = core_program(args.model)
    evalset = gsm8k.load(args.split, n=args.n, seed=0)
    result = evaluate(
        gcop.GuideCorePolicy(guide=None, core=core),
        evalset,
        gsm8k.exact_match,
        name=f"{args.model} alone",
        num_threads=EVIDENCE.threads,
    )
    record = {
        "name": result.name,
        "split": args.split,
        "n": result.n,
        "accuracy": result.accuracy,
        "ci": [result.ci_low, result.ci_high],
        "scores": [item.score for item in result.results],
        "errors": [item.error for item in result.results],
        "outputs": [item.output[:600] for item in result.results],
        "cache_hits": result.cost.cache_hits,
        "calls": result.cost.calls,
        "wall_time_s": round(time.time() - start, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"{result.name}: {result.accuracy:.3f} on {result.n} in {record['wall_time_s']} s")


if __name__ == "__main__":
    main()
