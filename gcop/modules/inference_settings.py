"""How a policy turns a strategy into the core's answer, beyond the weights: saved and restored.

The core's prompt format (``adapter``), the guide's ``token_budget`` and the policy's strategy
kit (:class:`~gcop.modules.strategy_kit.StrategyKit`: sampling, consensus, render, answer key)
decide what a trained guide's strategies do. ``policy.json`` records them under ``inference``
and loading restores them, so a saved policy is evaluated as it was trained. The kit is recorded
by name and restored only when registered; one that is not keeps the loading policy's own kit,
with a warning. Files written before kits existed (``guide_samples``, ``core_render``, ...) are
read too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

from gcop.modules.core import Core, CoreFormat
from gcop.modules.guide import Guide
from gcop.modules.strategy_kit import StrategyKit, restored_kit

logger = logging.getLogger(__name__)

# how files written before kits existed named the kit's parts, and the one kit they came from
_OLD_FUNCTIONS = {
    "guide_consensus": "consensus",
    "core_render": "render",
    "answer_key": "answer_key",
}
_OLD_KIT = {"name": "gsm8k", "source": "gcop.tasks.gsm8k"}


def inference_settings(guide: Guide | None, core: Core) -> dict[str, Any]:
    """The settings :func:`restore_inference` puts back."""
    kit = guide.kit if guide is not None else core.kit
    settings: dict[str, Any] = {
        "core_adapter": _adapter_name(core.adapter),
        "kit": kit.settings() if kit is not None else None,
    }
    if guide is not None:
        settings["guide_token_budget"] = guide.token_budget
    return settings


def restore_inference(
    saved: dict[str, Any], guide: Guide | None, core: Core, *, folder: Path
) -> tuple[Guide | None, Core]:
    """``guide`` and ``core`` with the ``saved`` settings (``core`` is changed in place, the
    guide rebuilt). Keys missing from ``saved`` (older files) keep what the policy has."""
    saved = _with_kit_key(saved)
    mine = inference_settings(guide, core)
    differ = {key: value for key, value in saved.items() if key in mine and mine[key] != value}
    if not differ:
        return guide, core
    if "core_adapter" in differ:
        saved_adapter = differ["core_adapter"]
        if saved_adapter not in get_args(CoreFormat) and "." not in saved_adapter:
            raise ValueError(
                f"{folder}: unknown core adapter {saved_adapter!r} (expected 'chat', 'plain' or "
                "a DSPy adapter's class path)"
            )
        if saved_adapter not in get_args(CoreFormat):
            raise ValueError(
                f"{folder} was saved with the core adapter {saved_adapter!r}: load it into a "
                "policy whose Core has that adapter (Core(..., adapter=<an instance>))"
            )
        core.adapter = saved_adapter
    changes: dict[str, Any] = {}
    if "guide_token_budget" in differ:
        changes["token_budget"] = differ["guide_token_budget"]
    if "kit" in differ:
        kit = _kit(differ.pop("kit"), mine["kit"], folder)
        if kit is not False:
            core.kit = kit
            changes["kit"] = kit
    if changes and guide is not None:
        lm = guide.local_lm if guide.local_lm is not None else guide.lm
        guide = guide.with_lm(lm, **changes)
    if differ:
        logger.info("%s: restored %s", folder, ", ".join(f"{k}={v!r}" for k, v in differ.items()))
    return guide, core


def _adapter_name(adapter: Any) -> str:
    """``"chat"``, ``"plain"``, or the class path of a user's own DSPy adapter object."""
    if isinstance(adapter, str):
        return adapter
    kind = type(adapter)
    return f"{kind.__module__}.{kind.__qualname__}"


def _kit(saved: dict[str, Any] | None, mine: dict[str, Any] | None, folder: Path):
    """The kit ``saved`` names (``None``: the policy was saved without one); ``False`` when it
    cannot be restored (then the loading policy keeps its own, with a warning)."""
    if saved is None:
        return None
    kit: StrategyKit | None = restored_kit(saved)
    if kit is None:
        logger.warning(
            "%s was saved with the strategy kit %r, which is not registered: register it with "
            "gcop.register_kit before loading; the policy keeps its own kit (%r)",
            folder,
            saved["name"],
            (mine or {}).get("name"),
        )
        return False
    logger.info("%s: restored the strategy kit %r", folder, saved["name"])
    return kit


def _with_kit_key(saved: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with the kit under ``kit``: files written before kits existed named its parts
    (``guide_samples``, ``guide_consensus``, ``core_render``, ``answer_key``) one by one."""
    if "kit" in saved or not any(key in saved for key in _OLD_FUNCTIONS):
        return saved
    new = {k: v for k, v in saved.items() if k not in _OLD_FUNCTIONS and k.startswith("core_")}
    if "guide_token_budget" in saved:
        new["guide_token_budget"] = saved["guide_token_budget"]
    used = {field: saved.get(key) is not None for key, field in _OLD_FUNCTIONS.items()}
    new["kit"] = None
    if any(used.values()):
        new["kit"] = {
            **_OLD_KIT,
            "samples": saved.get("guide_samples", 1),
            "min_agreement": saved.get("guide_min_agreement", 0.5),
            **used,
            "verifier": True,
        }
    return new
