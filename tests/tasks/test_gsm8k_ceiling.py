"""The reference-plan ceiling hands the core the plan read off each question's reference."""

from __future__ import annotations

import dspy
import pytest

import gcop
from gcop.signatures import MathSolve
from gcop.tasks.gsm8k.ceiling import ReferencePlanPolicy
from tests.fakes import ScriptedLM, last_user_text


def test_core_gets_the_reference_plan_and_unknown_questions_are_refused():
    example = dspy.Example(
        question="Half of 48, plus 48?", answer="<<48/2=24>> <<48+24=72>>\\n#### 72", gold="72"
    ).with_inputs("question")
    lm = ScriptedLM(["48/2 = 24, 48+24 = 72. The answer is 72"])
    policy = ReferencePlanPolicy(
        gcop.Core(MathSolve, lm=lm.model_string, adapter="plain"), [example]
    )
    prediction = policy(question=example.question)
    assert prediction.strategy == "1. Compute 48/2.\n2. Compute 48+24."
    assert prediction.valid and prediction.reason == "reference"
    assert "1. Compute 48/2." in last_user_text(lm.calls[-1]["messages"])
    assert prediction.cost.calls == 1
    with pytest.raises(ValueError, match="only answers the questions"):
        policy(question="another question")
