"""Signatures for grade-school math word problems (GSM8K)."""

import dspy


class MathGuide(dspy.Signature):
    """You plan how to solve a math word problem. Write a short numbered plan of the calculations
    to do, in order, naming the quantities from the problem, inside one <strategy>...</strategy>
    block. Do not compute or state the final answer."""

    question: str = dspy.InputField(desc="the math word problem")
    strategy: str = dspy.OutputField(desc="a numbered plan inside <strategy>...</strategy>")


class MathSolve(dspy.Signature):
    """Solve the math word problem. When a strategy is given, follow its steps in order. Show the
    calculations briefly, then end with "The answer is N" where N is a number."""

    question: str = dspy.InputField(desc="the math word problem")
    answer: str = dspy.OutputField(desc='brief working, ending with "The answer is N"')
