"""ExecTune's own checks: bad configs and inputs fail early with errors that name the fix."""

import dspy
import pytest

import gcop
from gcop.optimizers import acceptance_calls
from gcop.optimizers.exectune import AcceptanceFailed
from gcop.signatures import MathGuide, MathSolve


@pytest.mark.parametrize(
    ("field", "value"),
    [("tau", 0.0), ("tau", 1.5), ("k", 0), ("max_rounds", -1), ("mu", -0.1), ("alpha_fmt", -1)],
)
def test_config_rejects_out_of_range_values(field, value):
    with pytest.raises(ValueError, match=field):
        gcop.ExecTuneConfig(**{field: value})


@pytest.mark.parametrize("value", [True, "4", 4.0])
def test_config_does_not_coerce_wrong_types(value):
    with pytest.raises(ValueError, match="k"):
        gcop.ExecTuneConfig(k=value)


def test_config_needs_a_phase_and_knows_its_fields():
    with pytest.raises(ValueError, match="at least one of sft"):
        gcop.ExecTuneConfig(sft=False, grpo=False)
    with pytest.raises(ValueError, match="grpo_stepz"):
        gcop.ExecTuneConfig(grpo_stepz=3)


def test_compile_rejects_bad_programs_and_data(scripted_lm):
    core = gcop.Core(MathSolve, lm=scripted_lm(["[[ ## answer ## ]]\n1"]).model_string)
    api_guide = gcop.Guide(MathGuide, lm=scripted_lm(["<strategy>x</strategy>"]).model_string)
    optimizer = gcop.ExecTune(metric=lambda ex, pred, trace=None: 1.0, teacher="local/x")
    example = dspy.Example(question="2+2?", gold="4").with_inputs("question")
    with pytest.raises(TypeError, match="GuideCorePolicy with a guide"):
        optimizer.compile(gcop.GuideCorePolicy(guide=None, core=core), trainset=[example])
    with pytest.raises(ValueError, match="trainable gcop.LocalLM"):
        optimizer.compile(gcop.GuideCorePolicy(guide=api_guide, core=core), trainset=[example])

    trainable = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=gcop.LocalLM("tiny", name="exectune-check")), core=core
    )
    with pytest.raises(ValueError, match="trainset is empty"):
        optimizer.compile(trainable, trainset=[])
    with pytest.raises(ValueError, match=r"trainset\[0\] lacks the field\(s\) \['question'\]"):
        optimizer.compile(trainable, trainset=[dspy.Example(prompt="x").with_inputs("prompt")])
    with pytest.raises(ValueError, match="needs a teacher"):
        gcop.ExecTune(metric=len).compile(trainable, trainset=[example])
    with pytest.raises(ValueError, match=r"trainset\[0\] marks no inputs"):  # before any call
        optimizer.compile(trainable, trainset=[dspy.Example(question="2+2?", gold="4")])
    with pytest.raises(TypeError, match="metric must be callable"):
        gcop.ExecTune(metric="exact")


def test_compile_stops_before_training_when_no_task_could_be_decided(scripted_lm, monkeypatch):
    monkeypatch.setattr(acceptance_calls, "BACKOFF_BASE_S", 0.001)

    def outage(messages):
        raise ConnectionError("core is down")

    core = gcop.Core(MathSolve, lm=scripted_lm(outage).model_string)
    guide = gcop.Guide(MathGuide, lm=gcop.LocalLM("tiny", name="exectune-outage"))
    teacher = scripted_lm(["<strategy>1. add the numbers</strategy>"])
    config = gcop.ExecTuneConfig(k=2, max_retries=1, concurrency=1, grpo=False)
    optimizer = gcop.ExecTune(metric=lambda ex, pred, trace=None: 1.0, config=config)
    trainset = [
        dspy.Example(question=f"{i}+2?", gold=str(i + 2)).with_inputs("question") for i in range(2)
    ]
    policy = gcop.GuideCorePolicy(guide=guide, core=core)
    with pytest.raises(AcceptanceFailed, match="decided none of the 2 tasks: 4 calls failed"):
        optimizer.compile(policy, trainset=trainset, teacher=teacher.model_string)
    assert optimizer.sft_program_ is None
