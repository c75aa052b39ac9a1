"""Wrapping a user's DSPy program (issue 30.3): a reply the core cannot parse names the fix;
lenient parsing is refused where it cannot work; the core's LM defaults to DSPy's configured LM."""

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError

import gcop
from gcop.signatures import MathGuide, MathSolve


class TwoSteps(dspy.Module):
    def __init__(self):
        super().__init__()
        self.solve = dspy.Predict("question -> answer")
        self.check = dspy.Predict("question, draft -> answer")

    def forward(self, question):
        draft = self.solve(question=question).answer
        return self.check(question=question, draft=draft)


class Listing(dspy.Module):
    def __init__(self):
        super().__init__()
        self.list = dspy.Predict("question -> steps: list[str]")

    def forward(self, question):
        return self.list(question=question)


def test_an_unparsable_reply_of_a_wrapped_program_names_the_fix(scripted_lm):
    core_lm = scripted_lm(["just 4, no markers"])
    policy = gcop.GuideCorePolicy(guide=None, core=TwoSteps(), core_lm=core_lm.model_string)
    with pytest.raises(AdapterParseError, match=r"adapter='plain'.*lenient=True"):
        policy(question="2+2?")


def test_lenient_parsing_of_non_str_outputs_is_refused_when_the_core_is_built(scripted_lm):
    lm = scripted_lm(["x"]).model_string
    with pytest.raises(ValueError, match=r"\['list.steps'\] are not str"):
        gcop.Core(Listing(), lm, lenient=True)
    assert gcop.Core(Listing(), lm).lenient is False
    assert gcop.Core(dspy.Signature("question -> steps: list[str]"), lm).lenient is False
    assert gcop.Core(dspy.Signature("question -> answer"), lm).lenient is True


def test_the_wrapped_programs_lm_defaults_to_dspys_configured_lm(scripted_lm):
    core_lm = scripted_lm(["[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"])
    guide = gcop.Guide(MathGuide, lm=scripted_lm(["<strategy>Add.</strategy>"]).model_string)
    with pytest.raises(ValueError, match=r"dspy.configure\(lm=...\)"):
        gcop.GuideCorePolicy(guide=guide, core=TwoSteps())
    with dspy.context(lm=dspy.LM(core_lm.model_string)):
        policy = gcop.GuideCorePolicy(guide=guide, core=TwoSteps())
    assert policy.core.lm.model == core_lm.model_string
    assert policy(question="2+2?").answer == "4" and len(core_lm.calls) == 2


def test_a_dspy_adapter_object_formats_the_core_and_receives_the_strategy(scripted_lm, tmp_path):
    fake = scripted_lm(['{"answer": "7"}'])  # JSONAdapter's reply format
    core = gcop.Core(MathSolve, lm=fake.model_string, adapter=dspy.JSONAdapter(), cache=False)
    assert core(strategy="1. add 3 and 4", question="What is 3 + 4?").answer == "7"
    prompt = fake.calls[-1]["messages"]
    assert "1. add 3 and 4" in prompt[-1]["content"]  # the strategy reached the core's prompt
    assert "JSON" in prompt[0]["content"]  # in the user's adapter's own format
    assert core(question="What is 3 + 4?").answer == "7"  # and without one, as it was

    policy = gcop.GuideCorePolicy(guide=None, core=core)
    policy.save(tmp_path / "policy")
    other = gcop.GuideCorePolicy(
        guide=None, core=gcop.Core(MathSolve, lm=fake.model_string, adapter="plain")
    )
    with pytest.raises(ValueError, match="saved with the core adapter .*JSONAdapter"):
        other.load(tmp_path / "policy")


def test_lenient_parsing_is_refused_with_an_adapter_object_of_ones_own(scripted_lm):
    lm = scripted_lm(["x"]).model_string
    with pytest.raises(ValueError, match="JSONAdapter parses replies its own way"):
        gcop.Core(MathSolve, lm=lm, adapter=dspy.JSONAdapter(), lenient=True)
