"""The ICL baseline: the core alone, shown the 3 training pairs nearest to each task."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dspy

from gcop.cost import CallRecord, CostLedger, record_call
from gcop.lm.resolve import check_routable
from gcop.modules.core import Core

_WORD = re.compile(r"[a-z0-9]+")


class TfidfEmbedder:
    """A dependency-free TF-IDF embedder: the offline default for nearest-neighbour retrieval."""

    def __init__(self, corpus: Sequence[str]) -> None:
        docs = [Counter(_WORD.findall(text.lower())) for text in corpus]
        n = len(docs)
        frequency = Counter(word for doc in docs for word in doc)
        self.idf = {word: math.log((1 + n) / (1 + df)) + 1.0 for word, df in frequency.items()}

    def __call__(self, texts: Sequence[str]) -> list[dict[str, float]]:
        vectors = []
        for text in texts:
            counts = Counter(_WORD.findall(text.lower()))
            vector = {w: c * self.idf[w] for w, c in counts.items() if w in self.idf}
            norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
            vectors.append({w: v / norm for w, v in vector.items()})
        return vectors


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return sum(value * large.get(word, 0.0) for word, value in small.items())


class LiteLLMEmbedder:
    """Embeddings from any LiteLLM embedding model (e.g. ``openai/text-embedding-3-small``).

    An embedding model is not a chat LM, so :func:`~gcop.lm.resolve.resolve_lm`'s local and
    planner names do not apply: the model is checked as a LiteLLM route, and each call is
    recorded in ``ledger`` (role ``embedder``) as a ``MeteredLM`` records a chat call.
    """

    def __init__(self, model: str, ledger: CostLedger | None = None) -> None:
        check_routable(model)
        self.model = model
        self.ledger = ledger if ledger is not None else CostLedger()

    def __call__(self, texts: Sequence[str]) -> list[dict[int, float]]:
        import litellm

        start = time.perf_counter()
        try:
            response = litellm.embedding(model=self.model, input=list(texts), num_retries=0)
        except Exception as error:
            self._record(0, time.perf_counter() - start, f"{type(error).__name__}: {error}")
            raise
        usage = getattr(response, "usage", None)
        self._record(int(getattr(usage, "prompt_tokens", 0) or 0), time.perf_counter() - start)
        vectors = []
        for item in response.data:
            values = item["embedding"]
            norm = math.sqrt(sum(v * v for v in values)) or 1.0
            vectors.append({i: v / norm for i, v in enumerate(values)})
        return vectors

    def _record(self, tokens: int, latency_s: float, error: str | None = None) -> None:
        record = CallRecord(
            model=self.model,
            role="embedder",
            prompt_tokens=tokens,
            completion_tokens=0,
            latency_s=latency_s,
            dollars=self.ledger.price(self.model, tokens, 0),
            error=error,
        )
        record_call(self.ledger, record)


class ICLPolicy(dspy.Module):
    """Core + in-context examples: the ``shots`` training pairs most similar to the task.

    Args:
        core: the :class:`~gcop.modules.core.Core` (a ``dspy.Predict`` program: demos are passed
            to it per call).
        trainset: training examples holding the core's input and output fields (a task's
            ``demos(examples)`` fills the outputs in from its references).
        shots: how many nearest pairs to show (3 in the paper).
        embedding_model: a LiteLLM embedding model, its calls metered into the core's ledger;
            TF-IDF over the inputs when omitted.
    """

    def __init__(
        self,
        core: Core,
        trainset: Sequence[dspy.Example],
        *,
        shots: int = 3,
        embedding_model: str | None = None,
    ) -> None:
        super().__init__()
        if not trainset:
            raise ValueError("ICLPolicy needs a non-empty trainset to retrieve examples from")
        if not isinstance(core.program, dspy.Predict):
            raise TypeError("ICLPolicy needs a Core built from a signature (a dspy.Predict)")
        outputs = list(core.program.signature.output_fields)
        for index, example in enumerate(trainset):
            missing = [name for name in outputs if name not in example]
            if missing:  # an adapter drops such a demo without a word: the core would run alone
                raise ValueError(
                    f"ICLPolicy: training example {index} has no {', '.join(map(repr, missing))} "
                    "(the core's output): pass worked examples, e.g. task.demos(trainset)"
                )
        self.core = core
        self.shots = shots
        self.input_fields = list(core.program.signature.input_fields)
        self.pool = list(trainset)
        texts = [self._text(example) for example in self.pool]
        self.embed = (
            LiteLLMEmbedder(embedding_model, core.ledger)
            if embedding_model
            else TfidfEmbedder(texts)
        )
        self.vectors = self.embed(texts)

    def _text(self, example: Any) -> str:
        return "\n".join(str(example[name]) for name in self.input_fields)

    def nearest(self, inputs: dict[str, Any]) -> list[dspy.Example]:
        """The ``shots`` training examples most similar to ``inputs`` (most similar first)."""
        query = self.embed([self._text(inputs)])[0]
        ranked = sorted(
            range(len(self.pool)), key=lambda i: _cosine(query, self.vectors[i]), reverse=True
        )
        return [self.pool[i] for i in ranked[: self.shots]]

    def forward(self, **inputs: Any) -> dspy.Prediction:
        return self.core(strategy=None, demos=self.nearest(inputs), **inputs)
