"""Study: a guide writes symbolic plans; a calculator makes them numeric for the core.

The numeric study's SFT guide miscalculates as well as misreading: a plan of its reads
``90+72+6`` after computing 90, 90 and 60. A symbolic plan (``4. D = A+B+C``) takes no
arithmetic to write, and :func:`gcop.tasks.gsm8k.calculator.render_symbolic` turns it into the
numeric plan this core executes. Phases, each resumable:

    train   SFT of a LoRA guide (the evidence preset's, or ``--guide``) on the symbolic plans of
            the problems the numeric acceptance run accepted among the first ``--n-train``
            (run folder ``--acceptance``; it decides any not yet decided), saved to
            ``<out>/guide``
    sample  ``--samples`` plans per question (the first greedy), to ``<out>/plans.jsonl``
    vote    how often the rendered plan computes the gold answer (no model calls)
    core    the core alone and with the rendered plans (alone where none renders),
            with the paired test
    backed  from ``core``'s scores and the core-only replies (DSPy's cache): each consensus
            row again with the core's own answer kept where one of the plans computes it
            (``GuideCorePolicy(answer_key=answer_value)``), no new model call where cached

    .venv/bin/python experiments/symbolic_guide_study.py train sample vote core --n 100

Choose settings on ``dev`` (the default); ``--split test`` adds the reference-plan ceiling row
for the final table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dspy

import gcop
from gcop.evaluate import evaluate, evaluate_all
from gcop.lm.resolve import resolve_lm
from gcop.paired import mcnemar
from gcop.presets import EVIDENCE
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import answer_value, plan_value, render_symbolic
from gcop.tasks.gsm8k.ceiling import ReferencePlanPolicy
from gcop.tasks.gsm8k.planner import plan_from_reference, register


def accepted_examples(acceptance_run: Path, n_train: int) -> list:
    """The first ``n_train`` training problems whose numeric reference plan the evidence preset's
    acceptance run accepted, read back from its records (core trials only for problems it has not
    decided yet)."""
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=resolve_lm(EVIDENCE.guide, "guide"), token_budget=96),
        core=core_program(),
    )
    config = EVIDENCE.exectune.model_copy(update={"privileged_teacher": True})
    optimizer = gcop.ExecTune(
        gsm8k.exact_match,
        teacher=register("reference-planner"),
        config=config,
        run_dir=acceptance_run,
    )
    trainset = gsm8k.load("train", n=n_train, seed=0)
    return [item.example for item in optimizer.accept(policy, trainset=trainset)]


def core_program(model: str = EVIDENCE.core) -> gcop.Core:
    """The evidence preset's core program (plain prompt, its token budget, greedy) on ``model``."""
    return gcop.Core(
        MathSolve,
        lm=resolve_lm(model, "core"),
        adapter=EVIDENCE.core_adapter,
        temperature=0.0,
        max_tokens=EVIDENCE.core_max_tokens,
    )


def train(out: Path, acceptance: Path, n_train: int, guide_model: str) -> None:
    from gcop.optimizers.sft import train_sft

    folder = out / "guide"
    if folder.exists():
        return
    pairs = [
        ({"question": ex.question}, plan_from_reference(ex.answer, style="symbolic"))
        for ex in accepted_examples(acceptance, n_train)
    ]
    print(f"SFT on {len(pairs)} symbolic plans")
    guide = gcop.Guide(MathGuide, lm=resolve_lm(guide_model, "guide"), token_budget=96)
    trained, summary = train_sft(guide, pairs, EVIDENCE.exectune)
    trained.local_lm.save(folder)
    (out / "sft_summary.json").write_text(json.dumps(summary, indent=1))


def sample(out: Path, split: str, n: int, samples: int, temperature: float) -> None:
    """``samples`` plans per question (the first greedy, then seeds 1, 2, ...); a plan file
    with fewer samples per question is extended with the missing seeds only."""
    path = out / "plans.jsonl"
    examples = gsm8k.load(split, n=n, seed=0)
    rows = [json.loads(line) for line in path.open()] if path.exists() else []
    have = len(rows[0]["plans"]) if rows else 0
    if have >= samples:
        return
    guide = gcop.Guide(MathGuide, lm=gcop.LocalLM.load(out / "guide"), token_budget=96)
    jobs = [(example, seed) for example in examples for seed in range(have, samples)]

    def plan(job):
        example, seed = job
        settings = {"temperature": 0.0} if seed == 0 else {"seed": seed, "temperature": temperature}
        prediction = guide(question=example.question, lm_kwargs=settings)
        return prediction.strategy if prediction.valid else ""

    start = time.time()
    with ThreadPoolExecutor(32) as pool:
        flat = list(pool.map(plan, jobs))
    new = samples - have
    with path.open("w") as file:
        for number, example in enumerate(examples):
            old = rows[number]["plans"] if rows else []
            plans = old + flat[number * new : (number + 1) * new]
            rendered = [render_symbolic(p) if p else None for p in plans]
            row = {
                "question": example.question,
                "gold": float(gsm8k.gold_answer(example.answer)),
                "reference": plan_from_reference(example.answer, style="symbolic"),
                "plans": plans,
                "rendered": rendered,
                "values": [plan_value(r) if r else None for r in rendered],
            }
            file.write(json.dumps(row) + "\n")
    print(f"{len(examples)} questions x {new} more plans in {time.time() - start:.0f}s")


def vote(out: Path) -> None:
    rows = [json.loads(line) for line in (out / "plans.jsonl").open()]
    rendered = sum(r["rendered"][0] is not None for r in rows)
    right = sum(r["values"][0] == r["gold"] for r in rows)
    print(f"greedy plan: renders on {rendered}/{len(rows)}, computes the gold answer on {right}")
    samples = len(rows[0]["plans"])
    if samples == 1:
        return
    print("min agreement | covered | agreed value right")
    for needed in range(1, samples + 1):
        covered = [r for r in rows if agreed(r, needed / samples) is not None]
        hits = sum(
            r["values"][r["rendered"].index(agreed(r, needed / samples))] == r["gold"]
            for r in covered
        )
        print(f"{needed}/{samples} | {len(covered)} | {hits}")


def agreed(row: dict, min_agreement: float) -> str | None:
    """The first rendered plan whose value at least ``min_agreement`` of the samples share."""
    values = [v for v in row["values"] if v is not None]
    if not values:
        return None
    top = max(set(values), key=values.count)
    if values.count(top) / len(row["values"]) < min_agreement:
        return None
    return row["rendered"][row["values"].index(top)]


def core(out: Path, split: str, n: int, min_agreement: list[float]) -> None:
    examples = gsm8k.load(split, n=n, seed=0)
    rows = [json.loads(line) for line in (out / "plans.jsonl").open()]
    solver = core_program()
    programs = {
        "core-only": gcop.GuideCorePolicy(guide=None, core=solver),
        "greedy rendered plan": RenderedPlans(
            solver, {r["question"]: r["rendered"][0] for r in rows}
        ),
    }
    for share in min_agreement:
        plans = {r["question"]: agreed(r, share) for r in rows}
        programs[f"agreed plan (>= {share:.2f}), else alone"] = RenderedPlans(solver, plans)
    if split == "test":
        programs["reference-plan ceiling"] = ReferencePlanPolicy(solver, examples)
    results = evaluate_all(programs, examples, gsm8k.exact_match, num_threads=32)
    alone = [r.score for r in results["core-only"].results]
    summary = {}
    for name, result in results.items():
        scores = [r.score for r in result.results]
        summary[name] = scores
        print(f"{name}: {sum(scores):.0f}/{len(scores)}", mcnemar(scores, alone, a=name, b="alone"))
    (out / "core.json").write_text(json.dumps(summary))


def backed(out: Path, split: str, n: int) -> None:
    """Each consensus row of ``core`` with the core's own answer kept where a plan computes it:
    the core-only score there, the measured guided score elsewhere."""
    examples = gsm8k.load(split, n=n, seed=0)
    rows = [json.loads(line) for line in (out / "plans.jsonl").open()]
    scores = json.loads((out / "core.json").read_text())
    alone = evaluate(
        gcop.GuideCorePolicy(guide=None, core=core_program()),
        examples,
        gsm8k.exact_match,
        num_threads=32,
    )
    answers = [answer_value(dspy.Prediction(answer=item.output)) for item in alone.results]
    base = [item.score for item in alone.results]
    cached = f"{alone.cost.cache_hits} of {alone.cost.calls} calls cached"
    print(f"core-only {sum(base):.0f}/{len(base)} ({cached})")
    samples = len(rows[0]["values"])  # a row's name rounds its share: 14/16 is "0.88"
    for name in [name for name in scores if name.startswith("agreed plan")]:
        needed = round(float(name.split(">= ")[1].split(")")[0]) * samples) / samples
        kept = [
            agreed(row, needed) is not None
            and answers[i] is not None
            and answers[i] in row["values"]
            for i, row in enumerate(rows)
        ]
        mixed = [base[i] if kept[i] else scores[name][i] for i in range(len(rows))]
        test = mcnemar(mixed, base, a="backed", b="alone")
        print(f"{name}: {sum(scores[name]):.0f} -> {sum(mixed):.0f} (kept {sum(kept)})", test)


class RenderedPlans(gcop.GuideCorePolicy):
    """The core with a plan rendered earlier for its question (alone where none rendered)."""

    def __init__(self, solver, plans: dict[str, str | None]) -> None:
        super().__init__(guide=None, core=solver)
        self.plans = plans

    def forward(self, question: str):
        return self.core(strategy=self.plans[question], question=question)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phases", nargs="+", choices=["train", "sample", "vote", "core", "backed"])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--n", type=int, default=100, help="questions of the split")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument(
        "--min-agreement", type=float, nargs="*", default=[], help="consensus rows for 'core'"
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=EVIDENCE.n_train,
        help="training problems offered to acceptance",
    )
    parser.add_argument(
        "--guide", default=EVIDENCE.guide, help="the guide's base model (a registry name)"
    )
    parser.add_argument("--acceptance", type=Path, default=Path("runs/study/consensus/train"))
    parser.add_argument("--out", type=Path, default=Path("runs/study/symbolic-guide"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("gcop").setLevel(logging.INFO)
    args.out.mkdir(parents=True, exist_ok=True)
    if "train" in args.phases:
        train(args.out, args.acceptance, args.n_train, args.guide)
    if "sample" in args.phases:
        sample(args.out, args.split, args.n, args.samples, args.temperature)
    if "vote" in args.phases:
        vote(args.out)
    if "core" in args.phases:
        core(args.out, args.split, args.n, args.min_agreement)
    if "backed" in args.phases:
        backed(args.out, args.split, args.n)


if __name__ == "__main__":
    main()
