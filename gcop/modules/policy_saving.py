"""Writing a :class:`~gcop.GuideCorePolicy` to its folder and rebuilding its parts from one.

:mod:`~gcop.modules.policy_file` defines the folder and checks it; this module moves a policy's
models, program state and inference settings in and out of it.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from gcop import __version__
from gcop.modules.core import SERVER_SETTINGS, Core
from gcop.modules.guide import Guide
from gcop.modules.inference_settings import inference_settings
from gcop.modules.policy_file import (
    CORE_STATE_FILE,
    FORMAT_VERSION,
    GUIDE_DIR,
    POLICY_FILE,
    SavedPolicy,
    file_hashes,
    fingerprint,
    model_identity,
    public_settings,
    scrub,
    training_config,
    write_policy_file,
)

if TYPE_CHECKING:
    from gcop.modules.policy import GuideCorePolicy

logger = logging.getLogger(__name__)


def save_policy(policy: GuideCorePolicy, path: str | Path) -> Path:
    """Write ``policy`` to the folder ``path`` (see :meth:`GuideCorePolicy.save`)."""
    folder = Path(path)
    if folder.suffix in (".json", ".pkl"):
        raise ValueError(
            "a policy is saved to a folder (its guide's weights, the core program's state, "
            f"policy.json), not to {folder.name}: pass a folder such as "
            f"{str(folder.with_suffix(''))!r}; for the core program's DSPy state alone, "
            f"use policy.core.program.save({str(folder)!r})"
        )
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"cannot save the policy to {folder}: it is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    guide, core = policy.guide, policy.core
    guide_files: dict[str, str] = {}
    models = {"core": model_identity(core.lm.model)}
    if guide is not None:
        models["guide"] = model_identity(guide.lm.model)
        if guide.local_lm is not None:
            guide.local_lm.save(folder / GUIDE_DIR)
            guide_files = file_hashes(folder, GUIDE_DIR)
            models["guide"]["weights_fingerprint"] = fingerprint(guide_files)
    core.program.save(str(folder / CORE_STATE_FILE))
    saved = SavedPolicy(
        format_version=FORMAT_VERSION,
        gcop_version=__version__,
        guided=policy.guided,
        strict=policy.strict,
        core_model=core.lm.model,
        core_lm_kwargs=public_settings(core.lm.kwargs),
        guide_model=guide.lm.model if guide is not None else None,
        guide_local_lm=GUIDE_DIR if guide_files else None,
        guide_files=guide_files,
        models=models,
        training_config=scrub(training_config(policy.artifacts)),
        guide_program=guide_program_state(guide),
        artifacts=scrub(policy.artifacts),
        inference=inference_settings(guide, core),
    )
    write_policy_file(folder, saved)
    return folder


def guide_program_state(guide: Guide | None) -> dict | None:
    """The guide predictor's DSPy state (instructions, demos) to save; its ``lm`` is left out
    (the guide runs on its own model, saved beside it)."""
    return None if guide is None else scrub({**guide.predict.dump_state(), "lm": None})


def saved_core(core: Core, folder: Path, saved: SavedPolicy, *, keep_lm: bool) -> Core:
    """A copy of ``core`` with the saved program state, on the saved model and sampling settings
    (``keep_lm=True``: on ``core``'s own LM where the models differ)."""
    core = copy.deepcopy(core)  # same ledger: a CostLedger is never copied
    state_file = folder / CORE_STATE_FILE
    try:
        core.program.load(str(state_file))
    except Exception as error:  # DSPy raises many kinds for a state that does not fit
        raise ValueError(
            f"{state_file} does not fit this policy's core program ({error}); load it into a "
            "policy built with the signature or program it was saved from"
        ) from error
    if core.lm.model != saved.core_model:
        return core if keep_lm else core.with_lm(saved.core_model, **saved.core_lm_kwargs)
    # the same model: its saved sampling settings, this policy's server (address, key)
    sampling = {k: v for k, v in saved.core_lm_kwargs.items() if k not in SERVER_SETTINGS}
    core.lm = core.lm.copy(**sampling)
    return core


def saved_guide(guide: Guide | None, folder: Path, saved: SavedPolicy) -> Guide | None:
    """A copy of ``guide`` on the saved guide weights (where the folder holds some) with the saved
    instructions and demos (where ``policy.json`` records them)."""
    if guide is None:
        return None
    if saved.guide_local_lm is not None:
        guide = guide.with_lm(_saved_local_lm(folder / saved.guide_local_lm))
    if saved.guide_program is None:  # written before the guide's program state was saved
        return guide
    guide = copy.copy(guide)  # the caller's guide keeps its own predictor
    guide.predict = copy.deepcopy(guide.predict)
    try:
        guide.predict.load_state(saved.guide_program)
    except Exception as error:  # DSPy raises many kinds for a state that does not fit
        raise ValueError(
            f"{folder / POLICY_FILE}'s guide_program does not fit this policy's guide ({error}); "
            "load it into a policy built with the guide signature it was saved from"
        ) from error
    return guide


def _saved_local_lm(where: Path):
    """The guide's ``LocalLM`` saved in ``where``, loaded and checked."""
    from gcop.lm.local import LocalLM

    try:
        local = LocalLM.load(where)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{where} holds no loadable guide ({error})") from error
    try:  # what will run is loaded now, so a broken folder fails here, before anything is scored
        logger.info("guide loaded from %s (weights %s)", where, local.weights_id)
    except Exception as error:  # torch, safetensors and peft raise many kinds for broken files
        local.close()
        detail = " ".join(f"{type(error).__name__}: {error}".split())[:300]
        raise ValueError(
            f"{where} holds no loadable guide ({detail}); restore the folder from a copy, or "
            "save the policy again"
        ) from error
    return local
