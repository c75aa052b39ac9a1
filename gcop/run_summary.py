"""The few lines ``gcop compile`` and ``gcop evaluate`` print (``--json`` prints the full record).

>>> print(evaluate_summary({"name": "core-only", "n": 10, "accuracy": 0.7, "ci_low": 0.4,
...     "ci_high": 0.89, "valid_rate": None, "errors": 0, "cost": {"calls": 10, "dollars": 0.0}},
...     out="runs/eval", wall_s=12.3))
core-only: accuracy 0.700 (95% CI 0.400-0.890) on 10 examples, 0 errors
cost: $0.0000 over 10 model calls; wall time 12 s
report: runs/eval/report.md (full record: --json)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def compile_summary(result: dict[str, Any], wall_s: float) -> str:
    """What a compile did: where the policy is, what was accepted, trained and spent.

    >>> print(compile_summary({"saved": "runs/x", "acceptance": {"accepted": 3, "total": 4,
    ...     "rejected": 1, "undecided": 0, "core_calls": 20, "teacher_calls": 6},
    ...     "sft": {"steps": 2, "epochs": 1.0, "n_pairs": 3, "final_loss": 1.25},
    ...     "grpo": {"steps": 2, "first_reward": 0.1, "final_reward": 0.4},
    ...     "cost": {"calls": 30, "dollars": 0.012}}, wall_s=61.0))
    policy saved to runs/x
    acceptance: 3 of 4 tasks accepted (1 rejected, 0 undecided); 20 core calls, 6 teacher calls
    SFT: 2 steps (1 epochs) on 3 pairs, final loss 1.25
    GRPO: 2 steps, reward 0.1 -> 0.4
    cost: $0.0120 over 30 model calls; wall time 61 s
    """
    lines = [f"policy saved to {result['saved']}"]
    acceptance = result.get("acceptance")
    if acceptance:
        lines.append(
            f"acceptance: {acceptance['accepted']} of {acceptance['total']} tasks accepted "
            f"({acceptance['rejected']} rejected, {acceptance['undecided']} undecided); "
            f"{acceptance['core_calls']} core calls, {acceptance['teacher_calls']} teacher calls"
        )
    sft = result.get("sft")
    if sft:
        lines.append(
            f"SFT: skipped ({sft['skipped']})"
            if "skipped" in sft
            else f"SFT: {sft['steps']} steps ({_number(sft.get('epochs'))} epochs) on "
            f"{sft['n_pairs']} pairs, final loss {_number(sft.get('final_loss'))}"
        )
    grpo = result.get("grpo")
    if grpo:
        lines.append(
            f"GRPO: {grpo['steps']} steps, reward {_number(grpo.get('first_reward'))} -> "
            f"{_number(grpo.get('final_reward'))}"
        )
    validation = result.get("validation")
    if isinstance(validation, dict) and validation.get("kept"):
        lines.append(f"validation: kept the policy after {validation['kept'].upper()}")
    lines.append(_cost_line(result.get("cost"), wall_s))
    return "\n".join(lines)


def evaluate_summary(result: dict[str, Any], out: str | Path, wall_s: float) -> str:
    """An evaluation's accuracy, cost and report path."""
    accuracy = result["accuracy"]
    shown = "n/a" if accuracy is None or math.isnan(accuracy) else f"{accuracy:.3f}"
    interval = f" (95% CI {result['ci_low']:.3f}-{result['ci_high']:.3f})"
    head = f"{result['name']}: accuracy {shown}{interval} on {result['n']} examples"
    if result.get("valid_rate") is not None:
        head += f", valid strategies {result['valid_rate']:.0%}"
    head += f", {result.get('errors', 0)} errors"
    report = Path(out) / "report.md"
    return "\n".join(
        [head, _cost_line(result.get("cost"), wall_s), f"report: {report} (full record: --json)"]
    )


def _cost_line(cost: dict[str, Any] | None, wall_s: float) -> str:
    wall = f"wall time {wall_s:.0f} s"
    if not cost:
        return wall
    dollars = cost.get("dollars")
    spent = "not priced" if dollars is None else f"${dollars:.4f}"  # a model without a price
    return f"cost: {spent} over {cost.get('calls', 0)} model calls; {wall}"


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"
