"""gcop.tasks.load_task: names and ``module:ATTRIBUTE`` paths map to gcop.Task objects."""

import pytest

import gcop
from gcop.tasks import TASKS, load_task

# a user's task, found by `load_task("test_task_registry:NOT_A_TASK")` and refused
NOT_A_TASK = "a string"


def test_known_tasks_are_task_objects():
    for name in TASKS:
        task = load_task(name)
        assert isinstance(task, gcop.Task) and task.name == name
        assert callable(task.load) and callable(task.metric)
        assert task.guide_signature is not None and task.core_signature is not None
    assert load_task("HumanEval") is load_task("humaneval")


def test_unknown_task_lists_the_known_ones_and_how_to_give_your_own():
    with pytest.raises(ValueError, match="gsm8k, humaneval, kodcode, mbpp, or give your own"):
        load_task("apps")
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        load_task("no_such_module:TASK")
    with pytest.raises(ValueError, match="is str, not a gcop.Task"):
        load_task("test_task_registry:NOT_A_TASK")
