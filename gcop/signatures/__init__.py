"""Typed DSPy signatures: a guide (task → strategy) and a core (task → answer) per task family.

The core signatures take no ``strategy`` field: :class:`gcop.Core` hands the strategy to every
predictor through its adapter, so the same signature serves guided and unguided (core-only) runs,
and existing user programs need no new field.
"""

from gcop.signatures.code import CodeGuide, CodeSolve
from gcop.signatures.math import MathGuide, MathSolve

__all__ = ["CodeGuide", "CodeSolve", "MathGuide", "MathSolve"]
