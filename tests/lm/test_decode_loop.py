"""The decode loop: a row leaves its batch when it ends, and reads what ``generate`` reads."""

from __future__ import annotations

import torch

from gcop.lm.generation import BatchStats, GenRequest, generate_batch, stop_token_ids
from gcop.lm.tiny import tiny_model

TEXTS = (
    "how many apples",
    "tom has three apples and buys two more apples at the shop",
    "a b c",
)


def requests_for(tokenizer, budgets: tuple[int, ...], **options) -> list[GenRequest]:
    return [
        GenRequest(prompt_ids=tuple(tokenizer(text)["input_ids"]), max_tokens=budget, **options)
        for text, budget in zip(TEXTS, budgets, strict=True)
    ]


def test_rows_leave_the_batch_when_they_end():
    """Budgets 2, 5 and 9: 16 row-steps, where decoding every row to the longest takes 27."""
    model, tokenizer = tiny_model(seed=0)
    stats = BatchStats()
    replies = generate_batch(
        model.eval(),
        tokenizer,
        requests_for(tokenizer, (2, 5, 9)),
        eos_ids=[-1],  # no end-of-turn token: each row runs to its budget
        stats=stats,
    )
    assert [reply.completion_tokens for reply in replies] == [2, 5, 9]
    assert stats.row_steps == stats.tokens == 16 and stats.waste == 0.0


def test_greedy_rows_get_the_tokens_generate_gives_them():
    model, tokenizer = tiny_model(seed=1)
    model.eval()
    eos_ids = stop_token_ids(model, tokenizer)
    requests = requests_for(tokenizer, (3, 12, 7))
    replies = generate_batch(model, tokenizer, requests, eos_ids=eos_ids, share_prefix=False)
    width = max(len(request.prompt_ids) for request in requests)
    input_ids = torch.full((3, width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((3, width), dtype=torch.long)
    for r, request in enumerate(requests):
        input_ids[r, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
        attention[r, width - len(request.prompt_ids) :] = 1
    with torch.no_grad():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            do_sample=False,
            max_new_tokens=12,
            eos_token_id=eos_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
    for r, (request, reply) in enumerate(zip(requests, replies, strict=True)):
        expected = output[r, width : width + reply.completion_tokens].tolist()
        assert reply.texts[0] == tokenizer.decode(expected, skip_special_tokens=True)
        assert reply.completion_tokens == request.max_tokens or expected[-1] in eos_ids


def test_a_seeded_row_samples_the_same_text_whether_its_neighbours_end_early_or_late():
    model, tokenizer = tiny_model(seed=2)
    model.eval()
    mine = GenRequest(
        tuple(tokenizer(TEXTS[1])["input_ids"]), max_tokens=10, temperature=0.9, seed=5
    )

    def sampled_beside(budget: int) -> str:
        others = requests_for(tokenizer, (budget, budget, budget), temperature=0.9)
        replies = generate_batch(model, tokenizer, [*others, mine], eos_ids=[-1])
        return replies[-1].texts[0]

    assert sampled_beside(1) == sampled_beside(20) == sampled_beside(10)
