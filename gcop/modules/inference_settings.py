"""How a policy turns a strategy into the core's answer, beyond the weights: saved and restored.

The core's prompt format (``adapter``) and ``render`` tool, and the guide's ``samples``,
``consensus``, ``min_agreement`` and ``token_budget`` decide what a trained guide's strategies
do. ``policy.json`` records them under ``inference`` and loading restores them, so a saved policy
is evaluated as it was trained. Functions are recorded by name and restored only when registered
(:mod:`gcop.modules.strategy_functions`); one that is not keeps the loading policy's own, with a
warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

from gcop.modules.core import Core, CoreFormat
from gcop.modules.guide import Guide
from gcop.modules.strategy_functions import qualified_name, registered_strategy_function

logger = logging.getLogger(__name__)

_GUIDE_KEYS = {  # policy.json key -> Guide argument
    "guide_samples": "samples",
    "guide_consensus": "consensus",
    "guide_min_agreement": "min_agreement",
    "guide_token_budget": "token_budget",
}


def inference_settings(guide: Guide | None, core: Core) -> dict[str, Any]:
    """The settings :func:`restore_inference` puts back, functions by qualified name."""
    settings: dict[str, Any] = {
        "core_adapter": core.adapter,
        "core_render": qualified_name(core.render),
    }
    if guide is not None:
        settings.update(
            guide_samples=guide.samples,
            guide_consensus=qualified_name(guide.consensus),
            guide_min_agreement=guide.min_agreement,
            guide_token_budget=guide.token_budget,
        )
    return settings


def restore_inference(
    saved: dict[str, Any], guide: Guide | None, core: Core, *, folder: Path
) -> tuple[Guide | None, Core]:
    """``guide`` and ``core`` with the ``saved`` settings (``core`` is changed in place, the
    guide rebuilt). Keys missing from ``saved`` (older files) keep what the policy has."""
    mine = inference_settings(guide, core)
    differ = {key: value for key, value in saved.items() if key in mine and mine[key] != value}
    if not differ:
        return guide, core
    functions = {
        key: _function(differ[key]) for key in ("core_render", "guide_consensus") if key in differ
    }
    lost = [key for key, function in functions.items() if function is False]
    if "core_adapter" in differ:
        if differ["core_adapter"] not in get_args(CoreFormat):
            raise ValueError(f"{folder}: unknown core format {differ['core_adapter']!r}")
        core.adapter = differ["core_adapter"]
    if "core_render" in differ and "core_render" not in lost:
        core.render = functions["core_render"]
    if guide is not None and "guide_consensus" not in lost:
        changes = {arg: differ[key] for key, arg in _GUIDE_KEYS.items() if key in differ}
        if "guide_consensus" in differ:
            changes["consensus"] = functions["guide_consensus"]
        if changes:
            lm = guide.local_lm if guide.local_lm is not None else guide.lm
            guide = guide.with_lm(lm, **changes)
    elif "guide_consensus" in lost:
        lost += [key for key in _GUIDE_KEYS if key in differ and key != "guide_consensus"]
    restored = [key for key in differ if key not in lost]
    if restored:
        logger.info("%s: restored %s", folder, ", ".join(f"{k}={differ[k]!r}" for k in restored))
    if lost:
        logger.warning(
            "%s was saved with %s, which cannot be restored: register the function with "
            "gcop.register_strategy_function before loading; the policy keeps its own %s",
            folder,
            ", ".join(f"{key}={differ[key]!r}" for key in lost),
            ", ".join(f"{key}={mine[key]!r}" for key in lost),
        )
    return guide, core


def _function(name: str | None) -> Any:
    """The registered function ``name`` (``None`` for no function), ``False`` when unknown."""
    if name is None:
        return None
    function = registered_strategy_function(name)
    return False if function is None else function
