"""Acceptance sampling (§3.4, §A.6): keep the teacher's strategies that this core executes well.

- ``run.py``: :func:`run_acceptance`, the entry point;
- ``progress.py``: input checks and each task's progress; ``sampler.py``: the scheduling loop;
- ``calls.py``: teacher and core calls with retries; ``budget.py``: call and dollar budgets;
- ``rules.py``: when a proposal's trials settle its verdict; ``records.py``: what is recorded;
- ``store.py``: records on disk, so a rerun resumes;
- ``teacher_prompts.py``: what the teacher is asked; ``leakage.py``: strategies that give away
  the answer; ``certificate.py``: the bound on how well the core executes the accepted ones.
"""
