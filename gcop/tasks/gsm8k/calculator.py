"""A calculator for GSM8K plans: what a numeric plan computes, and symbolic plans made numeric.

A numeric plan (``1. Compute 48/2.`` / ``2. Compute 48+24.``) spells out every calculation with
numbers, so what it leads to can be worked out without a model (:func:`plan_value`); guides that
sample several plans use it to see whether they agree (the kit's ``consensus``), a policy
compares it with the core's own answer (:func:`answer_value`), and GRPO checks a plan against
the gold answer without the core (:func:`plan_verdict`).

A symbolic plan (``1. A = 48/2`` / ``2. B = 48+A``) names earlier results by letter, so writing
one takes no arithmetic; this core cannot carry such plans out, but it carries out numeric ones.
:func:`render_symbolic` works out the letters and writes the numeric plan the core reads.

Only arithmetic is evaluated (numbers, + - * / // % **, parentheses); anything else gives
``None``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any

_SYMBOLIC_STEP = re.compile(r"^\s*\d+[.)]\s*([A-Z]\d*)\s*=\s*(.+?)\s*\.?\s*$")
_NAME = re.compile(r"\b[A-Z]\d*\b")
_STEP = re.compile(r"^\s*\d+[.)]\s*Compute\s+(.+?)\s*\.?\s*$", re.IGNORECASE | re.MULTILINE)
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_MAX_EXPONENT = 64  # 10**10**10 would hang; no GSM8K calculation needs more


def plan_value(plan: str) -> float | None:
    """The value of the plan's last ``Compute`` step, rounded to 6 decimals (so plans that reach
    the same number by different routes agree); ``None`` when the plan has no such step or its
    last expression is not plain arithmetic. A symbolic plan is rendered first.

    >>> plan_value("1. Compute 48/2.\\n2. Compute 48+24.")
    72.0
    >>> plan_value("1. Compute $1,200 * 0.5.") is None  # currency and thousands are not arithmetic
    True
    >>> plan_value("1. List the quantities.") is None
    True
    >>> plan_value("1. A = 48/2\\n2. B = 48+A")
    72.0
    """
    steps = _STEP.findall(plan) or _STEP.findall(render_symbolic(plan) or "")
    if not steps:
        return None
    value = _arithmetic(steps[-1])
    return None if value is None else round(value, 6)


def answer_value(prediction: Any) -> float | None:
    """The number a core's GSM8K answer ends with, on :func:`plan_value`'s scale (rounded to 6
    decimals), so a policy can see whether one of its guide's plans leads to it
    (the kit's ``answer_key``); ``None`` when the answer has no number.

    >>> import dspy
    >>> answer_value(dspy.Prediction(answer="48 + 24 = 72. The answer is 72."))
    72.0
    >>> answer_value(dspy.Prediction(answer="I cannot tell.")) is None
    True
    """
    from gcop.tasks.gsm8k.data import extract_number

    value = extract_number(str(getattr(prediction, "answer", None) or ""))
    return None if value is None else round(value, 6)


def render_symbolic(plan: str) -> str | None:
    """The numeric plan a symbolic one stands for: each step's letters replaced by the values
    of the steps that named them. ``None`` when a line is not ``<n>. <letter> = <arithmetic>``
    or names a letter no earlier step defined.

    >>> print(render_symbolic("1. A = 48/2\\n2. B = 48+A\\n3. C = B*2"))
    1. Compute 48/2.
    2. Compute 48+24.
    3. Compute 72*2.
    >>> render_symbolic("1. A = 48/2\\n2. B = C+1") is None
    True
    """
    steps = _numeric_steps(plan)
    return _numbered(steps) if steps else None


def render_one_operation(plan: str) -> str | None:
    """:func:`render_symbolic` with one operation a step: a step that combines several is split
    into its operations in the order they are worked out, each using the results before it
    (``12*2``, then ``8*1``, then ``24+8`` for ``12*2+8*1``). Not the kit's render: on GSM8K
    dev it did not change how often the 0.5B core carries out reference plans (evidence §7).
    An intermediate result that is not a short decimal (``1/6``) is not written out
    rounded: its operation stays in the step that uses it. ``None`` where
    :func:`render_symbolic` gives ``None``.

    >>> print(render_one_operation("1. A = 12*2+8*1\\n2. B = A/2\\n3. C = 1/6*B"))
    1. Compute 12*2.
    2. Compute 8*1.
    3. Compute 24+8.
    4. Compute 32/2.
    5. Compute (1/6)*16.
    """
    steps = _numeric_steps(plan)
    if not steps:
        return None
    operations: list[str] = []
    for step in steps:
        node = ast.parse(step, mode="eval").body  # parsed before: _numeric_steps checked it
        operations.append(_split(node, operations, last=True))
    return _numbered(operations)


def _numbered(calculations: list[str]) -> str:
    """The numeric plan the core reads: one ``<n>. Compute <calculation>.`` line each."""
    return "\n".join(f"{n}. Compute {text}." for n, text in enumerate(calculations, start=1))


def _numeric_steps(plan: str) -> list[str] | None:
    """Each step's expression with the letters of earlier steps replaced by their values;
    ``None`` for a plan that is not symbolic or not arithmetic."""
    values: dict[str, str] = {}
    steps = []
    for line in filter(str.strip, plan.splitlines()):
        match = _SYMBOLIC_STEP.match(line)
        if match is None:
            return None
        name, expression = match.groups()
        if any(used not in values for used in _NAME.findall(expression)):
            return None
        numeric = _NAME.sub(lambda m: values[m.group(0)], expression)
        value = _arithmetic(numeric)
        if value is None:
            return None
        values[name] = _number(value)
        steps.append(numeric)
    return steps


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
            ast.Mod: "%", ast.Pow: "**"}  # fmt: skip


def _split(node: ast.AST, operations: list[str], *, last: bool = False) -> str:
    """The text that stands for ``node`` in the operation using it: a number, or the operation
    itself where its result is not a short decimal; the operations before it are appended to
    ``operations``. ``last``: ``node`` is the step's whole expression (its text is returned)."""
    if not isinstance(node, ast.BinOp):
        return ast.unparse(node)
    left = _operand(node.left, operations)
    right = _operand(node.right, operations)
    text = f"{left}{_SYMBOLS[type(node.op)]}{right}"
    value = _evaluate(node)
    if last or not _is_short(value):
        return text
    operations.append(text)
    return _number(value)


def _operand(node: ast.AST, operations: list[str]) -> str:
    text = _split(node, operations)
    return f"({text})" if not _is_number(text) or text.startswith("-") else text


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


def _is_short(value: float) -> bool:
    """Whether ``value`` is written exactly with at most 4 decimals."""
    return abs(value * 10**4 - round(value * 10**4)) < 1e-6


def _number(value: float) -> str:
    """``24`` for 24.0, ``0.5``, ``3.333333`` for 10/3: as a person would write it."""
    rounded = round(float(value), 6)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.6f}".rstrip("0")


def _arithmetic(expression: str) -> float | None:
    """``expression``'s value as a float; ``None`` when it is not arithmetic or not a finite
    float (a division by zero, a number too large)."""
    try:
        value = float(_evaluate(ast.parse(expression, mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
    return value if math.isfinite(value) else None


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"not arithmetic: {ast.dump(node)}")


def operations_per_step(plan: str) -> list[int] | None:
    """How many arithmetic operations each step's expression holds, as the guide wrote it
    (``A = 12*2+8*1`` holds 3; a letter is an operand); ``None`` for a plan that is neither
    symbolic nor numeric, or a step that does not parse.

    >>> operations_per_step("1. A = 12*2+8*1\\n2. B = A/2")
    [3, 1]
    >>> operations_per_step("1. List the quantities.") is None
    True
    """
    expressions = [m.group(2) for m in map(_SYMBOLIC_STEP.match, plan.splitlines()) if m]
    expressions = expressions or _STEP.findall(plan)
    if not expressions:
        return None
    counts = []
    for expression in expressions:
        try:
            tree = ast.parse(expression, mode="eval")
        except SyntaxError:
            return None
        counts.append(sum(isinstance(node, ast.BinOp) for node in ast.walk(tree)))
    return counts


def plan_verdict(strategy: str, example: Any) -> float | None:
    """1.0 when the plan computes the example's gold answer, 0.0 when it computes anything else
    or nothing a calculator can work out; ``None`` for an example without a gold number. A check
    of a plan without the core (the kit's ``verifier``, GRPO's plan reward).

    >>> import dspy
    >>> plan_verdict("1. A = 48/2\\n2. B = 48+A", dspy.Example(gold="72"))
    1.0
    >>> plan_verdict("1. Compute 48+2.", dspy.Example(gold="72"))
    0.0
    """
    from gcop.tasks.gsm8k.data import extract_number

    gold = extract_number(str(getattr(example, "gold", None) or ""))
    if gold is None:
        return None
    value = plan_value(strategy)
    return float(value is not None and value == round(gold, 6))


def stepwise_plan_verdict(strategy: str, example: Any) -> float | None:
    """:func:`plan_verdict`, and 0.0 for a right plan with a step of several operations: a
    structure-aware plan reward. GRPO on :func:`plan_verdict` alone taught the guide to pack a
    plan's steps (``A = 12*2+8*1+3*2``), which the 0.5B core carries out less often (evidence §7).

    >>> import dspy
    >>> stepwise_plan_verdict("1. A = 48/2\\n2. B = 48+A", dspy.Example(gold="72"))
    1.0
    >>> stepwise_plan_verdict("1. A = 48+48/2", dspy.Example(gold="72"))
    0.0
    """
    verdict = plan_verdict(strategy, example)
    if not verdict:
        return verdict
    counts = operations_per_step(strategy)
    return float(counts is not None and max(counts) <= 1)
