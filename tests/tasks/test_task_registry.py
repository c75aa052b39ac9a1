"""gcop.tasks.load_task: names map to task modules with the common interface."""

import pytest

from gcop.tasks import TASKS, load_task


def test_known_tasks_share_an_interface():
    for name in TASKS:
        task = load_task(name)
        assert callable(task.load) and callable(task.metric)
        assert task.GUIDE_SIGNATURE is not None and task.CORE_SIGNATURE is not None
    assert load_task("HumanEval") is load_task("humaneval")


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match="gsm8k, humaneval, kodcode"):
        load_task("mbpp")
