"""GRPO (§3.5): refine the guide with a reward for strategies this core executes well.

- ``trainer.py``: :func:`train_grpo`, TRL's ``GRPOTrainer`` set up for the guide;
- ``guide_reward.py``: runs the core (and the judge) on each sampled strategy;
- ``rewards.py``: the reward's math, pure functions; ``judge.py``: the strategy judge.
"""
