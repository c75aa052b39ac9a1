"""The demo's presets: what one run uses (models, data sizes, the recipe's settings), by name.

``tiny`` builds its models from a config and uses a handful of examples (a smoke run);
``evidence`` is the configuration the study on dev chose (docs/evidence.md); ``quick`` is that
configuration at the size of the README's main job (about half an hour on a 2-core CPU); ``code``
trains on MBPP and tests on HumanEval; ``full`` is sized for a GPU or an API core. A preset's
``task`` can be changed like any other field (``gcop demo --preset tiny --task mbpp``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gcop.optimizers.config import ExecTuneConfig
from gcop.tasks.task import PolicySettings

RECIPES = ("core-only", "core + ICL", "None (untrained guide)", "SFT", "Advisor", "ExecTune")
LOCAL_LM_SETTINGS = (  # what a preset may set on gcop.LocalLM
    "dtype",
    "device",
    "max_batch_size",
    "max_batch_tokens",
    "batch_wait_s",
    "share_prefix",
)


class DemoPreset(BaseModel):
    """What one demo run uses: models, data sizes and the recipe's settings."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(
        "gsm8k", description="the task trained on: a gcop task name or 'module:ATTRIBUTE'"
    )
    eval_task: str | None = Field(
        None,
        description="the task evaluated on, with the same signatures (None: task); e.g. train on "
        "mbpp, test on humaneval",
    )
    guide: str = Field(description="guide model: a registry name, HF id or local path")
    core: str = Field(description="core model: a registry name or a LiteLLM model string")
    teacher: str = Field(
        description="teacher: one of the task's offline teachers (GSM8K: 'reference-planner', "
        "'symbolic-planner', 'worded-planner') or a LiteLLM model string"
    )
    judge: str | None = Field(None, description="judge LM; None: the core")
    guide_samples: int = Field(
        1,
        ge=1,
        description="plans the guide samples per task; above 1 it keeps one only where "
        "min_agreement of them lead to the same answer (the task kit's consensus) and "
        "abstains otherwise",
    )
    min_agreement: float = Field(0.5, gt=0, le=1)
    keep_core_answer: bool = Field(
        False,
        description="the core first answers alone, and its answer stands where one of the "
        "guide's samples computes it (GuideCorePolicy answer_key); needs guide_samples > 1",
    )
    render: bool = Field(
        False,
        description="plans reach the core through the task kit's render (GSM8K: a calculator "
        "works out the numbers of symbolic plans; for teacher='symbolic-planner')",
    )
    n_train: int = Field(ge=1, description="training examples")
    n_test: int = Field(ge=1, description="held-out examples evaluated")
    eval_split: Literal["dev", "test"] = Field(
        "test", description="'dev' to choose settings, 'test' for the final table only"
    )
    core_adapter: Literal["chat", "plain"] = Field(
        "chat", description="the core's prompt: DSPy 'chat' (API cores) or 'plain' (small cores)"
    )
    core_max_tokens: int = Field(256, ge=16)
    threads: int = Field(8, ge=1, description="examples in flight per recipe")
    cost_weight: float = Field(0.0, ge=0, description="λ of the net utility J = V − λ·C")
    recipes: tuple[str, ...] = Field(RECIPES, description="which of the six recipes to run")
    ceiling: bool = Field(False, description="add the reference-plan ceiling row (privileged)")
    reference_cores: tuple[str, ...] = Field(
        (), description="other cores evaluated alone on the same slice, e.g. a bigger model"
    )
    saved_policies: tuple[str, ...] = Field(
        (),
        description="saved policy folders (GuideCorePolicy.save) evaluated on the same slice, "
        "steering this run's core: e.g. a guide trained longer than one run can train it",
    )
    local_lm: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of the models served in-process (gcop.LocalLM arguments), e.g. "
        "{'dtype': 'float32', 'max_batch_size': 8}",
    )
    exectune: ExecTuneConfig

    @model_validator(mode="after")
    def _check_recipes(self) -> DemoPreset:
        unknown = set(self.recipes) - set(RECIPES)
        if unknown:
            raise ValueError(f"unknown recipe(s) {sorted(unknown)}: choose from {list(RECIPES)}")
        if self.keep_core_answer and self.guide_samples == 1:
            raise ValueError(
                "keep_core_answer compares the core's answer with the guide's "
                "samples: set guide_samples above 1"
            )
        unknown = set(self.local_lm) - set(LOCAL_LM_SETTINGS)
        if unknown:
            raise ValueError(
                f"local_lm: unknown setting(s) {sorted(unknown)}: choose from {LOCAL_LM_SETTINGS}"
            )
        return self

    def policy_settings(self) -> PolicySettings:
        """How this preset's policy applies the task's kit and prompts its core."""
        return PolicySettings(
            core_adapter=self.core_adapter,
            core_max_tokens=self.core_max_tokens,
            token_budget=self.exectune.max_strategy_tokens,
            samples=self.guide_samples,
            min_agreement=self.min_agreement,
            render=self.render,
            keep_core_answer=self.keep_core_answer,
        )


# The configuration the study on dev chose (docs/evidence.md §1–§3d, §3h): a LoRA guide writes
# symbolic plans, a calculator works out their numbers for the core, the guide keeps a plan only
# where all five samples compute the same answer, and the core's own answer stands where one of
# the five computes it. 40 test problems: cold on 2 cores it took 1 h 38 min, 33 minutes of them
# evaluation, peak 12.4 GB (evidence §5d); `--n-test 80` reproduces the table of evidence §5c,
# in about three hours.
EVIDENCE = DemoPreset(
    guide="qwen2.5-coder-0.5b",  # a LoRA on the core's own base model: no bigger than the core
    core="qwen2.5-coder-0.5b",
    teacher="symbolic-planner",
    render=True,
    guide_samples=5,
    min_agreement=1.0,
    keep_core_answer=True,
    n_train=240,
    n_test=40,
    core_adapter="plain",
    core_max_tokens=320,
    threads=32,
    ceiling=True,
    exectune=ExecTuneConfig(
        k=2,
        tau=0.5,
        max_rounds=0,  # refined plans carry intermediate results the guide cannot compute
        sft_epochs=2,
        sft_learning_rate=5e-4,
        sft_batch_size=8,
        grpo_steps=8,
        grpo_generations=4,
        grpo_batch_size=8,
        grpo_learning_rate=2e-5,
        lambda_judge=0.0,
        max_strategy_tokens=96,
        concurrency=32,
    ),
)


# the evidence configuration's training at the size of the README's main job: 4 SFT epochs,
# 2 GRPO steps per trained guide
QUICK_TRAINING = EVIDENCE.exectune.model_copy(update={"sft_epochs": 4, "grpo_steps": 2})

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
            max_strategy_tokens=128,
            concurrency=4,
        ),
    ),
    # the evidence configuration at a size for the README's main job: 64 training problems, 30
    # test problems; with the guide the repository ships beside it (--saved-policy
    # policies/gsm8k-1.5b-guide, as scripts/demo.sh passes it) 33-34 minutes cold on 2 cores
    # (evidence §5e)
    "quick": EVIDENCE.model_copy(update={"n_train": 64, "n_test": 30, "exectune": QUICK_TRAINING}),
    "evidence": EVIDENCE,
    # code (docs/evidence.md §8): guides trained on MBPP's training split, tested on HumanEval, as
    # the paper trains on KodCode and tests on HumanEval; the offline teacher reads the reference
    # solution (privileged) and writes its plan in words, never its code or tests; the core reads
    # each plan as comments in the function's skeleton (the form it executed best on MBPP dev);
    # cold on 2 cores: 1 h 11 min, peak 15.9 GB (evidence §9)
    "code": DemoPreset(
        task="mbpp",
        eval_task="humaneval",
        guide="qwen2.5-coder-0.5b",
        core="qwen2.5-coder-0.5b",
        teacher="code-planner",
        render=True,
        n_train=64,
        n_test=80,
        core_adapter="plain",
        core_max_tokens=512,
        threads=32,
        ceiling=True,
        exectune=QUICK_TRAINING.model_copy(update={"max_strategy_tokens": 192}),
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
