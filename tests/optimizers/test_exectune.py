"""ExecTune's own checks: bad configs and inputs fail early with errors that name the fix; the
DSPy optimizer contract (a new program, the student untouched, the valset used)."""

import copy
import inspect
import json
from importlib import metadata

import dspy
import pytest
import torch
from fakes import last_user_text
from training_fakes import (
    QUESTIONS,
    exact_metric,
    examples,
    keyword_core,
    one_pass_config,
    same_weights,
    snapshot,
    tiny_guide,
)

import gcop
from gcop.baselines.advisor import Advisor
from gcop.lm import retries
from gcop.optimizers.exectune import AcceptanceFailed
from gcop.provenance import examples_digest
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
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)

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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sft_args": {"max_stepz": 1}}, r"sft_args: trl\.SFTConfig has no field 'max_stepz'"),
        ({"grpo_args": {"num_epochz": 1}}, r"grpo_args: trl\.GRPOConfig has no field 'num_epochz'"),
        ({"lora_args": {"rank": 4}}, r"lora_args: peft\.LoraConfig has no field 'rank'"),
        ({"grpo_args": {"remove_unused_columns": True}}, "gcop sets 'remove_unused_columns'"),
        ({"sft_args": {"completion_only_loss": False}}, "gcop sets 'completion_only_loss'"),
        ({"lora": False, "lora_args": {"r": 4}}, "lora_args needs lora=True"),
    ],
)
def test_config_pass_through_refuses_unknown_and_owned_keys(args, message):
    with pytest.raises(ValueError, match=message):
        gcop.ExecTuneConfig(**args)


def test_config_pass_through_takes_trl_and_peft_fields():
    config = gcop.ExecTuneConfig(
        sft_args={"max_steps": 1, "gradient_accumulation_steps": 2},
        grpo_args={"beta": 0.1, "report_to": "none"},
        lora_args={"r": 4, "lora_dropout": 0.05},
    )
    assert config.sft_args["gradient_accumulation_steps"] == 2
    assert gcop.ExecTuneConfig().sft_args == {}  # the defaults are unchanged


def test_optimizers_follow_the_teleprompter_contract(scripted_lm):
    core = gcop.Core(MathSolve, lm=scripted_lm(["[[ ## answer ## ]]\n1"]).model_string)
    policy = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    example = dspy.Example(question="2+2?", gold="4").with_inputs("question")
    exectune = gcop.ExecTune(metric=exact_metric, teacher="local/x")
    advisor = Advisor(exact_metric)
    for optimizer in (exectune, advisor):
        assert isinstance(optimizer, dspy.teleprompt.Teleprompter)
        parameters = inspect.signature(optimizer.compile).parameters
        assert list(parameters) == ["student", "trainset", "teacher", "valset"]
        assert all(
            parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
            for name in ("trainset", "teacher", "valset")
        )
        with pytest.raises(ValueError, match=r"valset\[0\] marks no inputs"):  # before any call
            optimizer.compile(policy, trainset=[example], valset=[dspy.Example(question="q")])
    with pytest.raises(TypeError, match="teacher is the LM that proposes strategies"):
        exectune.compile(policy, trainset=[example], teacher=dspy.Predict("question -> answer"))
    with pytest.raises(TypeError, match="not a DSPy program"):
        gcop.ExecTune(metric=exact_metric, teacher=dspy.ChainOfThought("question -> answer"))
    with pytest.raises(ValueError, match="Advisor learns from the task reward alone"):
        advisor.compile(policy, trainset=[example], teacher="local/x")


VALSET_QUESTIONS = [f"Ann has {i} pears and buys {i + 1} more. How many pears?" for i in range(6)]


def test_a_valset_too_small_for_the_paired_rule_is_refused_before_any_call(scripted_lm):
    core, core_lm = keyword_core(scripted_lm)
    teacher = scripted_lm(["<strategy>add</strategy>"])
    policy = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    optimizer = gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=one_pass_config())
    small = examples(VALSET_QUESTIONS[:5])
    # 5 examples: even a GRPO guide right on all 5 where SFT is wrong has p = 0.0625
    with pytest.raises(ValueError, match=r"valset has 5 examples.*at least 6.*valset_rule='best'"):
        optimizer.compile(policy, trainset=examples(), valset=small)
    assert teacher.calls == [] and core_lm.calls == []


def test_compile_returns_a_new_program_scored_on_the_valset_and_leaves_the_student(
    scripted_lm, tmp_path
):
    torch.set_num_threads(1)
    core, _ = keyword_core(scripted_lm)
    student = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)
    student.core.program.demos = [dspy.Example(question="1+1?", answer="The answer is 2")]
    student.artifacts["note"] = {"kept": True}
    state, weights = copy.deepcopy(student.dump_state()), snapshot(student.guide)
    guide, lms = student.guide, [p.lm for p in student.predictors()]
    teacher = scripted_lm(["<strategy>add</strategy>"])
    config = one_pass_config()
    optimizer = gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config)

    compiled = optimizer.compile(student, trainset=examples(), valset=examples(VALSET_QUESTIONS))

    assert compiled is not student and compiled.guide is not student.guide
    assert student.dump_state() == state and student.core.program.demos[0].question == "1+1?"
    assert student.guide is guide and [p.lm for p in student.predictors()] == lms
    assert same_weights(snapshot(student.guide), weights)
    assert student.artifacts == {"note": {"kept": True}}
    validation = compiled.artifacts["validation"]
    assert [row["phase"] for row in validation["curve"]] == ["sft", "grpo"]
    assert all(row["n"] == 6 and 0 <= row["score"] <= 1 for row in validation["curve"])
    # the default rule: GRPO must beat SFT in a paired test, winning all 6 where they differ
    assert validation["curve"][1]["paired"]["against"] == "sft"
    assert (validation["rule"], validation["kept"]) == ("paired", "sft")
    assert compiled.guide.local_lm.name == optimizer.sft_program_.guide.local_lm.name
    assert compiled.artifacts["sft"]["steps"] == 2 and compiled.artifacts["grpo"]["steps"] == 1

    # provenance: the configuration, the versions and data it trained on, and what actually ran
    assert compiled.artifacts["config"] == config.model_dump(mode="json")
    provenance = compiled.artifacts["provenance"]
    assert provenance["trainset"] == examples_digest(examples())
    assert provenance["valset"] == examples_digest(examples(VALSET_QUESTIONS))
    assert provenance["trainset"] != provenance["valset"]
    for library in ("dspy", "trl", "transformers", "peft"):
        assert provenance["versions"][library] == metadata.version(library)
    sft = compiled.artifacts["sft"]
    assert (sft["max_steps"], sft["epochs_planned"]) == (2, 20) and 0 < sft["epochs"] < 20
    saved = json.loads((compiled.save(tmp_path / "policy") / "policy.json").read_text())
    assert saved["training_config"] == config.model_dump(mode="json")
    assert saved["artifacts"]["provenance"]["versions"]["gcop"] == gcop.__version__


def test_accept_returns_the_sft_data_and_keeps_its_decisions_in_the_run_dir(scripted_lm, tmp_path):
    core, core_lm = keyword_core(scripted_lm)
    student = gcop.GuideCorePolicy(guide=tiny_guide(), core=core)

    def teacher_reply(messages):  # the keyword plan for tasks 0 and 2 only
        even = any(f"Tom has {i} apples" in last_user_text(messages) for i in (0, 2))
        return f"<strategy>{'add them' if even else 'guess'}</strategy>"

    teacher = scripted_lm(teacher_reply)
    optimizer = gcop.ExecTune(
        exact_metric, teacher=teacher.model_string, config=one_pass_config(), run_dir=tmp_path
    )

    accepted = optimizer.accept(student, trainset=examples())

    assert [(item.example.question, item.strategy) for item in accepted] == [
        (QUESTIONS[0], "add them"),
        (QUESTIONS[2], "add them"),
    ]
    assert student.artifacts == {}
    core_calls, teacher_calls = len(core_lm.calls), len(teacher.calls)
    again = optimizer.accept(student, trainset=examples())
    assert [item.strategy for item in again] == ["add them", "add them"]
    assert (len(core_lm.calls), len(teacher.calls)) == (core_calls, teacher_calls)
