"""Acceptance sampling against a scripted teacher and core (see ``acceptance_fakes``)."""

import json
import time
from collections import Counter

import dspy
import pytest
from acceptance_fakes import (
    KEYWORD,
    Backend,
    PatternCore,
    SimulatedKill,
    core_answer,
    example,
    make_policy,
    metric,
    teacher_for,
    teacher_reply,
    trainset,
)

from gcop.optimizers.acceptance.run import run_acceptance
from gcop.optimizers.config import ExecTuneConfig


@pytest.fixture
def backend():
    made = []

    def make(reply, **kwargs):
        made.append(Backend(reply, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


def setup(backend, core_reply=core_answer, *, names=("", ""), kill_after=None, **core_kwargs):
    """(policy, core backend, teacher backend, teacher LM)."""
    core = backend(core_reply, name=names[0], kill_after=kill_after)
    teacher = backend(teacher_reply, name=names[1])
    policy = make_policy(core.model_string, teacher.model_string, **core_kwargs)
    cache = core_kwargs.get("cache", True)
    return policy, core, teacher, teacher_for(policy, teacher.model_string, cache=cache)


def config(**kwargs):
    kwargs.setdefault("concurrency", 1)
    return ExecTuneConfig(**kwargs)


def accepted_questions(result):
    return [item.example.question for item in result.accepted]


def test_good_strategies_are_accepted_and_bad_ones_refined_within_the_round_limit(backend):
    policy, core, teacher, teacher_lm = setup(backend)
    data = trainset(3) + [example(7, 8, "impossible ")]
    start = time.perf_counter()
    result = run_acceptance(
        policy, data, teacher_lm=teacher_lm, metric=metric, config=config(max_rounds=2)
    )
    elapsed = time.perf_counter() - start
    assert accepted_questions(result) == [ex.question for ex in data[:3]]
    for item in result.accepted:
        assert KEYWORD in item.strategy and "<strategy>" not in item.strategy
        assert item.round == 1 and item.success_rate == 1.0
    impossible = [p for p in result.proposals if p.example_index == 3]
    assert [p.round for p in impossible] == [0, 1, 2]  # max_rounds=2 refinements, then stop
    assert all(p.verdict == "rejected" for p in impossible)
    # first tries fail after 2 trials (2 failures reject), refinements pass after 3 successes
    assert result.core_calls == len(core.calls) == 3 * (2 + 3) + 3 * 2
    assert result.core_calls_saved == 3 * (2 + 1) + 3 * 2
    assert result.teacher_calls == len(teacher.calls) == 3 * 2 + 3
    assert policy.ledger.summary("core").calls == result.core_calls
    assert policy.ledger.summary("teacher").calls == result.teacher_calls
    summary = json.loads(json.dumps(result.summary()))
    assert summary["accepted"] == 3 and summary["total"] == 4
    assert summary["rounds_used"] == {"1": 3}
    assert summary["cost"]["core"]["calls"] == result.core_calls
    assert summary["certificate"]["m"] == len(result.proposals) == 9
    # the summary keeps milliseconds; rounding keeps order, so round the outer timer the same way
    assert 0 < summary["wall_time_s"] <= round(elapsed, 3)
    assert result.certificate.n_accepted == 3


def test_each_proposal_gets_k_distinct_core_samples(backend):
    policy, core, _, teacher_lm = setup(backend)
    result = run_acceptance(
        policy,
        trainset(2),
        teacher_lm=teacher_lm,
        metric=metric,
        config=config(k=4, early_stop=False, concurrency=3),
    )
    assert len(result.accepted) == 2
    assert len(core.calls) == result.core_calls == 2 * 2 * 4  # 2 examples x 2 rounds x k
    assert set(core.per_prompt().values()) == {4}  # every (task, strategy) ran k times
    rollouts = [t.rollout_id for p in result.proposals for t in p.trials]
    assert len(rollouts) == len(set(rollouts)) == 16
    summary = policy.ledger.summary("core")
    assert summary.calls == 16 and summary.cache_hits == 0


PATTERNS = {"alpha": "SSS", "beta": "FF", "gamma": "SFSS", "delta": "SFSF", "eps": "FSSS"}


def test_early_stopping_saves_calls_and_decides_as_all_k_trials(backend):
    data = [example(i + 1, 2 * i + 3, f"{tag} ") for i, tag in enumerate(PATTERNS)]
    runs = {}
    for early in (True, False):
        policy, core, _, teacher_lm = setup(backend, PatternCore(PATTERNS))
        cfg = config(k=4, tau=0.75, max_rounds=1, early_stop=early)
        runs[early] = run_acceptance(policy, data, teacher_lm=teacher_lm, metric=metric, config=cfg)
        assert runs[early].core_calls == len(core.calls)
    early, full = runs[True], runs[False]
    assert [(p.example_index, p.round, p.verdict) for p in early.proposals] == [
        (p.example_index, p.round, p.verdict) for p in full.proposals
    ]
    assert accepted_questions(early) == accepted_questions(full)
    assert [q.split()[0] for q in accepted_questions(early)] == ["alpha", "gamma", "eps"]
    # alpha stops after 3 successes (saves 1); beta after 2 failures, in both rounds (saves 4)
    assert (full.core_calls, early.core_calls, early.core_calls_saved) == (28, 23, 5)
    assert full.core_calls_saved == 0


def test_invalid_or_leaking_proposals_cost_no_core_calls(backend):
    policy, core, _, teacher_lm = setup(backend)
    data = [example(2, 3, "sloppy "), example(4, 5, "leaky ")]
    result = run_acceptance(policy, data, teacher_lm=teacher_lm, metric=metric, config=config())
    first = {p.example_index: p for p in result.proposals if p.round == 0}
    assert first[0].verdict == "invalid" and first[0].reason == "no <strategy> block"
    assert first[1].verdict == "leak" and first[1].trials == []
    assert len(result.accepted) == 2
    assert len(core.calls) == 2 * 3  # only the refined strategies ran (3 successes each)
    assert not any("the total is" in call for call in core.calls)


def test_a_killed_run_resumes_without_repeating_finished_work(backend, tmp_path):
    data = trainset(5) + [example(7, 8, "impossible ")]
    cfg = config(max_rounds=1, concurrency=2)
    policy, ref_core, ref_teacher, teacher_lm = setup(backend, cache=False)
    reference = run_acceptance(policy, data, teacher_lm=teacher_lm, metric=metric, config=cfg)

    names = ("core-resume", "teacher-resume")
    policy, core1, teacher1, teacher_lm = setup(backend, names=names, kill_after=9, cache=False)
    with pytest.raises(SimulatedKill):
        run_acceptance(
            policy, data, teacher_lm=teacher_lm, metric=metric, config=cfg, run_dir=tmp_path
        )
    assert 0 < len(core1.calls) <= 9

    policy, core2, teacher2, teacher_lm = setup(backend, names=names, cache=False)
    resumed = run_acceptance(
        policy, data, teacher_lm=teacher_lm, metric=metric, config=cfg, run_dir=tmp_path
    )
    # every core call finished before the kill is reused, never repeated
    assert core1.per_prompt() + core2.per_prompt() == ref_core.per_prompt()
    assert Counter(teacher1.calls) + Counter(teacher2.calls) == Counter(ref_teacher.calls)
    assert resumed.reused_trials == len(core1.calls)
    assert policy.ledger.summary("core").calls == len(core2.calls)
    assert accepted_questions(resumed) == accepted_questions(reference)
    assert [a.strategy for a in resumed.accepted] == [a.strategy for a in reference.accepted]

    policy, core3, teacher3, teacher_lm = setup(backend, names=names, cache=False)
    again = run_acceptance(
        policy, data, teacher_lm=teacher_lm, metric=metric, config=cfg, run_dir=tmp_path
    )
    assert core3.calls == [] and teacher3.calls == []  # a finished run costs nothing to redo
    assert accepted_questions(again) == accepted_questions(reference)
    assert (tmp_path / "acceptance" / "summary.json").is_file()


def test_max_core_calls_stops_cleanly(backend):
    policy, core, _, teacher_lm = setup(backend)
    result = run_acceptance(
        policy, trainset(4), teacher_lm=teacher_lm, metric=metric, config=config(max_core_calls=7)
    )
    assert result.budget_exhausted and result.summary()["budget_exhausted"]
    assert result.core_calls == len(core.calls) == 7
    assert len(result.accepted) <= 1 and len(result.undecided) >= 3
    decided = [p for p in result.proposals if p.verdict in ("accepted", "rejected")]
    assert result.certificate.m == len(decided)  # undecided proposals count neither way


def test_max_dollars_stops_cleanly(backend):
    policy, core, _, teacher_lm = setup(backend)
    policy.ledger.prices[core.model_string] = (0.001, 0.001)
    result = run_acceptance(
        policy, trainset(4), teacher_lm=teacher_lm, metric=metric, config=config(max_dollars=0.05)
    )
    assert result.budget_exhausted and result.undecided
    per_call = [r.dollars for r in policy.ledger.records("core")]
    assert result.cost["core"]["dollars"] == pytest.approx(sum(per_call))
    assert 0.05 <= sum(per_call) < 0.05 + max(per_call)  # one call in flight at the limit


def test_cache_hits_spend_nothing_from_max_dollars(backend):
    policy, core, _, teacher_lm = setup(backend)
    policy.ledger.prices[core.model_string] = (0.001, 0.001)
    first = run_acceptance(
        policy, trainset(4), teacher_lm=teacher_lm, metric=metric, config=config()
    )
    spent = sum(r.dollars for r in policy.ledger.records("core"))
    assert spent > 0.05 and not first.budget_exhausted
    calls = len(core.calls)
    again = run_acceptance(  # every call is now served by the cache
        policy, trainset(4), teacher_lm=teacher_lm, metric=metric, config=config(max_dollars=0.05)
    )
    assert len(core.calls) == calls and not again.budget_exhausted
    assert accepted_questions(again) == accepted_questions(first) and not again.undecided


def test_privileged_teacher_sees_the_reference_solution(backend):
    for privileged in (False, True):
        policy, _, teacher, teacher_lm = setup(backend)
        run_acceptance(
            policy,
            [example(2, 3)],
            teacher_lm=teacher_lm,
            metric=metric,
            config=config(privileged_teacher=privileged),
        )
        assert ("Reference solution" in teacher.calls[0]) is privileged
        assert ("Gold:\n5" in teacher.calls[0]) is privileged


def test_core_calls_run_concurrently_across_examples(backend):
    policy, core, _, teacher_lm = setup(backend)
    core.latency_s = 0.05
    run_acceptance(
        policy,
        trainset(6),
        teacher_lm=teacher_lm,
        metric=metric,
        config=config(concurrency=4, early_stop=False),
    )
    assert core.max_running == 4


def test_bad_inputs_raise_clear_errors(backend):
    policy, _, _, teacher_lm = setup(backend)
    run = lambda data, **kw: run_acceptance(  # noqa: E731
        policy, data, teacher_lm=teacher_lm, metric=kw.pop("metric", metric), config=config()
    )
    with pytest.raises(ValueError, match="trainset is empty"):
        run([])
    with pytest.raises(ValueError, match=r"trainset\[1\] lacks the field\(s\) \['question'\]"):
        run([example(1, 2), dspy.Example(prompt="x", gold="3").with_inputs("prompt")])
    with pytest.raises(ValueError, match="include them in .with_inputs"):
        run([dspy.Example(question="What is 1 plus 2?", gold="3").with_inputs("gold")])
    with pytest.raises(TypeError, match="not a dspy.Example"):
        run([{"question": "What is 1 plus 2?"}])
    with pytest.raises(ValueError, match="teacher_lm is None"):
        run_acceptance(policy, trainset(1), teacher_lm=None, metric=metric)
    with pytest.raises(ValueError, match="the metric returned 7"):
        run(trainset(1), metric=lambda ex, pred, trace=None: 7)


def test_verdicts_and_states_are_enums_whose_values_records_keep(backend):
    from gcop.optimizers.acceptance.progress import TaskState
    from gcop.optimizers.acceptance.records import TrialStatus, Verdict
    from gcop.optimizers.acceptance.rules import verdict

    policy, _, _, teacher_lm = setup(backend)
    result = run_acceptance(
        policy, trainset(1), teacher_lm=teacher_lm, metric=metric, config=config(max_rounds=1)
    )
    assert [p.verdict for p in result.proposals] == [Verdict.REJECTED, Verdict.ACCEPTED]
    assert all(t.status is TrialStatus.OK for p in result.proposals for t in p.trials)
    assert verdict(3.0, 3, k=4, tau=0.75) is Verdict.ACCEPTED
    assert TaskState.DONE == "done"  # a saved record reads the same as before
    summary = json.loads(json.dumps(result.summary()))
    assert summary["proposal_verdicts"] == {"accepted": 1, "rejected": 1}


def test_a_metric_verdict_of_none_scores_zero_as_in_grpo(backend):
    policy, _, _, teacher_lm = setup(backend)
    result = run_acceptance(
        policy,
        trainset(1),
        teacher_lm=teacher_lm,
        metric=lambda ex, pred, trace=None: None,
        config=config(max_rounds=0),
    )
    assert [p.scores for p in result.proposals] == [[0.0, 0.0]]
