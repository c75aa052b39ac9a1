"""The code tasks' strategy kit: what the MBPP dev study found this core executes.

A code plan in words reaches the core as comments in the function's skeleton
(:func:`.skeleton.render_skeleton`), the form in which the small coder core carried out the
reference plans best (docs/evidence.md §8). A plan whose first step names no function to write
cannot be put in a skeleton: the core then runs alone, as GSM8K's calculator leaves a plan it
cannot compute.

>>> print(KIT.render("1. Write `double(x)`; it returns a number.\\n2. Return twice `x`."))
Complete this skeleton; each comment is one step:
```python
def double(x):
    # returns a number
    # Return twice x.
```
"""

from __future__ import annotations

from gcop.modules.strategy_kit import StrategyKit, register_kit
from gcop.tasks.code.skeleton import render_skeleton

__all__ = ["KIT"]

KIT = register_kit(StrategyKit("code", render=render_skeleton))
