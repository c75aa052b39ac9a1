"""Markdown report with the baseline table, the acceptance certificate, and PNG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gcop.evaluate import EvaluationResult

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"


def _pct(value: float | None) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"
    )


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _describe(certificate: dict[str, Any]) -> str:
    """The certificate's one-paragraph reading (§A.11), from its stored fields."""
    from dataclasses import fields

    from gcop.optimizers.certificate import Certificate

    names = {f.name for f in fields(Certificate)}
    if not names <= set(certificate):
        return str(certificate.get("text", ""))
    return Certificate(**{name: certificate[name] for name in names}).describe()


def results_table(results: Sequence[EvaluationResult]) -> str:
    """The paper's layout: one row per recipe."""
    unit = results[0].cost_unit if results else "tokens"
    lines = [
        f"| recipe | accuracy | 95% CI | η (executability) | valid strategies "
        f"| mean cost ({unit}/task) | mean latency (s/task) | dollars | net utility J |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        dollars = "unknown" if r.cost.dollars is None else f"${r.cost.dollars:.4f}"
        lines.append(
            f"| {r.name} | {_pct(r.accuracy)} ({round(r.accuracy * r.n)}/{r.n}) "
            f"| {_pct(r.ci_low)}–{_pct(r.ci_high)} | {_pct(r.executability)} "
            f"| {_pct(r.valid_rate)} | {_num(r.mean_cost, 1)} "
            f"| {_num(r.cost.latency_s / max(r.n, 1), 1)} | {dollars} | {_num(r.net_utility, 3)} |"
        )
    return "\n".join(lines)


def plot_accuracy_vs_cost(results: Sequence[EvaluationResult], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        ax.errorbar(
            r.mean_cost,
            r.accuracy,
            yerr=[[r.accuracy - r.ci_low], [r.ci_high - r.accuracy]],
            fmt="o",
            capsize=3,
        )
        ax.annotate(r.name, (r.mean_cost, r.accuracy), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel(f"mean cost per task ({results[0].cost_unit})")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs cost per recipe (95% CI)")
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

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([r.name for r in guided], [r.executability for r in guided])
    ax.set_ylabel("η (executability)")
    ax.set_ylim(0, 1)
    ax.set_title("Executability of guide strategies per recipe")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_training_curves(histories: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """GRPO mean reward and valid rate per step, one line per trained recipe."""
    histories = {name: steps for name, steps in histories.items() if steps}
    if not histories:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    for name, steps in histories.items():
        x = [step.get("step", i + 1) for i, step in enumerate(steps)]
        top.plot(x, [step.get("mean_reward", math.nan) for step in steps], marker="o", label=name)
        bottom.plot(x, [step.get("valid_rate", math.nan) for step in steps], marker="o")
    top.set_ylabel("mean reward")
    bottom.set_ylabel("valid rate")
    bottom.set_xlabel("GRPO step")
    top.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(
    out_dir: str | Path,
    results: Sequence[EvaluationResult],
    *,
    title: str = "gcop report",
    setup: dict[str, Any] | None = None,
    certificate: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    histories: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """Write ``report.md``, ``results.json`` and the plots into ``out_dir``; returns the report."""
    if not results:
        raise ValueError("write_report needs at least one evaluation result")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    plots = [
        plot_accuracy_vs_cost(results, folder / "accuracy_vs_cost.png"),
        plot_executability(results, folder / "executability.png"),
        plot_training_curves(histories or {}, folder / "grpo_curves.png"),
    ]
    lines = [f"# {title}", ""]
    if setup:
        lines += ["## Setup", ""] + [f"- **{k}**: {v}" for k, v in setup.items()] + [""]
    lines += ["## Results", "", results_table(results), ""]
    lines += [
        "η is the share of valid guide strategies the core executed successfully (§3.3); "
        "J = accuracy − λ·(mean cost), "
        f"λ = {results[0].lam}. Intervals are 95% Wilson intervals.",
        "",
    ]
    if certificate:
        lines += ["## Acceptance-sampling certificate", "", _describe(certificate), ""]
        lines += ["```json", json.dumps(certificate, indent=2, default=str), "```", ""]
    if training:
        lines += ["## Training", "", "```json", json.dumps(training, indent=2, default=str)]
        lines += ["```", ""]
    lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots if p is not None]
    report = folder / REPORT_FILE
    report.write_text("\n".join(lines) + "\n")
    data = {
        "setup": setup or {},
        "results": [r.to_dict() for r in results],
        "certificate": certificate,
        "training": training,
        "histories": histories or {},
    }
    (folder / RESULTS_FILE).write_text(json.dumps(data, indent=2, default=str))
    return report
