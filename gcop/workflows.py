"""What the ``compile``, ``evaluate`` and ``report`` commands do, as plain functions."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from gcop.cost import CostSummary
from gcop.evaluate import EvaluationResult
from gcop.report import RESULTS_FILE, write_report


def _policy(task: Any, guide: str | None, core: str, *, guided: bool = True):
    import gcop
    from gcop.lm.convert import local_or_string

    core_module = gcop.Core(task.CORE_SIGNATURE, lm=local_or_string(core, "core"))
    guide_module = (
        gcop.Guide(task.GUIDE_SIGNATURE, lm=local_or_string(guide, "guide")) if guide else None
    )
    return gcop.GuideCorePolicy(guide=guide_module, core=core_module, guided=guided)


def run_compile(args: argparse.Namespace) -> dict[str, Any]:
    """Train a guide with ExecTune and save the policy into ``args.out``."""
    import gcop
    from gcop.tasks import load_task

    task = load_task(args.task)
    config = gcop.ExecTuneConfig(
        k=args.k,
        tau=args.tau,
        grpo=args.grpo_steps > 0,
        grpo_steps=max(args.grpo_steps, 1),
        max_core_calls=args.max_core_calls,
        max_dollars=args.max_dollars,
    )
    policy = _policy(task, args.guide, args.core)
    trainset = task.load("train", n=args.n_train)
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    try:
        optimizer = gcop.ExecTune(task.metric, teacher=args.teacher, config=config, run_dir=out)
        compiled = optimizer.compile(policy, trainset=trainset)
        compiled.save(partial)
        if out.exists():
            shutil.copytree(partial, out, dirs_exist_ok=True)
            shutil.rmtree(partial)
        else:
            partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {"saved": str(out), **compiled.artifacts}


def run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the core alone, or a saved policy, and write a report into ``args.out``."""
    from gcop.evaluate import evaluate
    from gcop.tasks import load_task

    task = load_task(args.task)
    policy = _policy(task, args.guide if args.policy else None, args.core)
    if args.policy:
        policy.load(args.policy)
    dataset = task.load(args.split, n=args.n)
    name = "policy" if args.policy else "core-only"
    result = evaluate(policy, dataset, task.metric, name=name, num_threads=args.threads)
    write_report(args.out, [result], title=f"gcop evaluation: {args.task}")
    return result.to_dict()


def rewrite_report(run_dir: str | Path) -> Path:
    """Rebuild ``report.md`` and the plots from a run folder's ``results.json``."""
    folder = Path(run_dir)
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"{folder} holds no {RESULTS_FILE}: pass the folder of a finished run")
    data = json.loads(path.read_text())
    results = []
    for item in data["results"]:
        fields = {k: v for k, v in item.items() if k not in ("mean_cost", "net_utility")}
        fields["cost"] = CostSummary(**fields["cost"])
        results.append(EvaluationResult(**fields))
    return write_report(
        folder,
        results,
        setup=data.get("setup"),
        certificate=data.get("certificate"),
        training=data.get("training"),
        histories=data.get("histories"),
    )
