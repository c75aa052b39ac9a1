"""The demo's trained recipes (SFT, Advisor, ExecTune) and the untrained ones beside them, each
trained once per output folder: an interrupted demo loads what an earlier run saved."""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gcop.modules.policy_file import POLICY_FILE
from gcop.presets import RECIPES

logger = logging.getLogger(__name__)

TRAINED = ("SFT", "Advisor", "ExecTune")
POLICY_FOLDERS = {name: f"{name.lower()}_policy" for name in TRAINED}  # in the output folder


def train_recipes(preset, policy, trainset, teacher, config, out: Path, task):
    """Train what the chosen recipes need on ``task``'s ``trainset``; returns ``({recipe:
    program}, {phase: summary})``."""
    import gcop
    from gcop.baselines.advisor import Advisor
    from gcop.baselines.icl import ICLPolicy

    wanted = set(preset.recipes)
    programs: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    if "core-only" in wanted:
        programs["core-only"] = policy.unguided()
    if "core + ICL" in wanted:
        programs["core + ICL"] = ICLPolicy(policy.core, task.demos(trainset))
    if "None (untrained guide)" in wanted:
        programs["None (untrained guide)"] = policy
    if wanted & {"SFT", "ExecTune"}:
        names = [name for name in ("SFT", "ExecTune") if name in wanted]

        def exectune() -> dict[str, Any]:
            run_config = config.model_copy(update={"grpo": config.grpo and "ExecTune" in wanted})
            logger.info("ExecTune: acceptance sampling, SFT, GRPO on %d examples", len(trainset))
            optimizer = gcop.ExecTune(task.metric, teacher=teacher, config=run_config, run_dir=out)
            exectuned = optimizer.compile(policy, trainset=trainset)
            return {"SFT": optimizer.sft_program_ or exectuned, "ExecTune": exectuned}

        programs.update(trained_once(out, policy, names, exectune))
        artifacts.update(programs[names[-1]].artifacts)
    if "Advisor" in wanted:

        def advisor() -> dict[str, Any]:
            logger.info("Advisor baseline: GRPO on the task reward only")
            baseline = Advisor(task.metric, config=config)
            return {"Advisor": baseline.compile(policy, trainset=trainset)}

        programs.update(trained_once(out, policy, ["Advisor"], advisor))
        artifacts["advisor"] = programs["Advisor"].artifacts.get("advisor")
    return {name: programs[name] for name in RECIPES if name in programs}, artifacts


def trained_once(
    out: Path, policy: Any, names: list[str], train: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The programs ``names`` as an earlier run into ``out`` saved them, else ``train()``'s,
    saved there (``<out>/<name>_policy``) so that an interrupted run does not train them again."""
    folders = {name: out / POLICY_FOLDERS[name] for name in names}
    if all((folder / POLICY_FILE).is_file() for folder in folders.values()):
        logger.info("resuming: %s trained by an earlier run", " and ".join(names))
        return {name: copy.deepcopy(policy).load(folder) for name, folder in folders.items()}
    trained = train()
    for name, folder in folders.items():
        unfinished = folder.with_name(folder.name + ".saving")
        shutil.rmtree(unfinished, ignore_errors=True)
        trained[name].save(unfinished)
        shutil.rmtree(folder, ignore_errors=True)
        unfinished.rename(folder)  # a kill while saving leaves no folder that looks finished
    return {name: trained[name] for name in names}
