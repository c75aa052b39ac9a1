"""GRPO's shared-prefix rollout: one prefill per prompt, the same distribution as a full forward."""

import pytest
import torch
from training_fakes import (
    KEYWORD,
    exact_metric,
    examples,
    half_keyword_guide,
    keyword_core,
    small_config,
    tiny_guide,
)

from gcop.optimizers.grpo.rollout import sample_rows
from gcop.optimizers.grpo.trainer import train_grpo

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def test_sampled_logprobs_are_the_models_own_for_every_row():
    guide = tiny_guide()
    model, tokenizer = guide.local_lm.model.eval(), guide.local_lm.tokenizer
    prompts = [tokenizer(t)["input_ids"] for t in ("Tom has 3 apples", "Add two numbers, please")]
    rows = [0, 0, 0, 1, 1, 1]  # prompts of different lengths: left padding and positions matter
    temperature = 0.7
    torch.manual_seed(0)
    with torch.no_grad():
        completions, logprobs = sample_rows(
            model,
            prompts,
            rows,
            max_new_tokens=12,
            temperature=temperature,
            eos_ids={tokenizer.eos_token_id},
            pad_id=tokenizer.pad_token_id,
        )
        assert len(completions) == 6 and len({tuple(c) for c in completions}) > 1
        for row, tokens, logps in zip(rows, completions, logprobs, strict=True):
            assert 1 <= len(tokens) == len(logps) <= 12
            ids = torch.tensor([prompts[row] + tokens])  # one unpadded row, a full forward
            logits = model(input_ids=ids).logits[0, len(prompts[row]) - 1 : -1].float()
            expected = torch.log_softmax(logits / temperature, -1)
            expected = expected.gather(1, torch.tensor(tokens)[:, None]).squeeze(1)
            torch.testing.assert_close(torch.tensor(logps), expected, atol=1e-4, rtol=1e-4)


def test_grpo_trains_with_the_shared_prefix_rollout(scripted_lm):
    core, fake = keyword_core(scripted_lm)
    start = half_keyword_guide()
    before = {k: v.clone() for k, v in start.local_lm.model.state_dict().items()}
    config = small_config(
        lambda_judge=0.0, grpo_core_share=0.0, grpo_steps=2, grpo_shared_prefix=True
    )
    trained, summary = train_grpo(
        start,
        core,
        examples(),
        metric=exact_metric,
        config=config,
        plan_verifier=lambda s, ex: float(KEYWORD in s),
    )
    assert summary["steps"] == 2 and fake.calls == []
    history = summary["history"]
    assert all(0 < row["length"] <= 2 * config.max_strategy_tokens for row in history)
    after = trained.local_lm.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if "lora_" in k)
    assert any(row["reward"] > 0 for row in history)
