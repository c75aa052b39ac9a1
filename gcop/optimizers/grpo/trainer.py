"""Structure-aware GRPO (§3.5, §A.8): the guide samples G strategies per task, the core runs them,
and TRL's ``GRPOTrainer`` pushes the guide toward the strategies with the higher shaped reward.

``reward="shaped"`` (ExecTune) uses r = 1[valid]·(R_task + α_fmt + λ·J − μ·hinge);
``reward="task"`` (the Advisor baseline) uses the task reward alone. The reward's LM plumbing is in
:mod:`gcop.optimizers.grpo.guide_reward`, its math in :mod:`gcop.optimizers.grpo.rewards`; with a
task's plan verifier, :mod:`gcop.optimizers.grpo.plan_reward` scores most groups without the core.
Checkpoints and resuming: :mod:`gcop.optimizers.checkpoints`.
Generation uses vLLM (colocated) when the ``[vllm]`` extra and a GPU are present, transformers
otherwise.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from gcop.lm.resolve import as_lm
from gcop.modules.guide import Guide
from gcop.optimizers.checkpoints import checkpoint_args
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.freed_memory import release_freed_memory
from gcop.optimizers.grpo.agreement_charge import AgreementCharge
from gcop.optimizers.grpo.core_runs import core_inputs
from gcop.optimizers.grpo.guide_reward import GuideReward
from gcop.optimizers.grpo.judge import StrategyJudge
from gcop.optimizers.grpo.plan_reward import PlanReward, PlanVerifier
from gcop.optimizers.grpo.reward_history import (
    KeepRewardHistory,
    last_complete_checkpoint,
    restore_reward_history,
)
from gcop.optimizers.grpo.rollout import shared_prefix_rollout
from gcop.optimizers.guide_training import (
    micro_batches,
    new_adapter,
    quiet_progress,
    set_seed,
    shared_trainer_args,
    trainable_copy,
    trained_guide,
)

logger = logging.getLogger(__name__)

# per reward, how the trained guide's name ends (smollm2-135m-grpo-1a2b3c4d)
GUIDE_NAME_SUFFIX = {"shaped": "grpo", "task": "advisor"}
_TRL_KEYS = {
    "loss": "loss",
    "step_time": "step_time_s",
    "completions/mean_length": "length",
    "gcop/extra_draws": "extra_draws",
    "gcop/trained_groups": "trained_groups",
}


def train_grpo(
    guide: Guide,
    core: Any,
    trainset: Sequence[Any],
    *,
    metric: Callable[..., Any],
    config: ExecTuneConfig,
    judge_lm: Any = None,
    reward: Literal["shaped", "task"] = "shaped",
    plan_verifier: PlanVerifier | None = None,
    agreement: AgreementCharge | None = None,
    callbacks: Sequence[Any] = (),
) -> tuple[Guide, dict[str, Any]]:
    """GRPO-train a copy of ``guide`` against ``core`` on ``trainset``; ``guide`` is unchanged.

    Args:
        guide: the starting guide (the SFT guide in ExecTune, the untrained one for Advisor).
        core: the :class:`gcop.Core` that executes strategies.
        trainset: ``dspy.Example`` objects with their inputs marked.
        metric: ``metric(example, prediction, trace=None)``.
        config: steps, group size, learning rate, temperature, reward weights, LoRA settings.
        judge_lm: the judge LM for the shaped reward (not needed when ``lambda_judge=0``):
            anything :func:`~gcop.lm.resolve.resolve_lm` takes; metered once, as ``judge`` into
            the core's ledger, at temperature 0.
        reward: ``"shaped"`` (ExecTune) or ``"task"`` (Advisor).
        plan_verifier: ``verifier(strategy, example) -> float | None``, the task's own check of a
            plan (see :mod:`~gcop.optimizers.grpo.plan_reward`): scores every group at no core
            call, except ``config.grpo_core_share`` of them, which the core executes (with
            ``config.grpo_core_gate``: the core carries out each right plan, R_task the product).
        agreement: with ``plan_verifier``, charges each wrong plan by how many plans of its
            group agree with it (see :mod:`~gcop.optimizers.grpo.agreement_charge`).
        callbacks: transformers ``TrainerCallback`` objects for the trainer, e.g.
            :class:`~gcop.optimizers.grpo.curves.PlanCurves`.

    With ``config.grpo_checkpoint_dir`` set, checkpoints are kept there (every
    ``config.grpo_save_steps`` steps) and a run that finds one resumes from it; the summary of a
    resumed run covers the steps and training time of the runs before it too.

    Returns the new guide (LocalLM named ``<base>-grpo-<fingerprint>`` or ``…-advisor-…``) and
    a JSON-able summary whose ``history`` holds one row per step (reward, valid rate, judge score,
    regression rate, core calls and tokens) for the report's curves; a step refilled by dynamic
    sampling has one row per draw.
    """
    reward_fn = make_reward(
        guide,
        core,
        trainset,
        metric=metric,
        config=config,
        judge_lm=judge_lm,
        reward=reward,
        plan_verifier=plan_verifier,
        agreement=agreement,
    )
    resume_from = last_complete_checkpoint(config.grpo_checkpoint_dir)
    kept = KeepRewardHistory(reward_fn, earlier_s=restore_reward_history(reward_fn, resume_from))
    with tempfile.TemporaryDirectory(prefix="gcop-grpo-") as scratch:
        output_dir = config.grpo_checkpoint_dir or scratch
        trainer = grpo_trainer(guide, trainset, reward_fn, config, output_dir)
        for callback in [kept, *callbacks]:
            trainer.add_callback(callback)
        logger.info(
            "GRPO (%s reward) of %s for %d steps", reward, guide.local_lm.name, config.grpo_steps
        )
        trainer.train(resume_from_checkpoint=resume_from)
    new_guide = trained_guide(
        guide, trainer.model, trainer.processing_class, GUIDE_NAME_SUFFIX[reward]
    )
    history = _merge_trl_logs(reward_fn.history, trainer.state.log_history)
    summary = {
        "reward_mode": reward,
        "steps": int(trainer.state.global_step),
        "n_examples": len(trainset),
        "generations": config.grpo_generations,
        "batch_size": trainer.args.per_device_train_batch_size
        * trainer.args.gradient_accumulation_steps,
        "lora": config.lora,
        "vllm": bool(trainer.args.use_vllm),
        "train_time_s": kept.train_time_s,
        "first_reward": history[0]["reward"] if history else None,
        "final_reward": history[-1]["reward"] if history else None,
        "core_calls": sum(row["core_calls"] for row in history),
        "core_tokens": sum(row["core_tokens"] for row in history),
        "model": new_guide.local_lm.name,
        **reward_fn.summary(),
        "history": history,
    }
    # drop the trainer (its optimizer state and buffers), then hand the freed heap back
    del trainer
    release_freed_memory()
    return new_guide, summary


def make_reward(
    guide: Guide,
    core: Any,
    trainset: Sequence[Any],
    *,
    metric: Callable[..., Any],
    config: ExecTuneConfig,
    judge_lm: Any = None,
    reward: Literal["shaped", "task"] = "shaped",
    plan_verifier: PlanVerifier | None = None,
    agreement: AgreementCharge | None = None,
) -> GuideReward | PlanReward:
    """Check the inputs and build the reward function TRL will call."""
    if reward not in GUIDE_NAME_SUFFIX:
        raise ValueError(f"reward must be 'shaped' (ExecTune) or 'task' (Advisor), got {reward!r}")
    if not isinstance(config, ExecTuneConfig):
        raise TypeError(f"config must be an ExecTuneConfig, got {type(config).__name__}")
    if not callable(metric):
        raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
    if not trainset:
        raise ValueError("trainset is empty: pass a list of dspy.Example with inputs marked")
    for example in trainset:
        core_inputs(example)  # raises a clear error for unmarked inputs
    judge = None
    if reward == "shaped" and config.lambda_judge > 0:
        if judge_lm is None:
            raise ValueError(
                "the shaped reward needs a judge: pass judge_lm=<LM>, or set "
                "ExecTuneConfig(lambda_judge=0) to train without the judge term"
            )
        judge_lm = as_lm(judge_lm, ledger=core.ledger, role="judge", temperature=0.0)
        judge = StrategyJudge(judge_lm, concurrency=config.concurrency)
    core_reward = GuideReward(
        core=core,
        trainset=trainset,
        metric=metric,
        config=config,
        input_fields=list(guide.signature.input_fields),
        token_budget=min(guide.token_budget, config.max_strategy_tokens),
        count_tokens=guide.count_tokens,
        mode=reward,
        judge=judge,
    )
    if plan_verifier is None:
        if agreement is not None:
            raise ValueError(
                "the agreement charge applies to the plan verifier's groups, and there is no "
                "verifier: pass plan_verifier=<verifier(strategy, example)>, or drop agreement"
            )
        if config.grpo_core_gate:
            raise ValueError(
                "grpo_core_gate gates the core on the plans a verifier finds right, and there is "
                "no verifier: pass plan_verifier=<verifier(strategy, example)>, or use a kit with "
                "one and grpo_plan_reward=True; or drop grpo_core_gate"
            )
        return core_reward
    return PlanReward(
        core_reward,
        plan_verifier,
        core_share=config.grpo_core_share,
        gate=config.grpo_core_gate,
        seed=config.seed,
        agreement=agreement,
    )


def grpo_trainer(
    guide: Guide, trainset: Sequence[Any], reward_fn: Any, config: ExecTuneConfig, output_dir
):
    """The configured TRL ``GRPOTrainer`` over a copy of the guide's model (not yet trained):
    :class:`~gcop.optimizers.grpo.guide_trainer.GuideGRPOTrainer`, which skips rows that carry
    no gradient, runs each prompt once per step (``config.grpo_shared_prefix``) and refills steps
    with mixed groups (``config.grpo_dynamic_sampling``).

    Prompts are the guide's own chat messages; the ``example_index`` column tells the reward which
    example each completion answers.
    """
    from datasets import Dataset

    from gcop.optimizers.grpo.guide_trainer import GuideGRPOTrainer

    fields = list(guide.signature.input_fields)
    rows = [
        {
            "prompt": guide.messages(**{name: ex[name] for name in fields}),
            "example_index": index,
        }
        for index, ex in enumerate(trainset)
    ]
    set_seed(config.seed)
    model, tokenizer = trainable_copy(guide, config)
    trainer = GuideGRPOTrainer(
        model=model,
        reward_funcs=reward_fn,
        rollout_func=shared_prefix_rollout if config.grpo_shared_prefix else None,
        args=grpo_args(model, config, output_dir),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=new_adapter(model, config),
        share_prefix=config.grpo_shared_prefix,
        extra_draws=config.grpo_dynamic_sampling,
    )
    return quiet_progress(trainer)


def grpo_args(model: Any, config: ExecTuneConfig, output_dir: str) -> Any:
    """TRL's ``GRPOConfig`` for training ``model``: gcop's settings with ``config.grpo_args``
    over them, e.g. ``{"use_vllm": True, "vllm_mode": "server"}`` for rollouts from
    ``trl vllm-serve``. Building it starts nothing."""
    from trl import GRPOConfig

    group = config.grpo_generations
    batch = max(group, -(-config.grpo_batch_size // group) * group)  # whole groups per step
    if batch != config.grpo_batch_size:
        logger.info(
            "GRPO batch %d → %d (a multiple of %d generations)",
            config.grpo_batch_size,
            batch,
            group,
        )
    vllm = use_vllm(model)
    # the step's completions are sampled in one batch, then trained in micro-batches; a step
    # refilled by dynamic sampling has as many rows as it finds, so it trains in one pass
    most = batch if config.grpo_dynamic_sampling else config.grpo_micro_batch_size
    passes = micro_batches(batch, most, config.grpo_args)
    settings = dict(
        shared_trainer_args(model, config, output_dir),
        max_steps=config.grpo_steps,
        learning_rate=config.grpo_learning_rate,
        **passes,
        num_generations=group,
        max_completion_length=config.grpo_max_completion_tokens or 2 * config.max_strategy_tokens,
        temperature=config.grpo_temperature,
        use_vllm=vllm,
        **({"vllm_mode": "colocate"} if vllm else {}),
        **checkpoint_args(config.grpo_save_steps),
    )
    return GRPOConfig(**{**settings, **config.grpo_args})


def use_vllm(model: Any) -> bool:
    """vLLM generation when the extra is installed, a GPU is present and the model has a folder
    vLLM can load; ``vllm`` itself is never imported here."""
    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        return False
    source = getattr(getattr(model, "config", None), "name_or_path", "") or ""
    if not Path(source).is_dir():
        logger.info(
            "vLLM is installed but the guide has no model folder (%r): using HF generate", source
        )
        return False
    return True


def _merge_trl_logs(history: list[dict], logs: list[dict]) -> list[dict]:
    """Add TRL's own per-step numbers (loss, step time, completion length) to the reward rows."""
    by_step = {int(e["step"]): e for e in logs if "step" in e and "loss" in e}
    merged = []
    for row in history:
        extra = by_step.get(row["step"], {})
        merged.append(
            {
                **row,
                **{name: round(float(extra[k]), 6) for k, name in _TRL_KEYS.items() if k in extra},
            }
        )
    return merged
