"""HumanEval with a guide and a local core: pass@1 of the core alone and of the guided policy.

python examples/humaneval.py --n 20                       # Qwen2.5-Coder-0.5B core, SmolLM2 guide
python examples/humaneval.py --guide tiny --core tiny --n 2   # seconds, for a smoke test
"""

import argparse

import gcop
from gcop.evaluate import evaluate
from gcop.signatures import CodeGuide, CodeSolve
from gcop.tasks.code import humaneval

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--guide", default="smollm2-135m")
parser.add_argument("--core", default="qwen2.5-coder-0.5b")
parser.add_argument("--n", type=int, default=20, help="problems to evaluate")
parser.add_argument("--max-tokens", type=int, default=384, help="core completion budget")
args = parser.parse_args()

guide = gcop.Guide(CodeGuide, lm=gcop.LocalLM(args.guide, name=f"{args.guide}-code-guide"))
core_lm = gcop.LocalLM(args.core, name=f"{args.core}-code-core")
core = gcop.Core(CodeSolve, lm=core_lm, temperature=0.0, max_tokens=args.max_tokens)
policy = gcop.GuideCorePolicy(guide=guide, core=core)

problems = humaneval.load("test", n=args.n)
for name, program in [("core-only", policy.unguided()), ("guided", policy)]:
    result = evaluate(program, problems, humaneval.metric, name=name, num_threads=4)
    print(f"{name}: pass@1 {result.accuracy:.1%} (95% CI {result.ci_low:.1%}–{result.ci_high:.1%})")
