"""GSM8K grade-school math (Cobbe et al. 2021) as a gcop task: data and exact-match metric
(:mod:`.data`), a calculator for plans (:mod:`.calculator`), offline privileged planners
(:mod:`.planner`), the reference-plan ceiling (:mod:`.ceiling`), and :data:`KIT` and
:data:`TASK` that put them together.

>>> TASK.kit.name, sorted(TASK.teachers)
('gsm8k', ['reference-planner', 'symbolic-planner', 'worded-planner'])
"""

from gcop.tasks.gsm8k.data import (
    CORE_SIGNATURE,
    GUIDE_SIGNATURE,
    exact_match,
    extract_number,
    gold_answer,
    load,
    metric,
)
from gcop.tasks.gsm8k.kit import KIT, TASK

__all__ = [
    "CORE_SIGNATURE",
    "GUIDE_SIGNATURE",
    "KIT",
    "TASK",
    "exact_match",
    "extract_number",
    "gold_answer",
    "load",
    "metric",
]
