"""Acceptance sampling (§3.4, §A.6): keep the teacher's strategies that this core executes well.

For each training task the teacher proposes a ``<strategy>`` block; an invalid or answer-leaking
block is refused at once; otherwise the core runs it up to ``k`` times and the strategy is accepted
when the mean score is at least τ. A rejected proposal goes back to the teacher with feedback, for
up to ``max_rounds`` refinement rounds. The accepted pairs are the guide's SFT data; the
:mod:`~gcop.optimizers.acceptance.certificate` bounds how well the core executes them.

The loop itself is in :mod:`~gcop.optimizers.acceptance.sampler`; calls and retries in
:mod:`~gcop.optimizers.acceptance.calls`; resume in :mod:`~gcop.optimizers.acceptance.store`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from gcop.optimizers.acceptance.progress import fingerprint, prepare_tasks
from gcop.optimizers.acceptance.records import (
    AcceptanceResult,
    AcceptedStrategy,
    ProposalRecord,
    TrialRecord,
)
from gcop.optimizers.acceptance.sampler import AcceptanceLoop
from gcop.optimizers.acceptance.store import AcceptanceStore
from gcop.optimizers.config import ExecTuneConfig

__all__ = [
    "AcceptanceResult",
    "AcceptedStrategy",
    "ProposalRecord",
    "TrialRecord",
    "run_acceptance",
]

logger = logging.getLogger(__name__)


def run_acceptance(
    policy: Any,
    trainset: list,
    *,
    teacher_lm: Any,
    metric: Any,
    config: ExecTuneConfig | None = None,
    run_dir: str | Path | None = None,
) -> AcceptanceResult:
    """Propose, execute, accept or refine a strategy for every task of ``trainset``.

    Args:
        policy: a :class:`gcop.GuideCorePolicy`; its core executes the strategies, its ledger
            records every call, its guide (if any) sets the strategy style and token budget,
            counted in the guide's own tokens (:meth:`gcop.Guide.count_tokens`).
        trainset: ``dspy.Example`` tasks holding the fields the guide and core read.
        teacher_lm: the teacher, a ``dspy.LM`` (e.g. from :func:`gcop.lm.as_lm`).
        metric: ``metric(example, prediction, trace=None) -> bool | float`` in [0, 1].
        config: ``k``, ``tau``, rounds, early stopping, concurrency, retries and budgets.
        run_dir: when given, results are appended to ``run_dir/acceptance/`` as they arrive, and
            a rerun with the same arguments reuses them (no teacher or core calls for work done).

    Budgets (``max_core_calls``, ``max_dollars``) count this run's new calls; reused results
    are free. An infrastructure failure that outlasts the retries leaves its task undecided,
    never rejected; a rerun retries it.
    """
    config = config or ExecTuneConfig()
    tasks = prepare_tasks(policy, trainset, teacher_lm, metric)
    start = time.perf_counter()
    with AcceptanceStore(run_dir, fingerprint(policy, teacher_lm, config)) as store:
        result = AcceptanceLoop(policy, tasks, teacher_lm, metric, config, store).run()
        result.wall_time_s = round(time.perf_counter() - start, 3)
        store.write_summary(result.summary())
    logger.info(result.describe())
    if result.undecided:
        logger.warning(
            "%d task(s) were left undecided (infrastructure errors: %d, budget exhausted: %s); "
            "rerun with the same run_dir to finish them",
            len(result.undecided),
            result.infra_errors,
            result.budget_exhausted,
        )
    return result
