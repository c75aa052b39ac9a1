"""A LoRA guide cut to a lower rank: the best approximation of its update, loadable as before."""

from __future__ import annotations

import copy
import json

import pytest

from gcop.lm.adapter_rank import shrink_adapter
from gcop.lm.local import LocalLM

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def saved_guide(tmp_path, unique_name):
    """A tiny LoRA guide (rank 4, alpha 8, random factors) saved as a LocalLM folder."""
    from peft import LoraConfig, get_peft_model

    base = LocalLM("tiny", name=f"{unique_name}-base", dtype="float32")
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    model = get_peft_model(copy.deepcopy(base.model), config)
    lm = LocalLM(model, tokenizer=base.tokenizer, name=unique_name, base="tiny", dtype="float32")
    lm.save(tmp_path / "guide")
    return tmp_path / "guide", lm.complete(HI, max_tokens=12)


def updates(folder) -> dict:
    """Each module's LoRA update s·B·A, read back from a saved folder."""
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter" / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    weights = load_file(folder / "adapter" / "adapter_model.safetensors")
    return {
        key: scale * weights[key.replace(".lora_A.", ".lora_B.")].double() @ weights[key].double()
        for key in weights
        if ".lora_A." in key
    }


def test_a_cut_to_the_full_rank_keeps_what_the_guide_writes(saved_guide, tmp_path):
    folder, expected = saved_guide
    report = shrink_adapter(folder, tmp_path / "same", rank=4, dtype="float32")
    assert report.min_energy_kept == pytest.approx(1.0)
    for key, update in updates(folder).items():
        assert updates(tmp_path / "same")[key] == pytest.approx(update, abs=1e-5)
    loaded = LocalLM.load(tmp_path / "same")
    assert loaded.name.endswith("-r4")
    assert loaded.complete(HI, max_tokens=12) == expected


def test_a_lower_rank_keeps_the_best_approximation_and_a_smaller_file(saved_guide, tmp_path):
    import torch

    folder, _ = saved_guide
    report = shrink_adapter(folder, tmp_path / "half", rank=2)
    original, cut = updates(folder), updates(tmp_path / "half")
    energies = []
    for key, update in original.items():
        u, s, vh = torch.linalg.svd(update, full_matrices=False)
        best = (u[:, :2] * s[:2]) @ vh[:2]
        assert cut[key] == pytest.approx(best, abs=1e-2)  # bf16 factors
        energies.append(float((s[:2] ** 2).sum() / (s**2).sum()))
    assert report.min_energy_kept == pytest.approx(min(energies), abs=1e-6)
    assert 0 < report.min_energy_kept < 1
    size = (folder / "adapter" / "adapter_model.safetensors").stat().st_size
    assert report.bytes < size / 2  # half the rank, half the bytes per number (and a header)
    assert LocalLM.load(tmp_path / "half").complete(HI, max_tokens=4).prompt_tokens > 0


def test_a_cut_refuses_a_rank_above_the_adapters_and_an_existing_folder(saved_guide, tmp_path):
    folder, _ = saved_guide
    with pytest.raises(ValueError, match="between 1 and the adapter's rank 4"):
        shrink_adapter(folder, tmp_path / "x", rank=8)
    with pytest.raises(FileExistsError, match="pass a new folder"):
        shrink_adapter(folder, folder, rank=2)
    with pytest.raises(ValueError, match="not a LocalLM folder"):
        shrink_adapter(tmp_path, tmp_path / "y", rank=2)


def test_a_cut_refuses_an_adapter_with_weights_besides_the_lora_factors(saved_guide, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, _ = saved_guide
    path = folder / "adapter" / "adapter_model.safetensors"
    weights = load_file(path)
    key = next(k for k in weights if ".lora_B." in k)
    weights[key.replace(".lora_B.weight", ".lora_B.bias")] = weights[key][:, 0].clone()
    save_file(weights, path)
    with pytest.raises(ValueError, match="besides LoRA factors"):
        shrink_adapter(folder, tmp_path / "z", rank=2)
