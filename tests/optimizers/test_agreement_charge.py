"""GRPO's agreement charge: wrong plans that other samples agree with cost more than lone ones."""

import pytest
from training_fakes import (
    KEYWORD,
    exact_metric,
    examples,
    keyword_core,
    one_pass_config,
    small_config,
    tiny_guide,
)

import gcop
from gcop.optimizers.grpo.agreement_charge import AgreementCharge, agreement_charges
from gcop.optimizers.grpo.trainer import make_reward

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def says_add(strategy, example):
    """The plan is right when it says the keyword."""
    return float(KEYWORD in strategy)


def last_word(strategy):
    """The consensus key: the plan's last word (plans agree where it is the same)."""
    words = strategy.split()
    return words[-1] if words else None


def as_chat(text):
    return [{"role": "assistant", "content": text}]


# one group: a right plan (on "3"), two wrong plans that agree (on "5"), a lone one (on "7")
GROUP = [
    "<strategy>1. add 3</strategy>",
    "<strategy>1. guess 5</strategy>",
    "<strategy>1. guess 5</strategy>",
    "<strategy>1. guess 7</strategy>",
]


def test_a_wrong_plan_is_charged_by_the_share_of_its_group_that_agrees_with_it():
    keys = ["5", "5", "5", "7", "9", "9"]
    wrong = [False, True, True, True, True, True]
    charges = agreement_charges([0, 0, 0, 0, 1, 1], keys, wrong, 0.6)
    # the right plan: never charged, though two wrong plans share its key; of the wrong plans
    # on "5", each has 2 of 3 others agreeing (the right one among them); "7" none; group 1: all
    assert charges == [0.0, 0.4, 0.4, 0.0, 0.6, 0.6]


def test_plans_without_a_key_and_groups_of_one_are_never_charged():
    assert agreement_charges([0, 0, 1], [None, None, "3"], [True, True, True], 1.0) == [0.0] * 3


def test_the_charge_refuses_a_negative_weight_and_missing_functions():
    with pytest.raises(ValueError, match="weight must be >= 0"):
        AgreementCharge(last_word, says_add, -0.1)
    with pytest.raises(TypeError, match="consensus key and verifier"):
        AgreementCharge(None, says_add, 1.0)


def charged_reward(scripted_lm, weight):
    core, fake = keyword_core(scripted_lm)
    config = small_config(lambda_judge=0.0, grpo_core_share=0.0)
    charge = AgreementCharge(last_word, says_add, weight) if weight else None
    reward = make_reward(
        tiny_guide(),
        core,
        examples(),
        metric=exact_metric,
        config=config,
        plan_verifier=says_add,
        agreement=charge,
    )
    return reward, fake


def test_the_plan_reward_charges_agreeing_wrong_plans_and_logs_what_it_moved(scripted_lm):
    plain, _ = charged_reward(scripted_lm, 0.0)
    charged, fake = charged_reward(scripted_lm, 0.9)
    completions = [as_chat(p) for p in GROUP] + [as_chat(GROUP[1])] * 4
    indices = [0] * 4 + [1] * 4
    before = plain(completions, example_index=indices)
    after = charged(completions, example_index=indices)
    # right: 1 + α_fmt; wrong: α_fmt, less 0.9 × (agreeing others / 3) where the key is shared
    assert before == [pytest.approx(r) for r in [1.1, 0.1, 0.1, 0.1] + [0.1] * 4]
    assert after == [pytest.approx(r) for r in [1.1, -0.2, -0.2, 0.1] + [-0.8] * 4]
    row = charged.history[-1]
    # group 0's advantages moved (the lone wrong plan now beats the agreeing ones); group 1,
    # all agreeing on one wrong key, is charged alike and stays flat
    assert row["agreement_moved_groups"] == 0.5 and row["charged_rate"] == 0.75
    assert row["zero_advantage_groups"] == 0.5 and row["core_calls"] == 0 and fake.calls == []
    assert "agreement_moved_groups" not in plain.history[-1]
    assert charged.summary()["agreement_charge"] == 0.9


def test_the_charge_needs_a_plan_verifier(scripted_lm):
    core, _ = keyword_core(scripted_lm)
    with pytest.raises(ValueError, match="no verifier: pass plan_verifier"):
        make_reward(
            tiny_guide(),
            core,
            examples(),
            metric=exact_metric,
            config=small_config(lambda_judge=0.0),
            agreement=AgreementCharge(last_word, says_add, 1.0),
        )


def test_exectune_builds_the_charge_from_the_students_kit(scripted_lm):
    core, fake = keyword_core(scripted_lm)
    kit = gcop.StrategyKit("keyword", consensus=last_word, verifier=says_add)
    student = gcop.GuideCorePolicy(guide=tiny_guide(), core=core, kit=kit)
    teacher = scripted_lm(["<strategy>add</strategy>"])
    config = one_pass_config(
        sft=False, grpo_core_share=0.0, grpo_plan_reward=True, grpo_agreement_charge=0.5
    )
    compiled = gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config).compile(
        student, trainset=examples()
    )
    assert compiled.artifacts["grpo"]["agreement_charge"] == 0.5 and fake.calls == []
    no_key = gcop.GuideCorePolicy(
        guide=tiny_guide(), core=core, kit=gcop.StrategyKit("keyword", verifier=says_add)
    )
    calls = len(teacher.calls)
    with pytest.raises(ValueError, match="kit with a consensus key"):
        gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config).compile(
            no_key, trainset=examples()
        )
    assert len(teacher.calls) == calls  # refused before any call
