"""TRL's ``GRPOTrainer`` with gcop's handling of a step's groups.

- **Group scoring** (``share_prefix``): the loss runs each prompt once per step
  (:func:`~gcop.optimizers.grpo.group_scoring.prefix_shared_logps`), not once per completion;
  in a one-process run (under ``accelerate launch`` the wrapped model's own forward keeps the
  processes' gradients in step).
- **Flat rows skipped**: a group whose samples all scored alike gets advantage exactly 0 (TRL's
  float32 group mean can leave it a last-bit remainder); its rows add nothing to the gradient
  when the loss has no KL term (``beta=0``) and divides by the whole step's token count
  (``loss_type`` "dapo", TRL's default, or "cispo"); they are left out of the forward pass then
  (in a one-process run), so a step costs what its informative groups cost.
- **Dynamic sampling** (``extra_draws``): DAPO's refill of a step with mixed groups
  (:mod:`~gcop.optimizers.grpo.dynamic_sampling`).

This module imports TRL; :func:`gcop.optimizers.grpo.trainer.grpo_trainer` imports it when a run
starts.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from gcop.optimizers.grpo.batch_rows import row_count, select_rows
from gcop.optimizers.grpo.dynamic_sampling import extra_questions, fill_with_mixed_groups
from gcop.optimizers.grpo.group_scoring import prefix_shared_logps
from gcop.optimizers.grpo.groups import zero_flat_groups

# loss types whose per-step normaliser does not depend on which rows a micro-batch holds
_STEP_NORMALISED_LOSSES = ("dapo", "cispo")


class GuideGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` that scores a group's prompt once (``share_prefix``), skips rows without
    advantage where that is exact, and refills steps with mixed groups (``extra_draws`` > 0)."""

    def __init__(
        self, *args: Any, share_prefix: bool = True, extra_draws: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.share_prefix, self.extra_draws = share_prefix, extra_draws
        if extra_draws and (
            self.accelerator.num_processes > 1 or self.args.steps_per_generation > 1
        ):
            raise ValueError(
                "dynamic sampling (grpo_dynamic_sampling > 0) trains each step in one pass on one "
                "process: leave grpo_args' per_device_train_batch_size, "
                "gradient_accumulation_steps and steps_per_generation unset, and launch one process"
            )

    def skips_flat_rows(self) -> bool:
        """Whether rows with zero advantage can be left out without changing the gradient. Not
        on several processes: TRL's loss gathers one value per row from each of them, which
        needs the same number of rows everywhere."""
        return (
            self.accelerator.num_processes == 1
            and self.beta == 0.0
            and self.loss_type in _STEP_NORMALISED_LOSSES
            and self.top_entropy_quantile == 1.0
            and not getattr(self, "_entropy_bonus_enabled", False)
            and not self.aux_loss_enabled
        )

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self._scored(inputs)
        if not self.extra_draws or not self.model.training:
            return batch
        size, step = self.num_generations, self.state.global_step
        questions = row_count(batch) // size

        def draw(k: int) -> dict[str, Any]:
            picks = extra_questions(len(self.train_dataset), questions, self.args.seed, step, k)
            return self._scored([self.train_dataset[i] for i in picks for _ in range(size)])

        batch, draws = fill_with_mixed_groups(
            batch, draw, group_size=size, extra_draws=self.extra_draws
        )
        self._metrics["train"]["gcop/extra_draws"].append(float(draws))
        self._metrics["train"]["gcop/trained_groups"].append(row_count(batch) / size)
        return batch

    def _scored(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """TRL's sampled and scored batch, its flat groups' advantages set to exactly 0 (where
        this process holds whole groups: one process)."""
        batch = super()._generate_and_score_completions(inputs)
        advantages = batch["advantages"]
        if self.accelerator.num_processes == 1 and advantages.dim() == 1:
            batch["advantages"] = zero_flat_groups(advantages, self.num_generations)
        return batch

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        advantages = inputs["advantages"]
        if self.skips_flat_rows() and advantages.dim() == 1:
            keep = advantages != 0
            if not bool(keep.any()):
                keep[0] = True  # an all-flat micro-batch keeps one row: a zero loss to step on
            if not bool(keep.all()):
                inputs = select_rows(inputs, keep)
        return super()._compute_loss(model, inputs)

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **multimodal: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        text_only = all(value is None for value in multimodal.values())
        # one process: a model wrapped for data parallelism must run its own forward to sync
        alone = self.accelerator.num_processes == 1
        if not (self.share_prefix and alone and text_only and not compute_aux_loss):
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        with self.accelerator.autocast():
            logps, entropies = prefix_shared_logps(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                temperature=self.temperature,
                compute_entropy=compute_entropy,
            )
        return logps, entropies, None
