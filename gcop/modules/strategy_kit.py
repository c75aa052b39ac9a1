"""``StrategyKit``: what a task adds to plain guided generation, as one object the policy applies.

A guide–core policy works without a kit: the guide writes one strategy, the core reads it. A
task that knows more about its strategies provides a kit, as a DSPy user passes an adapter:

- ``samples``, ``consensus``, ``min_agreement``: draw several strategies and keep one only where
  enough of them lead to the same result (``consensus(strategy) -> key``); abstain otherwise.
- ``render``: a tool between guide and core (``strategy -> text the core reads``; ``None``: the
  strategy cannot be carried out and the core runs alone).
- ``answer_key``: ``prediction -> key`` on the consensus keys' scale; the core answers alone first
  and its answer stands where one of the sampled strategies leads to it.
- ``retries``: where the core's answer to the strategy sent does not reach that strategy's key,
  the core answers again, up to ``retries`` times, and the first reply that reaches it is kept
  (needs ``answer_key``).
- ``verifier``: ``(strategy, example) -> score in [0, 1]`` (``None``: cannot tell), a check of a
  strategy without the core, which GRPO can use as its task reward.

``Guide``, ``Core`` and ``GuideCorePolicy`` apply a kit and never name a task. A saved policy
records its kit by name; loading restores only a registered kit (:func:`register_kit`; gcop's own
tasks register theirs when imported), never an arbitrary name read from a file.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Hashable
from typing import Any

KIT_FUNCTIONS = ("consensus", "render", "answer_key", "verifier")
UNRENDERED = "not rendered"  # how the reason of a valid strategy the render could not use begins


@dataclasses.dataclass(frozen=True)
class StrategyKit:
    """A task's strategy tools and how many strategies to sample (see the module docstring).

    >>> kit = StrategyKit("numbers", consensus=len)
    >>> kit.with_settings(samples=5, min_agreement=1.0).samples
    5
    >>> StrategyKit("bad", samples=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: kit 'bad': samples=3 needs consensus=<function strategy -> key> to tell ...
    """

    name: str
    samples: int = 1
    min_agreement: float = 0.5
    retries: int = 0
    consensus: Callable[[str], Hashable | None] | None = None
    render: Callable[[str], str | None] | None = None
    answer_key: Callable[[Any], Hashable | None] | None = None
    verifier: Callable[[str, Any], float | None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a StrategyKit needs a name (policy.json records the kit by it)")
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"kit {self.name!r}: samples must be at least 1, got {self.samples}")
        if not 0 < self.min_agreement <= 1:
            raise ValueError(
                f"kit {self.name!r}: min_agreement must be in (0, 1], got {self.min_agreement}"
            )
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"kit {self.name!r}: retries must be 0 or more, got {self.retries}")
        for field in KIT_FUNCTIONS:
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise TypeError(f"kit {self.name!r}: {field} must be a function, got {value!r}")
        if self.samples > 1 and self.consensus is None:
            raise ValueError(
                f"kit {self.name!r}: samples={self.samples} needs consensus=<function strategy "
                "-> key> to tell which strategies agree"
            )
        if self.answer_key is not None and self.consensus is None:
            raise ValueError(
                f"kit {self.name!r}: answer_key compares the core's answer with where the "
                "strategies lead, so it needs consensus=<function strategy -> key>"
            )
        if self.retries and self.answer_key is None:
            raise ValueError(
                f"kit {self.name!r}: retries={self.retries} asks the core again where its answer "
                "does not reach the strategy's key, so it needs answer_key=<function prediction "
                "-> key>"
            )

    def with_settings(self, **changes: Any) -> StrategyKit:
        """This kit with ``changes`` (``samples=5``, ``render=None`` to switch a tool off ...)."""
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict[str, Any]:
        """What ``policy.json`` records: the name, where the kit is defined, the sampling
        settings and which of its functions are on (functions are never recorded by name)."""
        return {
            "name": self.name,
            "source": _source(self),
            "samples": self.samples,
            "min_agreement": self.min_agreement,
            "retries": self.retries,
            **{field: getattr(self, field) is not None for field in KIT_FUNCTIONS},
        }


_REGISTERED: dict[str, StrategyKit] = {}


def register_kit(kit: StrategyKit) -> StrategyKit:
    """Let a saved policy whose kit has ``kit.name`` restore it; returns ``kit``."""
    if not isinstance(kit, StrategyKit):
        raise TypeError(f"only a StrategyKit can be registered, got {kit!r}")
    _REGISTERED[kit.name] = kit
    return kit


def registered_kit(name: str, source: str | None = None) -> StrategyKit | None:
    """The kit registered as ``name``; a kit defined inside gcop (``source`` a ``gcop.``
    module) is imported first, so gcop's own tasks' kits are found without an import of the
    caller's. ``None`` when no such kit is registered."""
    if name not in _REGISTERED and source and source.startswith("gcop."):
        try:
            importlib.import_module(source)
        except ImportError:
            return None
    return _REGISTERED.get(name)


def restored_kit(saved: dict[str, Any]) -> StrategyKit | None:
    """The registered kit ``saved`` (:meth:`StrategyKit.settings`) names, with its sampling
    settings and with the functions it had switched off switched off again; ``None`` when the
    kit is not registered."""
    kit = registered_kit(saved["name"], saved.get("source"))
    if kit is None:
        return None
    off = {field: None for field in KIT_FUNCTIONS if saved.get(field) is False}
    return kit.with_settings(
        samples=saved.get("samples", kit.samples),
        min_agreement=saved.get("min_agreement", kit.min_agreement),
        retries=0 if saved.get("answer_key") is False else saved.get("retries", kit.retries),
        **off,
    )


def _source(kit: StrategyKit) -> str | None:
    """The module that defines the kit's functions (the first that has one)."""
    for field in KIT_FUNCTIONS:
        function = getattr(kit, field)
        if function is not None:
            return getattr(function, "__module__", None)
    return None
