#!/usr/bin/env python3
"""One markdown table row from several hyperfine --export-json rounds (scripts/bench*.sh).

    bench_summary.py LABEL BASELINE_INDEX CANDIDATE_INDEX [--difference] ROUND.json...

Prints the median over rounds of each command's median time, optionally their difference, and
the median and range of the per-round ratio candidate/baseline: on a VM whose speed drifts,
only ratios taken within one round mean much.
"""
import json
import statistics
import sys


def main():
    label, base, cand = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rest = sys.argv[4:]
    difference = "--difference" in rest
    files = [f for f in rest if f != "--difference"]
    rounds = [json.load(open(f))["results"] for f in files]
    b = [r[base]["median"] for r in rounds]
    c = [r[cand]["median"] for r in rounds]
    ratios = [y / x for x, y in zip(b, c)]
    cells = [label, "%.2f ms" % (statistics.median(b) * 1e3), "%.2f ms" % (statistics.median(c) * 1e3)]
    if difference:
        cells.append("%+.2f ms" % ((statistics.median(c) - statistics.median(b)) * 1e3))
    cells.append("**%.3f** (rounds %.3f-%.3f)" % (statistics.median(ratios), min(ratios), max(ratios)))
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
