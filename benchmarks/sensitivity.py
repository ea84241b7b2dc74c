"""Throughput of `circopt sensitivity` on each executor, in the same run: runs per second in process
(one core), in a local process pool and on a local Dask cluster, and the parallel efficiency
(rate on k workers / (k x rate in process)).

    python benchmarks/sensitivity.py [--instance instances/japan_engines] [--method morris]
                                     [--samples 2] [--workers 2] [--objective losses] [--wait-quiet 600]

On a shared machine, ``--wait-quiet 600`` waits (up to 10 min) for a quiet moment before measuring;
the load average before and after each executor's run is written beside its figures.

The same design (same seed) runs on the three executors; their indices must be identical
(checked). The machine's load average before and after is recorded: other work on the machine
lowers the parallel efficiency. The figures go to the `sensitivity` section of
benchmarks/RESULTS.md (target: efficiency >= 0.8 on two workers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from circopt import sensitivity as S  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instance", default=str(ROOT / "instances" / "japan_engines"))
    ap.add_argument("--method", default="morris", choices=S.METHODS)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--objective", help="optimise every run (default: simulate)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    ap.add_argument("--wait-quiet", type=float, metavar="SECONDS",
                    help="first wait (at most SECONDS) until the 1-minute load average is below 0.5 per core")
    args = ap.parse_args()
    rows, ref = [], None
    cluster, startup = _warm_cluster(args.workers)
    if args.wait_quiet:
        _wait_quiet(args.wait_quiet)
    load0 = os.getloadavg()
    for executor in ("local", "processes", "dask"):
        before = os.getloadavg()[0]
        t0 = time.perf_counter()
        st = S.sensitivity(args.instance, args.method, args.samples, objective=args.objective, executor=executor,
                           workers=None if executor == "local" else args.workers, seed=0, progress=False,
                           scheduler=cluster.scheduler_address if executor == "dask" else None)
        sec = time.perf_counter() - t0
        n = len(st.table)
        if ref is None:
            ref = st
        else:
            pd.testing.assert_frame_equal(ref.indices, st.indices)  # same numbers on every executor
        k = 1 if executor == "local" else args.workers
        busy = float(st.table.seconds.sum()) / (k * sec)  # share of the workers' wall time spent in runs
        rows.append((executor, k, n, sec, n / sec, int((st.table.status != "ok").sum()), busy,
                     f"{before:.1f} / {os.getloadavg()[0]:.1f}"))
        print(f"{executor}: {n} runs in {sec:.1f} s ({n / sec:.2f} runs/s)", flush=True)
    load1 = os.getloadavg()
    cluster.close()
    base = rows[0][4]
    table = ["| executor | workers | runs | seconds | runs per second | speed-up | parallel efficiency | busy | failed "
             "| load (1 min) before / after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for ex, k, n, sec, rate, bad, busy, load in rows:
        table.append(f"| {ex} | {k} | {n} | {sec:.1f} | {rate:.2f} | {rate / base:.2f} | {rate / base / k:.2f} | {busy:.2f} "
                     f"| {bad} | {load} |")
    import SALib  # noqa: F401
    from importlib.metadata import version

    cmd = (f"python benchmarks/sensitivity.py --instance {Path(args.instance).relative_to(ROOT) if Path(args.instance).is_relative_to(ROOT) else args.instance} "
           f"--method {args.method} --samples {args.samples} --workers {args.workers}"
           + (f" --objective {args.objective}" if args.objective else ""))
    eff = {ex: rate / base / k for ex, k, _, _, rate, _, _, _ in rows}
    text = "\n".join([
        "## Sensitivity throughput (`benchmarks/sensitivity.py`)", "",
        f"Run {dt.date.today().isoformat()} on {platform.node() or 'n/a'} ({platform.machine()}, {os.cpu_count()} cores), "
        f"Python {platform.python_version()}, SALib {version('SALib')}.", "",
        f"Command: `{cmd}`", "",
        f"Instance `{Path(args.instance).name}`, {args.method} design (seed 0), every run "
        f"{'optimised for ' + args.objective if args.objective else 'simulated'} and audited; the same design on each "
        "executor, identical indices (checked). Each run builds the instance from its document and solves cold. "
        f"The Dask cluster ({args.workers} worker processes) is started and its workers import circopt before the "
        f"clock starts ({startup:.1f} s, paid once per cluster); the process pool is started inside the timing.", "",
        *table, "",
        f"Parallel efficiency on {args.workers} workers: processes {eff['processes']:.2f}, Dask {eff['dask']:.2f} "
        f"(target >= 0.8). Load average (1, 5, 15 min) before: {load0[0]:.2f}, {load0[1]:.2f}, {load0[2]:.2f}; after: "
        f"{load1[0]:.2f}, {load1[1]:.2f}, {load1[2]:.2f} -- the machine is shared, and a load above its "
        f"{os.cpu_count()} cores leaves the workers less than a core each, which lowers the efficiency. *busy* = the "
        "runs' own seconds summed / (workers x wall time): how fully the executor keeps its workers in runs (1 = no "
        "executor overhead); it does not depend on how fast a run is under the load.", ""])
    print(text)
    if not args.no_write:
        from _results import write_section

        write_section("sensitivity", text)


def _wait_quiet(limit: float) -> None:
    """Wait until the machine is quiet (1-minute load < 0.5 per core), at most ``limit`` seconds."""
    t0, cores = time.perf_counter(), os.cpu_count() or 1
    while os.getloadavg()[0] >= 0.5 * cores and time.perf_counter() - t0 < limit:
        time.sleep(10)
    print(f"load {os.getloadavg()[0]:.2f} on {cores} cores after {time.perf_counter() - t0:.0f} s of waiting", flush=True)


def _warm_cluster(workers: int):
    """A local Dask cluster whose workers have imported circopt (start-up measured apart)."""
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as client:
        client.run(lambda: __import__("circopt.sensitivity") and None)
    return cluster, time.perf_counter() - t0


if __name__ == "__main__":
    main()
