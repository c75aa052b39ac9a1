"""GRPO's plan reward: the task's verifier scores the plans, the core executes a share of groups."""

import random

import pytest
from training_fakes import (
    KEYWORD,
    exact_metric,
    examples,
    keyword_core,
    keyword_core_reply,
    one_pass_config,
    small_config,
    strategy_sent,
    tiny_guide,
)

import gcop
from gcop.optimizers.grpo.core_selection import core_group_count
from gcop.optimizers.grpo.plan_reward import PlanReward
from gcop.optimizers.grpo.trainer import make_reward, train_grpo
from gcop.signatures import MathSolve

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def as_chat(text):
    return [{"role": "assistant", "content": text}]


def says_add(strategy, example):
    """A plan verifier: the plan is right when it says the keyword."""
    return float(KEYWORD in strategy)


# per group (example), two plans: one saying the keyword, one not; one invalid completion
PLANS = ["<strategy>1. add</strategy>", "<strategy>1. guess</strategy>", "1. add"]


def batch(groups):
    completions = [as_chat(p) for _ in range(groups) for p in PLANS]
    indices = [i for i in range(groups) for _ in PLANS]
    return completions, indices


def reward_for(scripted_lm, share, verifier=says_add):
    core, fake = keyword_core(scripted_lm)
    config = small_config(lambda_judge=0.0, grpo_core_share=share)
    reward = make_reward(
        tiny_guide(), core, examples(), metric=exact_metric, config=config, plan_verifier=verifier
    )
    return reward, fake


def test_the_verifier_scores_every_plan_without_the_core(scripted_lm):
    reward, fake = reward_for(scripted_lm, share=0.0)
    assert isinstance(reward, PlanReward)
    completions, indices = batch(4)
    rewards = reward(completions, example_index=indices)
    # right plan: R_task 1 + α_fmt 0.1; wrong plan: α_fmt; invalid: gated to 0
    assert rewards == [pytest.approx(r) for r in [1.1, 0.1, 0.0] * 4]
    assert fake.calls == []
    row = reward.history[-1]
    assert row["core_calls"] == 0 and row["core_groups"] == 0 and row["groups"] == 4
    assert row["plan_right_rate"] == pytest.approx(1 / 3) and row["valid_rate"] == pytest.approx(
        2 / 3
    )
    assert row["zero_advantage_groups"] == 0.0


def test_the_core_share_of_groups_is_executed_and_its_reward_replaces_the_verifiers(scripted_lm):
    # a verifier that is always wrong: only core-executed groups can reward "add"
    reward, fake = reward_for(scripted_lm, share=0.5, verifier=lambda s, ex: 0.0)
    completions, indices = batch(4)
    rewards = reward(completions, example_index=indices)
    row = reward.history[-1]
    assert row["core_groups"] == 2
    by_group = [rewards[3 * g : 3 * g + 3] for g in range(4)]
    core_groups = [g for g, r in enumerate(by_group) if r[0] > 1.0]
    assert len(core_groups) == 2  # the keyword core rewarded "add" there (1 + α_fmt)
    for g, r in enumerate(by_group):
        if g not in core_groups:
            assert r == [pytest.approx(0.1), pytest.approx(0.1), 0.0]  # all wrong by the verifier
    # per core group: 2 valid plans run guided, and 1 unguided baseline; nothing else
    assert len(fake.calls) == row["core_calls"] == 2 * 3
    guided = sorted(strategy_sent(c["messages"]).strip() for c in fake.calls)
    assert guided == ["", "", "1. add", "1. add", "1. guess", "1. guess"]
    # groups with equal verifier rewards are the flat ones: the two not sent to the core
    assert row["zero_advantage_groups"] == 0.0  # each group still has an invalid (0) completion


def test_a_plan_the_verifier_cannot_check_sends_its_group_to_the_core(scripted_lm):
    reward, fake = reward_for(
        scripted_lm, share=0.0, verifier=lambda s, ex: None if "guess" in s else 1.0
    )
    completions, indices = batch(2)
    rewards = reward(completions, example_index=indices)
    assert reward.history[-1]["core_groups"] == 2
    assert rewards == [pytest.approx(r) for r in [1.1, 0.1, 0.0] * 2]  # the core's verdicts
    assert len(fake.calls) == 2 * 3


def gated_reward(scripted_lm, verifier, core_reply=keyword_core_reply, judge=None, **weights):
    """The gate with the shaped reward's other terms off unless ``weights`` (μ, λ_judge) say."""
    fake = scripted_lm(core_reply)
    core = gcop.Core(MathSolve, lm=fake.model_string)
    settings = {"lambda_judge": 0.0, "mu": 0.0, **weights}
    config = small_config(grpo_core_share=1.0, grpo_core_gate=True, **settings)
    reward = make_reward(
        tiny_guide(),
        core,
        examples(),
        metric=exact_metric,
        config=config,
        plan_verifier=verifier,
        judge_lm=judge.model_string if judge is not None else None,
    )
    return reward, fake


def solves_alone_core_reply(messages):
    """A core that answers right alone and with "add", wrong with any other plan."""
    return keyword_core_reply(messages) if strategy_sent(messages) else ANSWER_7


ANSWER_7 = "[[ ## answer ## ]]\nThe answer is 7\n\n[[ ## completed ## ]]"


def test_the_gate_rewards_a_right_plan_only_where_the_core_carries_it_out(scripted_lm):
    # the verifier finds both valid plans right; the keyword core carries out only "add"
    reward, fake = gated_reward(scripted_lm, verifier=lambda s, ex: 1.0)
    completions, indices = batch(2)
    rewards = reward(completions, example_index=indices)
    # "add": 1 × 1 + α_fmt; "guess": right by the verifier, but the core failed it: α_fmt alone
    assert rewards == [pytest.approx(r) for r in [1.1, 0.1, 0.0] * 2]
    # one call per right plan (the same plan twice per group is one job); no unguided baseline
    sent = sorted(strategy_sent(c["messages"]).strip() for c in fake.calls)
    assert sent == ["1. add", "1. add", "1. guess", "1. guess"]
    row = reward.history[-1]
    assert row["core_calls"] == 4 and row["core_groups"] == 0  # core_share is unused
    assert row["carried_rate"] == pytest.approx(0.5)
    assert reward.summary()["core_gate"] is True


def test_the_gate_never_sends_a_wrong_plan_to_the_core(scripted_lm):
    # the verifier finds "add" wrong: the core would have carried it out, but it is never asked
    reward, fake = gated_reward(scripted_lm, verifier=lambda s, ex: float("guess" in s))
    completions, indices = batch(2)
    rewards = reward(completions, example_index=indices)
    assert rewards == [pytest.approx(r) for r in [0.1, 0.1, 0.0] * 2]
    assert [strategy_sent(c["messages"]).strip() for c in fake.calls] == ["1. guess"] * 2
    assert reward.history[-1]["carried_rate"] == 0.0


def test_a_right_plan_the_core_never_answered_teaches_nothing(scripted_lm):
    def fails_on_guess(messages):
        if "guess" in strategy_sent(messages):
            raise ValueError("the core's server refused the request")
        return keyword_core_reply(messages)

    reward, _ = gated_reward(scripted_lm, lambda s, ex: 1.0, core_reply=fails_on_guess)
    completions, indices = batch(1)
    rewards = reward(completions, example_index=indices)
    # "guess" gets its group's mean over the answered samples (1.1 and 0.0): advantage 0
    assert rewards == [pytest.approx(1.1), pytest.approx(0.55), 0.0]
    assert reward.core_reward.core_errors == 1


def test_the_gate_applies_the_hinge_against_the_core_alone(scripted_lm):
    # the core solves every question alone; "guess" is right by the verifier, the core fails it
    reward, fake = gated_reward(
        scripted_lm, lambda s, ex: 1.0, core_reply=solves_alone_core_reply, mu=0.5
    )
    completions, indices = batch(2)
    rewards = reward(completions, example_index=indices)
    # "guess": α_fmt − μ·(1 − 0); the invalid completion: gated to 0
    assert rewards == [pytest.approx(r) for r in [1.1, 0.1 - 0.5, 0.0] * 2]
    sent = sorted(strategy_sent(c["messages"]).strip() for c in fake.calls)
    assert sent == ["", "", "1. add", "1. add", "1. guess", "1. guess"]  # one baseline each
    row = reward.history[-1]
    assert row["core_calls"] == 6 and row["unguided"] == 1.0
    # an invalid completion sits between the valid ones only with the hinge: advantages move
    assert row["hinge_moved_groups"] == 1.0 and row["judge_moved_groups"] is None
    assert reward(completions, example_index=indices) == rewards
    assert len(fake.calls) == 6  # the baselines are kept, the runs cached


def test_between_valid_plans_the_hinge_leaves_the_advantages_as_they_were(scripted_lm):
    reward, _ = gated_reward(
        scripted_lm, lambda s, ex: 1.0, core_reply=solves_alone_core_reply, mu=1.0
    )
    valid_only = [as_chat(p) for p in PLANS[:2] for _ in range(2)]
    rewards = reward(valid_only, example_index=[0] * 4)
    assert rewards == [pytest.approx(r) for r in [1.1, 1.1, 0.1 - 1.0, 0.1 - 1.0]]
    assert reward.history[-1]["hinge_moved_groups"] == 0.0  # an affine map of R_task


def test_the_gate_adds_the_judges_score_on_every_valid_plan(scripted_lm):
    judge = scripted_lm(
        lambda messages: "SCORE: 1\nLEAK: no" if "1. add" in str(messages) else "SCORE: 0\nLEAK: no"
    )
    reward, fake = gated_reward(
        scripted_lm, lambda s, ex: float("add" in s), judge=judge, lambda_judge=0.2
    )
    completions, indices = batch(2)
    rewards = reward(completions, example_index=indices)
    assert rewards == [pytest.approx(r) for r in [1.1 + 0.2, 0.1, 0.0] * 2]
    assert len(judge.calls) == 4  # each valid plan, never the invalid one
    row = reward.history[-1]
    assert row["judge_calls"] == 4 and row["judge"] == pytest.approx(0.5)
    assert row["core_calls"] == 2  # the right plans only: μ = 0 calls no baseline
    assert row["judge_moved_groups"] == 1.0 and row["hinge_moved_groups"] is None


def test_core_group_count_is_exact_in_expectation():
    rng = random.Random(1)
    counts = [core_group_count(8, 0.3, rng) for _ in range(4000)]
    assert set(counts) == {2, 3}
    assert sum(counts) / len(counts) == pytest.approx(2.4, abs=0.05)


def test_grpo_with_a_verifier_trains_at_zero_core_calls(scripted_lm):
    core, fake = keyword_core(scripted_lm)
    config = small_config(lambda_judge=0.0, grpo_core_share=0.0, grpo_steps=2)
    trained, summary = train_grpo(
        tiny_guide(), core, examples(), metric=exact_metric, config=config, plan_verifier=says_add
    )
    assert summary["steps"] == 2 and summary["core_calls"] == 0 and fake.calls == []
    history = summary["history"]
    assert len(history) == 2
    for row in history:
        assert 0.0 <= row["zero_advantage_groups"] <= 1.0
        assert row["groups"] == 1 and "loss" in row
    assert summary["plan_verifier"] == "says_add" and summary["core_share"] == 0.0


def test_bad_verifier_settings_raise_clear_errors(scripted_lm):
    with pytest.raises(TypeError, match="plan_verifier must be callable"):
        reward_for(scripted_lm, share=0.0, verifier="gsm8k")
    with pytest.raises(ValueError, match="grpo_core_share"):
        small_config(grpo_core_share=1.5)
    with pytest.raises(ValueError, match="grpo_checkpoint_dir"):
        small_config(grpo_save_steps=5)
    core, _ = keyword_core(scripted_lm)
    gate = small_config(lambda_judge=0.0, grpo_core_gate=True)
    with pytest.raises(ValueError, match="grpo_core_gate .* no verifier"):
        make_reward(tiny_guide(), core, examples(), metric=exact_metric, config=gate)


def test_exectune_hands_its_plan_verifier_to_grpo(scripted_lm):
    core, fake = keyword_core(scripted_lm)
    student = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    teacher = scripted_lm(["<strategy>add</strategy>"])
    config = one_pass_config(sft=False, grpo_core_share=0.0)  # GRPO alone: no acceptance
    optimizer = gcop.ExecTune(
        exact_metric, teacher=teacher.model_string, config=config, plan_verifier=says_add
    )
    compiled = optimizer.compile(student, trainset=examples())
    grpo = compiled.artifacts["grpo"]
    assert grpo["plan_verifier"] == "says_add" and grpo["steps"] == 1
    assert grpo["core_calls"] == 0 and fake.calls == []  # the verifier scored every plan
    with pytest.raises(TypeError, match="plan_verifier must be callable"):
        gcop.ExecTune(exact_metric, plan_verifier="gsm8k")


def test_exectune_takes_the_verifier_of_the_students_kit_when_asked(scripted_lm):
    """With grpo_plan_reward the task's own check scores the plans: the kit's verifier, given to
    the policy, not to the optimizer; without a verifier in the kit the error names the fixes."""
    core, fake = keyword_core(scripted_lm)
    kit = gcop.StrategyKit("keyword", verifier=says_add)
    student = gcop.GuideCorePolicy(guide=tiny_guide(), core=core, kit=kit)
    teacher = scripted_lm(["<strategy>add</strategy>"])
    config = one_pass_config(sft=False, grpo_core_share=0.0, grpo_plan_reward=True)
    compiled = gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config).compile(
        student, trainset=examples()
    )
    assert compiled.artifacts["grpo"]["plan_verifier"] == "says_add" and fake.calls == []
    plain = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    calls = len(teacher.calls)
    with pytest.raises(ValueError, match="needs a strategy kit with a verifier"):
        gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config).compile(
            plain, trainset=examples()
        )
    assert len(teacher.calls) == calls and fake.calls == []  # refused before any call
