"""A code plan rendered where a code model uses it: as comments in the function's skeleton.

A numbered plan in words (the code planners' styles, :mod:`.planner`) names the function and its
arguments in its first step (``Write `f(a, b)`; it returns a list.``). :func:`render_skeleton`
turns it into the skeleton a code model completes: the imports the plan names, a stub for each
helper it names, and the function's signature with one comment per remaining step. Only names
from the plan reach the skeleton; no statement is written for the core.

>>> print(render_skeleton("1. Write `total(xs)`; it returns a number.\\n"
...     "2. Start with `s` at `0`.\\n3. Go through each item `x` of `xs`; add to `s`.\\n"
...     "4. Return `s`."))
Complete this skeleton; each comment is one step:
```python
def total(xs):
    # returns a number
    # Start with s at 0.
    # Go through each item x of xs; add to s.
    # Return s.
```
"""

from __future__ import annotations

import re

__all__ = ["SKELETON_HEADER", "render_skeleton"]

SKELETON_HEADER = "Complete this skeleton; each comment is one step:"
_STEP = re.compile(r"^\s*\d+[.)]\s*(.+)$")
_INTERFACE = re.compile(r"^Write `(\w+)\(([\w\s,=*]*)\)`(?:; it returns ([^.]+)\.)?\s*(.*)$")
_IMPORTS = re.compile(r"Import (.+?) first\.")
_FROM_IMPORT = re.compile(r"(`[\w.]+`(?:, `[\w.]+`)*) from `([\w.]+)`")
_NAME = re.compile(r"`([\w.]+)`")
_HELPER = re.compile(r"^First write a helper `(\w+)\(([\w\s,=*]*)\)`,?\s*(.*?)\.?$")


def render_skeleton(plan: str) -> str | None:
    """The skeleton a plan stands for (see the module docstring); ``None`` when the plan's
    first step names no function to write (``Write `name(args)`...``)."""
    steps = [match.group(1).strip() for line in plan.splitlines() if (match := _STEP.match(line))]
    interface = _INTERFACE.match(steps[0]) if steps else None
    if interface is None:
        return None
    name, arguments, returns, rest = interface.groups()
    imports = _IMPORTS.search(rest)
    lines = _import_lines(imports.group(1)) if imports else []
    comments = [f"returns {_plain(returns)}"] if returns else []
    for step in steps[1:]:
        helper = _HELPER.match(step)
        if helper:
            helper_name, helper_arguments, what = helper.groups()
            lines += [
                f"def {helper_name}({helper_arguments}):",
                f"    # {_plain(what.removeprefix('which '))}",
                "",
            ]
        else:
            comments.append(_plain(step))
    lines.append(f"def {name}({arguments}):")
    lines += [f"    # {comment}" for comment in comments or ["your code here"]]
    body = "\n".join(lines)
    return f"{SKELETON_HEADER}\n```python\n{body}\n```"


def _import_lines(listed: str) -> list[str]:
    """``import`` lines for the plan's ``Import `a`, `b` from `m` first.``"""
    lines = []
    for names, module in _FROM_IMPORT.findall(listed):
        lines.append(f"from {module} import {', '.join(_NAME.findall(names))}")
    lines += [f"import {module}" for module in _NAME.findall(_FROM_IMPORT.sub("", listed))]
    return lines + [""] if lines else []


def _plain(text: str) -> str:
    """A step as a comment: its backticks dropped, one line."""
    return " ".join(text.replace("`", "").split())
