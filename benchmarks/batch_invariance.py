"""Whether a greedy reply depends on its batch, and what computing each row as alone costs.

    .venv/bin/python benchmarks/batch_invariance.py agreement   # 16 replies: alone vs in 32 rows
    .venv/bin/python benchmarks/batch_invariance.py agreement --prompts icl --max-tokens 320 \
        --alone 8 --beside-longest
    .venv/bin/python benchmarks/batch_invariance.py speed       # s/step, 32 rows and 1 row

``agreement`` asks 16 (``--alone``) GSM8K dev questions one at a time, then asks them again
among 32 concurrent calls (one batch), with ``LocalLM(batch_invariant=False)`` and with the
default, and counts the replies equal to the sequential ones; ``--prompts icl`` asks the quick
demo's 30 core + ICL prompts instead (three worked examples each, 648–1318 tokens), and
``--beside-longest`` asks each again beside the longest prompt alone (two calls, one batch), the
case where a batch passes 1024 keys before the row does. ``speed``
times the prefill and the decoding steps of 32 GSM8K prompts in one left-padded batch and of
single prompts, alternating the two settings round by round and keeping the fastest round, so
that load from other processes on a shared CPU weighs on neither.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial

ASK = 'Solve it step by step, then end with "The answer is N".'


def questions(n: int) -> list[list[dict[str, str]]]:
    from gcop.tasks import gsm8k

    return [
        [{"role": "user", "content": f"{ex.question}\n\n{ASK}"}]
        for ex in gsm8k.load("dev", n=n, seed=0)
    ]


def icl_prompts() -> list[list[dict[str, str]]]:
    """The quick demo's core + ICL prompts for its 30 test questions, as the core reads them."""
    from gcop.baselines.icl import ICLPolicy
    from gcop.demo import demo_policy
    from gcop.modules.plain_adapter import PlainStrategyAdapter
    from gcop.presets import PRESETS
    from gcop.tasks import gsm8k

    preset = PRESETS["quick"]
    policy = ICLPolicy(
        demo_policy(preset).core, gsm8k.TASK.demos(gsm8k.load("train", n=preset.n_train, seed=0))
    )
    signature = policy.core.program.signature
    tests = gsm8k.load(preset.eval_split, n=preset.n_test, seed=0)
    return [
        PlainStrategyAdapter().format(signature, policy.nearest(ex.inputs()), ex.inputs())
        for ex in tests
    ]


def agreement(
    model: str, max_tokens: int, prompts: str, alone_n: int, beside_longest: bool
) -> dict:
    from gcop.lm.local import LocalLM

    asked = icl_prompts() if prompts == "icl" else questions(32)
    figures = {}
    for invariant in (False, True):
        lm = LocalLM(
            model, name=f"bench-invariant-{invariant}", batch_invariant=invariant, batch_wait_s=0.5
        )
        lm.complete([{"role": "user", "content": "Hi"}], max_tokens=2)  # load
        start = time.perf_counter()
        alone = [
            lm.complete(messages, max_tokens=max_tokens).texts[0] for messages in asked[:alone_n]
        ]
        sequential = time.perf_counter() - start
        ask = partial(lm.complete, max_tokens=max_tokens)
        if beside_longest:  # each beside the longest prompt: two calls, one batch
            longest = max(asked, key=lambda messages: len(lm.chat_prompt(messages)))
            together = []
            for messages in asked[:alone_n]:
                with ThreadPoolExecutor(2) as pool:
                    together.append(list(pool.map(ask, [messages, longest]))[0].texts[0])
        else:
            with ThreadPoolExecutor(len(asked)) as pool:
                together = [reply.texts[0] for reply in pool.map(ask, asked)][:alone_n]
        figures[f"batch_invariant={invariant}"] = {
            "equal_to_sequential": sum(a == b for a, b in zip(alone, together, strict=True)),
            "of": alone_n,
            "sequential_s": round(sequential, 1),
        }
        print(figures, flush=True)
        lm.close()
    return figures


def speed(model: str, steps: int, rounds: int) -> dict:
    """Seconds of a prefill and of a decoding step (the fastest of ``rounds``), for 32 rows and
    for one row, with and without :func:`~gcop.lm.batch_invariance.each_row_as_alone`."""
    import torch

    from gcop.lm.batch_invariance import each_row_as_alone
    from gcop.lm.generation import BatchInputs, stop_token_ids
    from gcop.lm.local import LocalLM

    lm = LocalLM(model, name="bench-invariant-speed")
    eos = stop_token_ids(lm.model, lm.tokenizer)
    prompts = []
    for messages in questions(32):
        text = lm.chat_prompt(messages)
        prompts.append(lm.tokenizer(text, add_special_tokens=False)["input_ids"])

    def timed(batch: list[list[int]], invariant: bool) -> tuple[float, float]:
        inputs = BatchInputs.build(lm.model, lm.tokenizer, batch, eos, share_prefix=False)
        attention = inputs.attention
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad(), each_row_as_alone(lm.model) if invariant else nullcontext():
            start = time.perf_counter()
            output = lm.model(
                input_ids=inputs.input_ids,
                attention_mask=attention,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
            )
            prefill = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(steps):
                attention = torch.cat([attention, attention.new_ones((len(batch), 1))], dim=-1)
                positions = positions[:, -1:] + 1
                output = lm.model(
                    input_ids=output.logits[:, -1:].argmax(-1),
                    attention_mask=attention,
                    position_ids=positions,
                    cache=output.cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
            return prefill, (time.perf_counter() - start) / steps

    timed(prompts[:2], True)  # warm up both paths
    timed(prompts[:2], False)
    runs: dict[str, list[tuple[float, float]]] = {}
    for r in range(rounds):
        for invariant in (False, True) if r % 2 == 0 else (True, False):
            for case, batch in (("32 rows", prompts), ("1 row", prompts[r : r + 1])):
                key = f"{case}, batch_invariant={invariant}"
                runs.setdefault(key, []).append(timed(batch, invariant))
        print(r, runs, flush=True)
    return {
        key: {
            "prefill_s": round(min(prefill for prefill, _ in times), 3),
            "step_s": round(min(step for _, step in times), 4),
            "tok_per_s": round(int(key.split()[0]) / min(step for _, step in times), 1),
        }
        for key, times in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["agreement", "speed"])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--max-tokens", type=int, default=48, help="agreement: reply length")
    parser.add_argument("--prompts", choices=["plain", "icl"], default="plain", help="agreement")
    parser.add_argument("--alone", type=int, default=16, help="agreement: replies asked alone")
    parser.add_argument(
        "--beside-longest",
        action="store_true",
        help="agreement: ask each again beside the longest prompt, not among all at once",
    )
    parser.add_argument("--steps", type=int, default=8, help="speed: decoding steps timed")
    parser.add_argument("--rounds", type=int, default=4, help="speed: timed rounds per setting")
    args = parser.parse_args()

    import torch

    if args.part == "agreement":
        figures = agreement(
            args.model, args.max_tokens, args.prompts, args.alone, args.beside_longest
        )
    else:
        figures = speed(args.model, args.steps, args.rounds)
    figures.update(model=args.model, threads=torch.get_num_threads())
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
