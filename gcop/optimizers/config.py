"""``ExecTuneConfig``: every knob of the recipe, with the paper's defaults and their sources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gcop.extras import optional_imports

# Each pass-through field: the class it feeds, and the fields of that class gcop sets itself.
PASS_THROUGH = {
    "sft_args": ("trl.SFTConfig", {"completion_only_loss": "the loss falls on the strategy, §3.5"}),
    "grpo_args": ("trl.GRPOConfig", {"remove_unused_columns": "the reward reads example_index"}),
    "lora_args": ("peft.LoraConfig", {}),
}


class ExecTuneConfig(BaseModel):
    """Configuration of :class:`gcop.ExecTune`. Section numbers refer to the ExecTune paper.

    ``sft_args``, ``grpo_args`` and ``lora_args`` hand fields to TRL's ``SFTConfig`` /
    ``GRPOConfig`` and peft's ``LoraConfig``, over the values gcop derives from its other
    fields. gcop keeps the model, datasets, reward function and the fields in
    :data:`PASS_THROUGH`; ``lora_args`` applies when an adapter is created (GRPO after SFT goes
    on training the SFT adapter).
    """

    # strict: k=True or k="4" is a mistake to report, not a value to coerce
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)

    # --- acceptance sampling (§3.4, §A.6, §A.11) ---
    k: int = Field(4, ge=1, description="core executions per proposed strategy, §A.6")
    tau: float = Field(0.75, gt=0.0, le=1.0, description="acceptance threshold τ, §A.6")
    max_rounds: int = Field(3, ge=0, description="teacher refinement rounds R after a reject, §A.6")
    early_stop: bool = Field(True, description="stop a proposal's trials once the verdict is fixed")
    core_temperature: float = Field(
        0.7, ge=0.0, description="core sampling temperature for the k trials"
    )
    teacher_temperature: float = Field(0.7, ge=0.0, description="teacher sampling temperature")
    privileged_teacher: bool = Field(
        False, description="show the teacher the reference solution (never the answer to copy)"
    )
    concurrency: int = Field(8, ge=1, description="core executions in flight at once")
    max_retries: int = Field(
        3, ge=0, description="retries of a core, teacher or judge call on transient errors"
    )
    max_core_calls: int | None = Field(None, ge=1, description="budget: stop sampling after this")
    max_dollars: float | None = Field(None, gt=0, description="budget: stop sampling after this")
    delta: float = Field(0.05, gt=0, lt=1, description="certificate: δ = exp(−2kε²), §A.11")
    beta: float = Field(0.05, gt=0, lt=1, description="certificate: confidence of α's LCB, §A.11")

    # --- strategy SFT (§3.5, §A.7) ---
    sft: bool = Field(True, description="run the SFT phase")
    sft_epochs: float = Field(3.0, gt=0, description="SFT epochs over the accepted pairs, §A.7")
    sft_learning_rate: float = Field(2e-4, gt=0, description="SFT learning rate (LoRA), §A.7")
    sft_batch_size: int = Field(4, ge=1, description="SFT examples per optimizer step")
    sft_micro_batch_size: int = Field(
        2,
        ge=1,
        description="SFT examples per forward pass, at most: sft_batch_size is reached by "
        "gradient accumulation (the same updates, less padding and memory); unused where sft_args "
        "sets per_device_train_batch_size or gradient_accumulation_steps",
    )
    sft_save_steps: int | None = Field(
        None,
        ge=1,
        description="checkpoint SFT (adapter, optimizer, scheduler, RNG, step) every N steps into "
        "sft_checkpoint_dir; None: no checkpoints",
    )
    sft_checkpoint_dir: str | None = Field(
        None,
        description="a folder kept across runs: SFT writes its checkpoints there and resumes from "
        "the last one it finds; None: a temporary folder, nothing kept",
    )
    lora: bool = Field(True, description="train LoRA adapters (False: full fine-tune)")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha")

    # --- structure-aware GRPO (§3.5, §A.8) ---
    grpo: bool = Field(True, description="run the GRPO phase")
    grpo_steps: int = Field(200, ge=1, description="GRPO optimizer steps, §A.8")
    grpo_generations: int = Field(4, ge=2, description="strategies sampled per task (group G)")
    grpo_batch_size: int = Field(4, ge=1, description="completions per device step")
    grpo_micro_batch_size: int = Field(
        2,
        ge=1,
        description="GRPO completions per forward pass, at most: the step's completions are "
        "sampled together and their gradients accumulated (the same update, less padding); unused "
        "where grpo_args sets per_device_train_batch_size or gradient_accumulation_steps",
    )
    grpo_learning_rate: float = Field(1e-5, gt=0, description="GRPO learning rate, §A.8")
    grpo_temperature: float = Field(1.0, gt=0, description="guide sampling temperature in GRPO")
    alpha_fmt: float = Field(0.1, ge=0, description="format bonus α_fmt, §A.8")
    lambda_judge: float = Field(0.2, ge=0, description="judge weight λ_judge, §A.8")
    mu: float = Field(0.5, ge=0, description="non-regression weight μ, §A.8")
    judge: str | None = Field(None, description="judge LM (LiteLLM string); None: the teacher")
    max_strategy_tokens: int = Field(
        256,
        ge=8,
        description="GRPO's strategy token budget, §A.8: its format gate takes the smaller of "
        "this and the guide's own token_budget (which acceptance sampling and inference use)",
    )
    grpo_max_completion_tokens: int | None = Field(
        None,
        ge=8,
        description="tokens GRPO samples per completion; None: 2 × max_strategy_tokens. Sampling "
        "runs as long as the longest row, so a cap near what plans need (GSM8K symbolic plans: "
        "~38 tokens) buys speed; a completion cut off before its closing tag is invalid (reward 0)",
    )
    grpo_shared_prefix: bool = Field(
        False,
        description="run each prompt once per step, not once per completion: in sampling "
        "(gcop.optimizers.grpo.rollout instead of TRL's generate over repeated prompts) and in "
        "the loss (gcop.optimizers.grpo.group_scoring); on a CPU the prompt is most of both",
    )
    grpo_dynamic_sampling: int = Field(
        0,
        ge=0,
        description="DAPO's dynamic sampling: up to this many extra draws of questions a step "
        "takes until it holds as many groups whose samples disagree as it has questions; it then "
        "trains on those alone, in one pass (grpo_micro_batch_size unused). 0: off, every drawn "
        "group is trained on (flat groups carry no gradient and are skipped)",
    )
    grpo_plan_reward: bool = Field(
        False,
        description="GRPO scores plans with the verifier of the student's strategy kit (its "
        "task's check of a plan without the core, e.g. GSM8K's calculator against the gold "
        "answer), grpo_core_share of the groups still with the core; off: every group is "
        "executed by the core",
    )
    grpo_core_share: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="with a plan verifier: the share of each step's groups still executed by the "
        "core (its reward replaces the verifier's there), so that executability stays in the loop. "
        "0.25: at 8 groups a step, 2 groups of core calls, about a third of the step's time on "
        "this CPU; 0 trains on the verifier alone",
    )
    grpo_core_gate: bool = Field(
        False,
        description="with a plan verifier: the core carries out every plan the verifier finds "
        "right and R_task = verifier × core, so a right plan this core cannot carry out earns "
        "what a wrong one does; a wrong plan costs no core call; grpo_core_share is unused",
    )
    grpo_agreement_charge: float = Field(
        0.0,
        ge=0.0,
        description="with the plan reward: charge each wrong plan this weight × the share of the "
        "other plans of its group that agree with it (the kit's consensus key), so the guide "
        "learns to disagree with itself where it is wrong and the kit's gate abstains there "
        "(gcop.optimizers.grpo.agreement_charge); 0: off. Measured at 1.0 (evidence §7): the "
        "guide learned to spread its samples instead and fell below the SFT guide by step 45",
    )
    grpo_save_steps: int | None = Field(
        None,
        ge=1,
        description="checkpoint GRPO (adapter, optimizer, scheduler, RNG, step) every N steps into "
        "grpo_checkpoint_dir; None: no checkpoints",
    )
    grpo_checkpoint_dir: str | None = Field(
        None,
        description="a folder kept across runs: GRPO writes its checkpoints there and resumes from "
        "the last one it finds; None: a temporary folder, nothing kept",
    )

    # --- the phase compile(..., valset=...) returns ---
    valset_rule: Literal["paired", "best"] = Field(
        "paired",
        description="with a valset: 'paired' keeps the earliest phase (SFT) unless a later one "
        "(GRPO) beats it on the valset's examples in an exact McNemar test at p < valset_p; "
        "'best' keeps the best valset score (the later phase on a tie)",
    )
    valset_p: float = Field(0.05, gt=0, le=1, description="the 'paired' rule's significance level")

    seed: int = Field(0, description="seed for sampling and training")

    # --- pass-through to TRL and peft: applied over gcop's settings, so they win ---
    sft_args: dict[str, Any] = Field(
        default_factory=dict, description="trl.SFTConfig fields, e.g. {'max_steps': 50}"
    )
    grpo_args: dict[str, Any] = Field(
        default_factory=dict, description="trl.GRPOConfig fields, e.g. {'use_vllm': True}"
    )
    lora_args: dict[str, Any] = Field(
        default_factory=dict, description="peft.LoraConfig fields for a new adapter, e.g. {'r': 8}"
    )

    @model_validator(mode="after")
    def _check_phases(self) -> ExecTuneConfig:
        if not (self.sft or self.grpo):
            raise ValueError("ExecTuneConfig: enable at least one of sft=True or grpo=True")
        if self.lora_args and not self.lora:
            raise ValueError("ExecTuneConfig: lora_args needs lora=True (no adapter is trained)")
        for phase in ("sft", "grpo"):
            if getattr(self, f"{phase}_save_steps") is not None and (
                getattr(self, f"{phase}_checkpoint_dir") is None
            ):
                raise ValueError(
                    f"ExecTuneConfig: {phase}_save_steps needs {phase}_checkpoint_dir=<folder> "
                    "to keep them in"
                )
        return self

    @model_validator(mode="after")
    def _check_pass_through(self) -> ExecTuneConfig:
        """Refuse a key its class does not take, or one gcop sets; the class's library is only
        imported when the dict is not empty."""
        import dataclasses
        import importlib

        for name, (target, owned) in PASS_THROUGH.items():
            values = getattr(self, name)
            if not values:
                continue
            module, cls = target.rsplit(".", 1)
            with optional_imports():
                fields = dataclasses.fields(getattr(importlib.import_module(module), cls))
            known = {f.name for f in fields if f.init}
            for key in values:
                if key in owned:
                    raise ValueError(f"ExecTuneConfig.{name}: gcop sets {key!r} ({owned[key]})")
                if key not in known:
                    raise ValueError(f"ExecTuneConfig.{name}: {target} has no field {key!r}")
        return self
