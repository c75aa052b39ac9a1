"""Optimizers: ExecTune, in three phases.

- ``acceptance/``: the teacher proposes strategies, the core executes them, the ones it executes
  well are kept (§3.4, §A.6);
- ``sft.py``: the guide learns the accepted strategies (``guide_training.py`` holds what SFT and
  GRPO share);
- ``grpo/``: the guide is refined with a shaped reward (§3.5).

``exectune.py`` runs the phases in order; ``config.py`` holds their settings. The Advisor and ICL
baselines are in :mod:`gcop.baselines`.
"""
