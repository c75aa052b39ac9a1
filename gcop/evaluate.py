"""Run a program over a dataset: accuracy with a 95% interval, executability η, cost, utility."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import dspy

from gcop.cost import CostSummary, CostUnit, cost_scope, net_utility, summarize
from gcop.lm.retries import call_with_retries
from gcop.modules.plan_consensus import ABSTAINED, KEPT_ANSWER
from gcop.modules.strategy_kit import UNRENDERED
from gcop.optimizers.grpo.rewards import as_score
from gcop.secrets import redact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExampleResult:
    """One example's outcome. ``error`` is set when the program or the metric raised (an API
    outage, a timeout, a sandbox failure): the example then has no score (``score`` is 0 only so
    that per-example lists stay numeric) and is left out of accuracy."""

    index: int
    score: float
    valid: bool | None  # the guide's strategy passed the parser; None when no guide ran
    strategy: str
    output: str
    cost: CostSummary
    error: str | None = None
    reason: str = ""  # why the guide's strategy was or was not sent (the policy's ``reason``)


@dataclass(frozen=True)
class EvaluationResult:
    """Aggregates over a dataset (see :func:`evaluate`).

    ``accuracy``, its interval and η count only the ``scored`` examples: the ``errors`` examples,
    whose program or metric raised, are neither right nor wrong. ``all_failed`` says the run
    measured nothing (every example errored).
    """

    name: str
    n: int
    accuracy: float  # correct / scored; NaN when nothing was scored
    ci_low: float
    ci_high: float
    executability: float | None  # η: successes among the valid strategies the core read (§3.3)
    valid_rate: float | None
    cost: CostSummary  # totals over the dataset
    cost_unit: str
    cost_weight: float
    errors: int = 0
    guide_use: dict[str, int] | None = None  # scored guided examples by GUIDE_USES; None unguided
    results: list[ExampleResult] = field(repr=False, default_factory=list)

    @property
    def scored(self) -> int:
        """Examples that ran to a score (``n`` minus ``errors``)."""
        return self.n - self.errors

    @property
    def all_failed(self) -> bool:
        """Every example errored: the numbers describe the infrastructure, not the model."""
        return self.errors == self.n

    @property
    def mean_cost(self) -> float:
        """Mean cost per task in ``cost_unit`` (NaN when the dollar cost is unknown)."""
        try:
            return self.cost.in_unit(self.cost_unit) / max(self.n, 1)  # type: ignore[arg-type]
        except ValueError:
            return math.nan

    @property
    def net_utility(self) -> float:
        """J = V − λ·C with V the accuracy and C the mean cost per task."""
        return net_utility(self.accuracy, self.mean_cost, self.cost_weight)

    def to_dict(self, with_results: bool = False) -> dict[str, Any]:
        data = {
            key: value for key, value in asdict(self).items() if with_results or key != "results"
        }
        data.update(mean_cost=self.mean_cost, net_utility=self.net_utility)
        return data


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion.

    >>> tuple(round(x, 3) for x in wilson_interval(7, 10))
    (0.397, 0.892)
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def evaluate(
    program: Callable[..., dspy.Prediction],
    dataset: Sequence[dspy.Example],
    metric: Callable[..., Any],
    *,
    name: str = "",
    num_threads: int = 8,
    cost_weight: float = 0.0,
    cost_unit: CostUnit = "tokens",
    progress: bool | Any = True,
    max_retries: int = 3,
) -> EvaluationResult:
    """Score ``program`` on ``dataset`` with ``metric(example, prediction, trace=None)``.

    Examples run concurrently (``num_threads``) under a progress bar (``progress=False``: none;
    a tqdm bar of the caller's: advanced instead, as :func:`evaluate_all` shares one). A
    transient failure of the program (a rate limit, a 5xx, a timeout) is retried up to
    ``max_retries`` times with backoff, as in acceptance sampling. A reply the program cannot
    parse is a wrong answer; any other exception of the program or the metric, and a transient
    one that outlasts the retries, makes the example an error (kept in its ``error``, counted in
    ``errors``, left out of accuracy), so an outage never reads as a bad model. An example's cost
    is that of every call recorded while it ran, failed attempts included. A metric returns a
    bool or a number in [0, 1] (:func:`~gcop.optimizers.grpo.rewards.as_score`); anything else
    raises at once.
    """
    if not dataset:
        raise ValueError("dataset is empty: pass at least one dspy.Example")
    if max_retries < 0:
        raise ValueError(f"max_retries must be ≥ 0, got {max_retries}")
    from dspy.utils.exceptions import AdapterParseError
    from tqdm.auto import tqdm

    def run(index: int) -> ExampleResult:
        example = dataset[index]
        prediction, verdict, error, output = dspy.Prediction(), None, None, ""
        with cost_scope() as calls:
            try:
                attempted = call_with_retries(lambda: program(**example.inputs()), max_retries)
                if attempted.ok:
                    prediction = attempted.value
                    verdict = metric(example, prediction, None)
                    output = _main_output(prediction)
                else:
                    failure, attempts = attempted.error, attempted.attempts
                    logger.warning("example %d failed %d times: %s", index, attempts, failure)
                    error = f"{failure} (after {attempts} attempts)"
            except AdapterParseError as exc:  # the model's reply is its own failure
                prediction = dspy.Prediction(**getattr(exc, "plan", {}))
                output = f"(unparseable reply) {getattr(exc, 'lm_response', '') or exc}"[:2000]
            except Exception as exc:  # a failing example must not sink the whole evaluation
                logger.warning("example %d failed: %s", index, exc)
                error = redact(f"{type(exc).__name__}: {exc}")
        score = as_score(verdict)  # a metric returning a non-number is a bug: raised, not scored
        cost = summarize(calls)
        guided = "valid" in prediction and prediction.get("reason") != "unguided"
        return ExampleResult(
            index=index,
            score=score,
            valid=bool(prediction.get("valid")) if guided else None,
            strategy=prediction.get("strategy", "") or "",
            output=output,
            cost=cost,
            error=error,
            reason=str(prediction.get("reason", "") or ""),
        )

    shared = not isinstance(progress, bool)  # a caller's bar, counting more than this program
    bar = progress if shared else tqdm(total=len(dataset), desc=f"evaluate {name}".strip())
    if not shared:
        bar.disable = not progress
    with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
        futures = [pool.submit(run, i) for i in range(len(dataset))]
        results = []
        for future in futures:
            results.append(future.result())
            bar.update(1)
    if not shared:
        bar.close()
    return _aggregate(name, results, cost_weight, cost_unit)


def evaluate_all(
    programs: dict[str, Callable[..., dspy.Prediction]],
    dataset: Sequence[dspy.Example],
    metric: Callable[..., Any],
    **settings: Any,
) -> dict[str, EvaluationResult]:
    """:func:`evaluate` every program on ``dataset`` at once, so a local model serving several
    of them sees full batches from all, under one progress bar; ``settings`` go to each
    :func:`evaluate` call."""
    from tqdm.auto import tqdm

    show = settings.pop("progress", True)
    total = len(programs) * len(dataset)
    with (
        tqdm(total=total, desc=f"evaluate {len(programs)} programs", disable=not show) as bar,
        ThreadPoolExecutor(max_workers=len(programs)) as pool,
    ):
        futures = {
            name: pool.submit(
                evaluate, program, dataset, metric, name=name, progress=bar, **settings
            )
            for name, program in programs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def plan_sent(item: ExampleResult) -> bool:
    """Whether the core read the guide's plan (valid, and carried out by the kit's render)."""
    return bool(item.valid) and not item.reason.startswith(UNRENDERED)


GUIDE_USES = (  # how a guided example used its guide, told by the policy's reason; first match
    ("plan sent", plan_sent),
    ("plan not rendered, core alone", lambda item: item.reason.startswith(UNRENDERED)),
    ("core's answer kept", lambda item: item.reason.startswith(KEPT_ANSWER)),
    ("guide abstained", lambda item: item.reason.startswith(ABSTAINED)),
    ("no valid plan", lambda item: True),
)


def guide_use(guided: list[ExampleResult]) -> dict[str, int]:
    """How many of ``guided`` had the plan sent to the core, had a valid plan the kit's render
    could not carry out (the core ran alone), kept the core's own answer, saw the guide abstain,
    or got no valid plan."""
    counts = dict.fromkeys((name for name, _ in GUIDE_USES), 0)
    for item in guided:
        counts[next(name for name, applies in GUIDE_USES if applies(item))] += 1
    return counts


def _aggregate(
    name: str, results: list[ExampleResult], cost_weight: float, cost_unit: str
) -> EvaluationResult:
    scored = [r for r in results if r.error is None]
    correct = sum(r.score for r in scored)
    low, high = wilson_interval(correct, len(scored))
    guided = [r for r in scored if r.valid is not None]
    valid = [r for r in guided if r.valid]
    sent = [r for r in valid if plan_sent(r)]
    return EvaluationResult(
        name=name,
        n=len(results),
        accuracy=correct / len(scored) if scored else math.nan,
        ci_low=low,
        ci_high=high,
        executability=sum(r.score for r in sent) / len(sent) if sent else None,
        valid_rate=len(valid) / len(guided) if guided else None,
        cost=sum((r.cost for r in results), CostSummary()),
        cost_unit=cost_unit,
        cost_weight=cost_weight,
        errors=len(results) - len(scored),
        guide_use=guide_use(guided) if guided else None,
        results=results,
    )


def _main_output(prediction: dspy.Prediction) -> str:
    skip = {"strategy", "valid", "reason", "cost", "completion"}
    values = [str(v) for k, v in prediction.items() if k not in skip]
    return values[-1][:2000] if values else ""
