"""End to end on the tiny models: ExecTune compiles a policy through DSPy's ``Teleprompter``
contract with a scripted teacher, the policy saves as a LoRA adapter folder, reloads with the same
outputs, and ``gcop evaluate --policy DIR --core MODEL`` runs its guide against another core."""

import copy
import json
import uuid

import dspy
import pytest
import torch
from optimizers.training_fakes import (
    QUESTIONS,
    exact_metric,
    examples,
    keyword_core,
    one_pass_config,
    same_weights,
    snapshot,
)

import gcop
from gcop.cli import main
from gcop.lm.local_folder import SPEC_FILE
from gcop.modules.guide import guide_messages
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def tiny_policy(core: gcop.Core) -> gcop.GuideCorePolicy:
    """A policy whose guide is the registry's tiny model, so a trained guide saves as an adapter."""
    local = gcop.LocalLM("tiny", name=f"tiny-e2e-{uuid.uuid4().hex[:8]}")
    return gcop.GuideCorePolicy(gcop.Guide(MathGuide, local, token_budget=16), core)


def folder_files(folder) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*")}


def weight_files(folder) -> list[str]:
    return sorted(name for name in folder_files(folder) if name.endswith(WEIGHT_SUFFIXES))


def gsm8k_core(scripted_lm, dataset):
    """A core right on the first question only, so its accuracy (1/2) comes from its replies."""
    right = dataset[0].question

    def reply(messages):
        text = messages[-1]["content"]
        example = next(ex for ex in dataset if ex.question in text)
        answer = example.gold if example.question == right else f"{example.gold}1"
        return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"

    return scripted_lm(reply)


@pytest.mark.parametrize("phases", [{"grpo": False}, {"sft": False}], ids=["sft-only", "grpo-only"])
def test_compile_save_reload_and_swap_the_core_from_the_cli(phases, scripted_lm, tmp_path):
    torch.set_num_threads(1)
    core, core_lm = keyword_core(scripted_lm)
    student = tiny_policy(core)
    state, weights = copy.deepcopy(student.dump_state()), snapshot(student.guide)
    teacher = scripted_lm(["<strategy>add</strategy>"])  # within the 16-token budget
    config = one_pass_config(lora_args={"r": 4}, **phases)
    optimizer = gcop.ExecTune(exact_metric, teacher=teacher.model_string, config=config)

    compiled = optimizer.compile(student, trainset=examples(), valset=examples(QUESTIONS[:2]))

    # the Teleprompter contract: a new program, the student as it was
    assert isinstance(optimizer, dspy.teleprompt.Teleprompter)
    assert compiled is not student and compiled.guide is not student.guide
    assert student.dump_state() == state and same_weights(snapshot(student.guide), weights)
    phase = "sft" if config.sft else "grpo"
    assert f"-{phase}-" in compiled.guide.local_lm.name
    assert [row["phase"] for row in compiled.artifacts["validation"]["curve"]] == [phase]
    assert ("sft" in compiled.artifacts) == config.sft
    assert ("grpo" in compiled.artifacts) == config.grpo

    # the untrained student saves its model's name alone; the trained guide, a LoRA adapter
    assert weight_files(student.save(tmp_path / "student")) == []
    untrained = json.loads((tmp_path / "student" / "guide" / SPEC_FILE).read_text())
    assert (untrained["model"], untrained["weights"]) == ("tiny", "none")
    folder = compiled.save(tmp_path / "policy")
    assert sum(folder_files(folder).values()) < 20 * 2**20
    assert weight_files(folder) == ["guide/adapter/adapter_model.safetensors"]
    spec = json.loads((folder / "guide" / SPEC_FILE).read_text())
    assert (spec["model"], spec["weights"]) == ("tiny", "adapter")
    adapter = json.loads((folder / "guide" / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4  # lora_args reached peft's LoraConfig

    # reloaded into a fresh policy, the guide writes what the compiled one writes (greedy)
    reloaded = tiny_policy(core).load(folder)
    assert reloaded.guide.local_lm.name == compiled.guide.local_lm.name
    assert same_weights(snapshot(reloaded.guide), snapshot(compiled.guide))
    for question in QUESTIONS[:3]:
        messages = guide_messages(MathGuide, {"question": question})
        assert reloaded.guide.local_lm.complete(
            messages, max_tokens=24
        ) == compiled.guide.local_lm.complete(messages, max_tokens=24)

    # the CLI runs the saved guide against another core
    dataset = gsm8k.load("test", n=2)
    new_core = gsm8k_core(scripted_lm, dataset)
    calls_before = len(core_lm.calls)
    args = [
        "evaluate",
        *("--policy", str(folder), "--core", new_core.model_string, "--guide", "tiny"),
        *("--n", "2", "--threads", "1", "--out", str(tmp_path / "eval")),
    ]
    assert main(args) == 0
    assert len(new_core.calls) == 2 and len(core_lm.calls) == calls_before
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["provenance"]["policy"] == str(folder)
    ran_on = results["provenance"]["models"]["policy"]
    assert ran_on == {"core": new_core.model_string, "guide": compiled.guide.lm.model}
    report = results["results"][0]
    assert (report["name"], report["n"], report["accuracy"]) == ("policy", 2, 0.5)
