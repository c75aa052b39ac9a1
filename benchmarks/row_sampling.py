"""Time one sampling step of ``gcop.lm.row_sampling.draw`` against sorting every row.

    .venv/bin/python benchmarks/row_sampling.py --rows 26 --vocab 151936

Rows are peaked as a fine-tuned guide's are at temperature 0.6 (a few likely tokens) or flat;
"sort every row" is what each sampled row cost before candidates: a full-vocabulary top-p sort
and a full-vocabulary Gumbel draw.
"""

from __future__ import annotations

import argparse
import json
import time


def seconds_per_step(step, repeats: int) -> float:
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    import torch

    from gcop.lm.row_sampling import _gumbel_argmax, _sorted_top_p, draw

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=26)
    parser.add_argument("--vocab", type=int, default=151_936)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    top_p = torch.full((args.rows,), args.top_p)
    generators = [torch.Generator().manual_seed(seed) for seed in range(args.rows)]
    figures = {"rows": args.rows, "vocab": args.vocab, "torch_threads": torch.get_num_threads()}
    for shape, peak in (("peaked", 25.0), ("flat", 0.0)):
        logits = torch.randn(args.rows, args.vocab) * 2
        logits[:, :5] += peak

        def sort_every_row(logits=logits):
            for r, generator in enumerate(generators):
                _gumbel_argmax(_sorted_top_p(logits[r], top_p[r]), generator)

        before = seconds_per_step(sort_every_row, args.repeats)
        after = seconds_per_step(
            lambda logits=logits: draw(logits, top_p, generators), args.repeats
        )
        figures[shape] = {
            "sort_every_row_ms": round(before * 1000, 1),
            "draw_ms": round(after * 1000, 1),
            "speedup": round(before / after, 1),
        }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
