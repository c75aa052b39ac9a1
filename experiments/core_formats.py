"""Study: how the core's prompt format decides what it scores alone and with reference plans.

Runs every (format, guidance) cell concurrently through one in-process core, so batches fill,
and prints a table with Wilson intervals. Choose formats on ``dev``; the test slice is for the
final tables only.

    .venv/bin/python experiments/core_formats.py --split dev --n 100 --out runs/study/formats.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import dspy

import gcop
from gcop.evaluate import evaluate_all
from gcop.signatures import MathSolve
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.ceiling import ReferencePlanPolicy

FORMATS = {
    "chat": lambda lm, tokens: gcop.Core(MathSolve, lm=lm, temperature=0.0, max_tokens=tokens),
    "cot": lambda lm, tokens: gcop.Core(
        dspy.ChainOfThought(MathSolve), lm=lm, temperature=0.0, max_tokens=tokens, lenient=True
    ),
    "plain": lambda lm, tokens: gcop.Core(
        MathSolve, lm=lm, adapter="plain", temperature=0.0, max_tokens=tokens
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--formats", default="chat,cot,plain")
    parser.add_argument(
        "--plans", default="numeric", help="plan styles: numeric, symbolic, worded (comma list)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/study/formats.json"))
    args = parser.parse_args()

    examples = gsm8k.load(args.split, n=args.n, seed=0)
    lm = gcop.LocalLM(args.model, name=f"study-{args.dtype}", dtype=args.dtype)
    cells = {}
    for name in args.formats.split(","):
        core = FORMATS[name](lm, args.max_tokens)
        cells[f"{name} alone"] = gcop.GuideCorePolicy(guide=None, core=core)
        for style in args.plans.split(","):
            cells[f"{name} + {style} plan"] = ReferencePlanPolicy(core, examples, style=style)
    start = time.time()
    results = evaluate_all(cells, examples, gsm8k.exact_match, num_threads=16)
    wall = time.time() - start
    rows = []
    for cell, result in results.items():
        correct = round(result.accuracy * result.n)
        rows.append(
            {
                "cell": cell,
                "correct": correct,
                "n": result.n,
                "accuracy": result.accuracy,
                "ci": [result.ci_low, result.ci_high],
                "tokens_per_task": result.cost.tokens / result.n,
                "scores": [r.score for r in result.results],
            }
        )
        print(
            f"{cell:28s} {correct:3d}/{result.n}  {result.accuracy:6.1%}  "
            f"[{result.ci_low:.1%}, {result.ci_high:.1%}]  {result.cost.tokens / result.n:.0f} tok"
        )
    print(f"wall {wall:.0f} s, {lm.batches_run} batches")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "split": args.split,
                "n": args.n,
                "model": args.model,
                "dtype": args.dtype,
                "max_tokens": args.max_tokens,
                "wall_s": wall,
                "date": time.strftime("%F"),
                "rows": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
