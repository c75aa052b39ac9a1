"""Study: does a guide that samples several plans and keeps only an agreed one lift the core?

A numeric plan's last step can be evaluated (:func:`gcop.tasks.gsm8k.calculator.plan_value`), so
plans sampled for one question can be compared without a model. Phases, each resumable:

    train   the evidence preset's SFT guide (acceptance records resume from ``--acceptance``),
            saved to ``<out>/sft_policy``
    sample  ``--samples`` plans per dev question from that guide (and the untrained one),
            written to ``<out>/plans_<guide>.jsonl``
    vote    coverage and precision of the agreed plan's value against the gold answer, for each
            agreement threshold (no model calls: below the core's own accuracy, no threshold
            can lift it; see docs/evidence.md §3c)

    .venv/bin/python experiments/consensus_study.py train sample vote --n-dev 100
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gcop
from gcop.lm.resolve import resolve_lm
from gcop.presets import EVIDENCE
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import plan_value
from gcop.tasks.gsm8k.planner import register

GUIDES = ("sft", "untrained")


def build_policy() -> gcop.GuideCorePolicy:
    """The evidence preset's untrained policy: LoRA-ready 0.5B guide, plain 0.5B core."""
    guide = gcop.Guide(
        MathGuide,
        lm=resolve_lm(EVIDENCE.guide, "guide"),
        token_budget=EVIDENCE.exectune.max_strategy_tokens,
    )
    core = gcop.Core(
        MathSolve,
        lm=resolve_lm(EVIDENCE.core, "core"),
        adapter="plain",
        temperature=0.0,
        max_tokens=EVIDENCE.core_max_tokens,
    )
    return gcop.GuideCorePolicy(guide=guide, core=core)


def train(out: Path, acceptance: Path) -> None:
    folder = out / "sft_policy"
    if folder.exists():
        return
    run_dir = out / "train"
    if acceptance.exists() and not (run_dir / "acceptance").exists():
        shutil.copytree(acceptance, run_dir / "acceptance")
    config = EVIDENCE.exectune.model_copy(
        update={"grpo": False, "privileged_teacher": True, "judge": None}
    )
    trainset = gsm8k.load("train", n=EVIDENCE.n_train, seed=0)
    optimizer = gcop.ExecTune(
        gsm8k.exact_match, teacher=register("reference-planner"), config=config, run_dir=run_dir
    )
    optimizer.compile(build_policy(), trainset=trainset).save(folder)


def sample(out: Path, n_dev: int, samples: int, temperature: float) -> None:
    examples = gsm8k.load("dev", n=n_dev, seed=0)
    for name in GUIDES:
        path = out / f"plans_{name}.jsonl"
        if path.exists():
            continue
        policy = build_policy()
        if name == "sft":
            policy.load(out / "sft_policy")
        guide = policy.guide
        jobs = [(example, seed) for example in examples for seed in range(samples)]

        def plan(job, guide=guide):
            example, seed = job
            return guide(
                question=example.question, lm_kwargs={"seed": seed, "temperature": temperature}
            )

        start = time.time()
        with ThreadPoolExecutor(32) as pool:
            flat = list(pool.map(plan, jobs))
        rows = [flat[i : i + samples] for i in range(0, len(flat), samples)]
        with path.open("w") as file:
            for example, predictions in zip(examples, rows, strict=True):
                strategies = [p.strategy if p.valid else "" for p in predictions]
                file.write(
                    json.dumps(
                        {
                            "question": example.question,
                            "gold": float(gsm8k.gold_answer(example.answer)),
                            "plans": strategies,
                            "values": [plan_value(s) if s else None for s in strategies],
                        }
                    )
                    + "\n"
                )
        print(f"{name}: {len(examples)} questions x {samples} plans in {time.time() - start:.0f}s")


def agreed(values: list[float | None]) -> tuple[float | None, float]:
    """The most common value among the plans that have one, and its share of all plans."""
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return None, 0.0
    value, count = counts.most_common(1)[0]
    return value, count / len(values)


def vote(out: Path) -> None:
    for name in GUIDES:
        path = out / f"plans_{name}.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.open()]
        single = sum(r["values"][0] is not None and r["values"][0] == r["gold"] for r in rows)
        print(f"\n{name}: first plan's value right on {single}/{len(rows)}")
        print("min agreement | covered | agreed value right | precision")
        for threshold in (0.0, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0):
            covered = right = 0
            for row in rows:
                value, share = agreed(row["values"])
                if value is not None and share >= threshold:
                    covered += 1
                    right += value == row["gold"]
            precision = right / covered if covered else 0.0
            print(f"{threshold:.3f} | {covered} | {right} | {precision:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phases", nargs="+", choices=["train", "sample", "vote"])
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--acceptance", type=Path, default=Path("runs/study/sft/acceptance"))
    parser.add_argument("--out", type=Path, default=Path("runs/study/consensus"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("gcop").setLevel(logging.INFO)
    args.out.mkdir(parents=True, exist_ok=True)
    if "train" in args.phases:
        train(args.out, args.acceptance)
    if "sample" in args.phases:
        sample(args.out, args.n_dev, args.samples, args.temperature)
    if "vote" in args.phases:
        vote(args.out)


if __name__ == "__main__":
    main()
