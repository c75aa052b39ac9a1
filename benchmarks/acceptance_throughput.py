"""Acceptance-sampling wall time with one core call in flight vs. eight.

    python benchmarks/acceptance_throughput.py                  # 24 tasks, 0.2 s per core call
    python benchmarks/acceptance_throughput.py --tasks 48 --latency 0.5

The core is an in-process fake that sleeps ``--latency`` seconds per call (a stand-in for an API
round trip) and succeeds when the strategy says to add; the teacher answers at once. With the
paper's k = 4, τ = 0.75 and early stopping, each task takes 3 core calls in two waves (2, then 1).
The target is a speed-up of at least 6x at concurrency 8.
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

import gcop  # noqa: E402
from gcop.lm.provider import ChatCompletion, register_backend, unregister_backend  # noqa: E402
from gcop.lm.resolve import as_lm  # noqa: E402
from gcop.optimizers.acceptance.run import run_acceptance  # noqa: E402
from gcop.optimizers.config import ExecTuneConfig  # noqa: E402
from gcop.signatures import MathGuide, MathSolve  # noqa: E402

STRATEGY = "<strategy>\n1. Read the two numbers.\n2. Add them.\n</strategy>"


class SleepyCore:
    """A chat backend that waits ``latency_s`` (without holding any lock), then answers."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls = 0

    def complete(self, messages, *, n=1, **sampling) -> ChatCompletion:
        time.sleep(self.latency_s)
        self.calls += 1
        text = messages[-1]["content"]
        a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)\?", text).groups())
        answer = a + b if "Add them" in text else a + b + 1
        reply = f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"
        return ChatCompletion([reply] * n, 50, 10)


class InstantTeacher:
    def complete(self, messages, *, n=1, **sampling) -> ChatCompletion:
        return ChatCompletion([STRATEGY] * n, 100, 20)


def metric(example, prediction, trace=None) -> bool:
    numbers = re.findall(r"-?\d+", prediction.answer or "")
    return bool(numbers) and numbers[-1] == example.gold


def run_once(n_tasks: int, latency_s: float, concurrency: int) -> tuple[float, int]:
    """Wall seconds and core calls for one acceptance run (fresh models, so nothing is cached)."""
    tag = uuid.uuid4().hex[:6]
    core_backend = SleepyCore(latency_s)
    core_model = register_backend(f"bench-core-{tag}", core_backend)
    teacher_model = register_backend(f"bench-teacher-{tag}", InstantTeacher())
    try:
        guide = gcop.Guide(MathGuide, lm=teacher_model)
        core = gcop.Core(MathSolve, lm=core_model, num_retries=0)
        policy = gcop.GuideCorePolicy(guide=guide, core=core)
        teacher_lm = as_lm(teacher_model, ledger=policy.ledger, role="teacher", temperature=0.7)
        trainset = [
            dspy.Example(question=f"What is {i} plus {i + 7}?", gold=str(2 * i + 7)).with_inputs(
                "question"
            )
            for i in range(n_tasks)
        ]
        config = ExecTuneConfig(concurrency=concurrency)
        start = time.perf_counter()
        result = run_acceptance(
            policy, trainset, teacher_lm=teacher_lm, metric=metric, config=config
        )
        elapsed = time.perf_counter() - start
        if len(result.accepted) != n_tasks:
            raise RuntimeError(f"expected {n_tasks} accepted tasks, got {len(result.accepted)}")
        return elapsed, core_backend.calls
    finally:
        unregister_backend(f"bench-core-{tag}")
        unregister_backend(f"bench-teacher-{tag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=24, help="training tasks")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per core call")
    args = parser.parse_args()
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
    run_once(2, 0.0, 1)  # warm-up: imports LiteLLM, builds the adapters
    serial, calls = run_once(args.tasks, args.latency, concurrency=1)
    parallel, _ = run_once(args.tasks, args.latency, concurrency=8)
    print(f"{args.tasks} tasks, {calls} core calls of {args.latency:.2f} s each")
    print(f"concurrency 1: {serial:6.2f} s")
    print(f"concurrency 8: {parallel:6.2f} s")
    print(f"speed-up:      {serial / parallel:6.2f}x (target >= 6x)")


if __name__ == "__main__":
    main()
