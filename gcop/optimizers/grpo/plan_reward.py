"""GRPO's reward when the task can check a plan itself: a plan verifier, with the core on a share.

A *plan verifier* is ``verifier(strategy, example) -> float | None``: a score in [0, 1] for the
plan alone (GSM8K's symbolic plans: does the calculator's value equal the gold answer?), or
``None`` where it cannot tell. It costs no core call, so GRPO can train on many more samples.

:class:`PlanReward` scores each step's groups (the completions of one example) two ways:

- *verifier groups*: R_task is the verifier's score, under the same shaped reward as the core's
  (format gate, α_fmt; no judge call and no non-regression hinge, which need the core);
- *core groups*: a share ``core_share`` of the groups, drawn at random each step, and every group
  holding a plan the verifier could not check, go to the core-executed :class:`GuideReward`, whose
  reward *replaces* the verifier's there, so that what the core can carry out stays in the loop.

With ``gate=True`` the core instead carries out every plan the verifier finds right, in every
group, and R_task is the product: verifier score × the core's score. A right plan the core cannot
carry out earns what a wrong one does, and a wrong plan costs no core call. (A core that ignores a
wrong plan and answers right anyway earns the plan nothing, as it should: the plan did not help.)
R_task is then the core's outcome, so the rest of the shaped reward applies as in the core
reward: the non-regression hinge against the core alone (μ > 0: one core call per example,
cached) and the judge (λ_judge > 0, with a judge: one call per distinct valid plan). Each step
logs the share of groups whose advantages each of these terms changed.

With an :class:`~gcop.optimizers.grpo.agreement_charge.AgreementCharge`, each wrong plan outside
the core's groups is charged by how many plans of its group agree with it (the kit would send
it), and each step logs the share of plans charged and of groups whose advantages that moved.

Which plans the core carries out, and the gate's product, are :mod:`.core_selection`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from gcop.optimizers.grpo.agreement_charge import AgreementCharge
from gcop.optimizers.grpo.core_selection import draw_core_groups, gated_scores
from gcop.optimizers.grpo.groups import (
    advantage_changed_share,
    neutralize_failures,
    zero_advantage_share,
)
from gcop.optimizers.grpo.guide_reward import GuideReward
from gcop.optimizers.grpo.rewards import (
    as_score,
    completion_text,
    rounded_mean,
    shaped_reward,
    task_reward,
)
from gcop.optimizers.grpo.shaping_terms import NO_TERMS, ShapingTerms, gate_shaping_terms
from gcop.strategy import parse_strategy

logger = logging.getLogger(__name__)

PlanVerifier = Callable[[str, Any], "float | None"]


class PlanReward:
    """A TRL reward function ``(completions, example_index, **kwargs) -> list[float]`` that scores
    plans with ``verifier`` and sends a share of groups to ``core_reward``.

    Args:
        core_reward: the core-executed reward (its settings: mode, budget, weights, trainset).
        verifier: ``verifier(strategy, example) -> float | None``.
        core_share: the share of groups executed by the core each step, in [0, 1] (unused with
            ``gate``).
        gate: the core carries out each plan the verifier finds right; R_task is the product.
        seed: seeds the choice of core groups (with the step number).
        agreement: charges wrong plans by their group's agreement with them (None: off).
    """

    __name__ = "gcop_reward"  # TRL names its logged reward columns after this

    def __init__(
        self,
        core_reward: GuideReward,
        verifier: PlanVerifier,
        *,
        core_share: float,
        gate: bool = False,
        seed: int = 0,
        agreement: AgreementCharge | None = None,
    ) -> None:
        if not callable(verifier):
            raise TypeError("plan_verifier must be callable: verifier(strategy, example) -> float")
        if not 0.0 <= core_share <= 1.0:
            raise ValueError(f"core_share must be in [0, 1], got {core_share}")
        self.core_reward, self.verifier = core_reward, verifier
        self.core_share, self.gate, self.seed = core_share, gate, seed
        self.agreement = agreement
        self.history: list[dict[str, Any]] = []

    def __call__(
        self,
        completions: Sequence[Any],
        example_index: Sequence[int],
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        start = time.perf_counter()
        step = int(trainer_state.global_step) + 1 if trainer_state is not None else None
        step = step if step is not None else len(self.history) + 1
        indices = [int(i) for i in example_index]
        scores, valid, plans = self._verify(completions, indices)
        core_groups = draw_core_groups(
            indices, scores, share=self.core_share, gate=self.gate, seed=self.seed, step=step
        )
        gated: dict[str, Any] = {}
        task_scores = [0.0 if s is None else s for s in scores]
        failed = [False] * len(scores)
        terms = NO_TERMS
        if self.gate:
            task_scores, failed, gated = gated_scores(
                self.core_reward.calls, plans, indices, task_scores, core_groups
            )
            if self.core_reward.mode == "shaped":
                terms = gate_shaping_terms(self.core_reward, indices, plans, valid, task_scores)
        config = self.core_reward.config
        charges = self._agreement_charges(plans, valid, indices, core_groups)

        def shaped(charged: bool = True, **weights: float) -> list[float]:
            rewards = self._verifier_rewards(completions, task_scores, terms, **weights)
            if charged:
                rewards = [r - c for r, c in zip(rewards, charges, strict=True)]
            return neutralize_failures(indices, rewards, failed)

        rewards = shaped()
        moved = {
            f"{term}_moved_groups": advantage_changed_share(
                indices, rewards, shaped(**{weight: 0.0})
            )
            if getattr(config, weight) > 0 and terms is not NO_TERMS
            else None
            for term, weight in (("hinge", "mu"), ("judge", "lambda_judge"))
        }
        if self.agreement is not None:
            moved["agreement_moved_groups"] = advantage_changed_share(
                indices, rewards, shaped(charged=False)
            )
            moved["charged_rate"] = rounded_mean([float(c > 0) for c in charges])
        core_row: dict[str, Any] = {}
        picked = [k for k, i in enumerate(indices) if i in core_groups]
        if picked:
            core_rewards = self.core_reward(
                [completions[k] for k in picked],
                [indices[k] for k in picked],
                trainer_state=trainer_state,
            )
            core_row = self.core_reward.history.pop()
            for k, reward in zip(picked, core_rewards, strict=True):
                rewards[k] = reward
        checked = [s for s in scores if s is not None]
        row = {
            "step": step,
            "reward": rounded_mean(rewards),
            "valid_rate": rounded_mean([float(ok) for ok in valid]),
            "plan_right_rate": rounded_mean(checked),
            "groups": len(set(indices)),
            "core_groups": len(core_groups),
            "core_task": core_row.get("task"),
            "core_calls": sum(part.get("core_calls", 0) for part in (core_row, gated, terms.usage)),
            "core_tokens": sum(
                part.get("core_tokens", 0) for part in (core_row, gated, terms.usage)
            ),
            "judge_calls": terms.usage.get("judge_calls", 0),
            "carried_rate": gated.get("carried_rate"),
            "unguided": terms.unguided_mean,
            "judge": terms.judge_mean,
            **moved,
            "core_errors": self.core_reward.core_errors,
            "zero_advantage_groups": zero_advantage_share(indices, rewards),
            "reward_time_s": round(time.perf_counter() - start, 4),
        }
        self.history.append(row)
        if log_metric is not None:
            for key in _LOGGED:
                if row.get(key) is not None:
                    log_metric(f"gcop/{key}", float(row[key]))
        logger.debug(
            "GRPO step %d: reward %.3f, right plans %.2f, flat groups %.2f, core calls %d",
            step,
            row["reward"],
            row["plan_right_rate"],
            row["zero_advantage_groups"],
            row["core_calls"],
        )
        return rewards

    def _verify(
        self, completions: Sequence[Any], indices: list[int]
    ) -> tuple[list[float | None], list[bool], list[str]]:
        """The verifier's score per completion (0.0 for an invalid completion in shaped mode, which
        the format gate zeroes anyway; ``None`` where the verifier cannot tell), validity, and the
        plan checked (the parsed strategy, or the whole text of an invalid completion)."""
        settings = self.core_reward  # its mode, format budget and trainset
        scores: list[float | None] = []
        valid: list[bool] = []
        plans: list[str] = []
        for completion, index in zip(completions, indices, strict=True):
            text = completion_text(completion)
            parse = parse_strategy(
                text, token_budget=settings.token_budget, count_tokens=settings.count_tokens
            )
            plan = parse.strategy if parse.valid else text
            if not parse.valid and settings.mode == "shaped":
                score: float | None = 0.0
            else:
                raw = self.verifier(plan, settings.trainset[index])
                score = None if raw is None else as_score(raw)
            scores.append(score)
            valid.append(parse.valid)
            plans.append(plan)
        return scores, valid, plans

    def _agreement_charges(
        self, plans: list[str], valid: list[bool], indices: list[int], core_groups: set[int]
    ) -> list[float]:
        """The agreement charge of each completion (0.0 in the core's groups, whose reward the
        core's replaces, and everywhere without ``agreement``)."""
        if self.agreement is None:
            return [0.0] * len(plans)
        charges = self.agreement(plans, valid, indices, self.core_reward.trainset)
        return [0.0 if i in core_groups else c for i, c in zip(indices, charges, strict=True)]

    def _verifier_rewards(
        self,
        completions: Sequence[Any],
        task_scores: list[float],
        terms: ShapingTerms,
        **weights: float,
    ) -> list[float]:
        """The shaped (or task) reward with ``task_scores`` as R_task (unchecked plans: 0.0 here;
        their group goes to the core, which replaces it) and ``terms`` (none outside the gate:
        no hinge, no judge); ``weights`` override the config's μ or λ_judge."""
        settings = self.core_reward
        if settings.mode == "task":
            return task_reward(completions, task_scores)
        config = settings.config
        return shaped_reward(
            completions,
            task_scores,
            terms.unguided if terms.unguided is not None else task_scores,
            judge_scores=terms.judge_scores,
            leaks=terms.leaks,
            alpha_fmt=config.alpha_fmt,
            lambda_judge=weights.get("lambda_judge", config.lambda_judge),
            mu=weights.get("mu", config.mu),
            token_budget=settings.token_budget,
            count_tokens=settings.count_tokens,
        )

    def summary(self) -> dict[str, Any]:
        """JSON-able totals over the run so far."""
        return {
            **self.core_reward.summary(),
            "steps_logged": len(self.history),
            "plan_verifier": getattr(self.verifier, "__name__", type(self.verifier).__name__),
            "core_share": self.core_share,
            "core_gate": self.gate,
            "agreement_charge": self.agreement.weight if self.agreement is not None else 0.0,
        }


# the step row's figures TRL logs beside its own (as gcop/<key>, where not None)
_LOGGED = (
    "plan_right_rate",
    "zero_advantage_groups",
    "core_calls",
    "carried_rate",
    "judge_calls",
    "unguided",
    "judge",
    "hinge_moved_groups",
    "judge_moved_groups",
    "agreement_moved_groups",
    "charged_rate",
)
