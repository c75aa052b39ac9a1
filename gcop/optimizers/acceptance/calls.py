"""The calls acceptance sampling makes (core trials, teacher proposals), with retries and backoff.

Transient failures (timeouts, rate limits, 5xx, dropped connections, malformed replies) are retried
with exponential backoff; one that persists comes back as an error string, never as a task
failure. Anything else (a bad key, a bug in the metric) is raised.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from gcop.cost import CallRecord, cost_scope
from gcop.lm.chat import chat
from gcop.lm.unanswered import refused_unsent
from gcop.optimizers.acceptance.records import OUTPUT_CHARS, TrialRecord, TrialStatus
from gcop.optimizers.grpo.rewards import as_score
from gcop.secrets import redact

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0  # first retry waits about this long, then 2x, 4x, ...
BACKOFF_MAX_S = 30.0
_TRANSIENT_NAMES = {
    "APIConnectionError",
    "APITimeoutError",
    "BadGatewayError",
    "InternalServerError",
    "RateLimitError",
    "ServiceUnavailableError",
    "Timeout",
}


def is_transient(error: BaseException) -> bool:
    """True for failures worth retrying: timeouts, rate limits, 5xx, connection errors, malformed
    replies. Authentication, billing and invalid-request errors are not transient."""
    from dspy.utils.exceptions import (
        LMAuthError,
        LMBillingError,
        LMInvalidRequestError,
        LMProviderError,
        LMUnexpectedError,
        is_retryable_lm_error,
    )

    if is_retryable_lm_error(error):
        return True
    if isinstance(error, LMAuthError | LMBillingError | LMInvalidRequestError):
        return False
    if isinstance(error, LMProviderError):
        return True  # e.g. an HTTP 200 whose body is not JSON
    if isinstance(error, TimeoutError | ConnectionError | json.JSONDecodeError):
        return True
    status = getattr(error, "status_code", None) or getattr(error, "status", None)
    if isinstance(status, int) and (status in (408, 409, 429) or status >= 500):
        return True
    if type(error).__name__ in _TRANSIENT_NAMES:
        return True
    if isinstance(error, LMUnexpectedError) and error.__cause__ is not None:
        return is_transient(error.__cause__)
    return False


def backoff_delay(attempt: int, error: BaseException | None = None) -> float:
    """Seconds to wait before retry ``attempt + 1``: the provider's ``retry_after`` if it gave
    one, else exponential backoff with a little jitter."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and 0 < hint < math.inf:
        return min(float(hint), BACKOFF_MAX_S)
    return min(BACKOFF_BASE_S * 2**attempt * (1 + 0.25 * random.random()), BACKOFF_MAX_S)


def call_with_retries(
    fn: Callable[[], Any],
    max_retries: int,
    may_retry: Callable[[], bool] | None = None,
) -> tuple[Any, str | None, int]:
    """Run ``fn`` up to ``1 + max_retries`` times on transient errors.

    ``may_retry`` (e.g. a budget) is asked before each retry; ``False`` stops the retries. A
    request refused because its server let an earlier one time out is not retried: a few
    seconds will not revive a hung server (see :mod:`gcop.lm.unanswered`). Returns
    ``(value, None, attempts)``, or ``(None, error text, attempts)`` when every attempt failed
    transiently (``attempts`` counts the requests sent). Non-transient errors propagate.
    """
    attempt = 0
    while True:
        try:
            return fn(), None, attempt + 1
        except Exception as error:
            if not is_transient(error):
                raise
            text = redact(f"{type(error).__name__}: {error}")[:OUTPUT_CHARS]
            if refused_unsent(error):  # not sent: it is no attempt, and retrying cannot help
                return None, text, attempt
            if attempt >= max_retries:
                return None, text, attempt + 1
            if may_retry is not None and not may_retry():
                return None, f"{text} (not retried: the budget is spent)", attempt + 1
            delay = backoff_delay(attempt, error)
            logger.debug("transient error (%s); retry %d in %.2fs", text, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1


def run_trial(
    core: Any,
    example: Any,
    inputs: dict[str, Any],
    strategy: str,
    metric: Callable[..., Any],
    *,
    index: int,
    rollout: int,
    temperature: float,
    max_retries: int,
    may_retry: Callable[[], bool] | None = None,
) -> tuple[TrialRecord, list[CallRecord]]:
    """Execute ``strategy`` on the core once (trial ``index``) and score it with ``metric``;
    ``may_retry`` is asked before each retry (see :func:`call_with_retries`)."""
    lm_kwargs = {"rollout_id": rollout, "temperature": temperature}
    with cost_scope() as calls:
        prediction, error, attempts = call_with_retries(
            lambda: _execute(core, strategy, lm_kwargs, inputs), max_retries, may_retry
        )
    if error is not None:
        record = TrialRecord(
            index, rollout, TrialStatus.INFRA_ERROR, error=error, attempts=attempts
        )
        return record, calls
    if isinstance(prediction, _Unparsed):  # the core's reply is its own failure, not infra
        output, score = f"(unparseable reply) {prediction.text}", 0.0
    else:
        output, score = output_text(prediction), as_score(metric(example, prediction))
    record = TrialRecord(
        index, rollout, TrialStatus.OK, score, output[:OUTPUT_CHARS], attempts=attempts
    )
    return record, calls


def propose(
    teacher_lm: Any,
    messages: list[dict],
    *,
    rollout: int,
    max_retries: int,
    may_retry: Callable[[], bool] | None = None,
) -> tuple[str | None, str | None, int, list[CallRecord]]:
    """Ask the teacher for one reply: ``(completion, error, attempts, calls)``; ``may_retry``
    is asked before each retry."""

    ask = functools.partial(chat, teacher_lm, messages, rollout_id=rollout)
    with cost_scope() as calls:
        completion, error, attempts = call_with_retries(ask, max_retries, may_retry)
    return completion, error, attempts, calls


def output_text(prediction: Any) -> str:
    """The core's output fields as text (what the teacher is shown when refining)."""
    items = prediction.items() if hasattr(prediction, "items") else [("output", prediction)]
    return "\n".join(f"{name}: {value}" for name, value in items if isinstance(value, str))


class _Unparsed:
    def __init__(self, text: str) -> None:
        self.text = text


def _execute(core: Any, strategy: str, lm_kwargs: dict, inputs: dict) -> Any:
    from dspy.utils.exceptions import AdapterParseError

    try:
        return core(strategy=strategy, lm_kwargs=lm_kwargs, **inputs)
    except AdapterParseError as error:
        return _Unparsed(str(getattr(error, "lm_response", "") or error))
