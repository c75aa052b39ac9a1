"""DAPO's dynamic sampling: a step refilled with groups whose samples disagree, and trained on
those alone."""

import pytest
import torch
from training_fakes import (
    KEYWORD,
    QUESTIONS,
    examples,
    half_keyword_guide,
    keyword_core,
    small_config,
    tiny_guide,
)

from gcop.optimizers.grpo.batch_rows import concat_rows
from gcop.optimizers.grpo.dynamic_sampling import fill_with_mixed_groups
from gcop.optimizers.grpo.groups import mixed_groups, zero_flat_groups
from gcop.optimizers.grpo.trainer import grpo_trainer, train_grpo

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py

GROUP = 2


def scored_batch(advantages: list[float], prompt_width: int, completion_width: int, tag: int):
    """A batch in TRL's layout whose every token is ``tag`` (to follow rows through a join)."""
    rows = len(advantages)
    return {
        "prompt_ids": torch.full((rows, prompt_width), tag),
        "prompt_mask": torch.ones((rows, prompt_width), dtype=torch.long),
        "completion_ids": torch.full((rows, completion_width), tag),
        "completion_mask": torch.ones((rows, completion_width), dtype=torch.long),
        "advantages": torch.tensor(advantages),
        "num_items_in_batch": torch.tensor(rows * completion_width),
    }


def test_joined_batches_pad_prompts_on_the_left_and_completions_on_the_right():
    joined = concat_rows([scored_batch([0.0, 0.0], 3, 2, 1), scored_batch([1.0, -1.0], 1, 4, 2)])
    assert joined["prompt_ids"].tolist()[2] == [0, 0, 2]
    assert joined["prompt_mask"].tolist()[2] == [0, 0, 1]
    assert joined["completion_ids"].tolist()[0] == [1, 1, 0, 0]
    assert joined["completion_mask"].tolist()[0] == [1, 1, 0, 0]
    assert joined["advantages"].tolist() == [0.0, 0.0, 1.0, -1.0]


def test_a_step_is_refilled_until_it_holds_as_many_mixed_groups_as_questions():
    first = scored_batch([0.0, 0.0, 0.5, -0.5], 3, 2, tag=1)  # 2 groups, 1 mixed
    extra = {
        1: scored_batch([0.0, 0.0, 0.0, 0.0], 2, 3, tag=2),  # none mixed
        2: scored_batch([1.0, -1.0, 1.0, -1.0], 4, 1, tag=3),  # 2 mixed: one is needed
    }
    calls = []

    def draw(k):
        calls.append(k)
        return extra[k]

    step, draws = fill_with_mixed_groups(first, draw, group_size=GROUP, extra_draws=5)
    assert draws == 2 and calls == [1, 2]
    assert step["advantages"].tolist() == [0.5, -0.5, 1.0, -1.0]
    assert [row[-1] for row in step["prompt_ids"].tolist()] == [1, 1, 3, 3]
    assert int(step["num_items_in_batch"]) == 2 + 2 + 1 + 1  # the kept rows' tokens


def test_the_draws_stop_at_the_limit_and_a_flat_step_stays_as_it_was():
    flat = scored_batch([0.0] * 4, 3, 2, tag=1)
    step, draws = fill_with_mixed_groups(
        flat, lambda k: scored_batch([0.0] * 4, 3, 2, tag=2), group_size=GROUP, extra_draws=3
    )
    assert draws == 3 and step is flat
    one_mixed = lambda k: scored_batch([0.0, 0.0, 1.0, -1.0], 3, 2, tag=2)  # noqa: E731
    step, draws = fill_with_mixed_groups(flat, one_mixed, group_size=GROUP, extra_draws=1)
    assert draws == 1 and step["advantages"].tolist() == [1.0, -1.0]


def test_grpo_trains_on_refilled_steps(scripted_lm):
    core, fake = keyword_core(scripted_lm)
    start = half_keyword_guide()
    before = {k: v.clone() for k, v in start.local_lm.model.state_dict().items()}
    config = small_config(
        lambda_judge=0.0,
        grpo_core_share=0.0,
        grpo_steps=2,
        grpo_shared_prefix=True,
        grpo_dynamic_sampling=2,
        alpha_fmt=0.0,  # no format bonus: a group is mixed only where the verifier's scores differ
    )
    only_first = QUESTIONS[0]  # every other question's group scores all 0: flat

    def verifier(strategy, example):
        return float(KEYWORD in strategy and example.question == only_first)

    trained, summary = train_grpo(
        start, core, examples(), metric=exact_metric_unused, config=config, plan_verifier=verifier
    )
    assert summary["steps"] == 2 and fake.calls == []
    steps = {row["step"]: row for row in summary["history"]}  # a step's last row has TRL's logs
    assert all(0 <= steps[s]["extra_draws"] <= 2 for s in (1, 2))
    assert any(steps[s]["extra_draws"] > 0 for s in (1, 2))  # flat steps drew again
    assert all(steps[s]["trained_groups"] <= 1 for s in (1, 2))  # one question a step
    after = trained.local_lm.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if "lora_" in k)


def test_groups_of_equal_rewards_off_zero_are_flat_and_refilled(tmp_path):
    """Eight rewards of 0.1 (a valid, wrong plan's format bonus) leave TRL's float32 advantages
    a last-bit remainder; such a group is still flat, so the step draws again, to its limit."""
    config = small_config(grpo_steps=1, grpo_dynamic_sampling=2, grpo_shared_prefix=True)

    def format_bonus_only(completions, **kwargs):
        return [0.1] * len(completions)

    trainer = grpo_trainer(tiny_guide(), examples(), format_bonus_only, config, tmp_path)
    trainer.train()
    logged = [row for row in trainer.state.log_history if "gcop/extra_draws" in row]
    assert logged and logged[0]["gcop/extra_draws"] == 2.0


def test_equal_advantages_off_zero_mark_a_flat_group():
    remainder = torch.full((2,), 7.45e-9)  # a float32 mean of eight 0.1 rewards, subtracted
    advantages = torch.cat([remainder, torch.tensor([0.5, -0.5])])
    assert mixed_groups(advantages, GROUP).tolist() == [False, True]
    assert zero_flat_groups(advantages, GROUP).tolist() == [0.0, 0.0, 0.5, -0.5]


def exact_metric_unused(example, prediction, trace=None) -> bool:
    raise AssertionError("the plan verifier scores every group: the core is never called")


def test_dynamic_sampling_refuses_a_step_split_into_passes(tmp_path):
    config = small_config(
        grpo_dynamic_sampling=1, grpo_args={"gradient_accumulation_steps": 2, "bf16": False}
    )
    with pytest.raises(ValueError, match="one pass on one process"):
        grpo_trainer(tiny_guide(), examples(), lambda completions, **kw: [0.0], config, tmp_path)
