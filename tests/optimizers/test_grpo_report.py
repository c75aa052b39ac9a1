"""The report's GRPO curves, read from the history a real train_grpo run writes."""

import math

from training_fakes import exact_metric, examples, keyword_core, small_config, tiny_guide

from gcop.optimizers.grpo.trainer import train_grpo
from gcop.report_plots import plot_training_curves, training_curves


def test_grpo_curves_plot_the_rewards_train_grpo_recorded(scripted_lm, tmp_path):
    core, _ = keyword_core(scripted_lm)
    config = small_config(grpo_steps=2, grpo_generations=4, grpo_batch_size=4, lambda_judge=0.0)
    _, summary = train_grpo(tiny_guide(), core, examples(), metric=exact_metric, config=config)
    history = summary["history"]

    curves = training_curves({"ExecTune": history, "SFT": []})
    assert list(curves) == ["ExecTune"]  # a recipe without GRPO draws no line
    curve = curves["ExecTune"]
    assert curve["step"] == [1, 2]
    assert curve["reward"] == [row["reward"] for row in history]
    assert curve["valid_rate"] == [row["valid_rate"] for row in history]
    assert not any(math.isnan(value) for value in curve["reward"] + curve["valid_rate"])
    assert plot_training_curves({"ExecTune": history}, tmp_path / "grpo.png").stat().st_size > 1000
