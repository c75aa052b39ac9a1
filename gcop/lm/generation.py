"""One left-padded batch for many chat requests, each with its own sampling settings.

The prompt prefix all rows share is prefilled once (:mod:`gcop.lm.shared_prefix`); each row leaves
the batch when it ends (:mod:`gcop.lm.decode_loop`).

Every row carries its own temperature, top-p, token budget, stop strings and random stream, so
requests with different settings share a batch and a seeded request samples the same text whatever
else is in its batch (sampling: :mod:`gcop.lm.row_sampling`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from gcop.extras import optional_imports
from gcop.lm.batch_invariance import each_row_as_alone
from gcop.lm.decode_loop import decode
from gcop.lm.head_input import contiguous_head_input
from gcop.lm.provider import ChatCompletion
from gcop.lm.row_sampling import RowSampler
from gcop.lm.shared_prefix import shared_prefix_cache, shared_prefix_length

DEFAULT_MAX_TOKENS = 1024  # when a caller gives no max_tokens (still capped by the context)
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


@dataclass(frozen=True)
class GenRequest:
    """A tokenized chat request: ``n`` completions of ``prompt_ids``."""

    prompt_ids: tuple[int, ...]
    n: int = 1
    max_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @classmethod
    def build(
        cls,
        prompt_ids: Sequence[int],
        *,
        context: int,
        n: int = 1,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | str | None = None,
        seed: int | None = None,
    ) -> GenRequest:
        """Validate API-style sampling options; ``context`` is the model's context size."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be a positive integer or None, got {max_tokens!r}")
        if temperature is not None and temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 or None = greedy), got {temperature}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        room = context - len(prompt_ids)
        if room < 1:
            raise ValueError(
                f"the prompt's {len(prompt_ids)} tokens fill the model's {context}-token context; "
                "shorten the messages"
            )
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return cls(
            prompt_ids=tuple(prompt_ids),
            n=n,
            max_tokens=min(max_tokens or DEFAULT_MAX_TOKENS, room),
            temperature=float(temperature or 0.0),
            top_p=float(1.0 if top_p is None else top_p),
            stop=tuple(s for s in stops if s),
            seed=seed,
        )

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @property
    def reproducible(self) -> bool:
        """Whether the request has one answer: greedy, or sampled with a seed."""
        return self.greedy or self.seed is not None

    @property
    def rows(self) -> int:
        """Rows this request takes in a batch: greedy samples are identical, so one suffices."""
        return 1 if self.greedy else self.n


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end a turn: the tokenizer's and generation config's EOS, plus known ones."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list | tuple) else [configured])
    vocab = tokenizer.get_vocab()
    ids.update(vocab[token] for token in END_OF_TURN if token in vocab)
    return sorted(i for i in ids if i is not None)


@dataclass
class BatchStats:
    """Running totals over decoded batches: how much of the decoding work was useful.

    A row leaves its batch when it ends (:mod:`gcop.lm.decode_loop`), so ``row_steps`` counts the
    forward passes of rows still writing. ``waste`` is the share of decoded row-steps that kept no
    token: near zero unless a stop string cuts a reply's tail.
    """

    batches: int = 0
    rows: int = 0
    row_steps: int = 0  # one per row per decoding step while the row is in its batch
    tokens: int = 0  # tokens kept in replies
    shared_prefill: int = 0  # prompt tokens not prefilled again thanks to a shared prefix

    @property
    def waste(self) -> float:
        return 1.0 - self.tokens / self.row_steps if self.row_steps else 0.0

    def add(self, rows: int, row_steps: int, tokens: int, *, shared_prefill: int = 0) -> None:
        self.batches += 1
        self.rows += rows
        self.row_steps += row_steps
        self.tokens += tokens
        self.shared_prefill += shared_prefill


def token_chunks(requests: Sequence[GenRequest], budget: int) -> list[list[int]]:
    """Split a batch, sorted by prompt length, into chunks whose padded size (rows × longest
    prompt plus new tokens) stays within ``budget``; returns indices into ``requests``.

    A left-padded batch costs every row the longest row's length in memory and prefill work, so
    one three-example ICL prompt beside 31 short ones would make all 32 rows that wide.

    >>> lengths = [GenRequest((0,) * n, max_tokens=10) for n in (90, 10, 10, 490)]
    >>> token_chunks(lengths, budget=300)
    [[1, 2, 0], [3]]
    """
    order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt_ids))
    chunks: list[list[int]] = []
    current: list[int] = []
    rows = width = 0
    for i in order:
        request = requests[i]
        wider = max(width, len(request.prompt_ids) + request.max_tokens)
        if current and (rows + request.rows) * wider > budget:
            chunks.append(current)
            current, rows = [], 0
            wider = len(request.prompt_ids) + request.max_tokens
        current.append(i)
        rows += request.rows
        width = wider
    if current:
        chunks.append(current)
    return chunks


@dataclass
class BatchInputs:
    """A batch's token ids and attention mask, laid out ``[shared prefix][padding][own tokens]``,
    and the key/value cache of the shared prefix (``None`` and ``shared == 0`` without one)."""

    input_ids: Any
    attention: Any
    cache: Any | None
    shared: int

    @classmethod
    def build(
        cls,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[Sequence[int]],
        eos_ids: Sequence[int],
        *,
        share_prefix: bool = True,
    ) -> BatchInputs:
        """Prefill the prefix all ``prompts`` share once (unless ``share_prefix`` is off) and
        left-pad the rest: without a shared prefix, plain left padding."""
        with optional_imports():
            import torch

        width = max(len(prompt) for prompt in prompts)
        shared = shared_prefix_length(prompts) if share_prefix else 0
        cache = shared_prefix_cache(model, prompts[0][:shared], len(prompts)) if shared else None
        if cache is None:
            shared = 0
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        input_ids[:, :shared] = torch.tensor(prompts[0][:shared], dtype=torch.long)
        attention[:, :shared] = 1
        for r, prompt in enumerate(prompts):
            start = width - (len(prompt) - shared)
            input_ids[r, start:] = torch.tensor(prompt[shared:], dtype=torch.long)
            attention[r, start:] = 1
        return cls(input_ids, attention, cache, shared)


def generate_batch(
    model: Any,
    tokenizer: Any,
    requests: Sequence[GenRequest],
    *,
    eos_ids: Sequence[int],
    stats: BatchStats | None = None,
    share_prefix: bool = True,
    batch_invariant: bool = True,
) -> list[ChatCompletion]:
    """Serve ``requests`` as one batch (totals added to ``stats``); the prompt prefix all rows
    share is prefilled once unless ``share_prefix`` is off. With ``batch_invariant`` each row's
    numbers are those it gets alone, so its reply does not depend on the rest of the batch
    (:mod:`gcop.lm.batch_invariance`)."""
    rows = [(request, i) for request in requests for i in range(request.rows)]
    prompts = [request.prompt_ids for request, _ in rows]
    stopper = _RowStopper(tokenizer, [request for request, _ in rows], eos_ids)
    device = next(model.parameters()).device
    contiguous_head_input(model)
    with each_row_as_alone(model) if batch_invariant else nullcontext():
        batch = BatchInputs.build(model, tokenizer, prompts, eos_ids, share_prefix=share_prefix)
        decoded = decode(
            model,
            batch.input_ids.to(device),
            batch.attention.to(device),
            cache=batch.cache,
            choose=RowSampler(rows).choose,
            ended=stopper,
        )
    lengths = [len(tokens) for tokens in decoded.tokens]
    if stats is not None:
        stats.add(
            len(rows),
            decoded.row_steps,
            sum(lengths),
            shared_prefill=batch.shared * (len(rows) - 1),
        )

    results, r = [], 0
    for request in requests:
        texts, reasons, used = [], [], 0
        for _ in range(request.rows):
            length = lengths[r]
            text, reason = _finish(tokenizer, decoded.tokens[r], request, decoded.reasons[r])
            texts.append(text)
            reasons.append(reason)
            used += length
            r += 1
        if request.greedy and request.n > 1:
            texts, reasons, used = texts * request.n, reasons * request.n, used * request.n
        results.append(ChatCompletion(texts, len(request.prompt_ids), used, reasons))
    return results


def _finish(tokenizer: Any, tokens: list[int], request: GenRequest, reason: str | None):
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    cuts = [index for stop in request.stop if (index := text.find(stop)) >= 0]
    if cuts:
        return text[: min(cuts)], "stop"
    return text, reason or "length"


class _RowStopper:
    """Why a row ends: an end-of-turn token or a stop string (``"stop"``), or its own token
    budget (``"length"``); ``None`` while it goes on."""

    def __init__(self, tokenizer: Any, requests: list[GenRequest], eos_ids) -> None:
        self.tokenizer = tokenizer
        self.requests = requests
        self.eos = set(eos_ids)
        self.tail = [max((len(s) for s in r.stop), default=0) + 4 for r in requests]

    def __call__(self, row: int, tokens: list[int]) -> str | None:
        request = self.requests[row]
        if tokens[-1] in self.eos:
            return "stop"
        if request.stop and self._hit_stop(tokens[-self.tail[row] :], request.stop):
            return "stop"
        return "length" if len(tokens) >= request.max_tokens else None

    def _hit_stop(self, window: list[int], stops: tuple[str, ...]) -> bool:
        text = self.tokenizer.decode(window, skip_special_tokens=True)
        return any(stop in text for stop in stops)
