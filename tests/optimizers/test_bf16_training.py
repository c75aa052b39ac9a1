"""bfloat16 autocast training follows float32: same loss trajectory within a stated tolerance."""

import pytest
from training_fakes import QUESTIONS, small_config, tiny_guide

from gcop.lm.precision import cpu_supports_bf16
from gcop.optimizers.sft import train_sft

PAIRS = [({"question": q}, "1. add") for q in QUESTIONS]
# measured on the tiny model over 20 steps: the largest step-wise gap was 0.2% of the first loss
TOLERANCE = 0.02


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_autocast_sft_follows_the_float32_loss_trajectory():
    curves = {}
    for bf16 in (False, True):
        config = small_config().model_copy(update={"sft_args": {"bf16": bf16}})
        _, summary = train_sft(tiny_guide(), PAIRS * 2, config)
        curves[bf16] = summary["loss_history"]
    f32, b16 = curves[False], curves[True]
    assert len(f32) == len(b16) > 1
    gap = max(abs(a - b) for a, b in zip(f32, b16, strict=True))
    assert gap <= TOLERANCE * f32[0], (f32, b16)
    assert b16[-1] < b16[0]  # it learns
