"""gcop.tasks.code_metric: code extraction, completion programs and pass@k."""

from math import comb

import dspy
import pytest

from gcop.tasks.code_metric import complete, extract_code, pass_at_k, prediction_code

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
    for body in ("    return a + b\n", "return a + b"):
        namespace = {}
        exec(complete(prompt, body, "add"), namespace)
        assert namespace["add"](2, 3) == 5


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
