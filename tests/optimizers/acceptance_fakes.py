"""Fakes for the acceptance-sampling tests: a scripted teacher and core for addition problems,
a concurrent local backend with latency and a kill switch, and an OpenAI-compatible HTTP server
that answers like the scripted core and injects faults (see :mod:`fault_server`).

The task: "What is A plus B?" with gold A + B. The core answers correctly only when the strategy
says to ``add carefully`` (and never for questions marked ``impossible``). The teacher's first
proposal lacks the keyword; once told it failed, it adds it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import dspy
from fault_server import Fault, FaultServer

import gcop
from gcop.lm.provider import ChatCompletion, register_backend, unregister_backend
from gcop.modules.strategy_adapter import STRATEGY_HEADER
from gcop.signatures import MathGuide, MathSolve

KEYWORD = "add carefully"
FIRST_TRY = "<strategy>\n1. Read the two numbers.\n2. Combine them somehow.\n</strategy>"
REFINED = f"<strategy>\n1. Read the two numbers.\n2. {KEYWORD} the two numbers.\n</strategy>"


class SimulatedKill(BaseException):
    """Stands for a Ctrl-C or a killed process: not an Exception, so nothing retries it."""


def question(a: int, b: int, tag: str = "") -> str:
    return f"{tag}What is {a} plus {b}?".strip()


def example(a: int, b: int, tag: str = "") -> dspy.Example:
    return dspy.Example(question=question(a, b, tag), gold=str(a + b)).with_inputs("question")


def trainset(n: int, tag: str = "", start: int = 1) -> list[dspy.Example]:
    return [example(start + i, 10 * (start + i), tag) for i in range(n)]


def metric(example: dspy.Example, prediction, trace=None) -> bool:
    numbers = re.findall(r"-?\d+", prediction.answer or "")
    return bool(numbers) and numbers[-1] == example.gold


def user_text(messages: list[dict]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def core_answer(messages: list[dict]) -> str:
    """The scripted core: right only when the strategy says to add carefully."""
    text = user_text(messages)
    a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)\?", text).groups())
    strategy = text.split(STRATEGY_HEADER, 1)[1] if STRATEGY_HEADER in text else ""
    right = KEYWORD in strategy and "impossible" not in text
    answer = a + b if right else a + b + 1
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


class PatternCore:
    """A core whose i-th call on a question succeeds per a pattern, e.g. ``"SFSS"`` (cycled);
    questions without a pattern behave like :func:`core_answer`."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self.patterns, self.seen, self._lock = patterns, Counter(), threading.Lock()

    def __call__(self, messages: list[dict]) -> str:
        text = user_text(messages)
        a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)\?", text).groups())
        tag = next((tag for tag in self.patterns if tag in text), None)
        if tag is None:
            return core_answer(messages)
        with self._lock:  # counted per prompt (question + strategy)
            i = self.seen[text]
            self.seen[text] += 1
        pattern = self.patterns[tag]
        right = pattern[i % len(pattern)] == "S"
        return f"[[ ## answer ## ]]\nThe answer is {a + b if right else a + b + 1}"


def teacher_reply(messages: list[dict]) -> str:
    """The scripted teacher: a weak first try, the keyword once told it failed.

    Questions tagged ``sloppy`` first get a reply without tags (invalid); ``leaky`` ones first get
    a strategy stating the answer.
    """
    text = user_text(messages)
    if "Your previous reply was" in text:
        return REFINED
    if "sloppy" in text:
        return "Just add the numbers."
    if "leaky" in text:
        a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)\?", text).groups())
        return f"<strategy>\n1. {KEYWORD}: the total is {a + b}.\n</strategy>"
    return FIRST_TRY


class Backend:
    """A ``local/<name>`` chat backend replying with ``reply(messages)``.

    Unlike ``fakes.ScriptedLM`` it holds no lock while replying, so concurrent calls overlap (and
    ``latency_s`` adds up only per call). After ``kill_after`` served calls it raises
    :class:`SimulatedKill`. ``calls`` lists the served calls' last user messages.
    """

    def __init__(
        self,
        reply: Callable[[list[dict]], str],
        *,
        name: str = "",
        latency_s: float = 0.0,
        kill_after: int | None = None,
    ) -> None:
        self.reply, self.latency_s, self.kill_after = reply, latency_s, kill_after
        self.name = name or f"fake-{uuid.uuid4().hex[:8]}"
        self.calls: list[str] = []
        self.running = self.max_running = self.started = 0
        self._lock = threading.Lock()
        self.model_string = register_backend(self.name, self)

    def complete(self, messages, *, n=1, **sampling) -> ChatCompletion:
        with self._lock:
            self.started += 1
            if self.kill_after is not None and self.started > self.kill_after:
                raise SimulatedKill(f"killed at call {self.started}")
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            text = self.reply(messages)
        finally:
            with self._lock:
                self.running -= 1
        with self._lock:
            self.calls.append(user_text(messages))
        return ChatCompletion([text] * n, 10, len(text.split()) * n)

    def per_prompt(self) -> Counter:
        return Counter(self.calls)

    def close(self) -> None:
        unregister_backend(self.name)


def make_policy(core_model: str, guide_model: str, **core_kwargs) -> gcop.GuideCorePolicy:
    """A math policy whose core runs on ``core_model`` (no DSPy retries, so counts are exact)."""
    core_kwargs.setdefault("num_retries", 0)
    guide = gcop.Guide(MathGuide, lm=guide_model)
    return gcop.GuideCorePolicy(
        guide=guide, core=gcop.Core(MathSolve, lm=core_model, **core_kwargs)
    )


def teacher_for(policy: gcop.GuideCorePolicy, model: str, **kwargs):
    """The teacher as ``ExecTune.accept`` builds it: metered into the policy's ledger."""
    from gcop.lm.resolve import as_lm

    kwargs.setdefault("num_retries", 0)
    return as_lm(model, ledger=policy.ledger, role="teacher", temperature=0.7, **kwargs)


class FakeOpenAI(FaultServer):
    """A :class:`FaultServer` that answers like :func:`core_answer`; ``always_500(text)`` makes
    every request whose last user message matches fail with HTTP 500."""

    def __init__(
        self, faults: dict[int, Fault] | None = None, slow_s: float = 1.5, **kwargs
    ) -> None:
        self.always_500: Callable[[str], bool] = lambda text: False
        super().__init__(core_answer, faults, slow_s=slow_s, **kwargs)

    def fault_for(self, number: int, messages: list[dict]) -> Fault | None:
        fault = super().fault_for(number, messages)
        return 500 if fault is None and self.always_500(user_text(messages)) else fault
