"""What a reference solution does, in words: read off its AST for the privileged code planner.

:func:`reference_facts` finds the function the tests call and describes its interface, the edge
cases it guards, the data structures it keeps and its approach, step by step. Every phrase is
built from names (functions, arguments, variables, library calls) and words; no expression, line
or literal of the reference is copied except single-digit integers, so a plan built from the
facts says how to solve the task without handing over the solution.

>>> facts = reference_facts("def biggest(xs):\\n    if not xs:\\n        return None\\n"
...     "    best = xs[0]\\n    for x in xs:\\n        if x > best:\\n            best = x\\n"
...     "    return best\\n")
>>> facts.interface, facts.guards
('`biggest(xs)`', ('if `xs` is empty, return `None`',))
>>> facts.start, facts.steps
(('`best` as an element of `xs`',), ('go through each item `x` of `xs`; when `x` is greater \
than `best`, update `best` to `x`',))
"""

from __future__ import annotations

import ast
import dataclasses

from gcop.tasks.code.describe import (
    call_name,
    kind_of,
    returned,
    tools,
    value_words,
)
from gcop.tasks.code.statement_words import guard_words, step_words

__all__ = ["Facts", "reference_facts"]

_MAX_STEPS = 5


@dataclasses.dataclass(frozen=True)
class Facts:
    """A reference solution in words (each field a tuple of short phrases)."""

    interface: str  # "`name(a, b)`"
    returns: str  # "True or False", "a list", ...
    guards: tuple[str, ...] = ()  # edge cases handled first, "if `xs` is empty, return 0"
    structures: tuple[str, ...] = ()  # "a dictionary `counts`"
    start: tuple[str, ...] = ()  # the first values of its variables, "`total` at 0"
    steps: tuple[str, ...] = ()  # the approach in order
    tools: tuple[str, ...] = ()  # library functions and methods it relies on
    helpers: tuple[str, ...] = ()  # "`is_prime(n)`, which returns True or False"
    recursive: bool = False


def reference_facts(source: str, entry_point: str | None = None) -> Facts:
    """The :class:`Facts` of the function ``entry_point`` in ``source`` (default: the last
    top-level function). ``ValueError`` when ``source`` does not parse or defines no function."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"the reference solution does not parse: {error.msg}") from None
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    if not defs:
        raise ValueError("the reference solution defines no function or class")
    main = defs.get(entry_point or "") or list(defs.values())[-1]
    functions = [node for node in defs.values() if isinstance(node, ast.FunctionDef)]
    if isinstance(main, ast.ClassDef) and not functions:
        return _class_facts(main)
    if isinstance(main, ast.ClassDef):  # the tests build the class to call a function with it
        main = functions[-1]
    helpers = tuple(_helper(node) for name, node in defs.items() if name != main.name)[:3]
    return _function_facts(main, helpers, frozenset(defs))


def _function_facts(
    node: ast.FunctionDef, helpers: tuple[str, ...] = (), local: frozenset[str] = frozenset()
) -> Facts:
    nested = [s for s in node.body if isinstance(s, ast.FunctionDef)]
    helpers += tuple(f"(inside it) {_helper(inner)}" for inner in nested[:2])
    body = [s for s in _skip_docstring(node.body) if not isinstance(s, ast.FunctionDef)]
    variables = _first_assignments(body)
    guards, rest = guard_words(body, variables)
    start = []
    while rest and isinstance(rest[0], ast.Assign) and isinstance(rest[0].targets[0], ast.Name):
        stmt = rest.pop(0)
        start.append(_start_words(stmt.targets[0].id, stmt.value))
    structures = (
        f"{kind} `{name}`"
        for name, kind in ((n, kind_of(v, {})) for n, v in variables.items())
        if kind in ("a list", "a dictionary", "a set", "a counter", "a tuple")
    )
    return Facts(
        interface=_signature(node),
        returns=_returns(node, variables),
        guards=tuple(guards),
        structures=tuple(structures),
        start=tuple(start),
        steps=_merged_steps(rest, variables),
        tools=tools(node, local),
        helpers=helpers,
        recursive=_calls_itself(node),
    )


def _calls_itself(node: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Call) and call_name(n) == node.name for n in ast.walk(node))


def _merged_steps(body: list[ast.stmt], variables: dict[str, ast.expr]) -> tuple[str, ...]:
    """The approach, one phrase per statement, consecutive assignments merged into one; loops
    and branches are kept first when there are more than :data:`_MAX_STEPS`."""
    steps: list[tuple[bool, str]] = []  # (is a plain assignment, phrase)
    for stmt in body:
        step = step_words(stmt, variables)
        if not step:
            continue
        plain = isinstance(stmt, ast.Assign)
        if plain and steps and steps[-1][0]:
            steps[-1] = (True, f"{steps[-1][1]}, {step.removeprefix('set ')}")
        else:
            steps.append((plain, step))
    if len(steps) > _MAX_STEPS:
        keep = sorted(range(len(steps)), key=lambda i: steps[i][0])[:_MAX_STEPS]
        steps = [steps[i] for i in sorted(keep)]
    return tuple(step for _, step in steps)


def _start_words(name: str, value: ast.expr) -> str:
    """A variable's first value in words: ``total`` at 0, an empty list ``out``, ..."""
    said = returned(value, {})
    if said.startswith("an empty"):
        return f"`{name}` as {said}"
    if isinstance(value, (ast.Constant, ast.UnaryOp)) and said.startswith("`"):
        return f"`{name}` at {said}"
    return f"`{name}` as {value_words(value)}"


def _class_facts(node: ast.ClassDef) -> Facts:
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
    public = [f"`{m.name}`" for m in methods if not m.name.startswith("_")]
    state = sorted(
        {
            target.attr
            for m in methods
            if m.name == "__init__"
            for stmt in ast.walk(m)
            if isinstance(stmt, ast.Assign)
            for target in stmt.targets
            if isinstance(target, ast.Attribute)
        }
    )
    return Facts(
        interface=f"class `{node.name}`",
        returns="an object",
        structures=tuple(f"an attribute `{name}`" for name in state),
        steps=(f"give it the methods {', '.join(public)}",) if public else (),
        tools=tuple(sorted({t for m in methods for t in tools(m)})),
        helpers=tuple(_helper(m) for m in methods if not m.name.startswith("_"))[:3],
    )


def _helper(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        return f"a class `{node.name}`"
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
        does = "yields the items one by one"
    else:
        does = f"returns {_returns(node, _first_assignments(_skip_docstring(node.body)))}"
    calls_itself = _calls_itself(node)
    return f"{_signature(node)}, which {does}" + (" and calls itself" if calls_itself else "")


def _signature(node: ast.FunctionDef) -> str:
    args = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
    if node.args.vararg:
        args.append(f"*{node.args.vararg.arg}")
    args += [a.arg for a in node.args.kwonlyargs]
    return f"`{node.name}({', '.join(args)})`"


def _skip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant)
    return body[1:] if is_doc and isinstance(first.value.value, str) else body


def _first_assignments(body: list[ast.stmt]) -> dict[str, ast.expr]:
    """Variables the function sets at its top level, with the value each is first given."""
    found: dict[str, ast.expr] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and target.id not in found:
                found[target.id] = stmt.value
    return found


def _returns(node: ast.FunctionDef, variables: dict[str, ast.expr]) -> str:
    kinds = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Return) and _owner(node, sub):
            kind = kind_of(sub.value, variables)
            if kind not in kinds:
                kinds.append(kind)
    if not kinds:
        return "nothing"
    last = _skip_docstring(node.body)[-1]
    if kinds == ["a value"] and isinstance(last, ast.Return) and isinstance(last.value, ast.Name):
        return f"`{last.value.id}`"
    useful = [kind for kind in kinds if kind not in ("a value", "None")] or kinds
    return " or ".join(useful[:2])


def _owner(node: ast.FunctionDef, target: ast.AST) -> bool:
    """Whether ``target`` belongs to ``node`` itself, not to a nested function or lambda."""
    for child in ast.iter_child_nodes(node):
        if child is target:
            return True
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if _owner(child, target):  # type: ignore[arg-type]
            return True
    return False
