"""Code tasks: HumanEval (:mod:`.humaneval`) and KodCode (:mod:`.kodcode`), scored by running
the generated code against the task's tests in gcop's sandbox (:mod:`.metric` extracts it)."""
