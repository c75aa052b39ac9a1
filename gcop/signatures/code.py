"""Signatures for function-completion code tasks (HumanEval, KodCode)."""

import dspy


class CodeGuide(dspy.Signature):
    """You plan how to implement a Python function. Write a short numbered plan (approach, edge
    cases, data structures) inside one <strategy>...</strategy> block. Do not write the code."""

    prompt: str = dspy.InputField(desc="the function signature and docstring to implement")
    strategy: str = dspy.OutputField(desc="a numbered plan inside <strategy>...</strategy>")


class CodeSolve(dspy.Signature):
    """Implement the Python function. When a strategy is given, follow it. Reply with the complete
    function (and any imports it needs) in one ```python code block."""

    prompt: str = dspy.InputField(desc="the function signature and docstring to implement")
    code: str = dspy.OutputField(desc="the complete function in a ```python block")
