"""Rows leaving the batch when they end, against a static batch, on a guide's sampled plans.

gcop decodes each batch in its own loop (``gcop.lm.decode_loop``): a row that ends leaves the
batch with its key/value cache. A static batch (``model.generate`` with the same shared-prefix
cache, what gcop ran before) decodes every row until the longest one ends. This times both on
the same batches of the demo's guide workload: GSM8K dev questions, five seeded samples each at
the guide's settings (temperature 0.6, top-p 0.95, 192 new tokens at most), 30 rows a batch, with
the same per-row random streams, so the two paths should write the same plans up to
floating-point differences between batch sizes.

    .venv/bin/python benchmarks/row_eviction.py --guide runs/quick/exectune_policy/guide
    .venv/bin/python benchmarks/row_eviction.py --guide tiny --questions 12   # seconds, smoke

``--guide`` is a saved guide folder (``LocalLM.save``) or a model name (the untrained base).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SAMPLES = 5
SETTINGS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 192}


def guide_lm(guide: str):
    from gcop.lm.local import LocalLM

    return LocalLM.load(guide) if Path(guide).is_dir() else LocalLM(guide, name=f"bench-{guide}")


def batches(lm, questions: int, per_batch: int) -> list[list]:
    from gcop.lm.generation import GenRequest
    from gcop.modules.guide import guide_messages
    from gcop.signatures import MathGuide
    from gcop.tasks import gsm8k

    requests = []
    for seed, example in enumerate(gsm8k.load("dev", n=questions, seed=0)):
        prompt = lm.chat_prompt(guide_messages(MathGuide, {"question": example.question}))
        ids = lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        requests.append(
            GenRequest.build(
                ids,
                context=lm.model.config.max_position_embeddings,
                n=SAMPLES,
                seed=seed,
                **SETTINGS,
            )
        )
    return [requests[i : i + per_batch] for i in range(0, len(requests), per_batch)]


def evicting(lm, requests, eos_ids) -> tuple[list[str], int, int]:
    """gcop's path: texts, decoded row-steps and kept tokens."""
    from gcop.lm.generation import BatchStats, generate_batch

    stats = BatchStats()
    replies = generate_batch(lm.model, lm.tokenizer, requests, eos_ids=eos_ids, stats=stats)
    return [text for reply in replies for text in reply.texts], stats.row_steps, stats.tokens


def static(lm, requests, eos_ids) -> tuple[list[str], int, int]:
    """A static ``model.generate`` batch with the same rows, prompts and random streams."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    from gcop.lm.generation import BatchInputs
    from gcop.lm.row_sampling import RowSampler

    rows = [(request, i) for request in requests for i in range(request.rows)]
    sampler = RowSampler(rows)

    class Chosen(LogitsProcessor):
        def __call__(self, input_ids, scores):
            tokens = sampler.choose(scores.float(), list(range(len(rows))))
            forced = torch.full_like(scores, float("-inf"))
            return forced.scatter(1, tokens[:, None], 0.0)

    prompts = [request.prompt_ids for request, _ in rows]
    batch = BatchInputs.build(lm.model, lm.tokenizer, prompts, eos_ids)
    with torch.no_grad():
        output = lm.model.generate(
            input_ids=batch.input_ids,
            attention_mask=batch.attention,
            do_sample=False,
            max_new_tokens=SETTINGS["max_tokens"],
            eos_token_id=list(eos_ids),
            pad_token_id=lm.tokenizer.pad_token_id,
            logits_processor=LogitsProcessorList([Chosen()]),
            **({"cache": batch.cache} if batch.cache is not None else {}),
        )
    width = batch.input_ids.shape[1]
    new = output[:, width:].tolist()
    texts, kept = [], 0
    for tokens in new:
        ends = [i + 1 for i, token in enumerate(tokens) if token in eos_ids]
        length = ends[0] if ends else len(tokens)
        kept += length
        texts.append(lm.tokenizer.decode(tokens[:length], skip_special_tokens=True))
    return texts, len(rows) * len(new[0]), kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guide", default="qwen2.5-coder-0.5b")
    parser.add_argument("--questions", type=int, default=36)
    parser.add_argument(
        "--per-batch", type=int, default=6, help="questions per batch (5 rows each)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()

    from gcop.lm.generation import stop_token_ids
    from gcop.lm.head_input import contiguous_head_input

    lm = guide_lm(args.guide)
    lm.complete([{"role": "user", "content": "Hi"}], max_tokens=2)  # load and warm up
    contiguous_head_input(lm.model)
    eos_ids = stop_token_ids(lm.model, lm.tokenizer)
    paths = {"static": static, "evicting": evicting}
    figures = {name: {"seconds": 0.0, "row_steps": 0, "tokens": 0} for name in paths}
    texts: dict[str, list[str]] = {name: [] for name in paths}
    for b, batch in enumerate(batches(lm, args.questions, args.per_batch)):
        order = list(paths) if b % 2 == 0 else list(reversed(paths))  # alternate who goes first
        for name in order:
            start = time.perf_counter()
            batch_texts, row_steps, tokens = paths[name](lm, batch, eos_ids)
            figures[name]["seconds"] += time.perf_counter() - start
            figures[name]["row_steps"] += row_steps
            figures[name]["tokens"] += tokens
            texts[name].extend(batch_texts)
        print(f"batch {b}: {json.dumps(figures)}", flush=True)
    for figure in figures.values():
        figure["seconds"] = round(figure["seconds"], 1)
        figure["waste"] = round(1 - figure["tokens"] / figure["row_steps"], 3)
        figure["tok_per_s"] = round(figure["tokens"] / figure["seconds"], 1)
    same = sum(a == b for a, b in zip(texts["static"], texts["evicting"], strict=True))
    summary = {
        "guide": args.guide,
        "questions": args.questions,
        "rows": len(texts["static"]),
        **figures,
        "speedup": round(figures["static"]["seconds"] / figures["evicting"]["seconds"], 2),
        "identical_texts": same,
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
