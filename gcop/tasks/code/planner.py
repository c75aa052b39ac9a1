"""An offline, privileged teacher for code tasks: plans in words read off the reference solution.

A privileged teacher is shown the reference solution (``canonical_solution`` for HumanEval, the
``solution`` of KodCode and MBPP). This one reads the reference's AST (:mod:`.reference_facts`)
and writes 3–8 short steps: the interface, the edge cases the reference guards, the data
structures it keeps, its approach and the library calls it relies on. It never writes code: no
line, expression or literal of the reference (names and single-digit integers only) and nothing
of the tests. Served as a local model, it needs no weights, so it runs on a CPU in no time.

Plan styles (those with a teacher name are served under it, :data:`TEACHER_STYLES`):

- ``steps`` (``code-planner``): the work in the order the reference does it.
- ``outline`` (``code-outline-planner``): the same facts under labels (interface, approach,
  edge cases, data structures, library).
- ``contract``: the interface and the edge cases only, the approach left to the core.
- ``calls``: the interface, the library calls and helpers, and what the result is, in words.

>>> source = "def total(xs):\\n    s = 0\\n    for x in xs:\\n        s += x\\n    return s\\n"
>>> print(plan_from_code(source))
1. Write `total(xs)`; it returns a number.
2. Start with `s` at `0`.
3. Go through each item `x` of `xs`; add to `s`.
4. Return `s`.
>>> print(plan_from_code(source, style="outline"))
1. Interface: `total(xs)` returns a number.
2. Approach: start with `s` at `0`; then go through each item `x` of `xs`; add to `s`.
3. Edge cases: nothing special; the general case covers every input.
"""

from __future__ import annotations

import ast
import functools
import logging
import re
from typing import Literal

from gcop.lm.provider import ChatCompletion
from gcop.lm.resolve import register_named_backend
from gcop.strategy import CLOSE_TAG, OPEN_TAG, count_words
from gcop.tasks.code.describe import returned, value_words
from gcop.tasks.code.reference_facts import Facts, reference_facts

__all__ = ["CODE_TEACHERS", "PRIVILEGED_CODE_TEACHERS", "CodePlanner", "plan_from_code"]

logger = logging.getLogger(__name__)

PlanStyle = Literal["steps", "outline", "contract", "calls"]
TEACHER_STYLES: dict[str, PlanStyle] = {"code-planner": "steps", "code-outline-planner": "outline"}
MAX_STEPS = 8
MAX_WORDS = 120  # the acceptance teacher prompt asks for at most token_budget // 2 words
# the privileged teacher prompt's fields (gcop.optimizers.acceptance.teacher_prompts)
_REFERENCE_FIELDS = ("Canonical solution", "Solution")
_HEADER = re.compile(r"\n\n(?=[A-Z][a-z]+(?: [a-z]+)*:\n)")
_NO_EDGE_CASES = "nothing special; the general case covers every input"
_REFERENCE_INTRO = re.compile(r"\n\nReference solution[^\n]*:\n")


def plan_from_code(source: str, entry_point: str | None = None, style: PlanStyle = "steps") -> str:
    """A numbered plan, in words, for the function ``entry_point`` of the reference ``source``."""
    facts = reference_facts(source, entry_point)
    imports = _imports(source)
    if style == "outline":
        lines = _outline(facts, imports)
    elif style == "contract":
        lines = _contract(facts, imports)
    elif style == "calls":
        lines = _calls(facts, source, imports)
    else:
        lines = _steps(facts, source, imports)
    return "\n".join(f"{number}. {line}" for number, line in enumerate(lines[:MAX_STEPS], 1))


def _steps(facts: Facts, source: str, imports: list[str]) -> list[str]:
    lines = [_interface_line(facts, imports)]
    lines += [f"First write a helper {helper}." for helper in facts.helpers[:2]]
    if facts.guards:
        lines.append(f"Handle edge cases first: {'; '.join(facts.guards)}.")
    if facts.start:
        lines.append(f"Start with {', '.join(facts.start)}.")
    lines += [_sentence(step) for step in facts.steps]
    if facts.recursive:
        lines.append("Call the function itself on smaller parts (recursion).")
    if facts.tools:
        lines.append(f"Use {', '.join(facts.tools)}.")
    final = _final_return(source, facts)
    if final:
        lines.append(final)
    if len(lines) < 3:
        lines.append("Check the result against the example in the task before replying.")
    return _fit(lines)


def _outline(facts: Facts, imports: list[str]) -> list[str]:
    begin = [f"start with {', '.join(facts.start)}"] if facts.start else []
    approach = "; then ".join(begin + list(facts.steps)) or "compute the result directly"
    if facts.recursive:
        approach += "; recurse on smaller parts"
    lines = [
        f"Interface: {facts.interface} returns {facts.returns}.",
        f"Approach: {approach}.",
        f"Edge cases: {'; '.join(facts.guards) or _NO_EDGE_CASES}.",
    ]
    if facts.structures:
        lines.append(f"Data structures: {', '.join(facts.structures)}.")
    if facts.tools or imports:
        lines.append(f"Library: {', '.join(imports + list(facts.tools))}.")
    if facts.helpers:
        lines.append(f"Helpers: {'; '.join(facts.helpers)}.")
    return _fit(lines)


def _interface_line(facts: Facts, imports: list[str]) -> str:
    line = f"Write {facts.interface}; it returns {facts.returns}."
    return line + (f" Import {', '.join(imports)} first." if imports else "")


def _contract(facts: Facts, imports: list[str]) -> list[str]:
    lines = [_interface_line(facts, imports)]
    lines += [f"Edge case: {_sentence(guard)}" for guard in facts.guards]
    if not facts.guards:
        lines.append("No edge case needs its own branch: one approach covers every input.")
    return _fit(lines)


def _calls(facts: Facts, source: str, imports: list[str]) -> list[str]:
    lines = [_interface_line(facts, imports)]
    lines += [f"First write a helper {helper}." for helper in facts.helpers[:2]]
    if facts.tools:
        lines.append(f"Use {', '.join(facts.tools)}.")
    if facts.recursive:
        lines.append("Call the function itself on smaller parts (recursion).")
    if len(lines) == 1:
        lines.append("Use plain loops, comparisons and arithmetic; no library call is needed.")
    final = _final_return(source, facts, resolve_names=True)
    if final:
        lines.append(final)
    return _fit(lines)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _fit(lines: list[str]) -> list[str]:
    """At most :data:`MAX_STEPS` lines (the middle ones merge) of :data:`MAX_WORDS` words in all
    (the longest line loses its last clause, else the longest middle line goes)."""
    while len(lines) > MAX_STEPS:
        lines[-3:-1] = [f"{lines[-3].rstrip('.')}; {lines[-2][:1].lower()}{lines[-2][1:]}"]
    while count_words("\n".join(lines)) > MAX_WORDS:
        longest = max(range(len(lines)), key=lambda i: count_words(lines[i]))
        for separator in ("; ", ", ", " and "):
            head, found, _ = lines[longest].rstrip(".").rpartition(separator)
            if found and len(head.split()) > 3:
                lines[longest] = head + "."
                break
        else:
            if len(lines) <= 3:
                break
            del lines[max(range(1, len(lines) - 1), key=lambda i: count_words(lines[i]))]
    return lines


def _imports(source: str) -> list[str]:
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            found += [f"`{alias.name}`" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = ", ".join(f"`{alias.name}`" for alias in node.names)
            found.append(f"{names} from `{node.module}`")
    return found[:3]


def _final_return(source: str, facts: Facts, resolve_names: bool = False) -> str | None:
    """The plan's last step: what the main function's last statement returns (with
    ``resolve_names``, a returned variable is said with what it was last set to)."""
    name = facts.interface.strip("`").split("(")[0]
    funcs = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not funcs or not isinstance(funcs[-1].body[-1], ast.Return):
        return None
    value = funcs[-1].body[-1].value
    if isinstance(value, ast.Name):
        assigned = _last_assignment(funcs[-1], value.id) if resolve_names else None
        said = value_words(assigned) if isinstance(assigned, ast.expr) else "a value"
        if said != "a value" and not isinstance(assigned, ast.Constant):
            return f"Return `{value.id}`, {said}."
        return f"Return `{value.id}`."
    if isinstance(value, ast.Constant) or value is None:
        return f"If nothing was returned earlier, return {returned(value, {})}."
    return f"Return {value_words(value)}."


def _last_assignment(function: ast.FunctionDef, name: str) -> ast.expr | None:
    """The value of the last top-level ``name = ...`` in ``function``'s body."""
    found = None
    for stmt in function.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in stmt.targets
        ):
            found = stmt.value
    return found


def reference_from_prompt(text: str) -> tuple[str, str | None] | None:
    """``(source, entry point)`` of the reference solution shown in a privileged teacher prompt
    (a HumanEval body is joined to the prompt's stub), or ``None`` when it shows none."""
    sections = {}
    for part in _HEADER.split("\n\n" + _REFERENCE_INTRO.sub("\n\n", text)):
        head, sep, body = part.partition(":\n")
        if sep and head.strip() and "\n" not in head.strip():
            sections.setdefault(head.strip(), body)
    entry = (sections.get("Entry point") or "").strip() or None
    for field in _REFERENCE_FIELDS:
        code = sections.get(field)
        if not code:
            continue
        for source in (code, f"{sections.get('Prompt', '').rstrip()}\n{code.rstrip()}\n"):
            try:
                ast.parse(source)
            except SyntaxError:
                continue
            return source, entry
    return None


class CodePlanner:
    """A chat backend that answers a privileged teacher prompt with a plan read off the
    reference solution it shows (``ValueError`` when the prompt shows none)."""

    def __init__(self, *, style: PlanStyle = "steps") -> None:
        self.style = style

    def complete(self, messages: list[dict], *, n: int = 1, **sampling: object) -> ChatCompletion:
        text = "\n\n".join(str(m["content"]) for m in messages if m["role"] != "system")
        found = reference_from_prompt(text)
        if found is None:
            raise ValueError(
                "the code planner is a privileged teacher: its prompt must show the reference "
                "solution (a 'Canonical solution' or 'Solution' field); run acceptance with "
                "privileged_teacher=True, as gcop compile does for a task's privileged teachers"
            )
        plan = plan_from_code(*found, style=self.style)
        reply = f"{OPEN_TAG}\n{plan}\n{CLOSE_TAG}"
        return ChatCompletion([reply] * n, len(text.split()), n * len(reply.split()))


def register(teacher: str = "code-planner") -> str:
    """Serve the planner named ``teacher`` (a key of :data:`TEACHER_STYLES`) as
    ``local/<teacher>``; returns that model string."""
    from gcop.lm.provider import register_backend

    if teacher not in TEACHER_STYLES:
        choices = sorted(TEACHER_STYLES)
        raise ValueError(f"unknown code planner {teacher!r}; choose one of {choices}")
    return register_backend(teacher, CodePlanner(style=TEACHER_STYLES[teacher]))


CODE_TEACHERS = {name: functools.partial(register, name) for name in TEACHER_STYLES}
PRIVILEGED_CODE_TEACHERS = frozenset(CODE_TEACHERS)
for _name, _serve in CODE_TEACHERS.items():
    register_named_backend(_name, _serve)
