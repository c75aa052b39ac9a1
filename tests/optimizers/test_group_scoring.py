"""GRPO's group scoring: one prompt pass per group gives a full forward's log-probabilities and
gradients, and rows without advantage are left out only where the gradient stays the same."""

import pytest
import torch
from training_fakes import examples, small_config, tiny_guide
from trl import GRPOTrainer

from gcop.optimizers.grpo import group_scoring, guide_trainer
from gcop.optimizers.grpo.group_scoring import prefix_shared_logps
from gcop.optimizers.grpo.trainer import grpo_trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py

TEMPERATURE = 0.7


def trl_batch(tokenizer, prompts: list[str], completions: list[list[int]]):
    """TRL's layout: prompts left-padded, completions right-padded, one tensor of each."""
    prompt_ids = [tokenizer(p)["input_ids"] for p in prompts]
    width, length = max(map(len, prompt_ids)), max(map(len, completions))
    rows = len(prompts)
    ids = torch.zeros((rows, width + length), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, (prompt, completion) in enumerate(zip(prompt_ids, completions, strict=True)):
        ids[i, width - len(prompt) : width] = torch.tensor(prompt)
        mask[i, width - len(prompt) : width] = 1
        ids[i, width : width + len(completion)] = torch.tensor(completion)
        mask[i, width : width + len(completion)] = 1
    return ids, mask, length


def full_forward_logps(model, ids, mask, length):
    """Each row alone, unpadded, in one forward pass: the reference."""
    out = torch.zeros((ids.size(0), length))
    for i in range(ids.size(0)):
        row = ids[i][mask[i].bool()]
        n = int(mask[i, -length:].sum())
        logits = model(input_ids=row[None]).logits[0].float() / TEMPERATURE
        scored = torch.log_softmax(logits[-n - 1 : -1], -1)
        out[i, :n] = scored.gather(1, row[-n:, None]).squeeze(1)
    return out


def batch_of_groups(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    prompts = ["Tom has 3 apples"] * 3 + ["Add two numbers, please"] * 3 + ["Hi"] * 2
    completions = [torch.randint(5, 60, (int(n),)).tolist() for n in torch.randint(2, 9, (8,))]
    return trl_batch(tokenizer, prompts, completions)


def lora_grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk", [5, 256])  # logits in several chunks, or all at once
def test_shared_prompt_pass_matches_full_forward_values_and_gradients(chunk, monkeypatch):
    monkeypatch.setattr(group_scoring, "_CHUNK_TOKENS", chunk)
    guide = tiny_guide()
    model, tokenizer = guide.local_lm.model.train(), guide.local_lm.tokenizer
    ids, mask, length = batch_of_groups(tokenizer)
    weights = torch.randn(ids.size(0), length)

    expected = full_forward_logps(model, ids, mask, length)
    (expected * weights).sum().backward()
    expected_grads = lora_grads(model)
    model.zero_grad()

    logps, entropy = prefix_shared_logps(
        model, ids, mask, length, temperature=TEMPERATURE, compute_entropy=True
    )
    (logps * weights).sum().backward()
    torch.testing.assert_close(logps, expected, atol=1e-4, rtol=1e-4)
    grads = lora_grads(model)
    assert grads.keys() == expected_grads.keys() and len(grads) > 0
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], atol=1e-4, rtol=1e-3)
    scored = mask[:, -length:].bool()
    assert bool((entropy[scored] > 0).all()) and bool((entropy[~scored] == 0).all())


def built_trainer(tmp_path, **config):
    def reward(completions, **kwargs):
        return [0.0] * len(completions)

    grpo_args = {"bf16": False, **config.pop("grpo_args", {})}  # float32: gradients compare exactly
    settings = dict(grpo_shared_prefix=True, grpo_temperature=TEMPERATURE, grpo_args=grpo_args)
    settings.update(config)
    guide = tiny_guide()
    return grpo_trainer(guide, examples(), reward, small_config(**settings), str(tmp_path))


def loss_inputs(trainer, advantages: list[float]) -> dict:
    ids, mask, length = batch_of_groups(trainer.processing_class)
    return {
        "prompt_ids": ids[:, :-length],
        "prompt_mask": mask[:, :-length],
        "completion_ids": ids[:, -length:],
        "completion_mask": mask[:, -length:],
        "advantages": torch.tensor(advantages),
        "num_items_in_batch": mask[:, -length:].sum(),
    }


def gradient_of(trainer, compute_loss, inputs) -> dict[str, torch.Tensor]:
    trainer.model.train()
    trainer.model.zero_grad()
    trainer.current_gradient_accumulation_steps = 1
    compute_loss(trainer.model, inputs).backward()
    return lora_grads(trainer.model)


def test_rows_without_advantage_are_skipped_with_the_same_gradient(tmp_path):
    trainer = built_trainer(tmp_path)
    assert trainer.beta == 0.0 and trainer.loss_type == "dapo" and trainer.skips_flat_rows()
    inputs = loss_inputs(trainer, [0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0])

    trainer.share_prefix = False  # TRL's own scoring of every row: the reference
    expected = gradient_of(trainer, lambda m, x: GRPOTrainer._compute_loss(trainer, m, x), inputs)
    trainer.share_prefix = True
    scored_rows = []
    score = trainer._get_per_token_logps_and_entropies

    def counting(model, input_ids, *args, **kwargs):
        scored_rows.append(input_ids.size(0))
        return score(model, input_ids, *args, **kwargs)

    trainer._get_per_token_logps_and_entropies = counting
    grads = gradient_of(trainer, trainer._compute_loss, inputs)
    assert scored_rows == [4]  # rows 2–5 (no advantage) were left out
    assert grads.keys() == expected.keys() and any(g.abs().sum() > 0 for g in grads.values())
    for name in grads:
        torch.testing.assert_close(grads[name], expected[name], atol=1e-5, rtol=1e-3)


def test_an_all_flat_micro_batch_steps_on_a_zero_loss(tmp_path):
    trainer = built_trainer(tmp_path)
    grads = gradient_of(trainer, trainer._compute_loss, loss_inputs(trainer, [0.0] * 8))
    assert all(float(g.abs().sum()) == 0.0 for g in grads.values())


def test_flat_rows_are_kept_where_they_carry_gradient(tmp_path):
    with_kl = built_trainer(tmp_path / "kl", grpo_args={"beta": 0.04})
    per_sequence = built_trainer(tmp_path / "grpo", grpo_args={"loss_type": "grpo"})
    assert not with_kl.skips_flat_rows() and not per_sequence.skips_flat_rows()


def test_a_launched_process_scores_with_the_wrapped_models_own_forward(tmp_path, monkeypatch):
    """Under accelerate launch, the data-parallel wrapper's forward keeps the processes'
    gradients in step: no shared prompt pass, and every row kept."""
    trainer = built_trainer(tmp_path)
    monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda self: 2))
    shared = []
    monkeypatch.setattr(guide_trainer, "prefix_shared_logps", lambda *a, **k: shared.append(1))
    inputs = loss_inputs(trainer, [0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0])
    gradient_of(trainer, trainer._compute_loss, inputs)
    assert shared == [] and not trainer.skips_flat_rows()
