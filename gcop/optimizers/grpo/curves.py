"""Learning curves for GRPO with a plan verifier: every N steps, how good are the guide's plans?

:class:`PlanCurves` is a transformers ``TrainerCallback``. At the start of training (step 0) and
every ``every`` steps it samples plans from the model being trained for a fixed dev slice and
appends one JSON line to ``path``:

- ``greedy_right_rate``: the mean verifier score of the greedy plans (pass@1 at temperature 0);
- ``pass_at_k``: on the first ``pass_n`` dev examples, the mean over examples of the best
  verifier score among ``k`` sampled plans;
- ``zero_advantage_share``: the mean share of groups with equal rewards over the steps since the
  last point (gcop's reward's count; TRL's ``frac_reward_zero_std`` where the reward logs none,
  which misses flat groups whose float32 std is a few 1e-8 off 0, such as eight rewards of
  −0.4), and the mean training ``reward``;
- ``mean_plan_tokens`` and ``valid_rate`` of the greedy completions;
- ``kl_to_start``: KL(current ‖ starting guide) per plan in nats, estimated on one sampled plan
  per pass@k example as the mean of log p_current − log p_start (needs a LoRA guide: the
  starting adapter's weights are kept and swapped in for the measurement). The estimate is
  unbiased but noisy: on a few examples it can come out below 0.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback  # imported only where GRPO trains, never by `import gcop`

from gcop.lm.head_input import contiguous_head_input
from gcop.modules.guide import Guide
from gcop.optimizers.grpo.plan_reward import PlanVerifier
from gcop.optimizers.grpo.rewards import as_score, rounded_mean
from gcop.optimizers.grpo.rollout import sample_rows
from gcop.strategy import parse_strategy

logger = logging.getLogger(__name__)


class PlanCurves(TrainerCallback):
    """Append learning-curve points to ``path`` (JSON lines) every ``every`` optimizer steps.

    Args:
        guide: the starting guide (its signature, token budget and tokenizer; its LoRA weights
            are the reference of ``kl_to_start``).
        devset: the fixed dev slice (examples with the guide's input fields).
        verifier: ``verifier(strategy, example) -> float | None`` (None counts as 0).
        path: the JSON-lines file; points are appended, so a resumed run continues it.
        every: steps between points.
        at_start: also take a point before the first step (False where the starting guide
            was measured already).
        k, pass_n: pass@k over the first ``pass_n`` dev examples (``pass_n=0``: none).
        temperature: sampling temperature for pass@k.
        max_new_tokens: the completion cap (as in GRPO).
        batch_size: prompts per ``generate`` call.
    """

    def __init__(
        self,
        guide: Guide,
        devset: Sequence[Any],
        verifier: PlanVerifier,
        path: str | Path,
        *,
        every: int = 25,
        k: int = 8,
        pass_n: int = 25,
        temperature: float = 1.0,
        max_new_tokens: int = 96,
        batch_size: int = 16,
        at_start: bool = True,
    ) -> None:
        if every < 1 or k < 1 or pass_n < 0:
            raise ValueError("PlanCurves needs every ≥ 1, k ≥ 1 and pass_n ≥ 0")
        if not devset:
            raise ValueError("PlanCurves needs a non-empty devset")
        self.guide, self.devset, self.verifier = guide, list(devset), verifier
        self.path = Path(path)
        self.every, self.k, self.pass_n = every, k, min(pass_n, len(devset))
        self.temperature, self.max_new_tokens, self.batch_size = (
            temperature,
            max_new_tokens,
            batch_size,
        )
        model = guide.local_lm.model
        self._start = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
        self._last_step = -1
        self.at_start = at_start

    # --- transformers callback hooks -------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step == 0 and self.at_start:
            self.evaluate(model, processing_class, state)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step % self.every == 0 and state.global_step != self._last_step:
            self.evaluate(model, processing_class, state)

    # --- the measurement -------------------------------------------------------------------

    def evaluate(self, model: Any, tokenizer: Any, state: Any) -> dict[str, Any]:
        """Measure the current model on the dev slice, append the point and return it."""
        import torch

        start = time.perf_counter()
        contiguous_head_input(model)  # a frozen head would copy its weight per row (gcop.lm)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                greedy = self._generate(model, tokenizer, self.devset, 1, sample=False)
                sampled = (
                    self._generate(model, tokenizer, self.devset[: self.pass_n], self.k, True)
                    if self.pass_n
                    else []
                )
                kl = self._kl(model, tokenizer, sampled) if sampled else None
        finally:
            model.train(was_training)
        greedy_scores = [self._score(text, ex) for ex, texts in greedy for text, _ in texts]
        point = {
            "step": int(state.global_step),
            "time": round(time.time(), 1),
            "n_dev": len(self.devset),
            "greedy_right_rate": rounded_mean([s for s, _ in greedy_scores]),
            "valid_rate": rounded_mean([float(ok) for _, ok in greedy_scores]),
            "mean_plan_tokens": rounded_mean([float(n) for _, texts in greedy for _, n in texts]),
            "k": self.k,
            "n_pass": self.pass_n,
            "pass_at_k": rounded_mean(
                [max(self._score(t, ex)[0] for t, _ in texts) for ex, texts in sampled]
            )
            if sampled
            else None,
            "kl_to_start": kl,
            **self._training_stats(state),
            "eval_s": round(time.perf_counter() - start, 1),
        }
        self._last_step = point["step"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps(point) + "\n")
        logger.info("GRPO curve point: %s", point)
        return point

    def _score(self, text: str, example: Any) -> tuple[float, bool]:
        parse = parse_strategy(
            text, token_budget=self.guide.token_budget, count_tokens=self.guide.count_tokens
        )
        if not parse.valid:
            return 0.0, False
        return as_score(self.verifier(parse.strategy, example)), True

    def _prompts(self, tokenizer: Any, examples: Sequence[Any]) -> list[str]:
        fields = list(self.guide.signature.input_fields)
        return [
            tokenizer.apply_chat_template(
                self.guide.messages(**{f: ex[f] for f in fields}),
                tokenize=False,
                add_generation_prompt=True,
            )
            for ex in examples
        ]

    def _generate(self, model, tokenizer, examples, n: int, sample: bool):
        """``[(example, [(completion text, completion tokens), …n]), …]``; samples share their
        prompt's prefill (:func:`~gcop.optimizers.grpo.rollout.sample_rows`)."""
        if sample:
            return self._sample(model, tokenizer, examples, n)
        results = []
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            for first in range(0, len(examples), self.batch_size):
                chunk = examples[first : first + self.batch_size]
                batch = tokenizer(
                    self._prompts(tokenizer, chunk), return_tensors="pt", padding=True
                )
                batch = batch.to(model.device)
                out = model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    num_return_sequences=n,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
                new = out[:, batch["input_ids"].shape[1] :]
                for j, example in enumerate(chunk):
                    rows = new[j * n : (j + 1) * n]
                    texts = []
                    for row in rows:
                        ids = [t for t in row.tolist() if t != tokenizer.pad_token_id]
                        texts.append((tokenizer.decode(ids, skip_special_tokens=True), len(ids)))
                    results.append((example, texts))
        finally:
            tokenizer.padding_side = side
        return results

    def _sample(self, model, tokenizer, examples, n: int):
        eos = {tokenizer.eos_token_id, *_ids(model.generation_config.eos_token_id)}
        results = []
        for first in range(0, len(examples), self.batch_size):
            chunk = examples[first : first + self.batch_size]
            prompts = [
                tokenizer(p, add_special_tokens=False)["input_ids"]
                for p in self._prompts(tokenizer, chunk)
            ]
            rows = [i for i in range(len(chunk)) for _ in range(n)]
            tokens, _ = sample_rows(
                model,
                prompts,
                rows,
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature,
                eos_ids=eos,
                pad_id=tokenizer.pad_token_id,
            )
            for j, example in enumerate(chunk):
                texts = [
                    (tokenizer.decode(ids, skip_special_tokens=True), len(ids))
                    for ids in tokens[j * n : (j + 1) * n]
                ]
                results.append((example, texts))
        return results

    def _kl(self, model: Any, tokenizer: Any, sampled) -> float | None:
        """Mean over sampled plans (the first of each example's) of log p_current(plan) −
        log p_start(plan), in nats."""
        params = dict(model.named_parameters())
        if not self._start or any(name not in params for name in self._start):
            return None
        pairs = [(ex, texts[0][0]) for ex, texts in sampled]
        current = self._logprobs(model, tokenizer, pairs)
        saved = {name: params[name].detach().clone() for name in self._start}
        try:
            for name, value in self._start.items():
                params[name].data.copy_(value)
            start = self._logprobs(model, tokenizer, pairs)
        finally:
            for name, value in saved.items():
                params[name].data.copy_(value)
        return round(sum(c - s for c, s in zip(current, start, strict=True)) / len(pairs), 6)

    def _logprobs(self, model: Any, tokenizer: Any, pairs) -> list[float]:
        import torch

        values = []
        for ex, text in pairs:
            prompt = self._prompts(tokenizer, [ex])[0]
            prompt_ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
            completion_ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
            completion_ids = completion_ids["input_ids"]
            if completion_ids.shape[1] == 0:
                values.append(0.0)
                continue
            ids = torch.cat([prompt_ids, completion_ids], dim=1).to(model.device)
            logits = model(input_ids=ids).logits[0, prompt_ids.shape[1] - 1 : -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            target = completion_ids[0].to(model.device)
            values.append(float(logp.gather(1, target[:, None]).sum()))
        return values

    def _training_stats(self, state: Any) -> dict[str, Any]:
        """Means of the logged reward and zero-advantage share over the steps since the last
        point."""
        since = max(0, state.global_step - self.every)  # a resumed run's log holds earlier steps
        logs = [e for e in state.log_history if e.get("step", 0) > since]
        zero = [_zero_advantage_share(e) for e in logs]
        zero = [share for share in zero if share is not None]
        reward = [e["reward"] for e in logs if "reward" in e]
        return {
            "zero_advantage_share": rounded_mean(zero) if zero else None,
            "train_reward": rounded_mean(reward) if reward else None,
        }


def _zero_advantage_share(entry: dict[str, Any]) -> float | None:
    """One log entry's share of flat groups: gcop's exact count where its reward logged one
    (TRL's float32 std test, ``isclose(std, 0)``, reads eight equal rewards of −0.4 as a std of
    3e-8 and the group as mixed)."""
    return entry.get("gcop/zero_advantage_groups", entry.get("frac_reward_zero_std"))


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
