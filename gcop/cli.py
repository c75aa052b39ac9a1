"""The ``gcop`` command line: ``gcop demo | compile | evaluate | report``.

An expected failure (a missing key, an unroutable model, a server that does not answer, a bad
folder) ends in one line naming the fix and exit status 2; ``-v`` adds the traceback. Anything
else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path

from gcop.optimizers.freed_memory import cap_heap_arenas
from gcop.repeated_warnings import warnings_shown_once
from gcop.secrets import redact
from gcop.tasks import TASKS

# the presets of gcop.presets, named here so that `gcop --help` imports no model library
PRESET_NAMES = ("tiny", "quick", "evidence", "code", "full")

# dependencies' loggers that repeat one warning per call (DSPy: "response was truncated")
REPEATING_LOGGERS = ("dspy.clients.lm", "dspy.adapters.chat_adapter", "dspy.adapters.json_adapter")


def _non_negative(text: str) -> int:
    """An argparse type: an integer ≥ 0 (a negative step count is a typo, not 'none')."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gcop",
        description="Steer a black-box LLM (the core) with a small trained guide model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # --version on one line
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="run the whole ExecTune recipe offline and compare the six recipes",
        description="Train a guide on a task (acceptance sampling, SFT, GRPO) and evaluate "
        "core-only, core + ICL, untrained guide, SFT, Advisor and ExecTune on held-out problems.",
    )
    demo.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="quick",
        help="tiny: config-built models, seconds; quick: GSM8K with the study's configuration at "
        "64 train / 30 test problems, about half an hour on a 2-core CPU; evidence: the same at "
        "240 / 40, about two hours; code: trained on MBPP, tested on HumanEval, about 70 minutes; "
        "full: sizes for a GPU or an API core (default: quick). An interrupted run resumes when "
        "rerun with the same settings",
    )
    demo.add_argument(
        "--task", help=f"the task trained on (overrides the preset): one of {', '.join(TASKS)}"
    )
    demo.add_argument(
        "--eval-task", help="the task evaluated on, with the same signatures (default: --task)"
    )
    demo.add_argument(
        "--split",
        choices=("dev", "test"),
        help="evaluate on 'dev' (choose settings there) or 'test' (final tables; the default)",
    )
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--n-train", type=int, help="training examples (overrides the preset)")
    demo.add_argument("--n-test", type=int, help="held-out test examples (overrides the preset)")
    demo.add_argument("--core", help="core model: registry name or LiteLLM string")
    demo.add_argument("--guide", help="guide model: registry name, HF id or local path")
    demo.add_argument(
        "--teacher",
        help="teacher: one of the task's offline teachers (GSM8K: 'reference-planner', "
        "'symbolic-planner', 'worded-planner'; code: 'code-planner', 'code-outline-planner') or "
        "a LiteLLM model string",
    )
    demo.add_argument(
        "--saved-policy",
        action="append",
        dest="saved_policies",
        metavar="FOLDER",
        help="a saved policy to evaluate on the same problems, steering this run's core "
        "(repeatable); e.g. policies/gsm8k-1.5b-guide, the trained guide the repository ships",
    )

    compile_ = commands.add_parser(
        "compile",
        help="train a guide for a core with ExecTune and save the policy",
        description="Run ExecTune (acceptance sampling, SFT, GRPO) and save the compiled policy.",
    )
    _task_args(compile_)
    compile_.add_argument(
        "--teacher",
        required=True,
        help="teacher LM: LiteLLM string, registry name (e.g. 'tiny') or an offline GSM8K "
        "planner ('reference-planner', 'symbolic-planner', 'worded-planner')",
    )
    compile_.add_argument("--n-train", type=int, default=200, help="training examples")
    compile_.add_argument("--k", type=int, **_config_default("k"))
    compile_.add_argument("--tau", type=float, **_config_default("tau"))
    compile_.add_argument(
        "--grpo-steps", type=_non_negative, **_config_default("grpo_steps", " (0: no GRPO)")
    )
    compile_.add_argument("--max-core-calls", type=int, help="budget: most core calls")
    compile_.add_argument("--max-dollars", type=float, help="budget: most dollars")
    compile_.add_argument(
        "--config",
        help="a .yaml or .toml file of ExecTuneConfig fields (sft_args, grpo_args and lora_args "
        "included); a flag given here wins over it",
    )
    compile_.add_argument("--json", action="store_true", help="print the full record as JSON")

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a core alone or a saved policy on a task split",
        description="Score a core alone (no --policy) or a saved guide–core policy.",
    )
    _task_args(evaluate)
    evaluate.add_argument(
        "--policy",
        help="folder written by `gcop compile`; its guide steers --core (default: core only)",
    )
    evaluate.add_argument("--split", default="test", help="data split (default: test)")
    evaluate.add_argument("--n", type=int, default=100, help="examples to evaluate")
    evaluate.add_argument(
        "--threads", type=int, default=8, help="examples run concurrently, 1 or more (default: 8)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the full record as JSON")

    report = commands.add_parser(
        "report",
        help="rewrite report.md and plots from a run folder's results.json",
        description="Regenerate the Markdown report and plots of a finished run.",
    )
    report.add_argument("run", help="run folder holding results.json")
    return parser


def _version() -> str:
    """``gcop X (dspy Y, trl Z, ...)``: gcop's version and the libraries it runs on."""
    from gcop.provenance import library_versions

    versions = library_versions()
    gcop = versions.pop("gcop")
    found = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return f"gcop {gcop} ({found})"


def _config_default(field: str, note: str = "") -> dict[str, object]:
    """``help`` for an option from its ``ExecTuneConfig`` field, its one home, and no default:
    an option not given leaves the field to ``--config``'s file or the field's default."""
    from gcop.optimizers.config import ExecTuneConfig

    info = ExecTuneConfig.model_fields[field]
    return {"help": f"{info.description}{note} (default: --config's, else {info.default})"}


def _task_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--task",
        default="gsm8k",
        help=f"task: one of {', '.join(TASKS)}, or your own gcop.Task as module:ATTRIBUTE "
        "(e.g. mypkg.tasks:TASK)",
    )
    sub.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="apply a demo preset's policy settings (core format, the kit's sampling, render "
        "and kept answers) instead of plain guided generation",
    )
    sub.add_argument("--core", required=True, help="core LM: LiteLLM string or registry name")
    sub.add_argument(
        "--core-api-base",
        help="the core's server address (e.g. http://127.0.0.1:8000/v1); default: the "
        "provider's, or <PROVIDER>_API_BASE from the environment",
    )
    sub.add_argument(
        "--timeout",
        type=_positive_seconds,
        help="seconds a request to a model server may take (default: 20 for a server on this "
        "machine, 300 for a hosted API); a server that lets two in a row time out is not asked "
        "again for a minute",
    )
    sub.add_argument("--guide", default="smollm2-135m", help="guide model (registry name/path)")
    sub.add_argument("--out", required=True, help="output folder")


def _check_common(args: argparse.Namespace) -> None:
    task = getattr(args, "task", None)
    if task is not None:
        from gcop.tasks import load_task

        load_task(task)  # an unknown name or a path to no Task ends here, before any work
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be 1 or more, got {threads}")
    out = getattr(args, "out", None)
    if out is not None:
        existing = next(path for path in [Path(out), *Path(out).parents] if path.exists())
        if not existing.is_dir():
            raise ValueError(f"--out {out}: {existing} is a file; pass a folder path")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cap_heap_arenas()  # before any thread: long runs here neared 24 GB with a heap per thread
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        with warnings_shown_once(*REPEATING_LOGGERS) as repeated:
            _check_common(args)
            _run(args)
        if repeated.left_out():
            print(
                f"gcop: {repeated.left_out()} repeats of the warnings above were left out",
                file=sys.stderr,
            )
    except KeyboardInterrupt:
        print("gcop: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as error:
        message = _expected_failure(error)
        if message is None:
            raise
        if args.verbose:
            print(redact("".join(traceback.format_exception(error))), file=sys.stderr, end="")
        print(f"gcop: error: {message}", file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.command == "demo":
        from gcop.demo import run_demo

        report = run_demo(
            args.preset,
            args.out,
            n_train=args.n_train,
            n_test=args.n_test,
            core=args.core,
            guide=args.guide,
            teacher=args.teacher,
            eval_split=args.split,
            task=args.task,
            eval_task=args.eval_task,
            saved_policies=tuple(args.saved_policies) if args.saved_policies else None,
        )
        print(report.read_text())
        print(f"report written to {report}")
    elif args.command == "report":
        from gcop.commands import rewrite_report

        print(f"report written to {rewrite_report(args.run)}")
    else:
        from gcop import commands, run_summary

        start = time.perf_counter()
        result = getattr(commands, f"run_{args.command}")(args)
        wall_s = time.perf_counter() - start
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        elif args.command == "compile":
            print(run_summary.compile_summary(result, wall_s))
        else:
            print(run_summary.evaluate_summary(result, args.out, wall_s))


def _expected_failure(error: Exception) -> str | None:
    """One line saying what went wrong and how to fix it, or ``None`` for a bug."""
    from dspy.utils import exceptions as lm_errors
    from pydantic import ValidationError

    from gcop.commands import RunFailed
    from gcop.optimizers.exectune import AcceptanceFailed
    from gcop.optimizers.grpo.core_runs import CoreUnavailable

    text = redact(" ".join(str(error).split()))[:500]  # one line, no key a server echoed
    if isinstance(error, RunFailed | AcceptanceFailed | CoreUnavailable):
        return text
    if isinstance(error, lm_errors.LMAuthError):
        return (
            f"{text}: the provider refused the credentials; set a valid API key in the environment"
        )
    if isinstance(error, lm_errors.LMBillingError):
        return f"{text}: check the provider account's billing and quota"
    if isinstance(error, lm_errors.LMInvalidRequestError | lm_errors.LMConfigurationError):
        return f"{text}: check the model name and its settings"
    if isinstance(error, lm_errors.LMError | ConnectionError | TimeoutError):
        return (
            f"{text}: the model server did not answer; check that it is running and reachable, "
            "then rerun the same command (finished work is kept)"
        )
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or text}; check the paths you passed"
    if isinstance(error, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return f"invalid {error.title} ({problems})"
    if isinstance(error, ValueError):
        return text
    return None


if __name__ == "__main__":
    raise SystemExit(main())
