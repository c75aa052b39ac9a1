"""A policy called with a keyword its signature does not take is refused, naming the fields it
does take, before any model call (issue 31: ``foo=`` ran with a DSPy warning and a garbage
answer)."""

import asyncio

import pytest

import gcop
from gcop.signatures import MathGuide, MathSolve


def test_an_unknown_keyword_is_refused_naming_the_input_fields(scripted_lm):
    guide_lm = scripted_lm(["<strategy>1. add</strategy>"])
    core_lm = scripted_lm(["[[ ## answer ## ]]\n7"])
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=guide_lm.model_string),
        core=gcop.Core(MathSolve, lm=core_lm.model_string),
    )
    for program in (policy.unguided(), policy.core):
        with pytest.raises(ValueError, match=r"MathSolve takes question=; got foo= .*question="):
            program(foo="Tom has 3 apples")
        with pytest.raises(ValueError, match="takes question="):
            asyncio.run(program.acall(foo="Tom has 3 apples"))
    with pytest.raises(ValueError, match="question"):
        policy(foo="Tom has 3 apples")
    assert core_lm.calls == [] and guide_lm.calls == []  # refused before any model call
    assert policy(question="Tom has 3 apples").answer == "7"
