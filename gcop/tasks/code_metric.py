"""Shared pieces of the code tasks: pull code out of a model's reply, and the pass@k estimator.

>>> extract_code("Here you go:\\n```python\\ndef f(x):\\n    return x\\n```\\nDone.")
'def f(x):\\n    return x'
"""

from __future__ import annotations

import ast
import re

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
    line, with trailing prose trimmed until it parses.

    >>> extract_code("```python\\ndef g(): pass\\n```\\n```python\\ndef f(): pass\\n```", "g")
    'def g(): pass'
    >>> extract_code("Sure!\\ndef f():\\n    return 1\\nThis returns one.")
    'def f():\\n    return 1'
    """
    if not isinstance(text, str):
        return ""
    blocks = [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]
    blocks = [b.strip("\n") for b in blocks if b.strip()]
    if blocks:
        if entry_point:
            defining = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(entry_point)}\b")
            named = [b for b in blocks if any(defining.match(line) for line in b.splitlines())]
            if named:
                return named[-1]
        with_defs = [b for b in blocks if re.search(r"^\s*(?:def|class) ", b, re.M)]
        return max(with_defs, key=len) if with_defs else blocks[-1]
    start = _CODE_START.search(text)
    lines = (text[start.start() :] if start else text).strip("\n").splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]).rstrip()
        if _parses(candidate):
            return candidate
    return "\n".join(lines)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def complete(prompt: str, code: str, entry_point: str) -> str:
    """The program to test for a completion-style prompt (HumanEval).

    A reply that defines ``entry_point`` is appended after the prompt (keeping the prompt's imports
    and helpers; the new definition replaces the stub); a bare function body continues the prompt.

    >>> print(complete("def f(x):\\n    '''Add one.'''\\n", "return x + 1", "f"), end="")
    def f(x):
        '''Add one.'''
        return x + 1
    """
    if re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return f"{prompt.rstrip()}\n\n\n{code}\n"
    lines = code.strip("\n").splitlines()
    if lines and not lines[0].startswith((" ", "\t")):  # a body written flush left
        lines = ["    " + line if line.strip() else line for line in lines]
    return prompt + "\n".join(lines) + "\n"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed (Chen et al. 2021, eq. 1):
    ``1 - C(n - c, k) / C(n, k)``, computed as a stable product.

    >>> pass_at_k(10, 5, 1)
    0.5
    >>> pass_at_k(10, 0, 5), pass_at_k(4, 1, 4)
    (0.0, 1.0)
    >>> round(pass_at_k(200, 10, 10), 4)
    0.4085
    """
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise TypeError(f"n, c and k must be ints, got {n!r}, {c!r}, {k!r}")
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
