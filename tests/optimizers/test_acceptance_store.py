"""The acceptance log (``run_dir/acceptance/records.jsonl``): what a rerun may and may not reuse.

A kill can leave the last line half-written; a rerun must read every whole line, and what it then
appends must stay readable. Records stored under other settings must never be reused.
"""

import pytest
from acceptance_fakes import Backend, make_policy, metric, teacher_for, trainset

from gcop.lm.resolve import as_lm
from gcop.optimizers.acceptance.progress import fingerprint
from gcop.optimizers.acceptance.run import run_acceptance
from gcop.optimizers.acceptance.store import FOLDER, RECORDS_FILE, AcceptanceStore
from gcop.optimizers.config import ExecTuneConfig

SETTINGS = {"core": "local/core", "core_temperature": 0.7}


def trial(index: int) -> dict:
    return {"rollout_id": index, "score": 1.0, "output": f"answer {index}"}


def test_a_half_written_last_line_is_skipped_and_what_follows_stays_readable(tmp_path):
    with AcceptanceStore(tmp_path, SETTINGS) as store:
        store.put_trial("task", 0, 0, "add", trial(0))
        store.put_trial("task", 0, 1, "add", trial(1))
    log = tmp_path / FOLDER / RECORDS_FILE
    with log.open("a", encoding="utf-8") as handle:
        handle.write('{"key": "0123456789abcdef0123", "kind": "tri')  # killed mid-write

    with AcceptanceStore(tmp_path, SETTINGS) as store:  # reads the two whole lines
        assert len(store) == 2
        assert store.trial("task", 0, 1, "add")["output"] == "answer 1"
        store.put_trial("task", 0, 2, "add", trial(2))

    with AcceptanceStore(tmp_path, SETTINGS) as store:  # the record after the cut is kept
        assert len(store) == 3
        assert store.trial("task", 0, 2, "add")["output"] == "answer 2"
    assert log.read_text(encoding="utf-8").count("\n") == 4  # 3 records and the cut line


def test_records_of_other_settings_are_not_reused(tmp_path):
    with AcceptanceStore(tmp_path, SETTINGS) as store:
        store.put_trial("task", 0, 0, "add", trial(0))
        store.put_proposal(
            "task", 0, [{"role": "user", "content": "q"}], "<strategy>add</strategy>"
        )
    other = {**SETTINGS, "core_temperature": 1.0}
    with AcceptanceStore(tmp_path, other) as store:
        assert store.trial("task", 0, 0, "add") is None
        assert store.proposal("task", 0, [{"role": "user", "content": "q"}]) is None
    with AcceptanceStore(tmp_path, SETTINGS) as store:  # the same settings still find them
        assert store.trial("task", 0, 0, "add") == {
            "kind": "trial",
            "round": 0,
            "index": 0,
            **trial(0),
        }
        assert store.proposal("task", 0, [{"role": "user", "content": "q"}]) is not None


@pytest.fixture
def backend():
    made = []

    def make(reply, **kwargs):
        made.append(Backend(reply, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


def run(backend, run_dir, *, core_name="core-fp", teacher_name="teacher-fp", **settings):
    """(result, core backend) of one acceptance run over 2 tasks, nothing cached by DSPy."""
    from acceptance_fakes import core_answer, teacher_reply

    core = backend(core_answer, name=core_name)
    teacher = backend(teacher_reply, name=teacher_name)
    policy = make_policy(core.model_string, teacher.model_string, cache=False)
    teacher_lm = teacher_for(policy, teacher.model_string, cache=False)
    config = ExecTuneConfig(concurrency=1, max_rounds=1, **settings)
    result = run_acceptance(
        policy, trainset(2), teacher_lm=teacher_lm, metric=metric, config=config, run_dir=run_dir
    )
    core.close()
    teacher.close()
    return result, core


@pytest.mark.parametrize(
    "changed",
    [{"core_temperature": 1.0}, {"core_name": "other-core"}, {"teacher_name": "other-teacher"}],
    ids=["core_temperature", "core_model", "teacher_model"],
)
def test_a_rerun_under_other_settings_recomputes_everything(backend, tmp_path, changed):
    first, core1 = run(backend, tmp_path)
    assert first.reused_trials == 0 and len(core1.calls) == first.core_calls > 0
    same, core2 = run(backend, tmp_path)
    assert core2.calls == [] and same.reused_trials == first.core_calls  # same settings: reused

    other, core3 = run(backend, tmp_path, **changed)
    assert other.reused_trials == 0 and other.reused_proposals == 0
    assert len(core3.calls) == other.core_calls == first.core_calls


def test_the_fingerprint_changes_with_every_setting_it_names(backend):
    core_a, core_b = backend(str, name="fp-core-a"), backend(str, name="fp-core-b")
    teacher = backend(str, name="fp-teacher")
    config = ExecTuneConfig()

    def settings(core=core_a, teacher_temperature=0.7, **changes):
        policy = make_policy(core.model_string, teacher.model_string)
        teacher_lm = as_lm(teacher.model_string, temperature=teacher_temperature)
        return fingerprint(policy, teacher_lm, config.model_copy(update=changes))

    base = settings()
    assert settings() == base
    variants = [
        settings(core=core_b),
        settings(teacher_temperature=1.0),
        settings(core_temperature=0.1),
        settings(privileged_teacher=not config.privileged_teacher),
    ]
    assert all(v != base for v in variants)
    stored = [AcceptanceStore(None, f).fingerprint for f in [base, *variants]]
    assert len(set(stored)) == len(stored)  # the store's digest tells them all apart
