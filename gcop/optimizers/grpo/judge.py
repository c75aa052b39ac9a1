"""LLM-as-judge: how useful and specific is a strategy for its task, in [0, 1] (§A.8).

The judge must answer in a strict two-line format (``SCORE: 0.7`` / ``LEAK: no``; the leak line
may also read 1/0 or true/false for yes/no). Anything else scores 0 and is counted, never
raised: a flaky judge must not stop a training run. A deterministic
check (:func:`gcop.optimizers.acceptance.leakage.leaks_answer`) backs the judge up: a strategy
that gives the answer away scores 0 whatever the judge says.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gcop.lm.chat import chat
from gcop.lm.retries import call_with_retries
from gcop.optimizers.acceptance.leakage import leaks_answer

logger = logging.getLogger(__name__)

JUDGE_INSTRUCTIONS = """You review a plan that a small model wrote for a larger model to follow \
while it solves a task. Rate how useful and specific the plan is for THIS task: 1 means concrete, \
correct steps that the solver can carry out; 0 means generic, wrong, or unrelated. A plan that \
states the final answer or pastes the finished solution is a leak.
Reply with exactly these two lines and nothing else:
SCORE: <a number from 0 to 1>
LEAK: <yes or no>"""


# what a judge may write on its LEAK line; small models write 0/1 or true/false for no/yes
_LEAK_WORDS = {"yes": True, "no": False, "1": True, "0": False, "true": True, "false": False}


@dataclass(frozen=True)
class JudgeVerdict:
    """The judge's reading of one strategy: ``ok`` is False when its reply was unusable."""

    score: float
    leak: bool = False
    ok: bool = True
    raw: str = ""


def parse_verdict(text: str) -> JudgeVerdict | None:
    """Read a ``SCORE:``/``LEAK:`` reply; ``None`` when it does not follow the format.

    >>> parse_verdict("SCORE: 0.7\\nLEAK: no")
    JudgeVerdict(score=0.7, leak=False, ok=True, raw='SCORE: 0.7\\nLEAK: no')
    >>> parse_verdict("I think it is good, 8/10") is None
    True
    """
    if not isinstance(text, str):
        return None
    score: float | None = None
    leak: bool | None = None
    for line in text.strip().splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        key, value = key.strip().strip("*").strip().upper(), value.strip().strip("*").strip()
        if key == "SCORE" and score is None:
            try:
                score = float(value)
            except ValueError:
                return None
            if not 0.0 <= score <= 1.0:
                return None
        elif key == "LEAK" and leak is None:
            if value.lower() not in _LEAK_WORDS:
                return None
            leak = _LEAK_WORDS[value.lower()]
    if score is None or leak is None:
        return None
    return JudgeVerdict(score=score, leak=leak, raw=text)


class StrategyJudge:
    """Scores strategies with any LM (``MeteredLM``/``dspy.LM``); counts unusable replies.

    Args:
        lm: the judge LM (a ``dspy.LM``), asked through :func:`gcop.lm.chat.chat`; temperature
            0 makes it cacheable.
        concurrency: judge calls in flight at once in :meth:`score_many`.

    Attributes ``garbage`` (replies off the format) and ``errors`` (calls that raised) count the
    verdicts that fell back to 0; ``calls`` counts all verdicts asked for.
    """

    def __init__(self, lm: Any, *, concurrency: int = 8) -> None:
        import dspy

        if not isinstance(lm, dspy.BaseLM):
            raise TypeError(f"the judge needs a dspy.LM (e.g. a MeteredLM), got {lm!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be ≥ 1, got {concurrency}")
        self.lm = lm
        self.concurrency = concurrency
        self.calls = self.garbage = self.errors = 0
        self._lock = threading.Lock()

    def messages(self, task: dict[str, Any], strategy: str) -> list[dict]:
        """The judge's prompt for one (task, strategy) pair."""
        fields = "\n\n".join(
            f"{name.replace('_', ' ').capitalize()}:\n{v}" for name, v in task.items()
        )
        return [
            {"role": "system", "content": JUDGE_INSTRUCTIONS},
            {"role": "user", "content": f"Task:\n{fields}\n\nPlan:\n{strategy.strip()}"},
        ]

    def score(
        self, task: dict[str, Any], strategy: str, example: Any = None, *, max_retries: int = 0
    ) -> JudgeVerdict:
        """Judge one strategy; ``example`` (a ``dspy.Example`` with the reference) enables the
        deterministic leak check. A transient failure of the judge call is retried up to
        ``max_retries`` times, with backoff."""
        with self._lock:
            self.calls += 1
        if example is not None and leaks_answer(strategy, example):
            return JudgeVerdict(score=0.0, leak=True)
        ask = functools.partial(chat, self.lm, self.messages(task, strategy))
        try:
            attempted = call_with_retries(ask, max_retries)
            reply, failure = attempted.value, attempted.error
        except Exception as error:  # a failure that is not transient
            reply, failure = None, f"{type(error).__name__}: {error}"
        if failure is not None:  # a judge outage must not kill the run: score 0, counted
            with self._lock:
                self.errors += 1
            logger.warning("judge call failed (%d so far): %s", self.errors, failure)
            return JudgeVerdict(score=0.0, ok=False, raw=failure)
        verdict = parse_verdict(reply)
        if verdict is None:
            with self._lock:
                self.garbage += 1
            logger.warning(
                "judge reply off the SCORE/LEAK format (%d so far), scored 0: %.120r",
                self.garbage,
                reply,
            )
            return JudgeVerdict(score=0.0, ok=False, raw=str(reply))
        return verdict

    def score_many(self, items: Sequence[tuple[dict[str, Any], str, Any]]) -> list[JudgeVerdict]:
        """Judge ``(task, strategy, example)`` triples concurrently, in order."""
        if len(items) <= 1 or self.concurrency == 1:
            return [self.score(*item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(lambda item: self.score(*item), items))

    def stats(self) -> dict[str, int]:
        """JSON-able counters."""
        return {"calls": self.calls, "garbage": self.garbage, "errors": self.errors}
