"""The report's PNG plots: accuracy against cost, executability, and the GRPO training curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gcop.evaluate import EvaluationResult

CURVE_KEYS = ("step", "reward", "valid_rate")  # what the GRPO plot reads from each history row


def sample_sizes(results: Sequence[EvaluationResult]) -> str:
    """``n = 40``, or ``n = 20–40`` when recipes ran on different numbers of examples."""
    sizes = sorted({r.n for r in results})
    return f"n = {sizes[0]}" if len(sizes) == 1 else f"n = {sizes[0]}–{sizes[-1]}"


def plot_accuracy_vs_cost(results: Sequence[EvaluationResult], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = "osD^vP*Xhp"
    for i, r in enumerate(r for r in results if r.scored):
        ax.errorbar(
            r.mean_cost,
            r.accuracy,
            yerr=[[r.accuracy - r.ci_low], [r.ci_high - r.accuracy]],
            fmt=markers[i % len(markers)],
            capsize=3,
            label=r.name,
        )
    ax.set_xlabel(f"mean cost per task ({results[0].cost_unit})")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"Accuracy vs cost per recipe ({sample_sizes(results)}, 95% CI)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))  # labels never overlap
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_executability(results: Sequence[EvaluationResult], path: Path) -> Path | None:
    guided = [r for r in results if r.executability is not None]
    if not guided:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bars = ax.bar(range(len(guided)), [r.executability for r in guided])
    ax.bar_label(bars, labels=[f"{r.executability:.0%}" for r in guided])  # a 0% bar stays visible
    ax.set_xticks(range(len(guided)), [r.name for r in guided], rotation=20, ha="right")
    ax.set_ylabel("η (executability)")
    ax.set_ylim(0, 1)
    ax.set_title(f"Executability of guide strategies per recipe ({sample_sizes(guided)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def training_curves(histories: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list]]:
    """Per trained recipe, its GRPO steps with the mean reward and valid rate of each, read from
    the rows :func:`gcop.optimizers.grpo.trainer.train_grpo` writes (``step``, ``reward``,
    ``valid_rate``).

    >>> training_curves({"ExecTune": [{"step": 1, "reward": 0.2, "valid_rate": 0.5}], "SFT": []})
    {'ExecTune': {'step': [1], 'reward': [0.2], 'valid_rate': [0.5]}}
    """
    return {
        name: {key: [row.get(key, math.nan) for row in rows] for key in CURVE_KEYS}
        for name, rows in histories.items()
        if rows
    }


def plot_training_curves(histories: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """GRPO mean reward and valid rate per step, one line per trained recipe."""
    curves = training_curves(histories)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    # one reward panel per recipe (ExecTune's shaped reward and the Advisor's task reward are
    # on different scales), and the valid rate of all below, each run in its own style so that
    # identical runs stay visible; rates of 0 and 1 are inside the axis
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]
    fig, axes = plt.subplots(len(curves) + 1, 1, figsize=(6, 2.2 * (len(curves) + 1)), sharex=True)
    for panel, (index, (name, curve)) in zip(axes, enumerate(curves.items()), strict=False):
        marker, line = styles[index % len(styles)]
        color = f"C{index}"
        panel.plot(curve["step"], curve["reward"], marker=marker, ls=line, color=color)
        panel.set_ylabel(f"{name}\nmean reward", fontsize=8)
        axes[-1].plot(
            curve["step"],
            curve["valid_rate"],
            marker=marker,
            ls=line,
            color=color,
            label=name,
            alpha=0.8,
            markersize=max(3, 8 - 2 * index),
        )
    axes[0].set_title("GRPO: mean reward per recipe, valid-strategy rate", fontsize=10)
    bottom = axes[-1]
    bottom.set_ylabel("valid rate", fontsize=8)
    bottom.set_ylim(-0.05, 1.05)  # a rate of 0 or 1 shows whole markers
    bottom.set_xlabel("GRPO step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
