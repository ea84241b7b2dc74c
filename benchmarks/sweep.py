"""Throughput of a what-if sweep: re-using the built model (warm start) against rebuilding and
cold-solving every point, in the same run.

    python benchmarks/sweep.py [--points 200] [--instance instances/japan_engines]

The sweep varies the maximum reuse share of end-of-life engines (a user constraint of type
`share`) over `--points` values and minimises the 50-year losses at each point. Both paths
produce the same Result per point (tables and audit); their objectives are compared. The
figures go to the `sweep` section of benchmarks/RESULTS.md (target: re-use >= 3x faster).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import circopt  # noqa: E402
from circopt import studies  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--instance", default=str(ROOT / "instances" / "japan_engines"))
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args()
    system = circopt.load(args.instance)
    con = {"type": "share", "node": "engine_eol", "route": "reuse"}
    values = list(np.linspace(0.0, 0.1401, args.points))
    t0 = time.perf_counter()
    warm = studies.whatif(system, con, "max", values, objective="losses", reuse=True).table
    t_warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    cold = studies.whatif(system, con, "max", values, objective="losses", reuse=False).table
    t_cold = time.perf_counter() - t0
    diff = float(np.max(np.abs(warm.objective - cold.objective) / np.maximum(1.0, np.abs(cold.objective))))
    audit = float(max(warm.max_relative_imbalance.max(), cold.max_relative_imbalance.max()))
    rows = [("re-use (2+1 builds, warm re-solves)", t_warm, args.points / t_warm),
            ("rebuild + cold solve each point", t_cold, args.points / t_cold)]
    table = ["| path | seconds | solves per second |", "|---|---:|---:|"]
    table += [f"| {name} | {sec:.2f} | {rate:.2f} |" for name, sec, rate in rows]
    import highspy
    import pyomo

    text = "\n".join([
        "## What-if sweep throughput (`benchmarks/sweep.py`)", "",
        f"Run {dt.date.today().isoformat()} on {platform.node() or 'n/a'} ({platform.machine()}, {os.cpu_count()} cores), "
        f"Python {platform.python_version()}, Pyomo {pyomo.__version__}, highspy {highspy.__version__ if hasattr(highspy, '__version__') else 'n/a'}.", "",
        f"Command: `python benchmarks/sweep.py --points {args.points}`", "",
        f"Instance `{Path(args.instance).name}`, objective losses, {args.points} values of the maximum reuse share "
        "(0 to 0.1401) of `engine_eol`; each point gives a full Result (tables, duals, audit).", "",
        *table, "",
        f"**Re-use is {t_cold / t_warm:.1f}x faster** (target >= 3x). Largest relative objective difference between "
        f"the paths: {diff:.1e}; largest audit imbalance: {audit:.1e}.", ""])
    print(text)
    if not args.no_write:
        from _results import write_section

        write_section("sweep", text)


if __name__ == "__main__":
    main()
