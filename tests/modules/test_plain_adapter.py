"""The plain core format: no field markers, the plan appended, the whole reply as the answer."""

from __future__ import annotations

import dspy
import pytest

import gcop
from gcop.modules.plain_adapter import PLAN_HEADER, PlainStrategyAdapter
from gcop.signatures import MathSolve
from tests.fakes import ScriptedLM, last_user_text


def test_prompt_holds_question_instructions_and_plan_without_markers():
    messages = PlainStrategyAdapter("1. Compute 2*3.").format(MathSolve, [], {"question": "Q?"})
    assert len(messages) == 1 and messages[0]["role"] == "user"
    text = messages[0]["content"]
    assert text.startswith("Q?\n\n" + MathSolve.instructions.strip())
    assert text.endswith(f"{PLAN_HEADER}\n<strategy>\n1. Compute 2*3.\n</strategy>")
    assert "[[ ##" not in text
    unguided = PlainStrategyAdapter(None).format(MathSolve, [], {"question": "Q?"})
    assert PLAN_HEADER not in unguided[0]["content"]


def test_demos_become_turns_and_reply_fills_the_last_output():
    demos = [{"question": "1+1?", "answer": "The answer is 2"}]
    messages = PlainStrategyAdapter().format(MathSolve, demos, {"question": "2+2?"})
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "The answer is 2"
    assert PlainStrategyAdapter().parse(MathSolve, " 2+2 = 4. The answer is 4\n") == {
        "answer": "2+2 = 4. The answer is 4"
    }


def test_typed_outputs_are_refused_with_the_fix():
    class Count(dspy.Signature):
        """Count."""

        text: str = dspy.InputField()
        n: int = dspy.OutputField()

    with pytest.raises(ValueError, match="adapter='chat'"):
        PlainStrategyAdapter().format(Count, [], {"text": "a b"})


def test_core_with_plain_adapter_sends_the_plan_and_reads_the_answer():
    lm = ScriptedLM(["Work: 6. The answer is 6"])
    core = gcop.Core(MathSolve, lm=lm.model_string, adapter="plain")
    prediction = core(strategy="1. Compute 2*3.", question="What is 2*3?")
    assert prediction.answer == "Work: 6. The answer is 6"
    sent = last_user_text(lm.calls[-1]["messages"])
    assert "What is 2*3?" in sent and "1. Compute 2*3." in sent and "[[ ##" not in sent
    with pytest.raises(ValueError, match="'chat', 'plain' or a dspy.Adapter object"):
        gcop.Core(MathSolve, lm=lm.model_string, adapter="json")
