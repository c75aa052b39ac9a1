"""A bfloat16 row gets the same greedy tokens alone and beside any other rows."""

from __future__ import annotations

import pytest

from gcop.lm.batch_invariance import each_row_as_alone
from gcop.lm.generation import GenRequest, generate_batch, stop_token_ids
from gcop.lm.tiny import tiny_model

torch = pytest.importorskip("torch")

SYSTEM = "You are terse. " * 6  # 90 characters all rows share: prefilled once


@pytest.fixture(scope="module")
def wide_bf16():
    """A tiny model wide enough (hidden 256) that bfloat16 rounding flips greedy tokens when a
    row's numbers depend on its batch: before the fix 10 of the 12 left-padded replies equal
    those alone, 11 of 12 with the shared prefix; 12 after."""
    model, tokenizer = tiny_model(seed=0, hidden_size=256)
    return model.to(torch.bfloat16).eval(), tokenizer


def request(tokenizer, question: str, system: str | None = None) -> GenRequest:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return GenRequest(tuple(tokenizer(text, add_special_tokens=False)["input_ids"]), max_tokens=30)


def replies(model, tokenizer, requests: list[GenRequest]) -> list[str]:
    eos = stop_token_ids(model, tokenizer)
    return [done.texts[0] for done in generate_batch(model, tokenizer, requests, eos_ids=eos)]


@pytest.mark.parametrize("system", [None, SYSTEM], ids=["left-padded", "shared-prefix"])
def test_greedy_rows_get_the_tokens_they_get_alone(wide_bf16, system):
    torch.set_num_threads(1)
    model, tokenizer = wide_bf16
    questions = [f"question {i * 37} " + "why " * (i % 5) for i in range(12)]
    asked = [request(tokenizer, question, system) for question in questions]
    alone = [replies(model, tokenizer, [one])[0] for one in asked]
    assert replies(model, tokenizer, asked) == alone
    assert replies(model, tokenizer, asked[6:] + asked[:3])[:6] == alone[6:]  # other neighbours


def test_the_model_is_left_as_it_was(wide_bf16):
    model, tokenizer = wide_bf16
    implementation = model.config._attn_implementation

    def hooks() -> list[tuple[int, int]]:
        return [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()]

    hooked = hooks()
    ids = torch.tensor([[5, 6, 7]])
    before = model(input_ids=ids).logits
    with each_row_as_alone(model):
        assert model.config._attn_implementation != implementation
        inside = model(input_ids=ids).logits
    assert model.config._attn_implementation == implementation
    assert hooks() == hooked
    assert torch.equal(model(input_ids=ids).logits, before)
    assert (inside.float() - before.float()).abs().max() < 0.1  # the same model, other rounding
