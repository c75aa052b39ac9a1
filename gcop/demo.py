"""The offline demo: train a guide with ExecTune on a task and compare the six recipes.

Presets (:mod:`gcop.presets`) size the run: ``tiny`` (models built from a config, a handful of
examples: a smoke run), ``quick`` (the study's configuration on the real offline models at 64
train / 30 test problems, about half an hour on a 2-core CPU), ``evidence`` (the same at 240 / 40,
about two hours), ``full`` (sizes for a GPU or an API core).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from gcop.demo_results import CEILING, EXAMPLES_FILE, SAVED, paired_comparisons, write_examples
from gcop.demo_training import POLICY_FOLDERS, train_recipes
from gcop.modules.policy_file import POLICY_FILE, read_policy_folder
from gcop.presets import PRESETS, DemoPreset
from gcop.tasks import load_task
from gcop.tasks.task import Task

logger = logging.getLogger(__name__)


SETTINGS_FILE = "preset.json"  # in the partial folder: what an interrupted run was started with


def run_demo(preset: str | DemoPreset, out_dir: str | Path, **overrides: Any) -> Path:
    """Run the whole recipe and write the report into ``out_dir``; returns the report path.

    ``overrides`` replace preset fields (``n_train=8``, ``core="openai/gpt-4.1-mini"`` ...).
    The run works in ``<out_dir>.partial`` and moves it to ``out_dir`` when done. A failed or
    interrupted run leaves that folder behind, and a rerun with the same settings resumes: from
    its acceptance-sampling records instead of repeating teacher and core calls, and from each
    trained guide it saved instead of training it again (evaluation calls already made come from
    DSPy's cache). A rerun with other settings is refused while that folder holds trained guides.
    """
    if isinstance(preset, str) and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {sorted(PRESETS)}")
    config = PRESETS[preset] if isinstance(preset, str) else preset
    changes = {k: v for k, v in overrides.items() if v is not None}
    config = DemoPreset.model_validate({**config.model_dump(), **changes})
    train_task, eval_task = demo_tasks(config)  # before any work: names and teachers checked
    train_task.check_teacher(config.teacher)  # a typo lists the teachers there are
    _check_saved_policies(config)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is a file: pass a folder path")
    partial = out.with_name(out.name + ".partial")
    _claim(partial, config)
    report = _run(config, partial)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out / report.name


def _claim(partial: Path, config: DemoPreset) -> None:
    """Start ``partial`` for a run with ``config``, or resume what an earlier run left there.
    Raises ``ValueError`` if that run trained guides under other settings (they would be reused);
    acceptance records carry their own settings, so a folder holding only those is reused."""
    settings = partial / SETTINGS_FILE
    wanted = config.model_dump(mode="json")
    earlier = json.loads(settings.read_text()) if settings.is_file() else wanted
    changed = sorted(key for key in {*earlier, *wanted} if earlier.get(key) != wanted.get(key))
    trained = [name for name in POLICY_FOLDERS.values() if (partial / name).exists()]
    if changed and trained:
        raise ValueError(
            f"{partial} holds guides ({', '.join(trained)}) an interrupted run trained with other "
            f"settings ({', '.join(changed)}): rerun with the same settings to resume it, or "
            "delete the folder to start over"
        )
    if partial.exists():
        logger.info("resuming from %s", partial)
    partial.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(wanted, indent=2))


def demo_tasks(preset: DemoPreset) -> tuple[Task, Task]:
    """The task a run trains on and the one it evaluates on; refused where their signatures
    differ (the trained guide and core would not fit the evaluated task)."""
    train_task = load_task(preset.task)
    eval_task = load_task(preset.eval_task) if preset.eval_task else train_task
    for role in ("guide_signature", "core_signature"):
        trained, evaluated = getattr(train_task, role), getattr(eval_task, role)
        if trained is not evaluated:
            raise ValueError(
                f"eval_task {eval_task.name!r} has another {role.replace('_', ' ')} "
                f"({evaluated.__name__}) than task {train_task.name!r} ({trained.__name__}): "
                "evaluate on a task with the same signatures"
            )
    return train_task, eval_task


def demo_policy(preset: DemoPreset) -> Any:
    """The untrained guide–core policy a run with ``preset`` starts from, built the one way
    every entry point builds a task's policy (:meth:`gcop.tasks.task.Task.policy`)."""
    task = load_task(preset.task)
    return task.policy(preset.guide, preset.core, preset.policy_settings(), **preset.local_lm)


def _run(preset: DemoPreset, out: Path) -> Path:
    from gcop.evaluate import evaluate_all
    from gcop.lm.resolve import resolve_lm
    from gcop.machine_usage import local_decoding, peak_memory_gb
    from gcop.report import row_models, write_report

    started = time.time()
    train_task, eval_task = demo_tasks(preset)
    trainset = train_task.load("train", n=preset.n_train, seed=0)
    evalset = eval_task.load(preset.eval_split, n=preset.n_test, seed=0)
    policy = demo_policy(preset)
    teacher = resolve_lm(preset.teacher, "teacher")
    judge = preset.judge or policy.core.lm.model  # the core's LiteLLM model string
    exectune_config = preset.exectune.model_copy(
        update={
            "privileged_teacher": preset.teacher in train_task.privileged_teachers,
            "judge": judge,
        }
    )
    programs, artifacts = train_recipes(
        preset, policy, trainset, teacher, exectune_config, out, train_task
    )
    programs.update(_references(preset, policy, evalset, eval_task))
    trained = time.time()
    results = list(
        evaluate_all(
            programs,
            evalset,
            eval_task.metric,
            num_threads=preset.threads,
            cost_weight=preset.cost_weight,
        ).values()
    )
    write_examples(out / EXAMPLES_FILE, results)
    models = row_models(programs)
    served = [model for row in models.values() for model in row.values() if model]
    finished = time.time()

    setup = {
        "task": _task_line(train_task, eval_task, len(trainset), len(evalset), preset.eval_split),
        "guide": preset.guide + _consensus_note(preset),
        "core": f"{preset.core} ({preset.core_adapter} prompt, {preset.core_max_tokens} tokens)"
        + (f", plans rendered by the {train_task.name} kit" if preset.render else ""),
        "teacher": preset.teacher,
        "judge": judge,
        **_skipped_phases(artifacts),
        **{_saved_row(folder): folder for folder in preset.saved_policies},
        "wall time (s)": round(finished - started, 1),
        "training (s)": round(trained - started, 1),
        "evaluation (s)": round(finished - trained, 1),
        "peak memory (GB)": round(peak_memory_gb(), 1),
        **{f"decoding, {model}": line for model, line in local_decoding(served).items()},
        "date": time.strftime("%Y-%m-%d"),
    }
    return write_report(
        out,
        results,
        title=f"gcop demo: ExecTune on {eval_task.name}",
        setup=setup,
        certificate=artifacts.get("acceptance", {}).get("certificate"),
        training={k: artifacts.get(k) for k in ("acceptance", "sft", "grpo", "advisor")},
        histories={
            "ExecTune": (artifacts.get("grpo") or {}).get("history", []),
            "Advisor": (artifacts.get("advisor") or {}).get("history", []),
        },
        comparisons=paired_comparisons(results),
        # one configuration block: the preset with the ExecTune settings the run actually used
        provenance={
            "preset": preset.model_copy(update={"exectune": exectune_config}),
            "models": models,
        },
    )


def _task_line(train_task: Task, eval_task: Task, n_train: int, n_eval: int, split: str) -> str:
    if train_task is eval_task:
        return f"{train_task.name}: {n_train} train / {n_eval} {split} examples"
    trained = f"{n_train} {train_task.name} train examples"
    return f"{trained} / {n_eval} {eval_task.name} {split} examples"


def _consensus_note(preset: DemoPreset) -> str:
    """How the guide picks its plan, when it samples several."""
    if preset.guide_samples == 1:
        return ""
    kept = "; the core's own answer stands where one of them leads to it" * preset.keep_core_answer
    return (
        f" ({preset.guide_samples} plans sampled per task; one kept where at least "
        f"{preset.min_agreement:.0%} lead to the same answer, none otherwise{kept})"
    )


def _skipped_phases(artifacts: dict[str, Any]) -> dict[str, str]:
    """A setup line for each training phase that did not run, so its row is read correctly."""
    skipped = (artifacts.get("sft") or {}).get("skipped")
    if not skipped:
        return {}
    return {"SFT": f"skipped ({skipped}): the SFT row runs the untrained guide"}


def _references(preset, policy, evalset, eval_task: Task) -> dict[str, Any]:
    """The rows that put the recipes in context: the privileged ceiling and other cores."""
    import gcop
    from gcop.lm.resolve import resolve_lm

    rows: dict[str, Any] = {}
    if preset.ceiling:
        rows[CEILING] = eval_task.ceiling(policy.core, evalset, preset.teacher)
    for model in preset.reference_cores:
        core = policy.core.with_lm(resolve_lm(model, "core", **preset.local_lm))
        rows[f"{model} alone"] = gcop.GuideCorePolicy(guide=None, core=core)
    for folder in map(Path, preset.saved_policies):  # its guide and kit settings; this core
        rows[_saved_row(folder)] = copy.deepcopy(policy).load(folder, keep_core_lm=True)
    return rows


def _check_saved_policies(preset: DemoPreset) -> None:
    """Refuse, before any work, a saved policy folder that is not there or not whole, and two
    folders of one name (their rows would be one)."""
    names = [Path(folder).name for folder in preset.saved_policies]
    if len(set(names)) != len(names):
        raise ValueError(f"saved policies need folders of different names, got {names}")
    for folder in map(Path, preset.saved_policies):
        if not (folder / POLICY_FILE).is_file():
            raise ValueError(
                f"saved policy {folder} not found (no {POLICY_FILE} in it): pass a folder "
                "GuideCorePolicy.save wrote; the repository's policies/ are found from its root "
                "(bash scripts/demo.sh runs there)"
            )
        read_policy_folder(folder)  # its schema and the guide's weight digests


def _saved_row(folder: str | Path) -> str:
    """The row (and setup line) of a saved policy: named by its folder's name."""
    return SAVED + Path(folder).name
