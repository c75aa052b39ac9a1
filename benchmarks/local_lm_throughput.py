"""Aggregate generation throughput of LocalLM: one request at a time vs. batched concurrent calls.

    python benchmarks/local_lm_throughput.py                       # qwen2.5-coder-0.5b
    python benchmarks/local_lm_throughput.py --model smollm2-135m
    python benchmarks/local_lm_throughput.py --model tiny          # seconds, for a smoke run

For each batch size B, B threads call ``complete`` concurrently (B=1: calls run one after another)
and we report completion tokens per second of wall time, plus how many ``generate`` calls served
them.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from gcop.lm.local import LocalLM

QUESTIONS = [
    "Explain step by step how to compute 17 * 24 by hand.",
    "Write a Python function that checks whether a string is a palindrome, and explain it.",
    "A train travels 60 km in 45 minutes. Explain how to find its speed in km/h.",
    "Describe, step by step, how binary search works on a sorted list.",
    "Explain how to add the fractions 3/4 and 5/6, showing each step.",
    "Write a Python function that returns the n-th Fibonacci number, and explain it.",
    "A shop sells pens at 3 for $2. Explain how much 12 pens cost.",
    "Explain step by step how to convert 255 to binary.",
]


def run(lm: LocalLM, batch: int, requests: int, max_tokens: int) -> tuple[float, int, int]:
    """Returns (seconds, completion tokens, generate calls) for ``requests`` calls."""
    prompts = [
        [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}] for i in range(requests)
    ]
    before = lm.batches_run
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=batch) as pool:
        results = list(pool.map(lambda m: lm.complete(m, max_tokens=max_tokens), prompts))
    seconds = time.perf_counter() - start
    return seconds, sum(r.completion_tokens for r in results), lm.batches_run - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="registry name, hub id, dir")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--requests", type=int, default=None, help="calls per batch size (default: max(2, B))"
    )
    args = parser.parse_args()

    import torch

    base = LocalLM(args.model, name="bench-load")
    start = time.perf_counter()
    model, tokenizer = base.model, base.tokenizer
    print(f"model {args.model}: loaded in {time.perf_counter() - start:.1f} s, ", end="")
    print(f"{torch.get_num_threads()} torch threads, max_tokens={args.max_tokens}")
    base.complete([{"role": "user", "content": "Hi"}], max_tokens=4)  # warm-up

    print(
        f"{'batch':>5} {'requests':>8} {'generates':>9} {'tokens':>7} {'seconds':>8} {'tok/s':>7}"
    )
    for batch in args.batch_sizes:
        lm = LocalLM(model, tokenizer=tokenizer, name=f"bench-b{batch}", max_batch_size=batch)
        requests = args.requests or max(2, batch)
        seconds, tokens, calls = run(lm, batch, requests, args.max_tokens)
        print(
            f"{batch:>5} {requests:>8} {calls:>9} {tokens:>7} {seconds:>8.1f} "
            f"{tokens / seconds:>7.1f}"
        )


if __name__ == "__main__":
    main()
