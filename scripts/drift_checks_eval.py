"""How often the explicit drift checks fire on the shared labelled data (no model needed, a few seconds).

    .venv/bin/python scripts/drift_checks_eval.py [--data data/drift_pairs] [--split dev|test|all]

Runs monitors.drift.checks on the pairs of one split (dev unless asked: tune on dev, report on test) of
pairs.jsonl and scope_pairs.jsonl with their evidence from changes.jsonl, as the monitor would with no
`scope` configured and no agent history (so `outside_scope` and `too_large` cannot fire here): the share
of genuine pairs each check flags is its false-alarm rate on this data, and the share of drift pairs it
flags is what it adds. Prints the genuine pairs of that split it flags.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.drift.checks import run_checks
from monitors.drift.labelled import by_split, load_calibration_set

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--split",
        choices=("dev", "test", "all"),
        default="dev",
        help="the pairs to run on (default dev: the test split is for reporting, never for tuning)",
    )
    args = parser.parse_args()
    pairs = by_split(load_calibration_set(args.data), None if args.split == "all" else args.split)
    print(f"split: {args.split}")
    totals = Counter(p.kind_name for p in pairs)
    fired: Counter[tuple[str, str]] = Counter()
    any_fired: Counter[str] = Counter()
    for pair in pairs:
        if pair.evidence is None:
            continue
        results = run_checks(pair.pair.objective, pair.evidence, files_known=True)
        any_fired[pair.kind_name] += bool(results)
        for result in results:
            fired[(pair.kind_name, result.name)] += 1
            if pair.is_match:
                print(f"genuine flagged: {pair.pair.objective[:70]!r}: {result.reason[:110]}")
    print()
    for kind in ("match", "drift", "scope_creep"):
        checks = ", ".join(f"{name} {n}" for (k, name), n in sorted(fired.items()) if k == kind) or "none"
        share = any_fired[kind] / max(totals[kind], 1)
        print(f"{kind}: {any_fired[kind]} of {totals[kind]} pairs flagged by a check ({share:.1%}): {checks}")


if __name__ == "__main__":
    main()
