"""Markdown report with the baseline table, the acceptance certificate, and the plots
(:mod:`gcop.report_plots`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gcop.evaluate import EvaluationResult
from gcop.paired import PairedTest, comparisons_table
from gcop.report_plots import plot_accuracy_vs_cost, plot_executability, plot_training_curves

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
VERSIONED = ("gcop", "dspy", "trl", "transformers", "torch", "litellm")  # recorded in every report


def _pct(value: float | None) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"
    )


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _versions() -> dict[str, str]:
    """Installed versions of gcop and the libraries that shape its numbers."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _describe(certificate: dict[str, Any]) -> str:
    """The certificate's one-paragraph reading (§A.11), recomputed from its counts and settings
    (so a certificate stored by an older version reads as today's)."""
    from gcop.optimizers.acceptance.certificate import hoeffding_certificate

    counts = ("n_accepted", "m", "k", "tau", "delta", "beta")
    if not set(counts) <= set(certificate):
        return str(certificate.get("text", ""))
    n_accepted, m, k, tau, delta, beta = (certificate[name] for name in counts)
    return hoeffding_certificate(n_accepted, m, k, tau, delta, beta).describe()


def results_table(results: Sequence[EvaluationResult]) -> str:
    """The paper's layout: one row per recipe. Accuracy shows its denominator (the scored
    examples), errors their count, and the cache column the part of the cost the cache saved."""
    unit = results[0].cost_unit if results else "tokens"
    lines = [
        f"| recipe | accuracy (correct/scored) | 95% CI | errors | η (executability) "
        f"| valid strategies | mean cost ({unit}/task) | served from cache | mean latency (s/task) "
        "| dollars | net utility J |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        dollars = "unknown" if r.cost.dollars is None else f"${r.cost.dollars:.4f}"
        correct = round(r.accuracy * r.scored) if r.scored else 0
        interval = f"{_pct(r.ci_low)}–{_pct(r.ci_high)}" if r.scored else "–"
        cached = (
            f"{r.cost.cache_hits}/{r.cost.calls} calls, "
            f"{_num(r.cost.cached_tokens / max(r.n, 1), 0)} tokens/task"
        )
        lines.append(
            f"| {r.name} | {_pct(r.accuracy)} ({correct}/{r.scored}) | {interval} "
            f"| {r.errors} | {_pct(r.executability)} | {_pct(r.valid_rate)} "
            f"| {_num(r.mean_cost, 1)} | {cached} | {_num(r.cost.latency_s / max(r.n, 1), 1)} "
            f"| {dollars} | {_num(r.net_utility, 3)} |"
        )
    return "\n".join(lines)


def guide_use_table(results: Sequence[EvaluationResult]) -> str | None:
    """Per guided recipe, how its scored examples used the guide
    (:data:`gcop.evaluate.GUIDE_USES`); ``None`` without guided recipes."""
    guided = [r for r in results if r.guide_use]
    if not guided:
        return None
    names = list(guided[0].guide_use)
    lines = ["| recipe | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in guided:
        counts = " | ".join(str(r.guide_use.get(name, 0)) for name in names)
        lines.append(f"| {r.name} | {counts} |")
    return "\n".join(lines)


def _table_notes(results: Sequence[EvaluationResult]) -> list[str]:
    """What the table's numbers count, and warnings a reader must not miss."""
    notes = []
    failed = [r.name for r in results if r.all_failed]
    if failed:
        notes.append(
            f"**Every example of {', '.join(failed)} failed with an error (see the log): "
            "such a row measures the infrastructure, not the model.**"
        )
    notes.append(
        "Accuracy, its interval, η and J count the scored examples only: an example whose "
        "program or metric raised (an API outage, a timeout, a sandbox failure) is an error, not "
        "a wrong answer. η is the share of valid guide strategies the core executed successfully "
        "(§3.3; a plan the kit's render could not carry out never reached the core); "
        "J = accuracy − λ·(mean cost), "
        f"λ = {results[0].cost_weight}. "
        "Intervals are 95% Wilson intervals. Cost counts every call at "
        'what it cost when made, cached or not; "served from cache" is the part this run did '
        "not pay for."
    )
    unmetered = sum(r.cost.unmetered_hits for r in results)
    if unmetered:
        notes.append(
            f"{unmetered} cache hit(s) had no recorded cost (replies cached before gcop metered "
            "them): they count as 0 tokens, and dollars are unknown."
        )
    return notes


def row_models(programs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The guide and core model strings each row ran on (the guide is ``""`` for a row that ran
    the core alone): the ``models`` entry of a report's provenance."""
    models = {}
    for name, program in programs.items():
        guide = getattr(program, "guide", None)
        guided = guide is not None and getattr(program, "guided", False)
        models[name] = {
            "core": str(program.core.lm.model),
            "guide": str(guide.lm.model) if guided else "",
        }
    return models


def _provenance(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """``provenance`` with pydantic models dumped, after the installed versions (a ``versions``
    entry it holds wins: a report rebuilt from ``results.json`` keeps the run's versions)."""
    recorded: dict[str, Any] = {"versions": _versions()}
    for key, value in (provenance or {}).items():
        recorded[key] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return recorded


def _provenance_lines(recorded: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {v}" for name, v in recorded["versions"].items())
    rest = {key: value for key, value in recorded.items() if key != "versions"}
    return [f"- **versions**: {versions}", *settings_lines(rest)]


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def settings_lines(settings: dict[str, Any], depth: int = 0) -> list[str]:
    """``settings`` as a nested Markdown list a person reads: one ``key: value`` a line, a
    nested dict indented under its key, floats to 4 significant digits, a long list (a run's
    per-step history) named by its length (``results.json`` holds it whole), empty values left
    out.

    >>> for line in settings_lines({"k": 2, "sft": {"steps": 3, "history": list(range(9))}}):
    ...     print(line)
    - **k**: 2
    - **sft**:
      - **steps**: 3
      - **history**: 9 entries (in results.json)
    """
    lines = []
    indent = "  " * depth
    for key, value in settings.items():
        if value is None or value == {} or value == []:
            continue
        if isinstance(value, dict):
            lines += [f"{indent}- **{key}**:", *settings_lines(value, depth + 1)]
        elif isinstance(value, list) and (
            len(value) > 4 or any(isinstance(v, dict) for v in value)
        ):
            lines.append(f"{indent}- **{key}**: {len(value)} entries (in results.json)")
        else:
            shown = f"{value:.4g}" if isinstance(value, float) else value
            lines.append(f"{indent}- **{key}**: {shown}")
    return lines


def write_report(
    out_dir: str | Path,
    results: Sequence[EvaluationResult],
    *,
    title: str = "gcop report",
    setup: dict[str, Any] | None = None,
    certificate: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    histories: dict[str, list[dict[str, Any]]] | None = None,
    comparisons: Sequence[PairedTest] = (),
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``report.md``, ``results.json`` and the plots into ``out_dir``; returns the report.

    ``comparisons`` are paired tests between recipes (:func:`gcop.paired.mcnemar`).
    ``provenance`` records what the numbers came from, so a table can be traced to its settings:
    e.g. ``{"config": ExecTuneConfig(...), "models": {"guide": "local/smollm2-135m-guide-sft-1a2b",
    "core": "local/qwen2.5-coder-0.5b"}}`` (pydantic models are dumped, other values must be
    JSON-able). The installed versions of gcop and its main libraries are always added.
    """
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
    lines += [line for note in _table_notes(results) for line in (note, "")]
    uses = guide_use_table(results)
    if uses:
        lines += ["## How the guide was used", "", uses, ""]
    if comparisons:
        accuracy = {r.name: r.accuracy for r in results}
        lines += ["## Paired tests", "", comparisons_table(comparisons, accuracy), ""]
    if certificate:
        lines += ["## Acceptance-sampling certificate", "", _describe(certificate), ""]
        lines += [*settings_lines(certificate), ""]
    if training:
        lines += ["## Training", "", *settings_lines(training), ""]
    recorded = _provenance(provenance)
    lines += ["## Provenance", ""] + _provenance_lines(recorded) + [""]
    lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots if p is not None]
    report = folder / REPORT_FILE
    report.write_text("\n".join(lines) + "\n")
    data = {
        "title": title,
        "provenance": recorded,
        "setup": setup or {},
        "results": [r.to_dict() for r in results],
        "certificate": certificate,
        "training": training,
        "histories": histories or {},
        "comparisons": [asdict(test) for test in comparisons],
    }
    (folder / RESULTS_FILE).write_text(json.dumps(data, indent=2, default=str))
    return report
