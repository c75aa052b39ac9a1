"""End-to-end generation throughput of a LocalLM through ``dspy.LM("local/...")``: the old
configuration (float32, batches of 8) against the new default (bfloat16 where the CPU has it,
batches of 32, a shared prompt prefix prefilled once), with the default but without prefix
sharing between them, on the same GSM8K chat prompts, plus the bf16 matmul bound of this
machine.

    .venv/bin/python benchmarks/local_lm_throughput.py                 # qwen2.5-coder-0.5b
    .venv/bin/python benchmarks/local_lm_throughput.py --model tiny    # seconds, a smoke run

Each configuration answers ``--requests`` concurrent DSPy calls (distinct prompts, greedy,
uncached); tokens/s counts completion tokens per second of wall time. A prefill-heavy case
(three worked examples before the question, as the ICL baseline sends, 8 new tokens) is timed
per request. ``waste`` is the share of
decoded row-steps spent on rows that had already finished (see ``gcop.lm.generation.BatchStats``).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONFIGS = {
    "before (float32, batch 8)": {"dtype": "float32", "max_batch_size": 8, "share_prefix": False},
    "after (auto dtype, batch 32)": {"dtype": "auto", "max_batch_size": 32, "share_prefix": False},
    "after, shared prefix prefilled once": {
        "dtype": "auto",
        "max_batch_size": 32,
        "share_prefix": True,
    },
}


def matmul_bound(hidden: int, inter: int, rows: int = 256, repeats: int = 20) -> float:
    """Measured bf16 GFLOP/s of an MLP-sized matmul (the bound generation can approach)."""
    import torch

    a = torch.randn(rows, hidden, dtype=torch.bfloat16)
    w = torch.randn(hidden, inter, dtype=torch.bfloat16)
    a @ w
    start = time.perf_counter()
    for _ in range(repeats):
        a @ w
    seconds = time.perf_counter() - start
    return 2 * rows * hidden * inter * repeats / seconds / 1e9


def run(model: str, config: dict, prompts: list[str], icl_prompts: list[str], max_tokens: int):
    """Decode-heavy figures for ``prompts``, then prefill-heavy ones for ``icl_prompts``."""
    import dspy

    from gcop.lm.local import LocalLM

    name = f"bench-{config['dtype']}-{config['max_batch_size']}-{config['share_prefix']}"
    local = LocalLM(model, name=name, **config)
    local.complete([{"role": "user", "content": "Hi"}], max_tokens=2)  # load and warm up
    params = sum(p.numel() for p in local.model.parameters())
    lm = dspy.LM(local.model_string, cache=False, max_tokens=max_tokens, temperature=0.0)
    seconds, outputs = _answer(lm, prompts)
    tokens = local.stats.tokens
    figures = {
        "seconds": round(seconds, 1),
        "tokens": tokens,
        "tok_per_s": round(tokens / seconds, 1),
        "batches": local.stats.batches,
        "waste": round(local.stats.waste, 3),
        "gflop_per_s": round(2 * params * tokens / seconds / 1e9, 1),
        "replies": len(outputs),
    }
    short = dspy.LM(local.model_string, cache=False, max_tokens=8, temperature=0.0)
    seconds, _ = _answer(short, icl_prompts)
    figures["prefill_s_per_request"] = round(seconds / len(icl_prompts), 2)
    figures["shared_prefill_tokens"] = local.stats.shared_prefill  # both phases
    local.close()
    return figures


def _answer(lm, prompts: list[str]) -> tuple[float, list[str]]:
    from gcop.lm.chat import chat

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        outputs = list(pool.map(lambda p: chat(lm, [{"role": "user", "content": p}]), prompts))
    return time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()

    import torch

    from gcop.tasks import gsm8k

    ask = 'Solve it step by step, then end with "The answer is N".'
    prompts = [f"{ex.question}\n\n{ask}" for ex in gsm8k.load("dev", n=args.requests, seed=1)]
    # three worked examples before the question, as the ICL baseline sends
    worked = "\n\n".join(f"{ex.question}\n{ex.answer}" for ex in gsm8k.load("train", n=3, seed=1))
    icl_prompts = [f"{worked}\n\n{p}" for p in prompts[:16]]
    figures = {"model": args.model, "requests": args.requests, "max_tokens": args.max_tokens}
    figures["torch_threads"] = torch.get_num_threads()
    figures["bf16_matmul_gflop_per_s"] = round(matmul_bound(896, 4864), 1)
    for name, config in CONFIGS.items():
        figures[name] = run(args.model, config, prompts, icl_prompts, args.max_tokens)
        print(name, figures[name], flush=True)
    before, unshared, after = (figures[name] for name in CONFIGS)
    figures["speedup"] = round(after["tok_per_s"] / before["tok_per_s"], 2)
    figures["prefill_speedup"] = round(
        before["prefill_s_per_request"] / after["prefill_s_per_request"], 2
    )
    figures["shared_prefix_prefill_speedup"] = round(
        unshared["prefill_s_per_request"] / after["prefill_s_per_request"], 2
    )
    bound = figures["bf16_matmul_gflop_per_s"]
    figures["after_fraction_of_bound"] = round(after["gflop_per_s"] / bound, 2)
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
