"""``Task``: one object that says everything gcop needs to know about a task.

A task gives its data (``load(split, n, seed)``), the guide's and the core's signatures, a metric
``metric(example, prediction, trace=None)``, and optionally its strategy kit (how to sample,
agree on, render and verify its strategies: :class:`~gcop.modules.strategy_kit.StrategyKit`),
its offline teachers and a privileged ceiling row. gcop's own tasks are built on it
(``gcop.tasks.gsm8k.TASK``, ``gcop.tasks.code.humaneval.TASK``, ...), and so is a user's:
``gcop compile --task mypkg.tasks:TASK`` runs any ``Task`` a module exposes.

:meth:`Task.policy` is the one way a task's guide–core policy is built: the demo, ``gcop
compile``, ``gcop evaluate`` and Python users go through it, so each runs the same configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gcop.modules.strategy_kit import StrategyKit
from gcop.strategy import DEFAULT_TOKEN_BUDGET


class PolicySettings(BaseModel):
    """How a task's policy applies its kit and prompts its core (the defaults: plain guided
    generation, one strategy, DSPy's chat format)."""

    model_config = ConfigDict(extra="forbid")

    core_adapter: Literal["chat", "plain"] = Field(
        "chat", description="the core's prompt: DSPy 'chat' (API cores) or 'plain' (small cores)"
    )
    core_max_tokens: int | None = Field(None, ge=16, description="the core's reply budget")
    token_budget: int = Field(DEFAULT_TOKEN_BUDGET, ge=1, description="a strategy's most tokens")
    samples: int = Field(1, ge=1, description="strategies the guide samples per task")
    min_agreement: float = Field(0.5, gt=0, le=1, description="share of samples that must agree")
    render: bool = Field(False, description="the kit's render tool between guide and core")
    keep_core_answer: bool = Field(
        False, description="the core's own answer stands where one of the samples backs it"
    )
    core_retries: int = Field(
        0,
        ge=0,
        description="with keep_core_answer: where the core's answer to the plan sent does not "
        "reach the plan's result, ask it again (sampled) up to this many times",
    )

    @model_validator(mode="after")
    def _retries_need_the_answer_key(self) -> PolicySettings:
        if self.core_retries and not self.keep_core_answer:
            raise ValueError(
                "core_retries compares the core's answer with where the plan leads, through "
                "the kit's answer key: set keep_core_answer=True"
            )
        return self


@dataclasses.dataclass(frozen=True)
class Task:
    """A task gcop can train and evaluate a guide on.

    Args:
        name: how reports and ``gcop --task`` name it.
        load: ``load(split, n=None, seed=0) -> list[dspy.Example]`` with inputs marked.
        guide_signature, core_signature: the ``dspy.Signature`` classes of guide and core.
        metric: ``metric(example, prediction, trace=None) -> bool | float``.
        kit: the task's strategy tools, or ``None`` (plain guided generation).
        teachers: offline teachers by name, each ``() -> model string`` registering itself on
            first use (e.g. GSM8K's ``symbolic-planner``, which reads the reference solution).
        privileged_teachers: which of ``teachers`` read the reference (their strategies are
            checked for leaks of the answer).
        ceiling: ``ceiling(core, examples, teacher) -> program``, the core guided by reference
            plans: the most a guide writing such plans could reach (evaluation only).
        demo: ``demo(example) -> example`` with the core's output fields filled in from the
            reference (a worked example the ICL baseline shows the core); ``None`` where the
            examples hold them already (GSM8K's ``answer``).
    """

    name: str
    load: Callable[..., list[Any]]
    guide_signature: type
    core_signature: type
    metric: Callable[..., Any]
    kit: StrategyKit | None = None
    teachers: Mapping[str, Callable[[], str]] = dataclasses.field(default_factory=dict)
    privileged_teachers: frozenset[str] = frozenset()
    ceiling: Callable[..., Any] | None = None
    demo: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        for field in ("load", "metric"):
            if not callable(getattr(self, field)):
                raise TypeError(f"Task {self.name!r}: {field} must be callable")
        if self.kit is not None and not isinstance(self.kit, StrategyKit):
            raise TypeError(f"Task {self.name!r}: kit must be a gcop.StrategyKit or None")
        unknown = set(self.privileged_teachers) - set(self.teachers)
        if unknown:
            raise ValueError(f"Task {self.name!r}: privileged teachers {sorted(unknown)} unknown")

    def demos(self, examples: list[Any]) -> list[Any]:
        """``examples`` as worked examples for the core (see ``demo``)."""
        return [self.demo(example) for example in examples] if self.demo else list(examples)

    def policy_kit(self, settings: PolicySettings) -> StrategyKit | None:
        """The task's kit as ``settings`` use it (``None``: no kit or nothing of it used)."""
        wants = settings.samples > 1 or settings.render or settings.keep_core_answer
        if not wants:
            return self.kit.with_settings(render=None, answer_key=None) if self.kit else None
        if self.kit is None:
            raise ValueError(
                f"task {self.name!r} has no strategy kit, so it cannot sample several "
                "strategies, render them or keep the core's answer: use the default settings"
            )
        missing = [
            name
            for name, wanted, tool in (
                ("consensus", settings.samples > 1, self.kit.consensus),
                ("render", settings.render, self.kit.render),
                ("answer_key", settings.keep_core_answer, self.kit.answer_key),
            )
            if wanted and tool is None
        ]
        if missing:
            raise ValueError(f"task {self.name!r}: its kit has no {', '.join(missing)}")
        return self.kit.with_settings(
            samples=settings.samples,
            min_agreement=settings.min_agreement,
            render=self.kit.render if settings.render else None,
            answer_key=self.kit.answer_key if settings.keep_core_answer else None,
            retries=settings.core_retries,
        )

    def policy(
        self,
        guide: Any,
        core: Any,
        settings: PolicySettings | None = None,
        **local_kwargs: Any,
    ) -> Any:
        """The untrained guide–core policy for this task: ``guide`` (a model name, ``LocalLM``
        or LM; ``None``: the core alone) steering ``core``, configured by ``settings``.
        ``local_kwargs`` go to the in-process models (``gcop.LocalLM`` arguments)."""
        import gcop
        from gcop.lm.resolve import resolve_lm

        settings = settings or PolicySettings()
        kit = self.policy_kit(settings)
        core_settings = {"max_tokens": settings.core_max_tokens} if settings.core_max_tokens else {}
        core_module = gcop.Core(
            self.core_signature,
            lm=resolve_lm(core, "core", **local_kwargs),
            adapter=settings.core_adapter,
            temperature=0.0,
            kit=kit,
            **core_settings,
        )
        guide_module = None
        if guide is not None:
            guide_module = gcop.Guide(
                self.guide_signature,
                lm=resolve_lm(guide, "guide", **local_kwargs),
                token_budget=settings.token_budget,
                kit=kit,
            )
        return gcop.GuideCorePolicy(guide=guide_module, core=core_module)

    def check_teacher(self, teacher: str) -> None:
        """Refuse a bare teacher name that is neither one of this task's offline teachers nor
        a model gcop can resolve, naming the ones there are (checked before any work)."""
        from gcop.lm.registry import available_models
        from gcop.lm.resolve import is_local_model, named_backends

        if not isinstance(teacher, str) or "/" in teacher or teacher in self.teachers:
            return
        if is_local_model(teacher):
            return
        others = sorted(set(named_backends()) - set(self.teachers))
        if teacher in others:
            raise ValueError(
                f"teacher {teacher!r} plans for another task and cannot read {self.name!r}'s "
                f"examples; this task's offline teachers: {sorted(self.teachers) or 'none'}"
            )
        raise ValueError(
            f"unknown teacher {teacher!r}: give a LiteLLM model string (provider/model), a "
            f"registry model ({', '.join(available_models())}) or one of {self.name!r}'s offline "
            f"teachers ({', '.join(sorted(self.teachers)) or 'none'})"
        )
