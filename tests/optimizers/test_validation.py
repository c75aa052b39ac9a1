"""Choosing a training phase's policy by its valset score, and the shared data checks."""

import dspy
import pytest

from gcop.optimizers.validation import check_examples, check_paired_valset, pick_checkpoint


class Fixed(dspy.Module):
    """A stand-in policy that answers every question with ``answer`` (or raises), or, given
    ``right``, answers right exactly the questions it names."""

    def __init__(self, answer: str, artifacts: dict, right: set[str] | None = None):
        super().__init__()
        self.answer, self.artifacts, self.right = answer, artifacts, right

    def forward(self, question):
        if self.answer == "error":
            raise RuntimeError("core is down")
        answer = self.answer if self.right is None else "7" if question in self.right else "8"
        return dspy.Prediction(answer=answer, strategy="s", valid=True, reason="ok")


VALSET = [dspy.Example(question=f"q{i}", gold="7").with_inputs("question") for i in range(3)]


def metric(example, prediction, trace=None):
    return prediction.answer == example.gold


def score(phases, rule="paired"):
    """``phases``: (name, answer) pairs; returns the program pick_checkpoint keeps."""
    programs = [(name, Fixed(answer, {name: {"steps": 1}})) for name, answer in phases]
    return pick_checkpoint(programs, VALSET, metric, num_threads=1, rule=rule), programs


WIDE = [dspy.Example(question=f"q{i}", gold="7").with_inputs("question") for i in range(12)]


def kept_phase(right_by_phase, **rule):
    """The phase pick_checkpoint keeps on WIDE when each phase answers right the questions
    ``q<i>`` for the indices given; and the validation record."""
    programs = [
        (name, Fixed("", {}, right={f"q{i}" for i in indices})) for name, indices in right_by_phase
    ]
    validation = pick_checkpoint(programs, WIDE, metric, num_threads=1, **rule).artifacts[
        "validation"
    ]
    return validation["kept"], validation


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


def test_under_the_best_rule_a_tie_keeps_the_later_phase_and_a_failed_phase_ranks_last():
    kept, _ = score([("sft", "8"), ("grpo", "8")], rule="best")
    assert kept.artifacts["validation"]["kept"] == "grpo"
    kept, _ = score([("sft", "8"), ("grpo", "error")], rule="best")
    assert kept.artifacts["validation"]["kept"] == "sft"
    assert kept.artifacts["validation"]["curve"][1] == {
        "phase": "grpo",
        "score": None,  # nothing scored: JSON-able, unlike NaN
        "valid_rate": None,
        "errors": 3,
        "n": 3,
    }


def test_a_later_phase_is_kept_only_when_it_wins_a_paired_test():
    # 6 against 4 right, 5 to 3 where they differ (p = 0.73): SFT is kept, where the best
    # score would have taken GRPO
    lead = [("sft", [0, 1, 2, 3]), ("grpo", [0, 4, 5, 6, 7, 8])]
    kept, validation = kept_phase(lead)
    assert kept == "sft" and validation["rule"] == "paired"
    assert validation["curve"][1]["paired"] == {
        "against": "sft",
        "only_this": 5,
        "only_against": 3,
        "p": 0.7266,
        "wins_needed": 8,  # of the 8 where they differ, GRPO had to win all
    }
    assert kept_phase(lead, rule="best")[0] == "grpo"
    # 10 against 1, 9 to 0 where they differ (p = 0.0039): GRPO is kept
    assert kept_phase([("sft", [0]), ("grpo", range(10))])[0] == "grpo"
    # a stricter level keeps SFT on the same evidence
    assert kept_phase([("sft", [0]), ("grpo", range(10))], p_value=0.001)[0] == "sft"


def test_the_paired_rule_tests_each_phase_against_the_one_it_must_beat():
    # the second phase wins against the first; the third is tested against the second
    kept, validation = kept_phase([("a", []), ("b", range(9)), ("c", range(11))])
    assert kept == "b"
    assert [row.get("paired", {}).get("against") for row in validation["curve"]] == [
        None,
        "a",
        "b",
    ]
    assert validation["curve"][2]["paired"]["only_this"] == 2


def test_the_paired_rule_passes_over_a_phase_that_only_failed():
    kept, _ = score([("sft", "error"), ("grpo", "8")])
    assert kept.artifacts["validation"]["kept"] == "grpo"  # the only phase that scored
    kept, _ = score([("sft", "8"), ("grpo", "error")])
    assert kept.artifacts["validation"]["kept"] == "sft"
    kept, _ = score([("sft", "error"), ("grpo", "error")])
    assert kept.artifacts["validation"]["kept"] == "grpo"  # nothing scored: the last
    with pytest.raises(ValueError, match="rule must be 'paired' or 'best'"):
        score([("sft", "7")], rule="latest")


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


def test_a_lead_the_paired_rule_passes_over_is_logged_with_the_wins_it_needed(caplog):
    with caplog.at_level("WARNING", logger="gcop.optimizers.validation"):
        kept_phase([("sft", [0, 1, 2, 3]), ("grpo", [0, 4, 5, 6, 7, 8])])
    assert "grpo led sft on the valset (5 / 3 where they differ" in caplog.text
    assert "it needed 8 of those 8" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="gcop.optimizers.validation"):
        kept_phase([("sft", [0, 1, 2, 3]), ("grpo", [0, 1, 2])])  # SFT leads: nothing to say
    assert caplog.text == ""


def test_a_valset_smaller_than_any_significant_split_is_refused():
    with pytest.raises(ValueError, match=r"valset has 5 examples.*at least 6 .*p < 0.05"):
        check_paired_valset(WIDE[:5], 0.05)
    with pytest.raises(ValueError, match=r"at least 8 "):
        check_paired_valset(WIDE[:7], 0.01)
    assert check_paired_valset(WIDE[:6], 0.05) is None
