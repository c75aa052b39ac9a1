"""GSM8K grade-school math word problems (Cobbe et al. 2021) with an exact-match metric.

Splits: ``train`` (first 6,973 rows of the official train file), ``dev`` (its last 500 rows) and
``test`` (1,319 rows), read from the copy shipped in ``gcop/data/gsm8k`` (MIT).

>>> extract_number("She makes 9 * 2 = $18 every day.\\n#### 18")
18.0
>>> exact_match(dspy.Example(gold="42"), "so the answer is \\\\boxed{\\\\frac{84}{2}}.")
True
"""

from __future__ import annotations

import logging
import re

import dspy

from gcop.signatures import MathGuide, MathSolve
from gcop.tasks._rows import DATA_DIR, check_source, check_split, read_jsonl, require, take

logger = logging.getLogger(__name__)

GUIDE_SIGNATURE = MathGuide
CORE_SIGNATURE = MathSolve
SPLITS = ("train", "dev", "test")
DEV_SIZE = 500  # the last 500 official train rows; excluded from "train"
HUB_ID = "openai/gsm8k"

__all__ = ["exact_match", "extract_number", "gold_answer", "load", "metric"]


def load(
    split: str = "train", n: int | None = None, seed: int = 0, *, source: str = "auto"
) -> list[dspy.Example]:
    """Examples with ``question`` (input), ``answer`` (reference solution), ``gold`` (final number).

    ``n`` takes a ``seed``-shuffled subset; ``source="hub"`` downloads ``openai/gsm8k`` instead of
    reading the shipped copy (``"auto"`` falls back to the hub only when that copy is missing).
    """
    check_split(split, SPLITS, "GSM8K")
    check_source(source)
    file_split = "test" if split == "test" else "train"
    path = DATA_DIR / "gsm8k" / f"{file_split}.jsonl.gz"
    if source == "hub" or (source == "auto" and not path.exists()):
        rows = _from_hub(file_split)
    else:
        rows = read_jsonl(path)
    first = 0
    if split == "train":
        rows = rows[:-DEV_SIZE]
    elif split == "dev":
        first, rows = len(rows) - DEV_SIZE, rows[-DEV_SIZE:]
    examples = [_example(row, f"GSM8K {file_split} row {first + i}") for i, row in enumerate(rows)]
    return take(examples, n, seed)


def _from_hub(file_split: str) -> list[dict]:
    from datasets import load_dataset

    logger.info("loading %s (%s) from the Hugging Face hub", HUB_ID, file_split)
    return [dict(row) for row in load_dataset(HUB_ID, "main", split=file_split)]


def _example(row: dict, where: str) -> dspy.Example:
    require(row, ("question", "answer"), where)
    gold = gold_answer(row["answer"])
    if gold is None:
        raise ValueError(f"{where}: its 'answer' field has no final '#### N' line")
    return dspy.Example(question=row["question"], answer=row["answer"], gold=gold).with_inputs(
        "question"
    )


def gold_answer(solution: str) -> str | None:
    """The number after the last ``####`` of a reference solution, without thousands commas.

    >>> gold_answer("It takes 2/2=<<2/2=1>>1 bolt.\\n#### 1,000")
    '1000'
    """
    if "####" not in solution:
        return None
    return solution.rsplit("####", 1)[1].strip().replace(",", "") or None


_NUMBER = re.compile(
    r"(?<![\w.])\$?(?P<sign>[-−])?\$?"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)|\.\d+(?!\d))"
    r"(?:\s?/\s?(?P<den>\d+(?:\.\d+)?)(?!\d))?"
)
_ANSWER = re.compile(r"\banswer\b[*_\s]*(?:(?:is|was|would be|will be)\b|[:=])[*_\s:]*", re.I)
# "To find the answer:", "Let's check the final answer:" announce work, not a result.
_LEAD_IN = re.compile(
    r"\b(?:find|get|compute|calculate|determine|reach|obtain|work out|figure out|check|verify)"
    r"\s+(?:(?:the|our|my|an?|final|correct)\s+)*$",
    re.I,
)
_NEGATION = re.compile(r"(?:not|never)\b", re.I)
_OPERATOR_AHEAD = re.compile(r"\s*(?:[-+−*×÷·/^=]|\\times|\\cdot|x\s*\d)")
_EQUALS = re.compile(r"[\d)]\s*=")  # "9 * 2 = 18": an arithmetic left-hand side, not "x = 3"
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*([^{}]*?)\s*\}\s*\{\s*([^{}]*?)\s*\}")
_LATEX = [
    (re.compile(r"\\text(?:bf|rm)?\s*\{([^{}]*)\}"), r" \1 "),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\[,!;: ]"), ""),
    (re.compile(r"\\([$%])"), r"\1"),
]


def extract_number(text: str) -> float | None:
    """The final numeric answer in a model's text, or ``None`` when it has no number.

    Looks, in order, at a ``#### N`` line, the last ``\\boxed{...}``, the last final-answer phrase
    (see :func:`_stated_answer`), then the last number anywhere. Handles ``$``, thousands commas,
    signs, decimals, units, ``%`` and fractions (``84/2``, ``\\frac{84}{2}``).

    >>> extract_number("The answer is $1,234.50.")
    1234.5
    >>> extract_number("no digits here") is None
    True
    """
    if not isinstance(text, str) or not text:
        return None
    text = _FRAC.sub(r"\1/\2", text)
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    if "####" in text:
        found = _first_number(text.rsplit("####", 1)[1].split("\n", 1)[0])
        if found is not None:
            return found
    boxed = _last_boxed(text)
    if boxed is not None and (found := _first_number(boxed)) is not None:
        return found
    if (found := _stated_answer(text)) is not None:
        return found
    numbers = list(_NUMBER.finditer(text))
    return _value(numbers[-1]) if numbers else None


def _stated_answer(text: str) -> float | None:
    """The number the last final-answer phrase ("the answer is", "Answer:") states.

    A phrase that announces work ("to find the answer: 3*4 = 12 ...") or denies a value ("the
    answer is not 40") states nothing, and an earlier phrase is tried.

    >>> _stated_answer("The answer is 12 when x = 3."), _stated_answer("The answer is not 40")
    (12.0, None)
    """
    for phrase in reversed(list(_ANSWER.finditer(text))):
        line_start = text.rfind("\n", 0, phrase.start()) + 1
        if _LEAD_IN.search(text[line_start : phrase.start()]):
            continue
        rest = text[phrase.end() :].lstrip()
        sentence = re.split(r"\n|\.(?:\s|$)", rest, maxsplit=1)[0]
        if not _NEGATION.match(sentence) and (found := _sentence_answer(sentence)) is not None:
            return found
    return None


def _sentence_answer(sentence: str) -> float | None:
    """The answer in the sentence after a final-answer phrase: a number that opens it (``12 when
    x = 3``), else the result of its last calculation (``6 * 7 = 42``), else its first number."""
    first = _NUMBER.search(sentence)
    if first is None:
        return None
    opens = not re.search(r"[^\W_]", sentence[: first.start()])
    if opens and not _OPERATOR_AHEAD.match(sentence, first.end()):
        return _value(first)
    equations = list(_EQUALS.finditer(sentence))
    if equations and (result := _NUMBER.search(sentence, equations[-1].end())):
        return _value(result)
    return _value(first)


def _first_number(segment: str) -> float | None:
    """First number of ``segment``, or of what follows its last ``=`` (``6 * 7 = 42``)."""
    if "=" in segment:
        segment = segment.rsplit("=", 1)[1]
    match = _NUMBER.search(segment)
    return _value(match) if match else None


def _value(match: re.Match) -> float | None:
    value = float(match["num"].replace(",", ""))
    if match["den"] is not None:
        den = float(match["den"])
        if den == 0:
            return None
        value /= den
    return -value if match["sign"] else value


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}``, braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j]
    return text[i:]


def exact_match(example, prediction, trace=None) -> bool:
    """Whether the final number of ``prediction.answer`` (or a plain string) equals the gold.

    The gold comes from ``example.gold``, else from the ``#### N`` line of ``example.answer``.
    """
    gold = _get(example, "gold")
    if gold is None and (reference := _get(example, "answer")) is not None:
        gold = gold_answer(str(reference))
    text = prediction if isinstance(prediction, str) else _get(prediction, "answer")
    if gold is None or text is None:
        return False
    try:
        target = float(str(gold).replace(",", ""))
    except ValueError:
        target = extract_number(str(gold))
    value = extract_number(str(text))
    return value is not None and target is not None and abs(value - target) <= 1e-6


def _get(obj, field: str):
    if isinstance(obj, dict):
        return obj.get(field)
    try:
        return getattr(obj, field, None)
    except Exception:  # dspy objects may raise their own errors for unknown fields
        return None


metric = exact_match
