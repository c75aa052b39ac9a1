"""``gcop compile --config run.yaml``: an :class:`~gcop.ExecTuneConfig` from a YAML or TOML file,
under the flags given on the command line.

The file holds ``ExecTuneConfig`` fields at its top level, the pass-through dicts included::

    k: 4
    tau: 0.75
    grpo_steps: 50
    sft_args: {max_steps: 20}
    grpo_args: {beta: 0.0}
    lora_args: {r: 8}

A flag given on the command line (``--k``, ``--tau``, ``--grpo-steps``, ``--max-core-calls``,
``--max-dollars``) wins over the file; a field in neither keeps ``ExecTuneConfig``'s default.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gcop.optimizers.config import ExecTuneConfig

FLAGS = ("k", "tau", "max_core_calls", "max_dollars")  # flags named as their config field
SUFFIXES = (".yaml", ".yml", ".toml")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a ``.yaml``/``.yml`` or ``.toml`` file holds; ``ValueError`` naming the file
    for another suffix, a syntax error or a file that is not a mapping."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"--config {path}: use a {', '.join(SUFFIXES)} file")
    text = path.read_text()  # a missing file is an OSError: the CLI names the path
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else _yaml(text)
    except Exception as error:  # yaml.YAMLError, tomllib.TOMLDecodeError
        problem = " ".join(str(error).split())
        kind = path.suffix[1:].upper()
        raise ValueError(f"--config {path} is not valid {kind}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"--config {path} must hold ExecTuneConfig fields (key: value)")
    return data


def _yaml(text: str) -> Any:
    """YAML with ``1e-5`` read as a number (YAML 1.1, PyYAML's default, reads it as a string)."""
    import yaml  # a dependency of DSPy

    class Loader(yaml.SafeLoader):
        pass

    number = r"[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(number), list("-+0123456789.")
    )
    return yaml.load(text, Loader=Loader)  # a SafeLoader: no Python objects


def compile_config(args: argparse.Namespace, *, privileged_teacher: bool) -> ExecTuneConfig:
    """The configuration ``gcop compile`` trains with: ``--config``'s file, then the flags given.

    ``privileged_teacher`` is what the chosen teacher needs (an offline planner reads the
    reference solution); the file may set it otherwise."""
    path = getattr(args, "config", None)
    values = read_config_file(path) if path else {}
    values.setdefault("privileged_teacher", privileged_teacher)
    values.update({flag: getattr(args, flag) for flag in FLAGS if getattr(args, flag) is not None})
    if args.grpo_steps is not None:
        values["grpo"] = args.grpo_steps > 0
        if args.grpo_steps > 0:
            values["grpo_steps"] = args.grpo_steps
    try:
        return ExecTuneConfig(**values)
    except ValidationError as error:
        if not path:
            raise
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"--config {path}: {problems}") from None
