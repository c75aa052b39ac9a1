"""GRPO on the tiny guide against a fake core that succeeds when the strategy says "add"."""

import json
import tempfile

import dspy
import pytest
import torch
from training_fakes import (
    QUESTIONS,
    exact_metric,
    examples,
    keyword_core,
    keyword_core_reply,
    keyword_rate,
    same_weights,
    small_config,
    snapshot,
    strategy_sent,
    tiny_guide,
)

import gcop
from gcop.baselines.advisor import Advisor
from gcop.lm import retries
from gcop.optimizers.grpo.trainer import grpo_trainer, make_reward, train_grpo
from gcop.optimizers.sft import train_sft
from gcop.signatures import MathSolve

JUDGE_REPLY = "SCORE: 0.5\nLEAK: no"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)


def fails_first(reply):
    """A scripted reply function whose first request for each prompt fails (a transient 503)."""
    seen = set()

    def flaky(messages):
        if str(messages) not in seen:
            seen.add(str(messages))
            raise ConnectionError("503 service unavailable")
        return reply(messages)

    return flaky


def as_chat(text):
    return [{"role": "assistant", "content": text}]


def test_shaped_reward_runs_the_core_on_the_parsed_block_only(scripted_lm):
    core, fake_core = keyword_core(scripted_lm)
    judge = scripted_lm([JUDGE_REPLY])
    guide = tiny_guide()
    reward = make_reward(
        guide,
        core,
        examples(),
        metric=exact_metric,
        config=small_config(),
        judge_lm=judge.model_string,
    )
    completions = [
        as_chat("<strategy>1. add</strategy>"),  # valid, keyword: the core succeeds
        as_chat("<strategy>think</strategy> 1. add"),  # the keyword hidden outside the tags
        as_chat("1. add"),  # no tags: never reaches the core
        as_chat("<strategy></strategy>"),  # empty
    ]
    rewards = reward(completions, example_index=[0, 0, 1, 1])
    assert rewards == [pytest.approx(1.0 + 0.1 + 0.2 * 0.5), pytest.approx(0.1 + 0.1), 0.0, 0.0]
    sent = sorted(strategy_sent(call["messages"]).strip() for call in fake_core.calls)
    assert sent == ["", "", "1. add", "think"]  # two unguided baselines, two guided runs
    assert len(judge.calls) == 2

    again = reward(completions[:2], example_index=[0, 0])  # baselines and runs are cached
    assert again == rewards[:2] and len(fake_core.calls) == 4
    row = reward.history[-1]
    assert row["core_calls"] == 2 and row["core_cache_hits"] == 2
    first = reward.history[0]
    assert first["valid_rate"] == 0.5 and first["judge"] == 0.5 and first["core_calls"] == 4
    assert first["regression_rate"] == 0.0 and first["unguided"] == 0.0


def test_transient_core_and_judge_failures_are_retried(scripted_lm):
    fake_core = scripted_lm(fails_first(keyword_core_reply))
    judge = scripted_lm(fails_first(lambda messages: JUDGE_REPLY))
    reward = make_reward(
        tiny_guide(),
        gcop.Core(MathSolve, lm=fake_core.model_string),
        examples(),
        metric=exact_metric,
        config=small_config(max_retries=1),
        judge_lm=judge.model_string,
    )
    completions = [as_chat("<strategy>1. add</strategy>"), as_chat("<strategy>guess</strategy>")]
    rewards = reward(completions, example_index=[0, 0])
    assert rewards == [pytest.approx(1.0 + 0.1 + 0.2 * 0.5), pytest.approx(0.1 + 0.2 * 0.5)]
    assert len(fake_core.calls) == 2 * 3  # the unguided baseline and two strategies, twice each
    assert len(judge.calls) == 2 * 2
    assert reward.core_errors == 0 and reward.judge.stats()["errors"] == 0
    assert reward.history[-1]["core_calls"] == 6 and reward.history[-1]["judge_calls"] == 4


def test_task_reward_gives_the_core_the_whole_invalid_text(scripted_lm):
    core, fake_core = keyword_core(scripted_lm)
    reward = make_reward(
        tiny_guide(), core, examples(), metric=exact_metric, config=small_config(), reward="task"
    )
    rewards = reward([as_chat("just add them"), as_chat("<strategy>guess</strategy>")], [0, 1])
    assert rewards == [1.0, 0.0]
    assert sorted(strategy_sent(c["messages"]).strip() for c in fake_core.calls) == [
        "guess",
        "just add them",
    ]
    assert "judge" not in reward.history[0] and "regression_rate" not in reward.history[0]


def test_grpo_raises_the_reward_and_returns_a_new_guide(scripted_lm):
    core, _ = keyword_core(scripted_lm)
    judge = scripted_lm([JUDGE_REPLY])
    config = small_config()
    pairs = [({"question": q}, s) for q in QUESTIONS for s in ("add", "guess")]
    start, _ = train_sft(tiny_guide(), pairs, config)  # half its strategies say "add"
    before = snapshot(start)

    trained, summary = train_grpo(
        start,
        core,
        examples(),
        metric=exact_metric,
        config=config,
        judge_lm=judge.model_string,
    )

    assert same_weights(snapshot(start), before)
    assert not same_weights(snapshot(trained), before)
    assert trained.local_lm.name.startswith(f"{start.local_lm.name}-grpo-")
    json.dumps(summary)
    history = summary["history"]
    assert summary["steps"] == len(history) == config.grpo_steps
    # the guide now writes the rewarded strategy more often (~0.30 -> ~0.65 over seeds and SFT
    # batchings); the training rewards themselves are too noisy over 12 steps to compare windows
    assert keyword_rate(trained) > keyword_rate(start) + 0.15
    for key in ("valid_rate", "judge", "regression_rate", "core_calls", "core_tokens", "loss"):
        assert key in history[0]
    assert summary["core_calls"] > 0 and summary["judge"]["calls"] > 0


def test_advisor_compile_returns_a_new_policy(scripted_lm):
    core, _ = keyword_core(scripted_lm)
    program = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    before = snapshot(program.guide)
    advisor = Advisor(exact_metric, config=small_config(sft=False, grpo_steps=2))

    compiled = advisor.compile(program, trainset=examples(), valset=examples(QUESTIONS[:2]))

    assert compiled is not program and compiled.guide is not program.guide
    assert compiled.guide.local_lm.name.startswith(f"{program.guide.local_lm.name}-advisor-")
    assert same_weights(snapshot(program.guide), before)
    assert compiled.artifacts["advisor"]["reward_mode"] == "task"
    assert compiled.artifacts["advisor"]["steps"] == 2
    assert "advisor" not in program.artifacts
    (row,) = compiled.artifacts["validation"]["curve"]
    assert row["phase"] == compiled.artifacts["validation"]["kept"] == "advisor" and row["n"] == 2
    assert compiled(question=QUESTIONS[0]).answer  # the compiled policy runs end to end


def test_advisor_gives_the_core_its_text_whatever_kit_the_policy_had(scripted_lm):
    """A kit that samples, renders and keeps the core's answer wants structured plans; the
    Advisor writes free text, so it trains and answers without them (its rows were the core
    alone when its text went through a render that could not read it)."""
    core, fake_core = keyword_core(scripted_lm)
    kit = gcop.StrategyKit(
        "structured-only",
        samples=2,
        consensus=len,
        render=lambda strategy: None,  # reads no advisor text: the core would run alone
        answer_key=lambda prediction: len(prediction.answer),
    )
    program = gcop.GuideCorePolicy(guide=tiny_guide(), core=core, kit=kit)
    advisor = Advisor(exact_metric, config=small_config(sft=False, grpo_steps=1))

    compiled = advisor.compile(program, trainset=examples())

    assert any(strategy_sent(call["messages"]).strip() for call in fake_core.calls)
    assert (compiled.kit.samples, compiled.kit.render, compiled.kit.answer_key) == (1, None, None)
    assert program.kit is kit  # the student keeps its kit
    fake_core.calls.clear()
    prediction = compiled(question=QUESTIONS[0])
    assert len(fake_core.calls) == 1 and prediction.strategy
    assert strategy_sent(fake_core.calls[0]["messages"]).strip() == prediction.strategy.strip()


def test_bad_arguments_raise_clear_errors(scripted_lm):
    core, _ = keyword_core(scripted_lm)
    guide = tiny_guide()
    with pytest.raises(ValueError, match="judge_lm"):
        make_reward(guide, core, examples(), metric=exact_metric, config=small_config())
    with pytest.raises(ValueError, match="'shaped' .* or 'task'"):
        make_reward(
            guide, core, examples(), metric=exact_metric, config=small_config(), reward="judge"
        )
    with pytest.raises(ValueError, match="with_inputs"):
        unmarked = [gcop_example() for _ in range(2)]
        make_reward(
            guide, core, unmarked, metric=exact_metric, config=small_config(), reward="task"
        )
    with pytest.raises(ValueError, match="trainset is empty"):
        make_reward(guide, core, [], metric=exact_metric, config=small_config(), reward="task")
    with pytest.raises(TypeError, match="GuideCorePolicy"):
        Advisor(exact_metric).compile(core, trainset=examples())
    # λ_judge = 0 needs no judge
    assert (
        make_reward(
            guide, core, examples(), metric=exact_metric, config=small_config(lambda_judge=0)
        ).judge
        is None
    )


def gcop_example():
    return dspy.Example(question="q", gold="1")


def test_core_failures_teach_nothing_and_a_dead_core_stops_the_run(scripted_lm):
    def flaky(messages):
        if "boom" in strategy_sent(messages):
            raise ConnectionError("core is down")
        return keyword_core_reply(messages)

    fake = scripted_lm(flaky)
    core = gcop.Core(MathSolve, lm=fake.model_string, num_retries=0)
    reward = make_reward(
        tiny_guide(), core, examples(), metric=exact_metric, config=small_config(), reward="task"
    )
    # the failed sample gets its group's mean: advantage 0, not the lesson "this plan scores 0"
    assert reward([as_chat("add boom"), as_chat("add")], [0, 0]) == [1.0, 1.0]
    assert reward.core_errors == 1 and reward.history[-1]["core_errors"] == 1
    assert reward.history[-1]["failed_samples"] == 1
    with pytest.raises(RuntimeError, match="core calls of this GRPO step failed"):
        reward([as_chat("boom"), as_chat("boom again")], [1, 2])


def test_grpo_after_bf16_sft_trains_the_same_adapter(scripted_lm):
    from training_fakes import tiny_guide_bf16

    core, _ = keyword_core(scripted_lm)
    config = small_config(grpo_steps=2, lambda_judge=0.0)
    pairs = [({"question": q}, s) for q in QUESTIONS for s in ("add", "guess")]
    start, _ = train_sft(tiny_guide_bf16(), pairs, config)
    before = snapshot(start)

    trained, _ = train_grpo(start, core, examples(), metric=exact_metric, config=config)

    after = snapshot(trained)
    assert after.keys() == before.keys()  # the SFT adapter, not a second one on a merged model
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all("lora_" in k for k in changed)


def test_trl_and_peft_settings_pass_through_to_the_grpo_trainer(scripted_lm):
    core, _ = keyword_core(scripted_lm)
    guide = tiny_guide()
    config = small_config(
        grpo_args={"max_steps": 1, "beta": 0.1, "gradient_accumulation_steps": 2},
        lora_args={"r": 4, "lora_dropout": 0.1},
    )
    reward = make_reward(guide, core, examples(), metric=exact_metric, config=config, reward="task")
    with tempfile.TemporaryDirectory() as folder:
        trainer = grpo_trainer(guide, examples(), reward, config, folder)
    args = trainer.args
    assert (args.max_steps, args.beta, args.gradient_accumulation_steps) == (1, 0.1, 2)
    assert args.learning_rate == config.grpo_learning_rate  # gcop's values where none is given
    lora = trainer.model.peft_config["default"]
    assert (lora.r, lora.lora_dropout, lora.lora_alpha) == (4, 0.1, config.lora_alpha)


def test_micro_batches_accumulate_to_the_same_grpo_update_as_one_batch():
    """A step's completions are sampled together and trained in forward passes of
    grpo_micro_batch_size: one SGD step moves the adapter as one pass over them does."""

    def longer_is_better(completions, **kwargs):  # differs within every group: no zero advantage
        return [float(len(str(completion))) for completion in completions]

    config = small_config(grpo_steps=1, grpo_args={"optim": "sgd"})
    updates = {}
    for micro in (8, 2):
        guide = tiny_guide()
        settings = config.model_copy(update={"grpo_micro_batch_size": micro})
        with tempfile.TemporaryDirectory() as folder:
            trainer = grpo_trainer(guide, examples(), longer_is_better, settings, folder)
            args = trainer.args
            assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 8
            assert args.generation_batch_size == 8  # sampled as one batch either way
            trainer.train()
        weights = trainer.model.state_dict()  # lora_B starts at 0: its value is the update
        updates[micro] = torch.cat([weights[k].flatten() for k in weights if "lora_B" in k])
    assert updates[8].norm() > 0
    difference = (updates[2] - updates[8]).norm() / updates[8].norm()
    assert difference < 0.01  # bf16 autocast rounds a little; a lost micro-batch would be ~50%


def test_the_judge_is_metered_once_into_the_cores_ledger(scripted_lm):
    from gcop.cost import CostLedger
    from gcop.lm.metered import MeteredLM

    core, _ = keyword_core(scripted_lm)
    own_ledger = CostLedger()
    judge_lm = MeteredLM(scripted_lm([JUDGE_REPLY]).model_string, ledger=own_ledger)
    reward = make_reward(
        tiny_guide(),
        core,
        examples(),
        metric=exact_metric,
        config=small_config(),
        judge_lm=judge_lm,
    )
    reward([as_chat("<strategy>1. add</strategy>")], example_index=[0])
    [judged] = core.ledger.records("judge")
    assert judged.prompt_tokens > 0 and len(own_ledger) == 0  # the caller's LM is untouched
