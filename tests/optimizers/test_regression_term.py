"""The integrated GRPO reward charges μ·max(0, R_unguided − R_guided) for making the core worse.

The pure penalty is doctested in ``rewards.py``; here the baseline must come from a real unguided
core run through :class:`GuideReward`, so a baseline that silently reads 0 shows up.
"""

import pytest
from training_fakes import KEYWORD, exact_metric, examples, small_config, strategy_sent, tiny_guide

import gcop
from gcop.optimizers.grpo.trainer import make_reward
from gcop.signatures import MathSolve


def misled_core_reply(messages: list[dict]) -> str:
    """Right (7) alone or with a strategy that says the keyword; wrong (12) when misled."""
    sent = strategy_sent(messages)
    answer = 7 if not sent or KEYWORD in sent else 12
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


def test_a_strategy_that_makes_the_core_worse_than_alone_is_penalised_by_mu(scripted_lm):
    fake = scripted_lm(misled_core_reply)
    config = small_config(lambda_judge=0.0, alpha_fmt=0.1, mu=0.5)
    reward = make_reward(
        tiny_guide(),
        gcop.Core(MathSolve, lm=fake.model_string),
        examples(),
        metric=exact_metric,
        config=config,
    )
    helps = [{"role": "assistant", "content": f"<strategy>1. {KEYWORD}</strategy>"}]
    misleads = [{"role": "assistant", "content": "<strategy>1. multiply</strategy>"}]

    rewards = reward([helps, misleads], example_index=[0, 0])

    # guided right: R_task 1 + α_fmt, no penalty; misled: 0 + α_fmt − μ·(1 − 0)
    assert rewards == [pytest.approx(1.0 + 0.1), pytest.approx(0.1 - 0.5)]
    assert sum(strategy_sent(c["messages"]) == "" for c in fake.calls) == 1  # one baseline run
    row = reward.history[-1]
    assert row["unguided"] == 1.0 and row["regression_rate"] == 0.5
    assert reward.summary()["unguided_mean"] == 1.0


def test_the_penalty_scales_with_mu_and_vanishes_at_zero(scripted_lm):
    fake = scripted_lm(misled_core_reply)
    misleads = [{"role": "assistant", "content": "<strategy>1. multiply</strategy>"}]
    got = {}
    for mu in (0.0, 0.25, 1.0):
        reward = make_reward(
            tiny_guide(),
            gcop.Core(MathSolve, lm=fake.model_string),
            examples(),
            metric=exact_metric,
            config=small_config(lambda_judge=0.0, alpha_fmt=0.1, mu=mu),
        )
        got[mu] = reward([misleads], example_index=[1])[0]
    assert got == {
        0.0: pytest.approx(0.1),
        0.25: pytest.approx(0.1 - 0.25),
        1.0: pytest.approx(0.1 - 1.0),
    }
