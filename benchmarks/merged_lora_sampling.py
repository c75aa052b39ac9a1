"""Sampling a saved LoRA guide's plans: the adapter unmerged (as gcop serves it) against merged
into the bfloat16 base, on the same prompts and seed, through transformers' ``generate``.

    .venv/bin/python benchmarks/merged_lora_sampling.py --policy policies/gsm8k-1.5b-guide

Every row decodes exactly ``--new-tokens`` tokens, so both sides do the same work; each side
runs twice, alternating, and the figures are tokens per second of wall time.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path


def main() -> None:
    import torch

    import gcop
    from gcop.modules.guide import guide_messages
    from gcop.signatures import MathGuide
    from gcop.tasks import gsm8k

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=Path("policies/gsm8k-1.5b-guide"))
    parser.add_argument("--rows", type=int, default=24, help="GSM8K dev questions, one batch")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()

    lm = gcop.LocalLM.load(args.policy / "guide")
    model, tokenizer = lm.model, lm.tokenizer
    questions = gsm8k.load("dev", n=args.rows, seed=0)
    prompts = [
        lm.chat_prompt(guide_messages(MathGuide, {"question": q.question})) for q in questions
    ]
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    new = args.new_tokens
    settings = dict(do_sample=True, temperature=0.7, top_p=0.95, min_new_tokens=new)
    merged = copy.deepcopy(model).merge_and_unload()
    sides = {"LoRA unmerged": model, "merged into the base": merged}
    for repeat in range(2):
        for label, side in sides.items():
            torch.manual_seed(0)
            start = time.perf_counter()
            with torch.no_grad():
                side.generate(**batch, max_new_tokens=new, **settings)
            seconds = time.perf_counter() - start
            row = {"side": label, "repeat": repeat, "rows": args.rows, "new_tokens": new}
            print(
                json.dumps(
                    row | {"s": round(seconds, 1), "tok_s": round(args.rows * new / seconds, 1)}
                )
            )


if __name__ == "__main__":
    main()
