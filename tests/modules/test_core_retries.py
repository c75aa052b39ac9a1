"""A kit with retries: where the core's answer to the plan sent does not reach the plan's
result, the core is asked again (sampled, uncached) and the first reply that does is kept."""

import asyncio

import pytest
from fakes import last_user_text

import gcop
from gcop.modules.plan_consensus import RETRY_TEMPERATURE
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import answer_value, plan_value
from gcop.tasks.task import PolicySettings

QUESTION = "Tom has 2 apples and buys 2 more. How many apples?"
SAMPLES = ["<strategy>1. Compute 2+2.</strategy>"] * 2  # both lead to 4


def policy_with(scripted_lm, guided_answers: list[str], retries: int):
    """A policy whose core answers 7 alone (no plan backs it, so the plan is sent) and, given
    the plan, ``guided_answers`` in turn; the core's LM is returned too, to read its calls."""
    kit = gcop.StrategyKit(
        "test-core-retries",
        samples=2,
        consensus=plan_value,
        answer_key=answer_value,
        retries=retries,
    )
    guided = iter(guided_answers)

    def core_reply(messages):
        text = last_user_text(messages)
        return f"The answer is {next(guided)}" if "Compute" in text else "The answer is 7"

    core_lm = scripted_lm(core_reply)
    core = gcop.Core(MathSolve, lm=core_lm.model_string, adapter="plain")
    guide = gcop.Guide(MathGuide, lm=scripted_lm(SAMPLES).model_string)
    gcop.register_kit(kit)  # so that a saved policy restores it
    return gcop.GuideCorePolicy(guide=guide, core=core, kit=kit), core_lm


def guided_calls(core_lm) -> list[dict]:
    return [call for call in core_lm.calls if "Compute" in last_user_text(call["messages"])]


def test_the_first_retry_that_reaches_the_plan_is_kept(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, ["6", "9", "4"], retries=2)
    prediction = policy(question=QUESTION)
    assert prediction.answer == "The answer is 4"
    assert (prediction.strategy, prediction.valid) == ("1. Compute 2+2.", True)
    calls = guided_calls(core_lm)
    assert len(calls) == 3  # the two retries were sampled, not served from the cache
    assert [call.get("temperature") for call in calls[1:]] == [RETRY_TEMPERATURE] * 2
    assert calls[0].get("temperature") != RETRY_TEMPERATURE
    assert prediction.cost.calls == 2 + 1 + 3  # samples, the core alone, three guided replies


def test_without_a_reply_that_reaches_the_plan_the_first_answer_stands(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, ["6", "9"], retries=1)
    assert policy(question=QUESTION).answer == "The answer is 6"
    assert len(guided_calls(core_lm)) == 2


def test_a_core_that_reaches_the_plan_is_not_asked_again(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, ["4"], retries=2)
    assert policy(question=QUESTION).answer == "The answer is 4"
    assert len(guided_calls(core_lm)) == 1


def test_without_retries_a_straying_answer_stands(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, ["6"], retries=0)
    assert policy(question=QUESTION).answer == "The answer is 6"
    assert len(guided_calls(core_lm)) == 1


def test_the_async_path_retries_the_same_way(scripted_lm):
    policy, core_lm = policy_with(scripted_lm, ["6", "9", "4"], retries=2)
    prediction = asyncio.run(policy.acall(question=QUESTION))
    assert prediction.answer == "The answer is 4" and len(guided_calls(core_lm)) == 3


def test_retries_need_an_answer_key_and_a_count_of_zero_or_more():
    with pytest.raises(ValueError, match="retries=2 asks the core again.*needs answer_key"):
        gcop.StrategyKit("no-key", samples=2, consensus=plan_value, retries=2)
    with pytest.raises(ValueError, match="retries must be 0 or more"):
        gcop.StrategyKit("negative", consensus=plan_value, answer_key=answer_value, retries=-1)
    with pytest.raises(ValueError, match="core_retries compares.*keep_core_answer=True"):
        PolicySettings(samples=5, core_retries=1)
    settings = PolicySettings(samples=5, keep_core_answer=True, core_retries=2)
    assert gsm8k.TASK.policy_kit(settings).retries == 2


def test_a_saved_policy_restores_its_retries(scripted_lm, tmp_path):
    policy, _ = policy_with(scripted_lm, ["4"], retries=2)
    policy.save(tmp_path / "policy")
    plain = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=scripted_lm(SAMPLES).model_string),
        core=gcop.Core(MathSolve, lm=scripted_lm(["The answer is 4"]).model_string),
    )
    assert plain.load(tmp_path / "policy").kit.retries == 2
