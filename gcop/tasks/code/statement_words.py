"""A reference solution's statements in words: the edge cases it guards first, and each step
of its approach (loops, branches, assignments, calls), for :mod:`.reference_facts`.

Like :mod:`.describe` (expressions in words), every phrase is built from names and words, never
from the reference's own expressions.

>>> import ast
>>> source = "if not xs:\\n    return 0\\ntotal = 0\\nfor x in xs:\\n    total += x\\n"
>>> body = ast.parse(source).body
>>> guard_words(body, {})[0]
['if `xs` is empty, return `0`']
>>> step_words(body[2], {})
'go through each item `x` of `xs`; add to `total`'
"""

from __future__ import annotations

import ast

from gcop.tasks.code.describe import call_name, condition, iteration, returned, value_words

__all__ = ["guard_words", "step_words"]


def guard_words(
    body: list[ast.stmt], variables: dict[str, ast.expr]
) -> tuple[list[str], list[ast.stmt]]:
    """Leading ``if ...: return/raise`` statements in words, and the statements after them
    (assignments between guards stay, in order)."""
    guards: list[str] = []
    rest: list[ast.stmt] = []
    for index, stmt in enumerate(body):
        if isinstance(stmt, ast.If) and _exits(stmt.body) and not stmt.orelse:
            guards.append(f"if {condition(stmt.test)}, {_exit_words(stmt.body[-1], variables)}")
        elif isinstance(stmt, ast.Assign):
            rest.append(stmt)  # setting up variables between guards
        else:
            return guards[:3], rest + body[index:]
    return guards[:3], rest


def _exits(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise))


def _exit_words(stmt: ast.stmt, variables: dict[str, ast.expr]) -> str:
    if isinstance(stmt, ast.Raise):
        name = call_name(stmt.exc) if stmt.exc is not None else None
        return f"raise `{name}`" if name else "raise an error"
    return f"return {returned(stmt.value, variables)}"


def step_words(stmt: ast.stmt, variables: dict[str, ast.expr]) -> str | None:
    """One statement of the approach in words (``None``: nothing worth a step)."""
    if isinstance(stmt, (ast.For, ast.While)):
        return _loop(stmt, variables)
    if isinstance(stmt, ast.If):
        then = [a for s in stmt.body if (a := _inner_action(s, variables))]
        other = [a for s in stmt.orelse if (a := _inner_action(s, variables))]
        if not then and not other:
            return None
        said = f"if {condition(stmt.test)}, {' and '.join(then[:2]) or 'do nothing'}"
        return f"{said}; otherwise {' and '.join(other[:2])}" if other else said
    if isinstance(stmt, ast.Return):
        return None  # the return is said once, at the end of the plan
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr)):
        return _action(stmt, variables)
    if isinstance(stmt, ast.Try):
        caught = [call_name(h.type) or "the error" for h in stmt.handlers]
        return f"try it, and handle {', '.join(f'`{c}`' for c in caught)} when it is raised"
    return None


def _loop(stmt: ast.For | ast.While, variables: dict[str, ast.expr]) -> str:
    if isinstance(stmt, ast.For):
        head = f"go through {iteration(stmt.target, stmt.iter)}"
    else:
        head = f"repeat while {condition(stmt.test)}"
    actions = []
    for inner in stmt.body:
        if isinstance(inner, ast.If):
            done = [a for s in inner.body if (a := _inner_action(s, variables))]
            other = [a for s in inner.orelse if (a := _inner_action(s, variables))]
            if done:
                actions.append(f"when {condition(inner.test)}, {' and '.join(done[:2])}")
            if other:
                actions.append(f"otherwise {' and '.join(other[:2])}")
        elif action := _inner_action(inner, variables):
            actions.append(action)
    return f"{head}; {'; '.join(actions[:3])}" if actions else head


def _inner_action(stmt: ast.stmt, variables: dict[str, ast.expr]) -> str | None:
    if isinstance(stmt, ast.Return):
        return f"return {value_words(stmt.value)} at once"
    if isinstance(stmt, ast.Break):
        return "stop the loop"
    if isinstance(stmt, (ast.For, ast.While)):
        return f"in a nested loop {_loop(stmt, variables).replace('; ', ', ', 1)}"
    if isinstance(stmt, ast.If):
        done = [a for s in stmt.body if (a := _inner_action(s, variables))]
        return f"when {condition(stmt.test)}, {' and '.join(done[:2])}" if done else None
    return _action(stmt, variables)


def _action(stmt: ast.stmt, variables: dict[str, ast.expr]) -> str | None:
    """An assignment or call statement in words."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, (ast.Name, ast.Subscript)):
        name = _target_name(stmt.target)
        verb = {ast.Add: "add to", ast.Sub: "subtract from", ast.Mult: "multiply"}
        return f"{verb.get(type(stmt.op), 'update')} `{name}`"
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        name = _target_name(stmt.targets[0])
        if name is None:
            return None
        if isinstance(stmt.targets[0], ast.Subscript):
            return f"update an entry of `{name}`"
        if name in variables and variables[name] is not stmt.value:
            return f"update `{name}` to {value_words(stmt.value)}"
        return f"set `{name}` to {value_words(stmt.value)}"
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return f"call `{func.attr}` on `{func.value.id}`"
        name = call_name(stmt.value)
        return f"call `{name}`" if name and name != "print" else None
    return None


def _target_name(target: ast.expr) -> str | None:
    while isinstance(target, (ast.Subscript, ast.Attribute)):
        target = target.value
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Tuple):
        names = [e.id for e in target.elts if isinstance(e, ast.Name)]
        return "`, `".join(names) or None
    return None
