"""What the ``compile``, ``evaluate`` and ``report`` commands do, as plain functions.

Each checks what it can before the first model call (routable models, API keys in the
environment) and leaves no half-written output behind: a failed compile keeps its run folder
only when it holds finished work to resume from; a failed evaluation writes no report.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gcop.cost import CostSummary
from gcop.evaluate import EvaluationResult
from gcop.paired import PairedTest
from gcop.report import RESULTS_FILE, row_models, write_report


class RunFailed(RuntimeError):
    """A run that ended without a usable result; the message says why and what to do."""


def _require_keys(*models: str) -> None:
    """Raise ``ValueError`` for a LiteLLM model whose API key is not in the environment."""
    from gcop.lm.resolve import missing_keys

    for model in models:
        missing = missing_keys(model)
        if missing:
            raise ValueError(
                f"{model} needs {', '.join(missing)} in the environment: export {missing[0]}=... "
                "(any value for a local server that takes no key)"
            )


def _on_server(model: str, role: str, api_base: str | None, timeout: float | None) -> Any:
    """``model`` as named, or, when the command line gave a server address or a timeout, a
    metered LM carrying them (a model run in-process takes no address and needs no timeout)."""
    from gcop.lm.resolve import as_lm, is_local_model, named_backends

    in_process = is_local_model(model) or model in named_backends()
    if in_process or model.startswith("local/"):
        if api_base is not None:
            raise ValueError(
                f"--{role}-api-base: {model} runs in this process, not on a server; pass a "
                "LiteLLM model string such as openai/<served-name>"
            )
        return model
    given = (("api_base", api_base), ("timeout", timeout))
    settings = {key: value for key, value in given if value is not None}
    return as_lm(model, role=role, **settings) if settings else model


def _task_policy(task: Any, guide: str | None, core: Any, preset: str | None):
    """The task's policy (:meth:`gcop.tasks.task.Task.policy`), with a demo preset's policy
    settings when ``preset`` names one; no guide runs the core alone."""
    from gcop.presets import PRESETS

    if preset is None:
        return task.policy(guide, core)
    chosen = PRESETS[preset]
    return task.policy(guide, core, chosen.policy_settings(), **chosen.local_lm)


def run_compile(args: argparse.Namespace) -> dict[str, Any]:
    """Train a guide with ExecTune and save the policy into ``args.out``."""
    import gcop
    from gcop.lm.resolve import check_routable, model_string, resolve_lm
    from gcop.run_config import compile_config
    from gcop.tasks import load_task

    task = load_task(args.task)
    task.check_teacher(args.teacher)
    # the offline planners read the reference solution
    config = compile_config(args, privileged_teacher=args.teacher in task.privileged_teachers)
    core = _on_server(args.core, "core", args.core_api_base, args.timeout)
    policy = _task_policy(task, args.guide, core, args.preset)
    teacher = resolve_lm(_on_server(args.teacher, "teacher", None, args.timeout), "teacher")
    check_routable(model_string(teacher))
    _require_keys(model_string(teacher), policy.core.lm.model, policy.guide.lm.model)
    trainset = task.load("train", n=args.n_train)
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    new_out = not out.exists()
    try:
        optimizer = gcop.ExecTune(task.metric, teacher=teacher, config=config, run_dir=out)
        compiled = optimizer.compile(policy, trainset=trainset)
        compiled.save(partial)
        if out.exists():
            shutil.copytree(partial, out, dirs_exist_ok=True)
            shutil.rmtree(partial)
        else:
            partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if new_out and not any(p.stat().st_size for p in out.rglob("*") if p.is_file()):
            shutil.rmtree(out, ignore_errors=True)  # nothing finished worth resuming from
        raise
    return {"saved": str(out), **compiled.artifacts, "cost": asdict(compiled.ledger.summary())}


def run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the core alone, or a saved policy's guide steering ``args.core``, and write a
    report into ``args.out`` whose provenance names the models it ran on."""
    from gcop.evaluate import evaluate
    from gcop.tasks import load_task

    task = load_task(args.task)
    core = _on_server(args.core, "core", args.core_api_base, args.timeout)
    policy = _task_policy(task, args.guide if args.policy else None, core, args.preset)
    if args.policy:
        policy.load(args.policy, keep_core_lm=True)
    _require_keys(policy.core.lm.model)
    dataset = task.load(args.split, n=args.n)
    name = "policy" if args.policy else "core-only"
    result = evaluate(policy, dataset, task.metric, name=name, num_threads=args.threads)
    if result.all_failed:
        first = next(r.error for r in result.results if r.error is not None)
        raise RunFailed(
            f"every example failed, so no report was written (first error: {first}); "
            "check that the core is reachable and its API key is set"
        )
    models = row_models({name: policy})
    provenance = {"policy": args.policy, "split": args.split, "models": models}
    write_report(args.out, [result], title=f"gcop evaluation: {task.name}", provenance=provenance)
    return result.to_dict()


def rewrite_report(run_dir: str | Path) -> Path:
    """Rebuild ``report.md`` and the plots from a run folder's ``results.json``, keeping its
    title, provenance and paired tests."""
    folder = Path(run_dir)
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"{folder} holds no {RESULTS_FILE}: pass the folder of a finished run")
    try:
        data = json.loads(path.read_text())
        results = []
        for item in data["results"]:
            fields = {k: v for k, v in item.items() if k not in ("mean_cost", "net_utility")}
            fields["cost"] = CostSummary(**fields["cost"])
            results.append(EvaluationResult(**fields))
        comparisons = [PairedTest(**item) for item in data.get("comparisons", [])]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a {RESULTS_FILE} gcop wrote ({type(error).__name__}: {error}); "
            "rerun the evaluation to write it again"
        ) from error
    title = {"title": data["title"]} if data.get("title") else {}  # older files have none
    return write_report(
        folder,
        results,
        **title,
        setup=data.get("setup"),
        certificate=data.get("certificate"),
        training=data.get("training"),
        histories=data.get("histories"),
        comparisons=comparisons,
        provenance=data.get("provenance"),
    )
