"""Shared pieces of the code tasks: pull code out of a model's reply, and the pass@k estimator.

>>> extract_code("Here you go:\\n```python\\ndef f(x):\\n    return x\\n```\\nDone.")
'def f(x):\\n    return x'
"""

from __future__ import annotations

import ast
import operator
import os
import re
from typing import SupportsIndex

__all__ = ["complete", "extract_code", "pass_at_k", "prediction_code"]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PYTHON_TAGS = ("", "python", "python3", "py", "py3")
_CODE_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)", re.M)


def prediction_code(prediction) -> str:
    """The raw reply: a plain string, or the ``code`` field of a DSPy prediction."""
    if isinstance(prediction, str):
        return prediction
    code = getattr(prediction, "code", None)
    return code if isinstance(code, str) else ""


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The Python code in a model's reply.

    Fenced blocks (```python or bare ```) win over the surrounding prose; with several blocks, the
    last one defining ``entry_point``, else the longest one defining any function or class, else
    the last. Without fences the reply is taken as code from its first ``def``/``class``/``import``
    line, with trailing prose trimmed until it parses. An indented function body counts as code
    (it is checked as if dedented), and blank lines around the code are dropped.

    >>> extract_code("```python\\ndef g(): pass\\n```\\n```python\\ndef f(): pass\\n```", "g")
    'def g(): pass'
    >>> extract_code("Sure!\\ndef f():\\n    return 1\\nThis returns one.")
    'def f():\\n    return 1'
    >>> extract_code("    # add one\\n    return x + 1")
    '    # add one\\n    return x + 1'
    """
    if not isinstance(text, str):
        return ""
    blocks = [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]
    blocks = [_strip_blank_lines(b) for b in blocks if b.strip()]
    if blocks:
        if entry_point:
            defining = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(entry_point)}\b")
            named = [b for b in blocks if any(defining.match(line) for line in b.splitlines())]
            if named:
                return named[-1]
        with_defs = [b for b in blocks if re.search(r"^\s*(?:def|class) ", b, re.M)]
        return max(with_defs, key=len) if with_defs else blocks[-1]
    start = _CODE_START.search(text)
    lines = _strip_blank_lines(text[start.start() :] if start else text).splitlines()
    for end in range(len(lines), 0, -1):
        if _parses("\n".join(_reindent(lines[:end], ""))):
            return "\n".join(lines[:end]).rstrip()
    return "\n".join(lines)


def _strip_blank_lines(code: str) -> str:
    """``code`` without its leading and trailing blank (or whitespace-only) lines."""
    lines = code.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _is_code(line: str) -> bool:
    """Whether ``line`` sets indentation for Python: blank and comment lines do not."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _reindent(lines: list[str], indent: str) -> list[str]:
    """``lines`` shifted so that their code lines start at ``indent`` (their shared margin is
    replaced); comment lines less indented than that margin move to ``indent`` too.

    >>> _reindent(["# note", "  x = 1", "  if x:", "    y = 2"], "    ")
    ['    # note', '    x = 1', '    if x:', '      y = 2']
    """
    margins = [line[: len(line) - len(line.lstrip())] for line in lines if _is_code(line)]
    margin = os.path.commonprefix(margins) if margins else ""
    moved = []
    for line in lines:
        if not line.strip():
            moved.append("")
        elif line.startswith(margin):
            moved.append(indent + line[len(margin) :])
        else:
            moved.append(indent + line.lstrip())
    return moved


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def complete(prompt: str, code: str, entry_point: str) -> str:
    """The program to test for a completion-style prompt (HumanEval).

    A reply that defines ``entry_point`` is appended after the prompt (keeping the prompt's imports
    and helpers; the new definition replaces the stub); a bare function body continues the prompt,
    re-indented to the stub's body whatever its own indentation (flush left, 2 spaces, ...).

    >>> print(complete("def f(x):\\n    '''Add one.'''\\n", "return x + 1", "f"), end="")
    def f(x):
        '''Add one.'''
        return x + 1
    """
    if re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return f"{prompt.rstrip()}\n\n\n{code}\n"
    body = _reindent(_strip_blank_lines(code).splitlines(), _body_indent(prompt))
    return prompt + "\n".join(body) + "\n"


def _body_indent(prompt: str) -> str:
    """The indentation a body continuing ``prompt`` needs: that of the prompt's last code line
    (the stub's docstring), one level deeper when that line opens a block (``def f():``)."""
    code = [line for line in prompt.splitlines() if _is_code(line)]
    if not code:
        return "    "
    last = code[-1]
    indent = last[: len(last) - len(last.lstrip())]
    return indent + "    " if last.rstrip().endswith(":") else indent


def pass_at_k(n: SupportsIndex, c: SupportsIndex, k: SupportsIndex) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed (Chen et al. 2021, eq. 1):
    ``1 - C(n - c, k) / C(n, k)``, computed as a stable product. Any integer type is accepted
    (``int``, ``numpy.int64``, ...).

    >>> pass_at_k(10, 5, 1)
    0.5
    >>> pass_at_k(10, 0, 5), pass_at_k(4, 1, 4)
    (0.0, 1.0)
    >>> round(pass_at_k(200, 10, 10), 4)
    0.4085
    """
    try:
        n, c, k = operator.index(n), operator.index(c), operator.index(k)
    except TypeError:
        raise TypeError(f"n, c and k must be integers, got {n!r}, {c!r}, {k!r}") from None
    if not 0 <= c <= n:
        raise ValueError(f"c (passing samples) must be in [0, n={n}], got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    if n - c < k:
        return 1.0
    all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        all_fail *= 1.0 - k / i
    return 1.0 - all_fail
