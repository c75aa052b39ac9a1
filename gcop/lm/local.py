"""A transformers chat model run in-process and served to DSPy as ``local/<name>``.

``LocalLM("qwen2.5-coder-0.5b")`` loads lazily on first use. Concurrent ``complete`` calls (a DSPy
thread pool) are queued and answered by one worker that decodes them as one left-padded batch
(:mod:`gcop.lm.generation`) — on CPU this multiplies throughput. Trainers read
:meth:`LocalLM.chat_prompt` so their prompts equal inference prompts, and hand trained weights
back with :meth:`LocalLM.set_model`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gcop.lm import local_folder, provider
from gcop.lm.batching import MicroBatcher, device_lock
from gcop.lm.device import default_device
from gcop.lm.generation import (
    BatchStats,
    GenRequest,
    generate_batch,
    stop_token_ids,
    token_chunks,
)
from gcop.lm.local_folder import check_source, default_name, is_peft
from gcop.lm.precision import DTYPES, pick_dtype
from gcop.lm.provider import ChatCompletion
from gcop.lm.shared_requests import SharedRequests

logger = logging.getLogger(__name__)


class LocalLM:
    """A causal LM served in-process; ``dspy.LM(lm.model_string)`` routes calls to it.

    ``model`` is a registry name (see :func:`gcop.lm.available_models`), an HF hub id or local
    folder, or a loaded ``PreTrainedModel`` (then pass ``tokenizer``). ``adapter_path`` applies a
    saved peft adapter on load. ``base`` names where a loaded ``PeftModel``'s base weights come
    from (a registry name, hub id or folder), so that :meth:`save` writes only the adapter.
    ``dtype="auto"`` loads bfloat16 where the CPU or GPU computes it natively and float32
    elsewhere (see :mod:`gcop.lm.precision`); name a dtype to override.
    ``max_batch_size`` rows share one decoded batch: on CPU, bigger batches raise throughput
    until the matrix units are busy (32 rows measured best for a 0.5B model on 2 cores).
    ``max_batch_tokens`` caps rows × (longest prompt + new tokens) per call; a batch over it runs
    as several calls grouped by prompt length (wide prompts beside short ones exhausted 24 GB).
    ``share_prefix`` prefills the prompt prefix all rows of a call share once (see
    :mod:`gcop.lm.shared_prefix`); turn it off only to measure what it saves.
    ``batch_invariant`` computes every row as it would be computed alone, so a greedy or seeded
    reply does not depend on which requests share its batch (:mod:`gcop.lm.batch_invariance`);
    turn it off to measure what it costs.
    A greedy or seeded request identical to one in flight waits for that one's answer
    (:mod:`gcop.lm.shared_requests`).
    """

    def __init__(
        self,
        model: Any,
        *,
        name: str | None = None,
        tokenizer: Any = None,
        max_batch_size: int = 32,
        max_batch_tokens: int = 24_576,
        batch_wait_s: float = 0.05,
        adapter_path: str | Path | None = None,
        base: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        share_prefix: bool = True,
        batch_invariant: bool = True,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if base is not None and isinstance(model, str | Path):
            raise ValueError("base only applies to a loaded model: one loaded by name is its base")
        if base is not None:
            check_source(base)
        self._base = base
        self._base_fingerprint: str | None = None  # what the base must match, from a save
        self._source: str | None = None
        self._model: Any = None
        self._tokenizer: Any = tokenizer
        self._modified = False  # True once weights differ from what ``_source`` names
        self._weights_id: str | None = None  # digest of the served weights, computed on first use
        if isinstance(model, str | Path):
            self._source = str(model)
            check_source(self._source)
        elif callable(getattr(model, "generate", None)):
            if tokenizer is None:
                raise ValueError("LocalLM(model=<loaded model>) needs tokenizer=<its tokenizer>")
            if adapter_path is not None:
                raise ValueError(
                    "adapter_path only applies to models loaded by name; for a loaded model pass "
                    "peft.PeftModel.from_pretrained(model, adapter_path) instead"
                )
            self._model, self._modified = model, True
        else:
            raise TypeError(
                f"model must be a registry name, hub id, folder or PreTrainedModel, got {model!r}"
            )
        self._name = name or default_name(model)
        if not re.fullmatch(r"[\w.\-]+", self._name):
            raise ValueError(f"name {self._name!r} may only use letters, digits, '.', '_' and '-'")
        self.adapter_path = Path(adapter_path) if adapter_path is not None else None
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.device = device
        self.dtype = dtype
        self.max_batch_tokens = max_batch_tokens
        self.share_prefix = share_prefix
        self.batch_invariant = batch_invariant
        self._load_lock = threading.RLock()
        self._tokenizer_lock = threading.Lock()  # fast tokenizers are not safe across threads
        self._eos_ids: list[int] | None = None
        self.stats = BatchStats()  # rows, decoding steps and kept tokens of every batch
        self._batcher: MicroBatcher[GenRequest, ChatCompletion] = MicroBatcher(
            self._run_batch,
            max_batch_size=max_batch_size,
            max_wait_s=batch_wait_s,
            size=lambda request: request.rows,
            name=f"gcop-local-{self._name}",
        )
        self._requests = SharedRequests(self._batcher.submit)
        provider.register_backend(self._name, self)

    # --- identity --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_string(self) -> str:
        """What ``dspy.LM`` / LiteLLM take: ``"local/<name>"``."""
        return f"{provider.PROVIDER}/{self._name}"

    @property
    def model(self) -> Any:
        """The served ``PreTrainedModel`` (or ``PeftModel``), loaded on first access."""
        self._load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self._load_tokenizer()
        return self._tokenizer

    @property
    def batches_run(self) -> int:
        """How many batches served requests so far."""
        return self._batcher.batches_run

    @property
    def shared_requests(self) -> int:
        """How many requests were answered by an identical one already in flight."""
        return self._requests.shared

    @property
    def base(self) -> str | None:
        """Where the weights under this model's LoRA adapter come from (for a model without one:
        its own source); ``None`` when no registry name, hub id or folder holds them."""
        if self._base is not None:
            return self._base
        if self._source is not None and (not self._modified or is_peft(self._model)):
            return self._source
        return None

    @property
    def weights_id(self) -> str:
        """16 hex digits naming the weights served now (loading them if need be): they change
        when the weights do (:meth:`set_model`), so DSPy's cache, which keys on the model's name,
        never answers for other weights under the same name (see :mod:`gcop.lm.metered`)."""
        with self._load_lock:
            if self._weights_id is None:
                from gcop.lm.weights import weights_digest

                self._weights_id = weights_digest(self.model.state_dict(), digest_size=8)
            return self._weights_id

    def spec(self) -> dict[str, Any]:
        """A JSON-serializable description (the model source is ``None`` for in-memory models)."""
        return {
            "format": "gcop.LocalLM/1",
            "model": self._source,
            "base": self.base,
            "name": self._name,
            "adapter_path": str(self.adapter_path) if self.adapter_path else None,
            "max_batch_size": self._batcher.max_batch_size,
            "max_batch_tokens": self.max_batch_tokens,
            "batch_wait_s": self._batcher.max_wait_s,
            "device": self.device,
            "dtype": self.dtype,
        }

    def __repr__(self) -> str:
        return f"LocalLM({self._source or '<in-memory model>'!r}, name={self._name!r})"

    def __deepcopy__(self, memo: dict) -> LocalLM:
        return self  # a handle to shared weights: copying a DSPy program must not copy the model

    # --- loading ---------------------------------------------------------------------------

    def _load_tokenizer(self) -> None:
        if self._tokenizer is not None:
            return
        with self._load_lock:
            if self._tokenizer is None:
                self._tokenizer = local_folder.load_tokenizer(self._source)

    def _load(self) -> None:
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            start = time.monotonic()
            logger.info("loading %s", self._source)
            device = str(self.device or default_device())
            dtype = pick_dtype(self.dtype, device)
            model, tokenizer = local_folder.load_model(self._source, device, dtype)
            self._tokenizer = self._tokenizer or tokenizer
            if self.adapter_path is not None:
                model = local_folder.apply_adapter(
                    model, self.adapter_path, self._base_fingerprint, self._source
                )
            model.eval()
            self._load_tokenizer()
            self._model = model
            logger.info(
                "loaded %s (%s on %s) in %.1f s",
                self._source,
                str(dtype).removeprefix("torch."),
                device,
                time.monotonic() - start,
            )

    def set_model(self, model: Any, tokenizer: Any = None) -> None:
        """Serve ``model`` (e.g. a trained ``PeftModel``) from now on; running batches end first."""
        if not callable(getattr(model, "generate", None)):
            raise TypeError(f"set_model needs a model with .generate(), got {type(model).__name__}")
        self._load_tokenizer()
        with self._batcher.exclusive():
            self._requests.forget_all()
            self._model = model
            self._modified = True
            self._weights_id = None
            self._eos_ids = None
            if tokenizer is not None:
                self._tokenizer = tokenizer

    def close(self) -> None:
        """Stop serving ``local/<name>`` and free the weights if they can be reloaded by name."""
        with self._batcher.exclusive():
            try:
                if provider.get_backend(self._name) is self:
                    provider.unregister_backend(self._name)
            except ValueError:
                pass
            if self._source is not None and not self._modified:
                self._model = None

    # --- inference -------------------------------------------------------------------------

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The exact text the model sees for ``messages`` (chat template + generation prompt)."""
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"the tokenizer of {self._name!r} has no chat template; pass a chat/instruct model "
                "or set tokenizer.chat_template"
            )
        with self._tokenizer_lock:
            return tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | str | None = None,
        seed: int | None = None,
    ) -> ChatCompletion:
        """Answer one chat request (blocks; concurrent calls share batches)."""
        request = self._request(messages, n, max_tokens, temperature, top_p, stop, seed)
        self._load()
        return self._requests.submit(request).result()

    def _request(self, messages, n, max_tokens, temperature, top_p, stop, seed) -> GenRequest:
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts")
        text = self.chat_prompt(messages)
        with self._tokenizer_lock:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return GenRequest.build(
            ids,
            context=self._context_size(),
            n=n,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
        )

    def _context_size(self) -> int:
        config = getattr(self.model, "config", None)
        get_text_config = getattr(config, "get_text_config", None)
        text_config = get_text_config() if callable(get_text_config) else config
        return int(getattr(text_config, "max_position_embeddings", None) or 1 << 20)

    def _run_batch(self, requests: list[GenRequest]) -> list[ChatCompletion]:
        if self._eos_ids is None:
            self._eos_ids = stop_token_ids(self._model, self._tokenizer)
        results: list[ChatCompletion | None] = [None] * len(requests)
        # One batch at a time per device: two models generating at once on the same CPU cores
        # slow each other down, while requests that wait here join the next, fuller batch.
        with device_lock(self._model):
            for chunk in token_chunks(requests, self.max_batch_tokens):
                done = generate_batch(
                    self._model,
                    self._tokenizer,
                    [requests[i] for i in chunk],
                    eos_ids=self._eos_ids,
                    stats=self.stats,
                    share_prefix=self.share_prefix,
                    batch_invariant=self.batch_invariant,
                )
                for i, result in zip(chunk, done, strict=True):
                    results[i] = result
        return results

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write a spec plus whatever weights differ from the named source; returns ``path``.

        A LoRA model over a known :attr:`base` saves its adapter alone, with the base's name and
        a fingerprint of its weights that :meth:`load` checks. A model loaded from a folder (a
        path, or an earlier save) has that folder copied in, so the saved LocalLM never depends
        on another folder."""
        return local_folder.save(self, path)

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> LocalLM:
        """Rebuild a :meth:`save`d LocalLM (lazily: weights load on first use)."""
        return local_folder.load(cls, path, **overrides)
