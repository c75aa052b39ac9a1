"""``Core``: the black-box executor that solves a task, guided by a strategy or not."""

from __future__ import annotations

import asyncio
import copy
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, get_args

import dspy
from dspy.utils.exceptions import AdapterParseError

from gcop.cost import CostLedger
from gcop.lm.resolve import LMLike, as_lm
from gcop.modules.plain_adapter import PlainStrategyAdapter
from gcop.modules.strategy_adapter import StrategyAdapter, adapter_with_strategy
from gcop.modules.strategy_kit import StrategyKit

CoreFormat = Literal["chat", "plain"]
# Settings that belong to a model's server, not to the task: with_lm leaves them behind.
SERVER_SETTINGS = ("api_base", "base_url", "api_key", "api_version", "extra_headers", "timeout")


class Core(dspy.Module):
    """Runs a task program on a core LM, handing it the guide's strategy.

    Args:
        program: a signature (a ``dspy.Predict`` is built from it) or an existing DSPy program
            to wrap; the program is deep-copied, its own predictors' LMs are replaced by ``lm``
            (with a warning). A program without predictors cannot receive a strategy: refused.
        lm: the core LM: any LiteLLM model string, a ``dspy.LM`` or a ``gcop.LocalLM``.
        adapter: ``"chat"`` (DSPy's field-marker format, for API cores and typed outputs) or
            ``"plain"`` (a plain prompt whose whole reply fills the last output field: small local
            cores lose most of their accuracy to DSPy's markers, see
            :class:`~gcop.modules.plain_adapter.PlainStrategyAdapter`), or a DSPy adapter
            object of your own (``dspy.JSONAdapter()``, ``dspy.TwoStepAdapter(lm)``): its prompts
            get the strategy appended, its parsing stays as it is.
        lenient: keep replies that miss DSPy's field markers instead of re-asking (see
            :class:`~gcop.modules.strategy_adapter.StrategyAdapter`); :attr:`lenient_rescues`
            counts them. Default: on for a signature, off for a wrapped program, whose next
            predictor would otherwise read a whole unparsed reply as one field.
        ledger: cost ledger shared with the rest of the policy.
        kit: the task's :class:`~gcop.modules.strategy_kit.StrategyKit`, or ``None``. Its
            ``render`` (``strategy -> text`` the core reads instead, a tool between guide and
            core such as a calculator) applies to every strategy this core is handed; where it
            returns ``None`` the strategy cannot be carried out and the core runs alone
            (:attr:`unrendered` counts those).
        **lm_kwargs: default LM settings such as ``temperature`` or ``max_tokens``.
    """

    def __init__(
        self,
        program: Any,
        lm: LMLike,
        *,
        adapter: CoreFormat | dspy.Adapter = "chat",
        lenient: bool | None = None,
        ledger: CostLedger | None = None,
        kit: StrategyKit | None = None,
        **lm_kwargs: Any,
    ) -> None:
        super().__init__()
        wrapped = isinstance(program, dspy.Module)
        if wrapped:
            self.program = copy.deepcopy(program)
        elif isinstance(program, str) or (
            isinstance(program, type) and issubclass(program, dspy.Signature)
        ):
            self.program = dspy.Predict(program)
        else:
            raise TypeError(
                f"Core needs a dspy.Signature or a dspy.Module to wrap, got {type(program)!r}"
            )
        _take_over_predictors(self.program)
        own_adapter = isinstance(adapter, dspy.Adapter)
        if not own_adapter and adapter not in get_args(CoreFormat):
            raise ValueError(
                f"adapter must be 'chat', 'plain' or a dspy.Adapter object, got {adapter!r}"
            )
        if own_adapter and lenient:
            raise ValueError(
                "lenient=True is gcop's chat adapter's rescue of unmarked replies; a "
                f"{type(adapter).__name__} parses replies its own way: leave lenient unset"
            )
        self.adapter = adapter
        typed = _typed_outputs(self.program)
        if lenient and typed:
            raise ValueError(
                f"lenient=True keeps a reply without DSPy's field markers whole in a str output, "
                f"and {typed} are not str: use adapter='plain' for a small core, or "
                "lenient=False (the default for a wrapped program)"
            )
        self.lenient = (
            (not wrapped and not typed and not own_adapter) if lenient is None else lenient
        )
        self._rescues = ThreadSafeCounter()
        if kit is not None and not isinstance(kit, StrategyKit):
            raise TypeError(f"kit must be a gcop.StrategyKit or None, got {kit!r}")
        self.kit = kit
        self._unrendered = ThreadSafeCounter()
        self.lm = as_lm(lm, ledger=ledger, role="core", **lm_kwargs)

    @property
    def ledger(self) -> CostLedger:
        return self.lm.ledger

    @property
    def lenient_rescues(self) -> int:
        """How many replies without DSPy's field markers the lenient parse kept so far."""
        return self._rescues.value

    @property
    def unrendered(self) -> int:
        """How many strategies the kit's ``render`` could not carry out (the core ran alone)."""
        return self._unrendered.value

    def renders(self, strategy: str) -> bool:
        """Whether ``strategy`` reaches this core: always without a kit's ``render``; with one,
        where the render can carry it out (otherwise the core runs alone)."""
        return self._render(strategy) is not None

    def forward(
        self, strategy: str | None = None, *, lm_kwargs: dict | None = None, **inputs: Any
    ) -> dspy.Prediction:
        """Solve the task given by ``inputs``; ``strategy=None`` runs the core alone.

        ``lm_kwargs`` override LM settings for this call, e.g. ``{"rollout_id": 3,
        "temperature": 0.7}`` for the third of k independent (uncached) trials.
        """
        self._check_inputs(inputs)
        with self._settings(strategy, lm_kwargs), _fix_named_on_parse_failure():
            return self.program(**inputs)

    async def aforward(
        self, strategy: str | None = None, *, lm_kwargs: dict | None = None, **inputs: Any
    ) -> dspy.Prediction:
        """Async :meth:`forward`: through DSPy's async LM path for programs that have one
        (``dspy.Predict``, ``dspy.ChainOfThought``, ...), in a worker thread for the others."""
        self._check_inputs(inputs)
        if not hasattr(self.program, "aforward"):
            return await asyncio.to_thread(self.forward, strategy, lm_kwargs=lm_kwargs, **inputs)
        with self._settings(strategy, lm_kwargs), _fix_named_on_parse_failure():
            return await self.program.acall(**inputs)

    def _check_inputs(self, inputs: dict[str, Any]) -> None:
        """Refuse a call missing an input field of the program's signature (e.g. ``foo=`` for
        ``question=``), naming the fields it takes; DSPy would only warn and answer garbage."""
        signature = getattr(self.program, "signature", None)
        expected = list(getattr(signature, "input_fields", None) or [])
        missing = [name for name in expected if name not in inputs]
        if missing:
            given = ", ".join(f"{name}=" for name in inputs) or "nothing"
            raise ValueError(
                f"{signature.__name__} takes {', '.join(f'{n}=' for n in expected)}; got {given} "
                f"(missing {', '.join(missing)}): call it as policy({expected[0]}=...)"
            )

    def _settings(self, strategy: str | None, lm_kwargs: dict | None) -> Any:
        """DSPy settings for one call: the core LM (with this call's overrides) and the adapter
        that hands the program the strategy."""
        lm = self.lm.copy(**lm_kwargs) if lm_kwargs else self.lm
        return dspy.context(lm=lm, adapter=self._adapter(self._rendered(strategy)))

    def _render(self, strategy: str) -> str | None:
        """What the core reads for ``strategy``: the kit's render of it, or it as written."""
        render = self.kit.render if self.kit is not None else None
        return strategy if render is None else render(strategy)

    def _rendered(self, strategy: str | None) -> str | None:
        """:meth:`_render` for a call (``None`` runs the core alone), counting the strategies
        the render could not carry out."""
        if strategy is None:
            return None
        text = self._render(strategy)
        if text is None:
            self._unrendered.add()
        return text

    def _adapter(self, strategy: str | None) -> dspy.Adapter:
        if isinstance(self.adapter, dspy.Adapter):
            return adapter_with_strategy(self.adapter, strategy)
        if self.adapter == "plain":
            return PlainStrategyAdapter(strategy)
        return _CountingAdapter(strategy, lenient=self.lenient, rescues=self._rescues)

    def with_lm(self, lm: LMLike, **lm_kwargs: Any) -> Core:
        """A copy of this core that runs on another LM (same program, same ledger).

        Sampling settings (``temperature``, ``max_tokens``, ...) carry over; the old server's
        (:data:`SERVER_SETTINGS`: address, key, timeout) do not, so the new model gets its own
        defaults: pass them in ``lm_kwargs`` when it needs them.
        """
        other = copy.deepcopy(self)
        kept = {k: v for k, v in self.lm.kwargs.items() if k not in SERVER_SETTINGS}
        other.lm = as_lm(lm, ledger=self.ledger, role="core", **{**kept, **lm_kwargs})
        return other


def _take_over_predictors(program: dspy.Module) -> None:
    """Clear every predictor's own LM so the core LM drives it (see :meth:`Core.forward`)."""
    predictors = program.named_predictors()
    if not predictors:
        raise ValueError(
            f"the wrapped {type(program).__name__} has no dspy.Predict, so no strategy can reach "
            "it: gcop hands the strategy to a program's predictors"
        )
    replaced = [name for name, predictor in predictors if predictor.lm is not None]
    if replaced:
        warnings.warn(
            f"the core LM replaces the LM set on predictor(s) {replaced} of the wrapped program",
            UserWarning,
            stacklevel=4,
        )
    for _, predictor in predictors:
        predictor.lm = None


def _typed_outputs(program: dspy.Module) -> list[str]:
    """The output fields of ``program``'s predictors that are not ``str`` (a lenient parse
    cannot fill them from a whole reply)."""
    return [
        f"{name}.{field}"
        for name, predictor in program.named_predictors()
        for field, info in predictor.signature.output_fields.items()
        if info.annotation is not str
    ]


PARSE_HINT = (
    "The core's reply could not be read as the program's output fields. For a small core, give "
    "it the plain prompt (gcop.Core(..., adapter='plain')) or keep replies without DSPy's field "
    "markers with lenient=True (str outputs only); otherwise use a larger core."
)


@contextmanager
def _fix_named_on_parse_failure() -> Iterator[None]:
    """Re-raise a reply the core program could not parse with :data:`PARSE_HINT` in its
    message, so the error names the fix."""
    try:
        yield
    except AdapterParseError as error:
        if PARSE_HINT in str(error):
            raise
        raise AdapterParseError(
            error.adapter_name,
            error.signature,
            error.lm_response,
            message=PARSE_HINT,
            parsed_result=error.parsed_result,
        ) from error


class ThreadSafeCounter:
    """A thread-safe count of events (lenient rescues, unrendered strategies); a copied core starts
    its own count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1

    def __deepcopy__(self, memo: dict) -> ThreadSafeCounter:
        return ThreadSafeCounter()


class _CountingAdapter(StrategyAdapter):
    """:class:`StrategyAdapter` that counts the replies its lenient parse rescued."""

    def __init__(self, strategy: str | None, *, lenient: bool, rescues: ThreadSafeCounter) -> None:
        super().__init__(strategy, lenient=lenient)
        self.rescues = rescues

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        try:
            return dspy.ChatAdapter.parse(self, signature, completion)
        except AdapterParseError:
            parsed = super().parse(signature, completion)  # raises unless lenient keeps it
            self.rescues.add()
            return parsed
