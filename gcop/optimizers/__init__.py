"""Optimizers: ExecTune (acceptance sampling → SFT → GRPO) and the Advisor and ICL baselines."""
