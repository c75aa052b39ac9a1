"""Guide(kit=StrategyKit(samples=n, consensus=...)): keep a strategy only where enough samples
agree."""

import itertools
from collections import Counter

import pytest
from fakes import last_user_text

import gcop
from gcop.modules.plan_consensus import agreed_plan
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks.gsm8k.calculator import plan_value

KIT = gcop.StrategyKit("test-consensus", samples=4, consensus=plan_value)

QUESTION = "Tom has 2 apples and buys 2 more. How many apples?"
FOUR = "<strategy>1. Compute 2+2.</strategy>"
FIVE = "<strategy>1. Compute 2+3.</strategy>"


def consensus_guide(scripted_lm, replies, min_agreement=0.5, **settings):
    """A guide seeded 0 unless ``settings`` say otherwise: sample i gets seed i and replies[i]
    (drawn concurrently, samples may reach the LM in any order)."""
    guide_lm = scripted_lm(replies, by_seed=True)
    kit = KIT.with_settings(min_agreement=min_agreement)
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string, kit=kit, **{"seed": 0, **settings})
    return guide, guide_lm


def test_the_most_common_result_is_kept_when_enough_samples_agree(scripted_lm):
    guide, guide_lm = consensus_guide(scripted_lm, [FOUR, FOUR, FIVE, "no block"])
    plan = guide(question=QUESTION)
    assert (plan.valid, plan.strategy, plan.agreement) == (True, "1. Compute 2+2.", 0.5)
    assert len(guide_lm.calls) == 4  # each sample its own rollout: DSPy's cache kept them apart
    again = guide(question=QUESTION)
    assert (again.strategy, len(guide_lm.calls)) == (plan.strategy, 4)  # the same 4, cached


def test_the_guide_abstains_below_min_agreement_and_the_core_runs_alone(scripted_lm):
    guide, _ = consensus_guide(scripted_lm, [FOUR, FOUR, FIVE, "no block"], min_agreement=0.75)
    core_lm = scripted_lm(
        lambda m: "The answer is 9" if "Compute" in last_user_text(m) else "The answer is 4"
    )
    core = gcop.Core(MathSolve, lm=core_lm.model_string, adapter="plain")
    for strict in (True, False):  # the Advisor (not strict) gets no plan either
        policy = gcop.GuideCorePolicy(guide=guide, core=core, strict=strict)
        prediction = policy(question=QUESTION)
        assert (prediction.valid, prediction.strategy) == (False, "")
        assert prediction.reason == "abstained: 2 of 4 strategies agree"
        assert prediction.answer == "The answer is 4"
        assert prediction.cost.calls == 4 + 1  # every sample is the task's cost, and the core


def test_the_guide_stops_drawing_where_no_result_can_reach_min_agreement(scripted_lm):
    guide, guide_lm = consensus_guide(scripted_lm, ["no block", FOUR], min_agreement=1.0)
    plan = guide(question=QUESTION)
    assert (plan.valid, len(guide_lm.calls)) == (False, 1)
    assert plan.reason == "abstained: 0 of 1 strategies agree, and 4 of 4 no longer can"
    guide, guide_lm = consensus_guide(scripted_lm, [FOUR, FIVE, "no block"], min_agreement=0.75)
    assert not guide(question=QUESTION).valid
    assert len(guide_lm.calls) == 3  # after FOUR, FIVE one more FOUR would still reach 3 of 4


@pytest.mark.parametrize("min_agreement", [0.25, 0.5, 0.6, 0.75, 1.0])
@pytest.mark.parametrize(
    "replies",
    [
        [FOUR, FOUR, FOUR, FOUR],
        [FOUR, FIVE, FOUR, FOUR],
        [FIVE, FOUR, FOUR, FOUR],
        ["no block", FOUR, FOUR, FOUR],
        [FOUR, "no block", "no block", FIVE],
        [FIVE, FIVE, "no block", FOUR],
    ],
)
def test_stopping_early_decides_as_drawing_every_sample_would(scripted_lm, replies, min_agreement):
    guide, guide_lm = consensus_guide(scripted_lm, replies, min_agreement=min_agreement)
    plan = guide(question=QUESTION)
    every = agreed_plan(guide.kit, [(reply, guide.parse(reply)) for reply in replies])
    assert (plan.valid, plan.strategy) == (every.valid, every.strategy)
    assert len(guide_lm.calls) <= len(replies)
    if every.valid:  # a kept plan was checked against every sample
        assert (len(guide_lm.calls), plan.sample_keys) == (len(replies), every.sample_keys)


def test_the_first_sample_is_greedy_and_seeded_samples_get_their_own_seeds(scripted_lm):
    guide, guide_lm = consensus_guide(scripted_lm, [FOUR])
    guide(question=QUESTION, lm_kwargs={"seed": 3})
    calls = sorted(guide_lm.calls, key=lambda call: call["seed"])
    assert [call["seed"] for call in calls] == [12, 13, 14, 15]
    assert [call["temperature"] for call in calls] == [0.0, 0.6, 0.6, 0.6]


def test_a_guide_rebuilt_for_trained_weights_keeps_its_consensus(scripted_lm):
    guide, _ = consensus_guide(scripted_lm, [FOUR], min_agreement=0.75, temperature=0.9)
    other = guide.with_lm(scripted_lm([FIVE]).model_string)
    assert other.kit == KIT.with_settings(min_agreement=0.75) and other.samples == 4
    assert other.lm.kwargs["temperature"] == 0.9
    assert other(question=QUESTION).strategy == "1. Compute 2+3."


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"samples": 4}, "needs consensus"),
        ({"samples": 0}, "at least 1"),
        ({"samples": 4, "consensus": plan_value, "min_agreement": 0}, "min_agreement"),
    ],
)
def test_kit_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        gcop.StrategyKit("checked", **settings)


def test_a_guide_sampling_several_strategies_at_temperature_0_is_refused(scripted_lm):
    with pytest.raises(ValueError, match="always agree"):
        gcop.Guide(MathGuide, lm=scripted_lm([FOUR]).model_string, kit=KIT, temperature=0.0)


def test_a_guide_drawing_one_strategy_draws_its_greedy_choice(scripted_lm):
    guide_lm = scripted_lm([FOUR])
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string, temperature=0.9)
    plan = guide(question=QUESTION, lm_kwargs={"seed": 3})
    assert plan.strategy == "1. Compute 2+2."
    assert [(call["temperature"], call["seed"]) for call in guide_lm.calls] == [(0.0, 3)]


def test_a_guide_seeded_at_construction_gives_each_sample_its_own_seed(scripted_lm):
    # the guide's own seed reached every call unchanged: its sampled strategies were all one
    guide, guide_lm = consensus_guide(scripted_lm, [FOUR], seed=3)
    guide(question=QUESTION)
    assert sorted(call["seed"] for call in guide_lm.calls) == [12, 13, 14, 15]


def test_a_local_guide_samples_the_same_strategies_on_every_run():
    from gcop.lm.tiny import tiny_model

    kit = gcop.StrategyKit("test-any", samples=3, consensus=len)  # any text is a key
    messages = [{"role": "user", "content": QUESTION}]
    runs = []
    for _ in range(2):  # two LMs on the same weights, named apart: no cache entry is shared
        model, tokenizer = tiny_model(0)
        local = gcop.LocalLM(model, tokenizer=tokenizer, name=f"tiny-seeded-{len(runs)}")
        guide = gcop.Guide(MathGuide, local, kit=kit, temperature=1.0, max_tokens=12)
        runs.append([guide._sample(messages, index, None) for index in (1, 2)])
        local.close()
    assert guide.lm.kwargs["seed"] == 0
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]  # each sample its own seed


def rounds_drawn(kit, keys: list[str | None]) -> list[int]:
    """How many strategies each of the guide's rounds draws from ``keys`` (None: invalid)."""
    from gcop.modules.plan_consensus import draws_at_once
    from gcop.strategy import parse_strategy

    samples, rounds = [], []
    while count := draws_at_once(kit, samples):
        for key in keys[len(samples) : len(samples) + count]:
            text = "no block" if key is None else f"<strategy>1. {key}</strategy>"
            samples.append((text, parse_strategy(text)))
        rounds.append(count)
    return rounds


def drawn_one_at_a_time(kit, keys: list[str | None]) -> int:
    """How many one-at-a-time draws take place: until all are drawn or no key can still
    reach min_agreement."""
    needed = next(n for n in range(kit.samples + 1) if n / kit.samples >= kit.min_agreement)
    drawn = 0
    while drawn < kit.samples:
        counts = Counter(key for key in keys[:drawn] if key is not None)
        if max(counts.values(), default=0) + kit.samples - drawn < needed:
            break
        drawn += 1
    return drawn


@pytest.mark.parametrize("min_agreement", [0.2, 0.4, 0.6, 0.8, 1.0])
def test_drawing_several_at_once_draws_what_drawing_one_at_a_time_draws(min_agreement):
    kit = gcop.StrategyKit("test-keys", samples=5, consensus=str, min_agreement=min_agreement)
    for keys in itertools.product(["a", "b", None], repeat=5):
        assert sum(rounds_drawn(kit, list(keys))) == drawn_one_at_a_time(kit, list(keys)), keys


def test_two_of_five_take_two_round_trips_and_all_five_one_a_sample():
    two_of_five = gcop.StrategyKit("test-2of5", samples=5, consensus=str, min_agreement=0.4)
    assert rounds_drawn(two_of_five, ["a", "b", "c", "d", "e"]) == [4, 1]
    assert rounds_drawn(two_of_five, ["a", "a", "a", "a", "a"]) == [4, 1]
    all_five = two_of_five.with_settings(min_agreement=1.0)
    assert rounds_drawn(all_five, ["a"] * 5) == [1] * 5
    assert rounds_drawn(all_five, ["a", "b", "a", "a", "a"]) == [1, 1]
