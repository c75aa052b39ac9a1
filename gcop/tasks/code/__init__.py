"""Code tasks: HumanEval (:mod:`.humaneval`), KodCode (:mod:`.kodcode`) and MBPP (:mod:`.mbpp`),
scored by running the generated code against the task's tests in gcop's sandbox (:mod:`.metric`
extracts it). Their offline privileged teachers write plans in words read off the reference
solution (:mod:`.planner`, from :mod:`.reference_facts`, its statements in words by
:mod:`.statement_words`); :mod:`.ceiling` is the core guided by
those plans, and the tasks' kit (:mod:`.kit`) hands the core a plan as comments in the
function's skeleton (:mod:`.skeleton`)."""
