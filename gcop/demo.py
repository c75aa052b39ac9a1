"""The offline demo: train a guide with ExecTune on GSM8K and compare the six recipes.

Presets size the run: ``tiny`` (models built from a config, a handful of examples: a smoke run),
``quick`` (the real offline models on a CPU, under an hour), ``full`` (sizes for a GPU or an API
core).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gcop.optimizers.config import ExecTuneConfig

logger = logging.getLogger(__name__)


class DemoPreset(BaseModel):
    """What one demo run uses: models, data sizes and the recipe's settings."""

    model_config = ConfigDict(extra="forbid")

    guide: str = Field(description="guide model: a registry name, HF id or local path")
    core: str = Field(description="core model: a registry name or a LiteLLM model string")
    teacher: str = Field(description="teacher: 'reference-planner' or a LiteLLM model string")
    judge: str | None = Field(None, description="judge LM; None: the core")
    n_train: int = Field(ge=1, description="GSM8K training examples")
    n_test: int = Field(ge=1, description="held-out GSM8K test examples")
    core_max_tokens: int = Field(256, ge=16)
    threads: int = Field(8, ge=1, description="examples evaluated concurrently")
    lam: float = Field(0.0, ge=0, description="λ of the net utility J = V − λ·C")
    exectune: ExecTuneConfig


PRESETS: dict[str, DemoPreset] = {
    "tiny": DemoPreset(
        guide="tiny",
        core="tiny",
        teacher="reference-planner",
        n_train=4,
        n_test=4,
        core_max_tokens=24,
        threads=4,
        exectune=ExecTuneConfig(
            k=2,
            tau=0.5,
            max_rounds=1,
            sft_epochs=1,
            grpo_steps=2,
            grpo_generations=2,
            grpo_batch_size=2,
            max_strategy_tokens=32,
            concurrency=4,
        ),
    ),
    "quick": DemoPreset(
        guide="smollm2-135m",
        core="qwen2.5-coder-0.5b",
        teacher="reference-planner",
        n_train=32,
        n_test=40,
        core_max_tokens=160,
        threads=8,
        lam=0.0,
        exectune=ExecTuneConfig(
            k=2,
            tau=0.5,
            max_rounds=1,
            sft_epochs=10,
            sft_learning_rate=1e-3,  # few accepted pairs: enough steps to learn the block format
            sft_batch_size=4,
            grpo_steps=4,
            grpo_generations=4,
            grpo_batch_size=4,
            max_strategy_tokens=64,
            concurrency=8,
        ),
    ),
    "full": DemoPreset(
        guide="qwen2.5-coder-0.5b",
        core="openai/gpt-4.1-mini",
        teacher="openai/gpt-4.1",
        n_train=1000,
        n_test=500,
        core_max_tokens=512,
        threads=16,
        exectune=ExecTuneConfig(),
    ),
}


def run_demo(preset: str | DemoPreset, out_dir: str | Path, **overrides: Any) -> Path:
    """Run the whole recipe and write the report into ``out_dir``; returns the report path.

    ``overrides`` replace preset fields (``n_train=8``, ``core="openai/gpt-4.1-mini"`` ...).
    Nothing is left behind in ``out_dir`` when the run fails.
    """
    if isinstance(preset, str) and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {sorted(PRESETS)}")
    config = PRESETS[preset] if isinstance(preset, str) else preset
    config = config.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is a file: pass a folder path")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        report = _run(config, partial)
        if out.exists():
            shutil.rmtree(out)
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out / report.name


def _run(preset: DemoPreset, out: Path) -> Path:
    import gcop
    from gcop.evaluate import evaluate
    from gcop.lm.convert import local_or_string
    from gcop.optimizers.advisor import Advisor
    from gcop.optimizers.icl import ICLPolicy
    from gcop.report import write_report
    from gcop.signatures import MathGuide, MathSolve
    from gcop.tasks import gsm8k, gsm8k_planner

    started = time.time()
    trainset = gsm8k.load("train", n=preset.n_train, seed=0)
    testset = gsm8k.load("test", n=preset.n_test, seed=0)
    guide_lm = local_or_string(preset.guide, "guide")
    core_lm = local_or_string(preset.core, "core", max_batch_size=preset.threads)
    teacher = gsm8k_planner.register() if preset.teacher == "reference-planner" else preset.teacher
    judge = preset.judge or getattr(core_lm, "model_string", core_lm)
    exectune_config = preset.exectune.model_copy(
        update={
            "privileged_teacher": preset.teacher == "reference-planner",
            "judge": judge,
        }
    )
    guide = gcop.Guide(MathGuide, lm=guide_lm, token_budget=exectune_config.max_strategy_tokens)
    core = gcop.Core(MathSolve, lm=core_lm, temperature=0.0, max_tokens=preset.core_max_tokens)
    policy = gcop.GuideCorePolicy(guide=guide, core=core)
    metric = gsm8k.exact_match

    logger.info("ExecTune: acceptance sampling, SFT, GRPO on %d examples", len(trainset))
    optimizer = gcop.ExecTune(metric, teacher=teacher, config=exectune_config, run_dir=out)
    exectuned = optimizer.compile(policy, trainset=trainset)
    sft_only = optimizer.sft_program_ or exectuned
    logger.info("Advisor baseline: GRPO on the task reward only")
    advisor = Advisor(metric, config=exectune_config).compile(policy, trainset=trainset)
    exectuned.save(out / "exectune_policy")

    recipes = {
        "core-only": policy.unguided(),
        "core + ICL": ICLPolicy(policy.core, trainset),
        "None (untrained guide)": policy,
        "SFT": sft_only,
        "Advisor": advisor,
        "ExecTune": exectuned,
    }
    results = [
        evaluate(program, testset, metric, name=name, num_threads=preset.threads, lam=preset.lam)
        for name, program in recipes.items()
    ]
    acceptance = exectuned.artifacts.get("acceptance", {})
    setup = {
        "task": f"GSM8K: {len(trainset)} train / {len(testset)} held-out test examples",
        "guide": preset.guide,
        "core": preset.core,
        "teacher": preset.teacher,
        "judge": judge,
        "wall time (s)": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    histories = {
        "ExecTune": exectuned.artifacts.get("grpo", {}).get("history", []),
        "Advisor": advisor.artifacts.get("advisor", {}).get("history", []),
    }
    return write_report(
        out,
        results,
        title="gcop demo: ExecTune on GSM8K",
        setup=setup,
        certificate=acceptance.get("certificate"),
        training={k: exectuned.artifacts.get(k) for k in ("acceptance", "sft", "grpo")},
        histories=histories,
    )
