"""The guide–core interface: a deterministic parser for the ``<strategy>…</strategy>`` block (§A.8).

A completion is *valid* when it holds exactly one opening and one closing tag, the opening tag comes
first, the block is non-empty after stripping whitespace, and the block fits a token budget
(counted by the guide's tokenizer where one is known, see :func:`count_words`). Two optional checks
tighten the format: enumerated steps, and a JSON object with required keys.

Only ``str.find``/``str.count`` are used, so parsing is linear in the input length (no regex
backtracking); with the word count, a megabyte of text parses in milliseconds.

>>> parse_strategy("Plan: <strategy>1. Add the prices. 2. Subtract the discount.</strategy>").valid
True
>>> parse_strategy("<strategy>   </strategy>").reason
'empty strategy block'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

OPEN_TAG = "<strategy>"
CLOSE_TAG = "</strategy>"
DEFAULT_TOKEN_BUDGET = 256  # strategy length limit in tokens, §A.8


@dataclass(frozen=True)
class StrategyParse:
    """The parser's verdict: the block text when valid, else a human-readable reason."""

    valid: bool
    strategy: str = ""
    reason: str = ""
    n_tokens: int = 0


CHARS_PER_TOKEN = 8  # no tokenizer's token is longer on average: caps whitespace-free text


def count_words(text: str) -> int:
    """Tokenizer-free token count: whitespace-separated pieces, but at least one token per
    ``CHARS_PER_TOKEN`` characters, so a string without spaces cannot pass as one token.

    Only an approximation, for guides whose tokenizer is unknown (API models); a local guide
    counts with its own tokenizer (:meth:`gcop.Guide.count_tokens`).

    >>> count_words("1. Compute 48/2.")
    3
    >>> count_words("a" * 800)
    100
    """
    return max(len(text.split()), -(-len(text) // CHARS_PER_TOKEN))


def parse_strategy(
    completion: str,
    *,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    count_tokens: Callable[[str], int] = count_words,
    require_steps: bool = False,
    json_keys: Sequence[str] | None = None,
) -> StrategyParse:
    """Find the single ``<strategy>`` block in ``completion`` and check it.

    Args:
        completion: the guide's raw output.
        token_budget: the most tokens the block may hold.
        count_tokens: how to count tokens; the default approximates them by words, so pass the
            guide's tokenizer count (:meth:`gcop.Guide.count_tokens`) where one is known.
        require_steps: also require at least two enumerated steps (``1.``/``1)``/``-`` lines).
        json_keys: when given, the block must be a JSON object holding these keys.
    """
    if not isinstance(completion, str):
        return StrategyParse(False, reason=f"completion is {type(completion).__name__}, not str")
    n_open, n_close = completion.count(OPEN_TAG), completion.count(CLOSE_TAG)
    if n_open == 0 and n_close == 0:
        return StrategyParse(False, reason="no <strategy> block")
    if n_open != 1 or n_close != 1:
        return StrategyParse(
            False, reason=f"expected one opening and one closing tag, found {n_open} and {n_close}"
        )
    start, end = completion.find(OPEN_TAG), completion.find(CLOSE_TAG)
    if end < start:
        return StrategyParse(False, reason="closing tag before opening tag")
    block = completion[start + len(OPEN_TAG) : end].strip()
    if not block:
        return StrategyParse(False, reason="empty strategy block")
    n_tokens = count_tokens(block)
    if n_tokens > token_budget:
        return StrategyParse(
            False, reason=f"strategy has {n_tokens} tokens, over the budget of {token_budget}"
        )
    if require_steps and _count_steps(block) < 2:
        return StrategyParse(False, reason="strategy needs at least two enumerated steps")
    if json_keys is not None:
        problem = _json_problem(block, json_keys)
        if problem:
            return StrategyParse(False, reason=problem)
    return StrategyParse(True, strategy=block, n_tokens=n_tokens)


def _count_steps(block: str) -> int:
    steps = 0
    for line in block.splitlines():
        line = line.lstrip()
        head = line[:4]
        if line.startswith(("- ", "* ")) or (head[:1].isdigit() and ("." in head or ")" in head)):
            steps += 1
    return steps


def _json_problem(block: str, keys: Sequence[str]) -> str:
    try:
        value = json.loads(block)
    except json.JSONDecodeError as error:
        return f"strategy is not valid JSON: {error.msg}"
    if not isinstance(value, dict):
        return "strategy JSON must be an object"
    missing = [key for key in keys if key not in value]
    return f"strategy JSON lacks keys: {', '.join(missing)}" if missing else ""


def format_strategy(strategy: str) -> str:
    """Wrap plain strategy text in the block the parser accepts."""
    return f"{OPEN_TAG}\n{strategy.strip()}\n{CLOSE_TAG}"
