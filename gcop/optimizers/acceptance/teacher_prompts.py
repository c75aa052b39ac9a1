"""The teacher's prompts for acceptance sampling: propose a strategy, then refine it on feedback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gcop.optimizers.acceptance.records import Verdict
from gcop.strategy import CLOSE_TAG, OPEN_TAG

GENERIC_GUIDANCE = (
    "Write a short numbered plan of the steps to take, in order, naming the quantities or parts of "
    "the task each step uses."
)
MAX_FEEDBACK_OUTPUTS = 3  # core outputs quoted back to the teacher per rejected proposal
MAX_REFERENCE_CHARS = 4000


def teacher_messages(
    inputs: Mapping[str, Any],
    *,
    guidance: str = GENERIC_GUIDANCE,
    token_budget: int = 256,
    reference: Mapping[str, Any] | None = None,
    feedback: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages asking the teacher for one strategy for the task ``inputs``.

    Args:
        inputs: the task's input fields (what the core sees).
        guidance: what a good strategy looks like (the guide signature's instructions).
        token_budget: the most tokens the strategy may have, in the guide's tokenizer; the
            teacher is asked for half as many words, since tokenizers split numbers and symbols.
        reference: the privileged teacher's view of the reference solution (``None``: not shown).
        feedback: what went wrong with the previous proposal, when refining.
    """
    rules = [
        f"Reply with exactly one {OPEN_TAG}...{CLOSE_TAG} block and nothing else, at most "
        f"{max(1, token_budget // 2)} words.",
        "Describe the method (steps, quantities, checks, edge cases), not the result: never state "
        "the final answer and never write the finished solution. A strategy that gives the answer "
        "away is rejected.",
    ]
    if reference is not None:
        rules.append(
            "You are shown a reference solution so you can choose the right method. Use it only "
            "to plan: the final answer and the reference's code must NOT appear in the strategy."
        )
    system = (
        "You are an expert teacher. A solver model (the core) will solve the task below while "
        "following the strategy you write. Write the strategy that makes THIS core most likely to "
        f"solve it correctly.\n\nWhat a good strategy looks like: {guidance.strip()}\n\nRules:\n"
        + "\n".join(f"- {rule}" for rule in rules)
    )
    parts = [_fields_text(inputs)]
    if reference is not None:
        shown = _fields_text(reference)[:MAX_REFERENCE_CHARS]
        parts.append(f"Reference solution (for planning only; do not reveal it):\n{shown}")
    if feedback:
        parts.append(feedback)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def refinement_feedback(
    completion: str,
    *,
    verdict: Verdict,
    reason: str = "",
    outcomes: Sequence[tuple[float, str]] = (),
    tau: float = 0.75,
) -> str:
    """What the teacher is told about its previous proposal before it tries again.

    Args:
        completion: the teacher's previous reply (the strategy block, or the invalid text).
        verdict: ``invalid``, ``leak`` or ``rejected``.
        reason: the parser's reason for an invalid reply.
        outcomes: ``(score, core output)`` per trial of a rejected strategy.
        tau: the acceptance threshold.
    """
    head = f"Your previous reply was:\n{completion.strip()}\n\n"
    if verdict == Verdict.INVALID:
        return head + (
            f"It was rejected before the core ran it: {reason}. Reply with exactly one "
            f"{OPEN_TAG}...{CLOSE_TAG} block."
        )
    if verdict == Verdict.LEAK:
        return head + (
            "It was rejected because it gives away the final answer (or the solution's code). "
            "Describe how to reach the answer without stating it."
        )
    successes = sum(score for score, _ in outcomes)
    lines = [
        head + f"The core followed it in {len(outcomes)} trial(s) and succeeded in "
        f"{successes:g} (needs a success rate of at least {tau:.2f}), so it was rejected.",
    ]
    failed = [(score, text) for score, text in outcomes if score < 1][:MAX_FEEDBACK_OUTPUTS]
    for number, (score, text) in enumerate(failed, start=1):
        lines.append(f"Core output {number} (score {score:g}):\n{text.strip()}")
    lines.append(
        "Write an improved strategy that fixes what the core got wrong; keep it easy to follow."
    )
    return "\n\n".join(lines)


def _fields_text(fields: Mapping[str, Any]) -> str:
    return "\n\n".join(
        f"{name.replace('_', ' ').capitalize()}:\n{value}" for name, value in fields.items()
    )
