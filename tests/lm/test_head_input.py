"""A frozen output layer scores a batch's last positions in one product, not a weight copy a row."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import gcop
from gcop.lm.generation import GenRequest, generate_batch, stop_token_ids
from gcop.lm.head_input import contiguous_head_input
from gcop.lm.tiny import tiny_model
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import trainable_copy
from gcop.signatures import MathGuide


class HeadWeightBroadcasts(TorchDispatchMode):
    """Counts batched products whose right operand is the output weight copied for each row."""

    def __init__(self, head: torch.nn.Linear) -> None:
        super().__init__()
        self.shape = tuple(head.weight.t().shape)  # (hidden, vocab)
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket is torch.ops.aten.bmm and tuple(args[1].shape[1:]) == self.shape:
            self.count += 1
        return func(*args, **(kwargs or {}))


def frozen_tiny() -> tuple[torch.nn.Module, object]:
    model, tokenizer = tiny_model(seed=0)
    return model.requires_grad_(False).eval(), tokenizer


def last_position_logits(model: torch.nn.Module, rows: int = 3) -> torch.Tensor:
    input_ids = torch.arange(5 * rows).reshape(rows, 5) % 50 + 10
    with torch.no_grad():
        return model(input_ids=input_ids, logits_to_keep=1).logits


def test_a_frozen_head_copies_its_weight_per_row_unless_its_input_is_contiguous():
    model, _ = frozen_tiny()
    broadcasts = HeadWeightBroadcasts(model.get_output_embeddings())
    with broadcasts:
        plain = last_position_logits(model)
    assert broadcasts.count == 1  # what torch does on its own: the case this module exists for

    contiguous_head_input(model)
    contiguous_head_input(model)  # once per layer, however often asked
    assert len(model.get_output_embeddings()._forward_pre_hooks) == 1
    broadcasts.count = 0
    with broadcasts:
        fixed = last_position_logits(model)
    assert broadcasts.count == 0
    torch.testing.assert_close(fixed, plain)
    copied = copy.deepcopy(model)
    with HeadWeightBroadcasts(copied.get_output_embeddings()) as copy_broadcasts:
        last_position_logits(copied)
    assert copy_broadcasts.count == 0


def test_served_batches_of_a_frozen_model_never_broadcast_the_head():
    model, tokenizer = frozen_tiny()
    requests = [
        GenRequest(prompt_ids=tuple(tokenizer(text)["input_ids"]), max_tokens=4)
        for text in ("how many apples", "tom has three apples and buys two more")
    ]
    eos_ids = stop_token_ids(model, tokenizer)
    with HeadWeightBroadcasts(model.get_output_embeddings()) as broadcasts:
        replies = generate_batch(model, tokenizer, requests, eos_ids=eos_ids)
    assert broadcasts.count == 0
    trainable, _ = tiny_model(seed=0)  # its weights require grad: torch folds the rows itself
    assert replies == generate_batch(trainable.eval(), tokenizer, requests, eos_ids=eos_ids)


@pytest.mark.parametrize("lora", [True, False])
def test_the_guide_copy_gcop_trains_feeds_its_head_one_block(lora, unique_name):
    model, tokenizer = tiny_model(seed=0)
    guide = gcop.Guide(MathGuide, gcop.LocalLM(model, tokenizer=tokenizer, name=unique_name))
    trained, _ = trainable_copy(guide, ExecTuneConfig(lora=lora))
    trained.requires_grad_(False)  # as peft leaves the base under a new adapter
    with HeadWeightBroadcasts(trained.get_output_embeddings()) as broadcasts:
        last_position_logits(trained.eval())
    assert broadcasts.count == 0
