"""GRPO's learning curves: dev-slice points at the start and every N steps, from real samples."""

import json
from types import SimpleNamespace

import pytest
import torch
from training_fakes import (
    KEYWORD,
    QUESTIONS,
    exact_metric,
    examples,
    half_keyword_guide,
    keyword_core,
    small_config,
)

from gcop.modules.guide import guide_messages
from gcop.optimizers.grpo.curves import PlanCurves
from gcop.optimizers.grpo.trainer import train_grpo
from gcop.strategy import parse_strategy

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def says_add(strategy, example):
    return float(KEYWORD in strategy)


def greedy_right_rate(guide, questions, max_new_tokens):
    """The verifier's mean score on greedy plans, one unpadded prompt at a time."""
    model, tokenizer = guide.local_lm.model, guide.local_lm.tokenizer
    scores = []
    with torch.no_grad():
        for question in questions:
            prompt = tokenizer.apply_chat_template(
                guide_messages(guide.signature, {"question": question}),
                tokenize=False,
                add_generation_prompt=True,
            )
            ids = tokenizer(prompt, return_tensors="pt")
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
            text = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
            parse = parse_strategy(text, token_budget=guide.token_budget)
            scores.append(says_add(parse.strategy, None) if parse.valid else 0.0)
    return sum(scores) / len(scores)


def test_curve_points_are_written_at_the_start_and_every_n_steps(scripted_lm, tmp_path):
    start = half_keyword_guide()
    start.local_lm.model.eval()
    expected_greedy = greedy_right_rate(start, QUESTIONS, 32)
    path = tmp_path / "curves.jsonl"
    curves = PlanCurves(
        start, examples(), says_add, path, every=2, k=4, pass_n=2, max_new_tokens=32
    )
    core, _ = keyword_core(scripted_lm)
    config = small_config(lambda_judge=0.0, grpo_core_share=0.0, grpo_steps=2)
    _, summary = train_grpo(
        start,
        core,
        examples(),
        metric=exact_metric,
        config=config,
        plan_verifier=says_add,
        callbacks=[curves],
    )
    points = [json.loads(line) for line in path.read_text().splitlines()]
    assert [p["step"] for p in points] == [0, 2]
    first, last = points
    assert first["greedy_right_rate"] == pytest.approx(expected_greedy)
    assert first["valid_rate"] > 0 and first["mean_plan_tokens"] > 0
    assert 0.0 <= first["pass_at_k"] <= 1.0 and first["k"] == 4 and first["n_pass"] == 2
    assert first["kl_to_start"] == pytest.approx(0.0, abs=1e-4)  # the starting weights themselves
    assert last["kl_to_start"] != pytest.approx(0.0, abs=1e-4)  # two steps moved the adapter
    # the zero-advantage share TRL logged is the one gcop's reward computed, step by step
    gcop_share = [row["zero_advantage_groups"] for row in summary["history"]]
    assert last["zero_advantage_share"] == pytest.approx(sum(gcop_share) / len(gcop_share))
    assert first["zero_advantage_share"] is None


def test_the_zero_advantage_share_is_the_rewards_count_not_trls_float32_test(tmp_path):
    # eight rewards of -0.4 (the hinge on a question the core solves alone, every plan failing)
    # have a float32 std of 3e-8, which TRL's isclose(std, 0) reads as a mixed group
    flat = torch.tensor([-0.4] * 8)
    assert not torch.isclose(flat.std(), torch.tensor(0.0))
    curves = PlanCurves(half_keyword_guide(), examples(), says_add, tmp_path / "c.jsonl", every=2)
    logged = [
        {"step": 1, "reward": -0.4, "frac_reward_zero_std": 0.0, "gcop/zero_advantage_groups": 1.0},
        {"step": 2, "reward": 0.1, "frac_reward_zero_std": 0.5, "gcop/zero_advantage_groups": 0.5},
    ]
    state = SimpleNamespace(global_step=2, log_history=logged)
    assert curves._training_stats(state) == {"zero_advantage_share": 0.75, "train_reward": -0.15}
    # a reward that logs no count of its own: TRL's share is all there is
    state.log_history = [{k: v for k, v in e.items() if not k.startswith("gcop/")} for e in logged]
    assert curves._training_stats(state)["zero_advantage_share"] == 0.25
