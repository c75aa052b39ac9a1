"""A LocalLM's weights on disk: loading them by name, folder or adapter; saving and loading a
LocalLM's folder.

:meth:`gcop.LocalLM.save` writes ``gcop_lm.json`` (the spec) and whatever weights differ from the
named source: a LoRA adapter over a known base (a few MB, with a fingerprint of the base's weights
that loading checks), a full model, or none. :meth:`gcop.LocalLM.load` reads the folder back.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcop.extras import optional_imports
from gcop.lm.hf_import import HF_IMPORT_LOCK
from gcop.lm.model_cache import resolve_model
from gcop.lm.registry import TINY, is_registered
from gcop.lm.weights import base_fingerprint

if TYPE_CHECKING:
    from gcop.lm.local import LocalLM

logger = logging.getLogger(__name__)

SPEC_FILE = "gcop_lm.json"


def is_peft(model: Any) -> bool:
    """Whether ``model`` carries peft adapters (a ``PeftModel``)."""
    return model is not None and callable(getattr(model, "merge_and_unload", None))


def check_source(source: str) -> None:
    """Fail early on an unknown name, without converting or loading anything yet."""
    if not is_registered(source):
        resolve_model(source)


def default_name(model: Any) -> str:
    """A LocalLM name for ``model``: its folder's name, its hub id with ``--`` for ``/``."""
    if isinstance(model, str | Path):
        raw = str(model)
        path = Path(raw).expanduser()
        raw = path.name if path.exists() else raw.replace("/", "--")
    else:
        raw = Path(str(getattr(getattr(model, "config", None), "name_or_path", "") or "")).name
        raw = raw or f"model-{id(model):x}"
    return re.sub(r"[^\w.\-]+", "-", raw).strip("-") or "model"


def load_tokenizer(source: str) -> Any:
    """The tokenizer of the model ``source`` names (a registry name, hub id or folder)."""
    if source == TINY:
        from gcop.lm.tiny import tiny_tokenizer

        return tiny_tokenizer()
    with HF_IMPORT_LOCK, optional_imports():
        from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(source))


def load_model(source: str, device: str, dtype: Any) -> tuple[Any, Any]:
    """The model ``source`` names, on ``device`` in ``dtype``, and the tokenizer that came with it
    (``None`` when it is loaded separately)."""
    tokenizer = None
    if source == TINY:
        from gcop.lm.tiny import tiny_model

        model, tokenizer = tiny_model(seed=0)
    else:
        with HF_IMPORT_LOCK, optional_imports():
            from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(resolve_model(source), dtype=dtype)
    model.to(device=device, dtype=dtype)
    return model, tokenizer


def apply_adapter(model: Any, adapter_path: Path, expected: str | None, source: str) -> Any:
    """``model`` under the adapter saved at ``adapter_path``; refuses base weights other than
    those the adapter was trained on (``expected``: their fingerprint, from the save)."""
    with HF_IMPORT_LOCK, optional_imports():
        from peft import PeftModel

    if expected is not None:
        found = base_fingerprint(model)
        if found != expected:
            raise ValueError(
                f"{source!r} is not the base model the adapter in {adapter_path} was "
                f"trained on (weights fingerprint {found}, saved {expected}); "
                "load it with the model it was saved with"
            )
    return PeftModel.from_pretrained(model, str(adapter_path))


def save(lm: LocalLM, path: str | Path) -> Path:
    """Write ``lm``'s spec plus whatever weights differ from its named source; returns ``path``.

    A LoRA model over a known :attr:`base` saves its adapter alone, with the base's name and
    a fingerprint of its weights that :meth:`load` checks. A model loaded from a folder (a
    path, or an earlier save) has that folder copied in, so the saved LocalLM never depends
    on another folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spec = lm.spec()
    spec["adapter_path"] = None
    model = lm._model
    if is_peft(model) and lm.base is not None:
        save_adapter(model, path / "adapter", lm.base)
        fingerprint = base_fingerprint(model)
        spec.update(model=lm.base, weights="adapter", base_fingerprint=fingerprint)
        if Path(lm.base).is_dir():  # copied in, as for a full model below
            _copy_folder(lm.base, path / "base")
            spec["model"] = "base"
            spec["base_in_folder"] = True
    elif model is None and lm.adapter_path is not None:  # never loaded: copy the adapter
        shutil.copytree(lm.adapter_path, path / "adapter", dirs_exist_ok=True)
        spec["weights"] = "adapter"
    elif lm._modified or lm._source is None:
        full = copy.deepcopy(model).merge_and_unload() if is_peft(model) else model
        full.save_pretrained(path / "model")
        lm.tokenizer.save_pretrained(path / "model")
        spec["weights"] = "full"
    elif Path(lm._source).is_dir():  # e.g. an earlier save: copy it, so this one stands alone
        _copy_folder(lm._source, path / "model")
        spec["weights"] = "full"
    else:
        spec["weights"] = "none"
    (path / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    logger.info("saved %s (%s weights) to %s", lm._name, spec["weights"], path)
    return path


def save_adapter(model: Any, folder: Path, base: str) -> None:
    """Save ``model``'s active adapter alone (not the copy a trainer may keep beside it, such as
    TRL's ``ref``), as a folder peft loads without gcop: ``PeftModel.from_pretrained(base_model,
    folder)``. Its ``base_model_name_or_path`` is where ``base`` is on this machine (a registry
    name resolves to its cached folder, :func:`gcop.lm.resolve_model`), so that
    ``AutoPeftModelForCausalLM.from_pretrained(folder)`` finds the base too; ``gcop_lm.json``
    keeps the portable name."""
    model.save_pretrained(folder, selected_adapters=[model.active_adapter])
    config_file = folder / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = str(resolve_model(base))
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))


def load(cls: type[LocalLM], path: str | Path, **overrides: Any) -> LocalLM:
    """Rebuild a LocalLM that :func:`save` wrote (lazily: weights load on first use)."""
    path = Path(path)
    if not (path / SPEC_FILE).is_file():
        raise ValueError(f"{path} has no {SPEC_FILE}; pass a folder written by LocalLM.save")
    try:
        spec = json.loads((path / SPEC_FILE).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path / SPEC_FILE} is not JSON ({error}); save the model again"
        ) from None
    check_spec(path, spec)
    kwargs: dict[str, Any] = {
        "name": spec["name"],
        "max_batch_size": spec["max_batch_size"],
        "batch_wait_s": spec["batch_wait_s"],
        "device": spec.get("device"),
    }
    # settings newer than the spec's format: an older save gets the constructor's defaults
    kwargs.update({key: spec[key] for key in ("max_batch_tokens", "dtype") if key in spec})
    kwargs.update(overrides)
    weights = spec.get("weights", "none")
    if weights == "full":
        return cls(path / "model", **kwargs)
    if weights == "adapter":
        base = path / spec["model"] if spec.get("base_in_folder") else spec["model"]
        lm = cls(base, adapter_path=path / "adapter", **kwargs)
        lm._base_fingerprint = spec.get("base_fingerprint")
        return lm
    return cls(spec["model"], **kwargs)


def check_spec(path: Path, spec: Any) -> None:
    """Refuse a saved folder that would load weights from outside it or a broken adapter, before
    anything loads: its base is a folder inside ``path`` or a registry name or hub id, and its
    adapter's ``adapter_config.json`` is a peft config."""
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), str | None):
        raise ValueError(f"{path / SPEC_FILE} is not a LocalLM spec; save the model again")
    weights = spec.get("weights", "none")
    if weights not in ("full", "adapter", "none"):
        raise ValueError(f"{path / SPEC_FILE}: unknown weights {weights!r}; save the model again")
    if weights == "full":
        _inside(path, "model")
    elif spec.get("base_in_folder"):
        _inside(path, spec["model"])
    else:
        _named(path, spec["model"])
    if weights == "adapter":
        _check_adapter_config(path / "adapter")


def _inside(folder: Path, relative: Any) -> None:
    target = (folder / str(relative)).resolve()
    if Path(str(relative)).is_absolute() or not target.is_relative_to(folder.resolve()):
        raise ValueError(
            f"{folder / SPEC_FILE} loads weights from outside its folder ({relative!r}); a saved "
            "model only refers to folders inside it, so it is refused"
        )
    if not target.is_dir():
        raise ValueError(f"{target} is missing: copy the whole saved folder, or save it again")


def _named(folder: Path, name: Any) -> None:
    """``name`` must be a registry name or a hub id (``org/model``), never a path."""
    hub_id = r"[\w\-][\w\-.]*/[\w\-.]+"
    if isinstance(name, str) and (
        is_registered(name)
        or (re.fullmatch(hub_id, name) and ".." not in name and not Path(name).exists())
    ):
        return
    raise ValueError(
        f"{folder / SPEC_FILE} names base weights {name!r}, which is neither a registry name, a "
        "hub id nor a folder inside it; save the model again"
    )


_ADAPTER_KEYS = {"peft_type", "r", "target_modules"}  # what peft needs to rebuild a LoRA adapter


def _check_adapter_config(adapter: Path) -> None:
    file = adapter / "adapter_config.json"
    try:
        config = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{file} is not a readable adapter config ({error}); save it again"
        ) from None
    missing = sorted(_ADAPTER_KEYS - set(config) if isinstance(config, dict) else _ADAPTER_KEYS)
    if missing:
        raise ValueError(
            f"{file} is not a LoRA adapter config (no {', '.join(missing)}); save it again"
        )


def _copy_folder(source: str | Path, target: Path) -> None:
    """Copy ``source`` to ``target`` unless they are the same folder."""
    if Path(source).resolve() != target.resolve():
        shutil.copytree(source, target, dirs_exist_ok=True)
