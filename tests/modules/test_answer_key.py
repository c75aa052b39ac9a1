"""A kit with an answer_key: the core's own answer stands where one of the guide's sampled
plans leads to it; the agreed plan is sent only where none does."""

import asyncio
from collections import Counter

import dspy
import pytest
from fakes import last_user_text

import gcop
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks.gsm8k.calculator import answer_value, plan_value

QUESTION = "Tom has 2 apples and buys 2 more. How many apples?"
SAMPLES = [  # two agree on 4, one says 5, one is invalid
    "<strategy>1. Compute 2+2.</strategy>",
    "<strategy>1. Compute 2+2.</strategy>",
    "<strategy>1. Compute 2+3.</strategy>",
    "no block",
]


def policy_with(scripted_lm, alone_answer: str, min_agreement: float = 0.5):
    """A policy whose guide samples SAMPLES and whose core answers ``alone_answer`` without a
    plan and 4 with one; the core's LM is returned too, to count its calls."""
    kit = gcop.StrategyKit(
        "test-answer-key",
        samples=4,
        consensus=plan_value,
        min_agreement=min_agreement,
        answer_key=answer_value,
    )
    guide = gcop.Guide(MathGuide, lm=scripted_lm(SAMPLES).model_string)
    core_lm = scripted_lm(
        lambda m: "So 2+2 = 4. The answer is 4" if "Compute" in last_user_text(m) else alone_answer
    )
    core = gcop.Core(MathSolve, lm=core_lm.model_string, adapter="plain")
    gcop.register_kit(kit)  # so that a saved policy restores it
    return gcop.GuideCorePolicy(guide=guide, core=core, kit=kit), core_lm


def test_the_guide_reports_where_each_sample_leads(scripted_lm):
    policy, _ = policy_with(scripted_lm, "The answer is 5")
    plan = policy.guide(question=QUESTION)
    assert Counter(plan.sample_keys) == {4.0: 2, 5.0: 1, None: 1}  # samples run in any order
    assert plan.strategy == "1. Compute 2+2."


def test_an_answer_one_plan_leads_to_is_kept_without_sending_a_plan(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, "The answer is 5")
    prediction = policy(question=QUESTION)
    assert prediction.answer == "The answer is 5"  # a plan leads to 5: no plan is sent
    assert (prediction.valid, prediction.strategy) == (False, "")
    assert prediction.reason == "kept the core's answer: 1 of 4 strategies lead to it"
    assert len(core_lm.calls) == 1 and "Compute" not in last_user_text(core_lm.calls[0]["messages"])
    assert prediction.cost.calls == 4 + 1


def test_an_answer_no_plan_leads_to_gets_the_agreed_plan(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, "The answer is 7")
    prediction = policy(question=QUESTION)
    assert prediction.answer == "So 2+2 = 4. The answer is 4"
    assert (prediction.valid, prediction.strategy) == (True, "1. Compute 2+2.")
    assert len(core_lm.calls) == 2 and prediction.cost.calls == 4 + 2
    again = asyncio.run(policy.acall(question=QUESTION))  # the async path decides the same
    assert (again.answer, again.strategy) == (prediction.answer, prediction.strategy)


def test_where_the_guide_abstains_the_core_answers_once(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, "The answer is 7", min_agreement=0.75)
    prediction = policy(question=QUESTION)
    assert prediction.answer == "The answer is 7"
    assert prediction.reason == "abstained: 2 of 4 strategies agree"
    assert len(core_lm.calls) == 1


def test_an_answer_key_needs_a_kit_with_consensus():
    with pytest.raises(ValueError, match="so it needs consensus"):
        gcop.StrategyKit("no-consensus", answer_key=answer_value)


def test_a_saved_policy_restores_its_answer_key(scripted_lm, tmp_path):
    policy, _ = policy_with(scripted_lm, "The answer is 5")
    policy.save(tmp_path / "policy")
    plain = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=scripted_lm(SAMPLES).model_string),
        core=gcop.Core(MathSolve, lm=scripted_lm(["The answer is 4"]).model_string),
    )
    loaded = plain.load(tmp_path / "policy")
    assert loaded.kit.answer_key is answer_value and loaded.kit.samples == 4
    without = policy.kit.with_settings(answer_key=None)  # saved without one, loads without one
    gcop.GuideCorePolicy(guide=policy.guide, core=policy.core, kit=without).save(tmp_path / "p2")
    assert plain.load(tmp_path / "p2").kit.answer_key is None


def test_the_report_counts_how_each_recipe_used_its_guide(scripted_lm, tmp_path):
    from gcop.evaluate import evaluate
    from gcop.report import write_report

    examples = [dspy.Example(question=QUESTION).with_inputs("question") for _ in range(2)]
    runs = {  # the core's answer alone, and the agreement the guide needs
        "kept": ("The answer is 5", 0.5),
        "sent": ("The answer is 7", 0.5),
        "abstained": ("The answer is 7", 0.75),
    }
    results = []
    for name, (alone, needed) in runs.items():
        policy, _ = policy_with(scripted_lm, alone, min_agreement=needed)
        # one example at a time: each then draws the four scripted samples in turn
        run = evaluate(policy, examples, lambda e, p, t=None: True, name=name, num_threads=1)
        results.append(run)
    text = write_report(tmp_path, results).read_text()
    table = text.split("## How the guide was used")[1]
    header = "| plan sent | plan not rendered, core alone | core's answer kept | guide abstained |"
    assert header in table
    assert "| kept | 0 | 0 | 2 | 0 | 0 |" in table
    assert "| sent | 2 | 0 | 0 | 0 | 0 |" in table
    assert "| abstained | 0 | 0 | 0 | 2 | 0 |" in table


def test_a_policys_kit_leaves_the_callers_core_and_guide_as_they_were(scripted_lm):
    core = gcop.Core(MathSolve, lm=scripted_lm(["The answer is 4"]).model_string)
    guide = gcop.Guide(MathGuide, lm=scripted_lm(SAMPLES).model_string)
    kit = gcop.StrategyKit("leaves-callers", samples=2, consensus=plan_value)
    policy = gcop.GuideCorePolicy(guide=guide, core=core, kit=kit)
    assert (policy.core.kit, policy.guide.kit) == (kit, kit)
    assert (core.kit, guide.kit) == (None, None)
    assert policy.core.lm is core.lm and policy.ledger is core.ledger
