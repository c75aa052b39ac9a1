"""GRPO (§3.5): refine the guide with a reward for strategies this core executes well.

- ``trainer.py``: :func:`train_grpo`, TRL's ``GRPOTrainer`` set up for the guide;
- ``guide_reward.py``: runs the core (and the judge) on each sampled strategy;
- ``plan_reward.py``: a task's plan verifier scores the plans, the core a share of the groups;
- ``rewards.py``: the reward's math, pure functions; ``judge.py``: the strategy judge;
- ``groups.py``: what a group's rewards teach; ``checkpoints.py``: saving and resuming;
- ``curves.py``: learning-curve points on a dev slice (a trainer callback).
"""
