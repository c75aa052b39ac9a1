"""A saved policy folder is checked for what it will run before anything is scored, and DSPy's
cache never answers for other weights under the same guide name (issue 31, item 4).

Each corruption recomputes the hashes in ``policy.json``, as someone editing the folder would, so
the hash check alone cannot catch it.
"""

import copy
import json
import uuid

import pytest

import gcop
from gcop.cli import main
from gcop.lm.chat import chat
from gcop.lm.local import LocalLM
from gcop.lm.resolve import as_lm
from gcop.lm.tiny import tiny_model
from gcop.modules.policy_file import GUIDE_DIR, file_hashes
from gcop.signatures import MathGuide, MathSolve

HI = [{"role": "user", "content": "hi"}]


def make_policy(scripted_lm, guide=None) -> gcop.GuideCorePolicy:
    core = gcop.Core(MathSolve, lm=scripted_lm(["[[ ## answer ## ]]\n7"]).model_string)
    guide = guide or scripted_lm(["<strategy>1. add</strategy>"]).model_string
    return gcop.GuideCorePolicy(guide=gcop.Guide(MathGuide, lm=guide), core=core)


def adapter_guide(name: str) -> LocalLM:
    from peft import LoraConfig, get_peft_model

    base = LocalLM("tiny", name=f"{name}-base")
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(copy.deepcopy(base.model), config)
    return LocalLM(model, tokenizer=base.tokenizer, name=name, base="tiny")


def rehash(folder) -> None:
    """Recompute the guide's hashes in policy.json, so only the new checks can refuse."""
    saved = json.loads((folder / "policy.json").read_text())
    saved["guide_files"] = file_hashes(folder, GUIDE_DIR)
    (folder / "policy.json").write_text(json.dumps(saved))


def edit_spec(folder, **changes) -> None:
    spec_file = folder / "guide" / "gcop_lm.json"
    spec = json.loads(spec_file.read_text())
    spec.update(changes)
    spec_file.write_text(json.dumps(spec))


CORRUPTIONS = {
    "adapter weights not safetensors": (
        lambda f: (f / "guide/adapter/adapter_model.safetensors").write_bytes(b"not weights"),
        "holds no loadable guide",
    ),
    "adapter weights cut short": (
        lambda f: (f / "guide/adapter/adapter_model.safetensors").write_bytes(
            (f / "guide/adapter/adapter_model.safetensors").read_bytes()[:200]
        ),
        "holds no loadable guide",
    ),
    "adapter config not JSON": (
        lambda f: (f / "guide/adapter/adapter_config.json").write_text("{broken"),
        "adapter_config.json is not a readable adapter config",
    ),
    "adapter config without LoRA keys": (
        lambda f: (f / "guide/adapter/adapter_config.json").write_text('{"peft_type": "LORA"}'),
        "is not a LoRA adapter config \\(no r, target_modules\\)",
    ),
    "base escaping the folder": (
        lambda f: edit_spec(f, model="../../elsewhere", base_in_folder=True),
        "loads weights from outside its folder",
    ),
    "base an absolute path": (
        lambda f: edit_spec(f, model=str(f.parent)),
        "neither a registry name, a hub id nor a folder inside it",
    ),
    "unknown weights kind": (
        lambda f: edit_spec(f, weights="pickle"),
        "unknown weights 'pickle'",
    ),
}


@pytest.fixture(scope="module")
def saved_adapter_policy(tmp_path_factory):
    """A policy whose guide is a LoRA adapter over ``tiny``, saved once for every case."""
    from fakes import ScriptedLM

    core = ScriptedLM(["[[ ## answer ## ]]\n7"], f"core-{uuid.uuid4().hex[:6]}")
    guide = adapter_guide(f"guide-{uuid.uuid4().hex[:6]}")
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=guide), core=gcop.Core(MathSolve, lm=core.model_string)
    )
    folder = policy.save(tmp_path_factory.mktemp("saved") / "policy")
    yield folder
    core.close()


@pytest.fixture
def corrupted(saved_adapter_policy, tmp_path, request):
    import shutil

    folder = tmp_path / "policy"
    shutil.copytree(saved_adapter_policy, folder)
    corrupt, message = CORRUPTIONS[request.param]
    corrupt(folder)
    rehash(folder)
    return folder, message


@pytest.mark.parametrize("corrupted", list(CORRUPTIONS), indirect=True)
def test_a_corrupted_guide_folder_is_refused_at_load_in_one_line(corrupted, scripted_lm):
    folder, message = corrupted
    policy = make_policy(scripted_lm)
    guide = policy.guide
    with pytest.raises(ValueError, match=message) as refused:
        policy.load(folder)
    assert "\n" not in str(refused.value)
    assert policy.guide is guide  # nothing swapped in


@pytest.mark.parametrize(
    "corrupted", ["adapter weights not safetensors", "base escaping the folder"], indirect=True
)
def test_the_cli_refuses_a_corrupted_policy_before_any_example(corrupted, tmp_path, capsys):
    folder, message = corrupted
    args = ["evaluate", "--core", "tiny", "--guide", "tiny", "--n", "1", "--policy", str(folder)]
    assert main([*args, "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gcop: error:")]
    assert len(lines) == 1 and "Traceback" not in err and "evaluate" not in err, err
    assert not (tmp_path / "eval").exists()


def test_the_cache_never_answers_for_other_weights_under_the_same_name():
    local = LocalLM("tiny", name=f"same-name-{uuid.uuid4().hex[:6]}", dtype="float32")
    lm = as_lm(local, role="guide", max_tokens=6, temperature=0.0)
    first = chat(lm, HI)
    assert chat(lm, HI) == first and lm.ledger.records()[-1].cache_hit  # the cache still works
    local.set_model(tiny_model(seed=7)[0])  # new weights, same name
    chat(lm, HI)
    assert not lm.ledger.records()[-1].cache_hit
    local.close()


def test_a_warm_cache_does_not_answer_for_a_guide_saved_again_with_other_weights(
    scripted_lm, tmp_path
):
    name = f"guide-{uuid.uuid4().hex[:6]}"
    first = adapter_guide(name)
    make_policy(scripted_lm, guide=first).save(tmp_path / "a")
    first.close()
    second = adapter_guide(name)  # other LoRA weights (random init), the same name
    make_policy(scripted_lm, guide=second).save(tmp_path / "b")
    second.close()

    answered = []
    for folder in ("a", "b", "a"):
        policy = make_policy(scripted_lm).load(tmp_path / folder)
        assert policy.guide.local_lm.name == name
        chat(policy.guide.lm, HI, max_tokens=6, temperature=0.0)
        answered.append(policy.guide.lm.ledger.records()[-1].cache_hit)
        policy.guide.local_lm.close()
    assert answered == [False, False, True]  # only the same weights are answered from the cache


def test_a_huge_policy_file_is_refused_by_its_size_before_it_is_read(scripted_lm, tmp_path):
    import tracemalloc

    folder = make_policy(scripted_lm).save(tmp_path / "run")
    with open(folder / "policy.json", "r+b") as file:
        file.truncate(1 << 30)  # 1 GB, sparse: costs no disk
    tracemalloc.start()
    with pytest.raises(ValueError, match="policy.json is 1024 MB, more than"):
        make_policy(scripted_lm).load(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20  # nothing of it was read
