"""Pure reward functions for structure-aware GRPO (§3.5, §A.8), in TRL's shape.

Each takes ``completions`` (plain strings, or TRL conversational lists
``[{"role": "assistant", "content": ...}]``) plus per-completion columns as keyword arguments, and
returns one float per completion. Nothing here calls an LM: the core runs and the judge live in
:mod:`gcop.optimizers.grpo.guide_reward`, which hands their scores to these functions.

The shaped reward of the paper is

    r = 1[valid] · (R_task + α_fmt + λ·J − μ·max(0, R_unguided − R_task))

An invalid completion (no block, several blocks, an empty block, over the token budget) gets 0: a
strategy hidden outside the tags never reaches the core and earns nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from gcop.optimizers.config import ExecTuneConfig
from gcop.strategy import DEFAULT_TOKEN_BUDGET, count_words, parse_strategy

# the weights' defaults live in ExecTuneConfig (§A.8)
ALPHA_FMT: float = ExecTuneConfig.model_fields["alpha_fmt"].default
LAMBDA_JUDGE: float = ExecTuneConfig.model_fields["lambda_judge"].default
MU: float = ExecTuneConfig.model_fields["mu"].default


def completion_text(completion: Any) -> str:
    """The text of one completion, whether a string or a TRL conversational list.

    >>> completion_text([{"role": "assistant", "content": "<strategy>add</strategy>"}])
    '<strategy>add</strategy>'
    >>> completion_text("plain")
    'plain'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list | tuple):
        parts = []
        for message in completion:
            if not isinstance(message, dict) or message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content") or ""
            if isinstance(content, list):  # OpenAI-style content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            parts.append(str(content))
        return "".join(parts)
    raise TypeError(
        f"a completion must be a string or a list of chat messages, got {type(completion)!r}"
    )


def valid_flags(
    completions: Sequence[Any],
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    count_tokens: Callable[[str], int] = count_words,
) -> list[bool]:
    """Whether each completion holds one valid ``<strategy>`` block (the parser's verdict);
    ``count_tokens`` as in :func:`~gcop.strategy.parse_strategy`."""
    return [
        parse_strategy(
            completion_text(c), token_budget=token_budget, count_tokens=count_tokens
        ).valid
        for c in completions
    ]


def format_reward(
    completions: Sequence[Any],
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    count_tokens: Callable[[str], int] = count_words,
    **kwargs: Any,
) -> list[float]:
    """1[valid]: 1.0 for a completion with exactly one non-empty block within the budget.

    >>> format_reward(["<strategy>1. add</strategy>", "1. add", "<strategy> </strategy>"])
    [1.0, 0.0, 0.0]
    """
    return [float(ok) for ok in valid_flags(completions, token_budget, count_tokens)]


def format_bonus(
    completions: Sequence[Any],
    alpha_fmt: float = ALPHA_FMT,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    **kwargs: Any,
) -> list[float]:
    """α_fmt · 1[valid].

    >>> format_bonus(["<strategy>1. add</strategy>", "no tags"], alpha_fmt=0.1)
    [0.1, 0.0]
    """
    _check_weight("alpha_fmt", alpha_fmt)
    return [alpha_fmt * ok for ok in format_reward(completions, token_budget)]


def task_reward(
    completions: Sequence[Any], task_scores: Sequence[Any], **kwargs: Any
) -> list[float]:
    """R_task: the metric's score of the core's guided answer (precomputed, one per completion).

    >>> task_reward(["a", "b", "c"], task_scores=[True, 0.5, None])
    [1.0, 0.5, 0.0]
    """
    _check_length("task_scores", task_scores, completions)
    return [as_score(s) for s in task_scores]


def judge_reward(
    completions: Sequence[Any],
    judge_scores: Sequence[Any],
    leaks: Sequence[bool] | None = None,
    **kwargs: Any,
) -> list[float]:
    """J: the judge's usefulness score in [0, 1], zeroed where the strategy leaks the answer.

    >>> judge_reward(["a", "b"], judge_scores=[0.8, 0.9], leaks=[False, True])
    [0.8, 0.0]
    """
    _check_length("judge_scores", judge_scores, completions)
    leaks = [False] * len(completions) if leaks is None else leaks
    _check_length("leaks", leaks, completions)
    return [
        0.0 if leak or s is None else as_score(min(1.0, max(0.0, s)))  # a judge can't exceed 1
        for s, leak in zip(judge_scores, leaks, strict=True)
    ]


def non_regression_penalty(
    completions: Sequence[Any],
    task_scores: Sequence[Any],
    unguided_scores: Sequence[Any],
    mu: float = MU,
    **kwargs: Any,
) -> list[float]:
    """μ · max(0, R_unguided − R_guided): the price of making the core worse than it is alone.

    >>> non_regression_penalty(["a", "b"], task_scores=[0.0, 1.0], unguided_scores=[1.0, 0.0])
    [0.5, 0.0]
    """
    _check_weight("mu", mu)
    _check_length("task_scores", task_scores, completions)
    _check_length("unguided_scores", unguided_scores, completions)
    return [
        mu * max(0.0, as_score(u) - as_score(g))
        for g, u in zip(task_scores, unguided_scores, strict=True)
    ]


def shaped_reward(
    completions: Sequence[Any],
    task_scores: Sequence[Any],
    unguided_scores: Sequence[Any],
    judge_scores: Sequence[Any] | None = None,
    leaks: Sequence[bool] | None = None,
    alpha_fmt: float = ALPHA_FMT,
    lambda_judge: float = LAMBDA_JUDGE,
    mu: float = MU,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    count_tokens: Callable[[str], int] = count_words,
    **kwargs: Any,
) -> list[float]:
    """r = 1[valid] · (R_task + α_fmt + λ·J − μ·max(0, R_unguided − R_task)), §A.8.

    ``judge_scores=None`` means no judge (J = 0).

    >>> done = "<strategy>1. add the counts</strategy>"
    >>> shaped_reward([done, "1. add the counts"], task_scores=[1.0, 1.0],
    ...               unguided_scores=[0.0, 0.0], judge_scores=[0.5, 0.5])
    [1.2, 0.0]
    """
    for name, weight in (("alpha_fmt", alpha_fmt), ("lambda_judge", lambda_judge), ("mu", mu)):
        _check_weight(name, weight)
    gate = format_reward(completions, token_budget, count_tokens)
    task = task_reward(completions, task_scores)
    hinge = non_regression_penalty(completions, task_scores, unguided_scores, mu=mu)
    if judge_scores is None:
        judge = [0.0] * len(completions)
    else:
        judge = judge_reward(completions, judge_scores, leaks)
    return [
        round(g * (t + alpha_fmt + lambda_judge * j - h), 12)
        for g, t, j, h in zip(gate, task, judge, hinge, strict=True)
    ]


def rounded_mean(values: Sequence[float]) -> float:
    """The mean a GRPO step row logs: 6 decimals, 0.0 for no values.

    >>> rounded_mean([1.0, 0.0, 0.0]), rounded_mean([])
    (0.333333, 0.0)
    """
    return round(sum(values) / len(values), 6) if values else 0.0


def as_score(value: Any) -> float:
    """A metric's verdict as a float in [0, 1]: the one rule acceptance sampling, GRPO and the
    valset share. ``True`` → 1.0; ``None`` or NaN (no verdict) → 0.0; anything else raises.

    >>> as_score(True), as_score(None), as_score(0.25)
    (1.0, 0.0, 0.25)
    """
    if value is None:
        return 0.0
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"a score must be a number or a bool (metric/judge output), got {value!r}"
        ) from None
    if math.isnan(score):
        return 0.0
    if not 0.0 <= score <= 1.0:
        raise ValueError(
            f"the metric returned {value!r}: a score is a bool or a float in [0, 1] "
            "(e.g. return pred.answer == example.gold)"
        )
    return score


def _check_weight(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0 (§A.8), got {value!r}")


def _check_length(name: str, values: Sequence[Any], completions: Sequence[Any]) -> None:
    if len(values) != len(completions):
        raise ValueError(
            f"{name} has {len(values)} entries but there are {len(completions)} completions: "
            "pass one score per completion"
        )
