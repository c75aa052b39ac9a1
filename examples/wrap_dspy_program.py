"""Wrap an existing DSPy program with a guide, on an API core (needs OPENAI_API_KEY).

OPENAI_API_KEY=... python examples/wrap_dspy_program.py
"""

import dspy

import gcop
from gcop.tasks import gsm8k


class SolveThenCheck(dspy.Module):
    """A user's two-step program; gcop leaves it as it is."""

    def __init__(self):
        super().__init__()
        self.solve = dspy.ChainOfThought("question -> answer")
        self.check = dspy.Predict("question, answer -> answer")

    def forward(self, question):
        draft = self.solve(question=question).answer
        return self.check(question=question, answer=draft)


policy = gcop.GuideCorePolicy(
    guide=gcop.Guide(gcop.signatures.MathGuide, lm=gcop.LocalLM("smollm2-135m")),
    core=SolveThenCheck(),
    core_lm="openai/gpt-4.1-mini",
)
problems = gsm8k.load("test", n=5)
for example in problems:
    prediction = policy(question=example.question)
    print(f"strategy: {prediction.strategy!r}\nanswer: {prediction.answer} (gold {example.gold})")
print(policy.ledger.summary())
print(policy.with_core("openai/gpt-4.1-nano")(question=problems[0].question).answer)
