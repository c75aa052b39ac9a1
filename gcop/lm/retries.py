"""Retrying a call on transient failures, with backoff: the one retry rule every gcop call obeys.

Transient failures (timeouts, rate limits, 5xx, dropped connections, malformed replies) are retried
with exponential backoff; one that persists comes back as an error string, never as an exception.
Anything else (a bad key, a bug in a metric) is raised.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gcop.lm.unanswered import refused_unsent
from gcop.secrets import redact

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0  # first retry waits about this long, then 2x, 4x, ...
BACKOFF_MAX_S = 30.0
ERROR_CHARS = 500  # an error's text is cut to this many characters, as a trial's output
_TRANSIENT_NAMES = {
    "APIConnectionError",
    "APITimeoutError",
    "BadGatewayError",
    "InternalServerError",
    "RateLimitError",
    "ServiceUnavailableError",
    "Timeout",
}


@dataclass(frozen=True)
class Attempted:
    """What :func:`call_with_retries` got: the call's ``value``, or the last transient ``error``
    (redacted text) when every attempt failed; ``attempts`` counts the requests sent."""

    value: Any
    error: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error is None


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
) -> Attempted:
    """Run ``fn`` up to ``1 + max_retries`` times on transient errors.

    ``may_retry`` (e.g. a budget) is asked before each retry; ``False`` stops the retries. A
    request refused because its server let an earlier one time out is not retried: a few
    seconds will not revive a hung server (see :mod:`gcop.lm.unanswered`). Non-transient errors
    propagate.
    """
    attempt = 0
    while True:
        try:
            return Attempted(fn(), None, attempt + 1)
        except Exception as error:
            if not is_transient(error):
                raise
            text = redact(f"{type(error).__name__}: {error}")[:ERROR_CHARS]
            if refused_unsent(error):  # not sent: it is no attempt, and retrying cannot help
                return Attempted(None, text, attempt)
            if attempt >= max_retries:
                return Attempted(None, text, attempt + 1)
            if may_retry is not None and not may_retry():
                return Attempted(None, f"{text} (not retried: the budget is spent)", attempt + 1)
            delay = backoff_delay(attempt, error)
            logger.debug("transient error (%s); retry %d in %.2fs", text, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1
