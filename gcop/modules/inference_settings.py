"""How a policy turns a strategy into the core's answer, beyond the weights: saved and restored.

The core's prompt format (``adapter``) and ``render`` tool, the guide's ``samples``,
``consensus``, ``min_agreement`` and ``token_budget``, and the policy's ``answer_key`` decide
what a trained guide's strategies do. ``policy.json`` records them under ``inference`` and
loading restores them, so a saved policy is evaluated as it was trained. Functions are recorded
by name and restored only when registered (:mod:`gcop.modules.strategy_functions`); one that is
not keeps the loading policy's own, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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


def inference_settings(
    guide: Guide | None, core: Core, answer_key: Callable[..., Any] | None = None
) -> dict[str, Any]:
    """The settings :func:`restore_inference` puts back, functions by qualified name."""
    settings: dict[str, Any] = {
        "core_adapter": core.adapter,
        "core_render": qualified_name(core.render),
        "answer_key": qualified_name(answer_key),
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
    saved: dict[str, Any],
    guide: Guide | None,
    core: Core,
    answer_key: Callable[..., Any] | None = None,
    *,
    folder: Path,
) -> tuple[Guide | None, Core, Callable[..., Any] | None]:
    """``guide``, ``core`` and ``answer_key`` with the ``saved`` settings (``core`` is changed in
    place, the guide rebuilt). Keys missing from ``saved`` (older files) keep what the policy
    has."""
    mine = inference_settings(guide, core, answer_key)
    differ = {key: value for key, value in saved.items() if key in mine and mine[key] != value}
    if not differ:
        return guide, core, answer_key
    functions = {  # None: a name that is not registered
        key: registered_strategy_function(differ[key])
        for key in ("core_render", "guide_consensus", "answer_key")
        if differ.get(key) is not None
    }
    lost = [key for key, function in functions.items() if function is None]
    if "guide_consensus" in lost:  # the guide's sampling settings only make sense together
        lost += [key for key in _GUIDE_KEYS if key in differ and key != "guide_consensus"]
    values = {key: functions.get(key, value) for key, value in differ.items() if key not in lost}
    if "core_adapter" in values:
        if values["core_adapter"] not in get_args(CoreFormat):
            raise ValueError(f"{folder}: unknown core format {values['core_adapter']!r}")
        core.adapter = values["core_adapter"]
    if "core_render" in values:
        core.render = values["core_render"]
    if "answer_key" in values:
        answer_key = values["answer_key"]
    changes = {arg: values[key] for key, arg in _GUIDE_KEYS.items() if key in values}
    if changes:  # guide keys are only compared when there is a guide
        lm = guide.local_lm if guide.local_lm is not None else guide.lm
        guide = guide.with_lm(lm, **changes)
    if values:
        logger.info("%s: restored %s", folder, ", ".join(f"{k}={differ[k]!r}" for k in values))
    if lost:
        logger.warning(
            "%s was saved with %s, which cannot be restored: register the function with "
            "gcop.register_strategy_function before loading; the policy keeps its own %s",
            folder,
            ", ".join(f"{key}={differ[key]!r}" for key in lost),
            ", ".join(f"{key}={mine[key]!r}" for key in lost),
        )
    return guide, core, answer_key
