"""How large an evaluation it takes to tell two rows apart with a paired test.

Reads rows files (JSON lines, each row with its per-question ``scores`` and a ``row`` or
``condition`` label; the test table's and ``core_transfer.py``'s rows alike) and, for each pair
of rows given with ``--pair``, prints where they differ, the exact McNemar test, the wins the
leader needed among those differences, and the lead (in points) a pair differing on the same
share of questions would need at each ``--n``.

    .venv/bin/python experiments/separation.py docs/evidence/test_table15_rows.jsonl \
        docs/evidence/test_table15_advisor_rows.jsonl --pair SFT Advisor --n 200 1319
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gcop.paired import mcnemar, wins_needed


def labelled_scores(paths: list[Path]) -> dict[str, list[float]]:
    """Each row's scores under its label (``row`` or ``condition``)."""
    rows = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[row.get("row") or row["condition"]] = row["scores"]
    return rows


def lead_needed(discordant_share: float, n: int, p_value: float) -> float | None:
    """The lead, in points of accuracy, that a paired test on ``n`` questions needs when the two
    rows differ on ``discordant_share`` of them (``None``: no lead can be significant)."""
    discordant = round(discordant_share * n)
    wins = wins_needed(discordant, p_value)
    return None if wins is None else round(100 * (2 * wins - discordant) / n, 1)


def find(rows: dict[str, list[float]], prefix: str) -> str:
    """The label ``prefix``, or else the one label starting with it."""
    if prefix in rows:
        return prefix
    matches = [label for label in rows if label.startswith(prefix)]
    if len(matches) != 1:
        raise SystemExit(f"{prefix!r} names {len(matches)} rows of {sorted(rows)}")
    return matches[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", type=Path, help="rows files (JSON lines)")
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("A", "B"))
    parser.add_argument("--n", nargs="+", type=int, default=[200, 500, 1319])
    parser.add_argument("--p", type=float, default=0.05, help="the test's level")
    args = parser.parse_args(argv)
    rows = labelled_scores(args.rows)
    for prefix_a, prefix_b in args.pair:
        a, b = find(rows, prefix_a), find(rows, prefix_b)
        test = mcnemar(rows[a], rows[b])
        discordant = test.a_only + test.b_only
        share = discordant / len(rows[a])
        leads = {n: lead_needed(share, n, args.p) for n in args.n}
        print(
            f"{a} vs {b}: {test.a_only} / {test.b_only} (p = {test.p_value:.3g}), they differ on "
            f"{share:.1%}; the leader needed {wins_needed(discordant, args.p)} of {discordant}; "
            "lead needed at " + ", ".join(f"n = {n}: {lead} points" for n, lead in leads.items())
        )


if __name__ == "__main__":
    main()
