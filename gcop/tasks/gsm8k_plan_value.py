"""The number a numeric GSM8K plan computes: its last ``Compute <expression>.`` step, evaluated.

A numeric plan (``1. Compute 48/2.`` / ``2. Compute 48+24.``) spells out every calculation with
numbers, so what it leads to can be worked out without a model. Guides that sample several plans
for one question use it to see whether the plans agree (:class:`gcop.Guide`'s ``consensus``).
Only arithmetic is evaluated (numbers, + - * / // % **, parentheses); anything else gives
``None``.
"""

from __future__ import annotations

import ast
import operator
import re

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
    last expression is not plain arithmetic.

    >>> plan_value("1. Compute 48/2.\\n2. Compute 48+24.")
    72.0
    >>> plan_value("1. Compute $1,200 * 0.5.") is None  # currency and thousands are not arithmetic
    True
    >>> plan_value("1. List the quantities.") is None
    True
    """
    steps = _STEP.findall(plan)
    if not steps:
        return None
    try:
        value = _evaluate(ast.parse(steps[-1], mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
    return round(float(value), 6)


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
