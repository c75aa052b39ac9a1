"""Choosing a training phase's policy by its valset score, and the shared data checks."""

import dspy
import pytest

from gcop.optimizers.validation import check_examples, pick_checkpoint


class Fixed(dspy.Module):
    """A stand-in policy that answers every question with ``answer`` (or raises)."""

    def __init__(self, answer: str, artifacts: dict):
        super().__init__()
        self.answer, self.artifacts = answer, artifacts

    def forward(self, question):
        if self.answer == "error":
            raise RuntimeError("core is down")
        return dspy.Prediction(answer=self.answer, strategy="s", valid=True, reason="ok")


VALSET = [dspy.Example(question=f"q{i}", gold="7").with_inputs("question") for i in range(3)]


def metric(example, prediction, trace=None):
    return prediction.answer == example.gold


def score(phases):
    """``phases``: (name, answer) pairs; returns the program pick_checkpoint keeps."""
    programs = [(name, Fixed(answer, {name: {"steps": 1}})) for name, answer in phases]
    return pick_checkpoint(programs, VALSET, metric, num_threads=1), programs


def test_the_better_phase_is_kept_with_the_curve_and_all_phases_artifacts():
    kept, programs = score([("sft", "7"), ("grpo", "8")])
    assert kept.answer == "7" and kept is not programs[0][1]  # a copy
    assert kept.artifacts["grpo"] == {"steps": 1}  # the last phase's record travels along
    validation = kept.artifacts["validation"]
    assert validation["kept"] == "sft"
    assert [(row["phase"], row["score"], row["n"]) for row in validation["curve"]] == [
        ("sft", 1.0, 3),
        ("grpo", 0.0, 3),
    ]
    assert "validation" not in programs[0][1].artifacts  # the inputs are not modified


def test_a_tie_keeps_the_later_phase_and_a_phase_that_only_failed_ranks_last():
    assert score([("sft", "8"), ("grpo", "8")])[0].artifacts["validation"]["kept"] == "grpo"
    kept, _ = score([("sft", "8"), ("grpo", "error")])
    assert kept.artifacts["validation"]["kept"] == "sft"
    assert kept.artifacts["validation"]["curve"][1] == {
        "phase": "grpo",
        "score": None,  # nothing scored: JSON-able, unlike NaN
        "valid_rate": None,
        "errors": 3,
        "n": 3,
    }


def test_check_examples_names_the_set_and_the_fix():
    assert check_examples(tuple(VALSET), ["question"], "valset") == VALSET
    with pytest.raises(ValueError, match="valset is empty"):
        check_examples([], ["question"], "valset")
    with pytest.raises(ValueError, match=r"valset\[0\] lacks the field\(s\) \['question'\]"):
        check_examples([dspy.Example(prompt="x").with_inputs("prompt")], ["question"], "valset")
    with pytest.raises(ValueError, match=r"valset\[0\] marks no inputs"):
        check_examples([dspy.Example(question="x")], ["question"], "valset")


def test_one_check_for_train_and_val_sets_names_the_type_and_unmarked_fields():
    with pytest.raises(TypeError, match=r"valset\[0\] is a dict, not a dspy.Example"):
        check_examples([{"question": "q"}], ["question"], "valset")
    example = dspy.Example(question="q", context="c").with_inputs("question")
    with pytest.raises(ValueError, match=r"also read \['context'\]: include them"):
        check_examples([example], ["question", "context"], "valset")
    assert check_examples((example,), ["question"], "trainset") == [example]
