"""Study: what GRPO's shaped reward tells the guide, term by term (λ_judge, μ).

GRPO learns only from differences within a group (the completions for one question): a group
whose rewards are all equal has zero advantage and moves nothing. This study takes groups of
sampled symbolic plans the SFT guide wrote for dev questions (``plans.jsonl`` of
``symbolic_guide_study.py sample``, seeds 1.., not the greedy plan), scores each plan as ExecTune's
GRPO does (the core executes the rendered plan: R_task; the core alone: R_unguided; the core as
the judge: J) and computes, for each (λ_judge, μ), what the advantages would be:

- the share of groups with zero advantage (no gradient);
- where a group holds both a plan that computes the gold answer and one that does not, how often
  the right plans get the higher mean advantage (the direction GRPO should push);
- the judge's ranking: how often it scores a right plan above a wrong one of the same question.

Every model call goes through DSPy's cache, so a rerun costs nothing. Run from the repository:

    .venv/bin/python experiments/grpo_signal_study.py \
        --plans runs/study/symbolic-consensus16/plans.jsonl --group 4 --out runs/study/grpo-signal
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dspy
from symbolic_guide_study import core_program

from gcop.lm.resolve import as_lm
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.groups import zero_advantage_share
from gcop.optimizers.grpo.judge import StrategyJudge
from gcop.optimizers.grpo.rewards import shaped_reward
from gcop.strategy import format_strategy
from gcop.tasks import gsm8k

LAMBDAS = (0.0, 0.2, 0.5)  # 0.2: ExecTuneConfig's default
MUS = (0.0, 0.5, 1.0)  # 0.5: ExecTuneConfig's default


def advantages(rewards: list[float]) -> list[float]:
    """GRPO's group advantages: reward minus the group mean, over the group's std (0 if flat)."""
    mean = statistics.fmean(rewards)
    spread = statistics.pstdev(rewards)
    return [0.0 if spread < 1e-9 else (r - mean) / spread for r in rewards]


def score_plans(rows: list[dict], group: int, out: Path) -> list[dict]:
    """Each question's group of plans with the core's guided score, its unguided score and the
    judge's verdict (cached in ``<out>/scores.json``)."""
    path = out / "scores.json"
    if path.exists():
        return json.loads(path.read_text())
    examples = gsm8k.load("dev", n=len(rows), seed=0)
    if [e.question for e in examples] != [r["question"] for r in rows]:
        raise ValueError("the plans are not those of the seeded dev slice's first questions")
    solver = core_program()
    judge = StrategyJudge(as_lm(solver.lm.model, role="judge", temperature=0.0, max_tokens=48))

    def guided(job: tuple[int, str | None]) -> float:
        number, rendered = job
        example = examples[number]
        prediction = solver(strategy=rendered, question=example.question)
        return float(gsm8k.exact_match(example, prediction))

    def judged(job: tuple[int, str]) -> float:
        number, plan = job
        example = examples[number]
        return judge.score({"question": example.question}, plan, example).score

    plan_jobs = [(i, p) for i, r in enumerate(rows) for p in r["rendered"][1 : group + 1] if p]
    judge_jobs = [(i, p) for i, r in enumerate(rows) for p in r["plans"][1 : group + 1] if p]
    start = time.time()
    with ThreadPoolExecutor(32) as pool:
        alone = list(pool.map(guided, [(i, None) for i in range(len(rows))]))
        task = dict(zip(plan_jobs, pool.map(guided, plan_jobs), strict=True))
        verdicts = dict(zip(judge_jobs, pool.map(judged, judge_jobs), strict=True))
    print(
        f"{len(plan_jobs)} guided core calls, {len(judge_jobs)} judge calls, "
        f"{time.time() - start:.0f}s; judge replies off format: {judge.garbage}"
    )
    scored = []
    for i, row in enumerate(rows):
        plans, rendered = row["plans"][1 : group + 1], row["rendered"][1 : group + 1]
        values = row["values"][1 : group + 1]
        scored.append(
            {
                "unguided": alone[i],
                "plans": plans,
                "task": [task[(i, r)] if r else 0.0 for r in rendered],
                "judge": [verdicts[(i, p)] if p else 0.0 for p in plans],
                "right": [v == row["gold"] for v in values],
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scored))
    return scored


def signal(scored: list[dict], lambda_judge: float, mu: float, alpha_fmt: float) -> dict:
    """What GRPO's advantages would be with these weights, over all groups."""
    indices, all_rewards = [], []
    mixed = toward_right = 0
    for number, group in enumerate(scored):
        completions = [format_strategy(p) if p else "" for p in group["plans"]]
        rewards = shaped_reward(
            completions,
            task_scores=group["task"],
            unguided_scores=[group["unguided"]] * len(completions),
            judge_scores=group["judge"],
            alpha_fmt=alpha_fmt,
            lambda_judge=lambda_judge,
            mu=mu,
        )
        indices += [number] * len(rewards)
        all_rewards += rewards
        advantage = advantages(rewards)
        right = [a for a, ok in zip(advantage, group["right"], strict=True) if ok]
        wrong = [a for a, ok in zip(advantage, group["right"], strict=True) if not ok]
        if right and wrong:
            mixed += 1
            toward_right += statistics.fmean(right) > statistics.fmean(wrong)
    return {
        "lambda_judge": lambda_judge,
        "mu": mu,
        "zero_advantage_groups": zero_advantage_share(indices, all_rewards),
        "groups_with_right_and_wrong_plans": mixed,
        "of_them_pushed_toward_right": toward_right,
    }


def judge_ranking(scored: list[dict]) -> tuple[int, int]:
    """(pairs a right plan above a wrong one of the same question, all such pairs); ties half."""
    above = pairs = 0.0
    for group in scored:
        right = [j for j, ok in zip(group["judge"], group["right"], strict=True) if ok]
        wrong = [j for j, ok in zip(group["judge"], group["right"], strict=True) if not ok]
        for a, b in itertools.product(right, wrong):
            pairs += 1
            above += 1.0 if a > b else 0.5 if a == b else 0.0
    return above, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=Path, required=True, help="plans.jsonl of dev questions")
    parser.add_argument("--group", type=int, default=4, help="plans per group (GRPO's)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True)
    rows = [json.loads(line) for line in args.plans.open()]
    scored = score_plans(rows, args.group, args.out)
    alpha_fmt = ExecTuneConfig().alpha_fmt
    table = [signal(scored, lam, mu, alpha_fmt) for lam in LAMBDAS for mu in MUS]
    above, pairs = judge_ranking(scored)
    judge_values = [j for group in scored for j in group["judge"]]
    summary = {
        "questions": len(scored),
        "group": args.group,
        "core_alone_right": sum(group["unguided"] for group in scored),
        "plans_right": sum(sum(group["right"]) for group in scored),
        "plans_executed_right": sum(sum(group["task"]) for group in scored),
        "judge_distinct_scores": sorted(set(judge_values)),
        "judge_right_above_wrong": [above, pairs],
        "signal": table,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "signal"}))
    print("λ_judge | μ | zero-advantage groups | groups with right+wrong plans | toward right")
    for row in table:
        print(
            f"{row['lambda_judge']} | {row['mu']} | {row['zero_advantage_groups']:.2f} | "
            f"{row['groups_with_right_and_wrong_plans']} | {row['of_them_pushed_toward_right']}"
        )


if __name__ == "__main__":
    main()
