"""dtype selection: bfloat16 only where the hardware has it, float32 elsewhere, overridable."""

from __future__ import annotations

import pytest
import torch

from gcop.lm import precision
from gcop.lm.local import LocalLM


def _cpuinfo(flags: str) -> str:
    return f"processor\t: 0\nflags\t\t: fpu sse2 avx2 {flags}\nmodel name\t: amx_bf16 cpu\n"


def test_cpu_flags_decide_bf16():
    assert precision.cpuinfo_has_bf16(_cpuinfo("avx512f amx_bf16 amx_tile"))
    assert precision.cpuinfo_has_bf16(_cpuinfo("avx512_bf16"))
    assert not precision.cpuinfo_has_bf16(_cpuinfo("avx512f avx512_vnni"))  # the name is no flag


def test_auto_dtype_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.pick_dtype("auto", "cpu") is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    assert precision.pick_dtype("auto", "cpu") is torch.float32
    assert precision.pick_dtype("bfloat16", "cpu") is torch.bfloat16  # an explicit choice wins
    assert precision.pick_dtype("float32", "cuda:0") is torch.float32


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype must be one of"):
        precision.pick_dtype("fp8", "cpu")
    with pytest.raises(ValueError, match="dtype must be one of"):
        LocalLM("tiny", name="tiny-bad-dtype", dtype="half")


@pytest.mark.parametrize("wanted", ["float32", "bfloat16"])
def test_local_lm_loads_in_the_chosen_dtype_and_records_it(wanted, tmp_path):
    lm = LocalLM("tiny", name=f"tiny-{wanted}", dtype=wanted)
    assert next(lm.model.parameters()).dtype is getattr(torch, wanted)
    assert lm.complete([{"role": "user", "content": "hi"}], max_tokens=4).completion_tokens > 0
    assert LocalLM.load(lm.save(tmp_path / wanted)).dtype == wanted
