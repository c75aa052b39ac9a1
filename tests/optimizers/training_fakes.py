"""Helpers for the guide-training tests: a tiny trainable guide, a keyword-driven fake core."""

from __future__ import annotations

import uuid

import dspy
import torch
from fakes import last_user_text
from transformers import TrainerCallback

import gcop
from gcop.lm.tiny import tiny_model
from gcop.modules.guide import guide_messages
from gcop.modules.strategy_adapter import STRATEGY_HEADER
from gcop.optimizers.config import ExecTuneConfig
from gcop.signatures import MathGuide, MathSolve
from gcop.strategy import parse_strategy

QUESTIONS = [f"Tom has {i} apples and buys {i + 1} more. How many apples?" for i in range(4)]
KEYWORD = "add"


class StopAt(TrainerCallback):
    """Stops training after ``step``, as an interrupted run would (but cleanly)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def tiny_guide(seed: int = 0, token_budget: int = 16) -> gcop.Guide:
    """A Guide on a fresh random tiny model (unique LocalLM name, so tests never collide)."""
    torch.set_num_threads(1)
    model, tokenizer = tiny_model(seed)
    local = gcop.LocalLM(model, tokenizer=tokenizer, name=f"tiny-{uuid.uuid4().hex[:8]}")
    return gcop.Guide(MathGuide, local, token_budget=token_budget)


def examples(questions=QUESTIONS, gold: str = "7") -> list[dspy.Example]:
    return [dspy.Example(question=q, gold=gold).with_inputs("question") for q in questions]


def strategy_sent(messages: list[dict]) -> str:
    """The strategy the core received ('' when it ran unguided)."""
    text = last_user_text(messages)
    return text.split(STRATEGY_HEADER, 1)[1] if STRATEGY_HEADER in text else ""


def keyword_core_reply(messages: list[dict]) -> str:
    """A core that answers right (7) only when its strategy contains the keyword."""
    answer = 7 if KEYWORD in strategy_sent(messages) else 12
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


def exact_metric(example, prediction, trace=None) -> bool:
    return prediction.answer.strip().endswith(example.gold)


def keyword_core(scripted_lm) -> tuple[gcop.Core, object]:
    fake = scripted_lm(keyword_core_reply)
    return gcop.Core(MathSolve, lm=fake.model_string), fake


def small_config(**overrides) -> ExecTuneConfig:
    """Settings that train the tiny model in seconds (char-level tokens: ~2 per strategy char)."""
    settings = dict(
        sft_epochs=20,
        sft_learning_rate=1e-2,
        sft_batch_size=8,
        grpo_steps=12,
        grpo_generations=8,
        grpo_batch_size=8,
        grpo_learning_rate=1e-3,
        max_strategy_tokens=16,
        concurrency=4,
        seed=0,
    )
    return ExecTuneConfig(**{**settings, **overrides})


def one_pass_config(**overrides) -> ExecTuneConfig:
    """:func:`small_config` cut to the fewest steps that still run each phase: a whole compile
    (acceptance, 2 SFT steps, 1 GRPO step) in seconds."""
    settings = dict(
        k=2,
        max_rounds=0,
        sft_args={"max_steps": 2},
        grpo_steps=1,
        grpo_generations=2,
        grpo_batch_size=2,
        lambda_judge=0.0,
    )
    return small_config(**{**settings, **overrides})


def half_keyword_guide() -> gcop.Guide:
    """A tiny guide SFT-trained to write valid strategies, half of them with the keyword: GRPO's
    groups then hold both rewards."""
    from gcop.optimizers.sft import train_sft

    torch.manual_seed(0)
    pairs = [({"question": q}, s) for q in QUESTIONS for s in (KEYWORD, "guess")]
    return train_sft(tiny_guide(), pairs, small_config())[0]


def snapshot(guide: gcop.Guide) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in guide.local_lm.model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def sampled_strategies(guide: gcop.Guide, temperature: float, questions=QUESTIONS, n: int = 8):
    """``n`` seeded completions per question, parsed as strategies."""
    parsed = []
    for seed, question in enumerate(questions):
        messages = guide_messages(guide.signature, {"question": question})
        result = guide.local_lm.complete(
            messages, n=n, temperature=temperature, seed=seed, max_tokens=2 * 16
        )
        parsed += [parse_strategy(text, token_budget=guide.token_budget) for text in result.texts]
    return parsed


def valid_rate(guide: gcop.Guide, questions=QUESTIONS, n: int = 8) -> float:
    """Share of sampled completions (temperature 0.6, seeded) the parser accepts."""
    parsed = sampled_strategies(guide, 0.6, questions, n)
    return sum(p.valid for p in parsed) / len(parsed)


def keyword_rate(guide: gcop.Guide, questions=QUESTIONS, n: int = 16) -> float:
    """Share of sampled completions (temperature 1, seeded) that are valid and say the keyword
    the keyword core rewards."""
    parsed = sampled_strategies(guide, 1.0, questions, n)
    return sum(p.valid and KEYWORD in p.strategy for p in parsed) / len(parsed)


def tiny_guide_bf16(seed: int = 0) -> gcop.Guide:
    """A Guide on a tiny model held in bfloat16, as LocalLM serves models on bf16 CPUs."""
    guide = tiny_guide(seed)
    guide.local_lm.set_model(guide.local_lm.model.to(torch.bfloat16))
    return guide
