"""Benchmark: inflow-driven stocks, circopt vs flodym 1.1's InflowDrivenDSM.

Run from the repository root::

    python benchmarks/stocks.py [--series 1000 --years 301 --repeats 3] [--no-write]
    python benchmarks/stocks.py --part simulate [--series 1000 --years 301 --repeats 3]

Two parts (``--part``, default both):

* ``simulate``: stocks through ``circopt.simulate`` itself. An instance (written to a temporary
  folder, loaded before timing) of one family source -> stock -> sink over a ``product``
  dimension of ``--series`` members (normal(30, 8) lifetimes, timing ``end``, one element, an empty
  ``other``, random inflows uniform 0-100) over ``--years`` years; ``circopt.simulate(system)``
  (the whole call: same-year solve, stocks, Result with its mass-balance audit, decisions)
  against flodym's ``InflowDrivenDSM`` on the same inflows (one series per product,
  ``inflow_at="end"``); written between ``<!-- stocks_simulate:start -->`` and ``:end -->``.
* ``inflow_driven``: the public function ``circopt.lifetimes.inflow_driven`` (below).

For each lifetime model and timing (flodym ``inflow_at="end"`` vs circopt ``timing="end"``, and
flodym's default ``inflow_at="middle"`` vs ``timing="middle"``) it runs both on the same random
inflows (series x years), then

* wall time: best of ``--repeats`` runs, each from inputs as numpy arrays to stock and outflow
  arrays (flodym: building its lifetime model and DSM, setting the inflow, ``compute()``);
* peak memory: ``tracemalloc`` peak of the allocations made during one such run (numpy reports
  its buffers to tracemalloc; the input inflow array exists before and is not counted for
  either); measured in a separate run so that tracing does not distort the timings;
* agreement: max |circopt - flodym| over stock and outflow, absolute and relative to the largest
  |flodym| value; the run fails (exit 1) if the relative difference exceeds 1e-12.

The table is printed and written between ``<!-- stocks:start -->`` and ``<!-- stocks:end -->`` in
``benchmarks/RESULTS.md`` (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import gc
import importlib.metadata
import os
import platform
import re
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flodym

from circopt import lifetimes as lt

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- stocks:start -->", "<!-- stocks:end -->"
REL_TOL = 1e-12

# (label, flodym class, flodym parameters, circopt lifetime)
MODELS = {
    "normal": ("normal(30, 8)", "NormalLifetime", {"mean": 30.0, "std": 8.0}, lt.Normal(30, 8)),
    "lognormal": ("lognormal(30, 15)", "LogNormalLifetime", {"mean": 30.0, "std": 15.0}, lt.LogNormal(30, 15)),
    "weibull": (
        "weibull(2.5, 35)",
        "WeibullLifetime",
        {"weibull_shape": 2.5, "weibull_scale": 35.0},
        lt.Weibull(2.5, 35),
    ),
    "fixed": ("fixed(25)", "FixedLifetime", {"mean": 25.0}, lt.Fixed(25)),
}


def run_flodym(inflow: np.ndarray, cls: str, params: dict, timing: str) -> tuple[np.ndarray, np.ndarray]:
    n_s, n_t = inflow.shape
    dims = flodym.DimensionSet(
        dim_list=[
            flodym.Dimension(name="time", letter="t", items=list(range(n_t))),
            flodym.Dimension(name="series", letter="s", items=list(range(n_s))),
        ]
    )
    kw = {} if timing == "middle" else {"inflow_at": timing}  # "middle" = flodym's default
    model = getattr(flodym, cls)(dims=dims, **kw, **params)
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=model)
    dsm.inflow.values[...] = inflow.T  # flodym wants time first
    dsm.compute()
    return dsm.stock.values.T, dsm.outflow.values.T


def run_circopt(inflow: np.ndarray, lifetime: lt.Lifetime, timing: str) -> tuple[np.ndarray, np.ndarray]:
    res = lt.inflow_driven(inflow, lifetime, timing)
    return res.stock, res.outflow


def best_time(fn, repeats: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def peak_memory(fn) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def machine() -> str:
    versions = {p: importlib.metadata.version(p) for p in ("numpy", "scipy", "flodym")}
    return (
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()}), "
        f"Python {platform.python_version()}, numpy {versions['numpy']}, scipy {versions['scipy']}, "
        f"flodym {versions['flodym']}"
    )


def fmt_bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--years", type=int, default=301)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--models", default="normal,lognormal,weibull,fixed", help=f"comma-separated subset of {','.join(MODELS)}"
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    ap.add_argument("--part", choices=("both", "simulate", "inflow_driven"), default="both")
    args = ap.parse_args(argv)
    ok = True
    if args.part in ("both", "simulate"):
        ok &= simulate_part(args)
    if args.part in ("both", "inflow_driven"):
        ok &= inflow_driven_part(args)
    return 0 if ok else 1


def inflow_driven_part(args) -> bool:

    rng = np.random.default_rng(20240601)
    inflow = rng.uniform(0.0, 100.0, (args.series, args.years))
    rows, ok = [], True
    for key in args.models.split(","):
        label, cls, params, lifetime = MODELS[key.strip()]
        for timing in ("end", "middle"):
            fl_label = f'`inflow_at="{timing}"`' + (" (default)" if timing == "middle" else "")
            f_fl = functools.partial(run_flodym, inflow, cls, params, timing)
            f_co = functools.partial(run_circopt, inflow, lifetime, timing)
            s_fl, o_fl = f_fl()
            s_co, o_co = f_co()
            diff = max(np.max(np.abs(s_co - s_fl)), np.max(np.abs(o_co - o_fl)))
            scale = max(np.max(np.abs(s_fl)), np.max(np.abs(o_fl)))
            rel = diff / scale
            ok &= bool(rel <= REL_TOL)
            del s_fl, o_fl, s_co, o_co
            t_fl, t_co = best_time(f_fl, args.repeats), best_time(f_co, max(args.repeats, 5))
            m_fl, m_co = peak_memory(f_fl), peak_memory(f_co)
            rows.append((label, f"`{timing}` | {fl_label}", t_fl, t_co, m_fl, m_co, diff, rel))
            print(
                f"{label:18s} {timing:6s} flodym {t_fl:7.3f} s {fmt_bytes(m_fl):>10s} | "
                f"circopt {t_co * 1e3:7.2f} ms {fmt_bytes(m_co):>9s} | "
                f"x{t_fl / t_co:6.0f} time, x{m_fl / m_co:5.0f} memory | "
                f"max diff {diff:.1e} (rel {rel:.1e})",
                flush=True,
            )

    section = render(rows, args, ok)
    print()
    print(section)
    if not args.no_write:
        write_section(section)
        print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    if not ok:
        print(f"FAIL: a relative difference exceeds {REL_TOL:g}", file=sys.stderr)
    return ok


def render(rows, args, ok: bool) -> str:
    cmd = "python benchmarks/stocks.py " + f"--series {args.series} --years {args.years} --repeats {args.repeats}"
    if args.models != "normal,lognormal,weibull,fixed":
        cmd += f" --models {args.models}"
    lines = [
        START,
        "## Stocks (benchmarks/stocks.py)",
        "",
        (
            f"Inflow-driven stock and outflow, {args.series:,} series x {args.years} years of random "
            "inflows (uniform 0-100), `circopt.lifetimes.inflow_driven` vs flodym's `InflowDrivenDSM`, "
            "same run, same inputs, matching timing modes."
        ),
        "",
        f"* date: {_dt.date.today().isoformat()}",
        f"* machine: {machine()}",
        f"* command: `{cmd}`",
        (
            "* time: best of the repeats (flodym: lifetime model + DSM construction, setting the "
            "inflow, `compute()`; circopt: one `inflow_driven` call; single-threaded both)"
        ),
        (
            "* memory: `tracemalloc` peak of the allocations made during one run (numpy buffers "
            "included, input array excluded), measured in a separate untimed run"
        ),
        (
            "* difference: max |circopt - flodym| over stock and outflow; relative = divided by the "
            "largest |flodym| value. Both codes are ~1e-12 (a few ulp of values ~2,000) from an "
            "extended-precision reference, so the absolute difference sits at the rounding floor"
        ),
        "",
        (
            "| lifetime | circopt timing | flodym setting | flodym time | circopt time "
            "| time ratio (flodym / circopt) | flodym peak memory | circopt peak memory "
            "| memory ratio (flodym / circopt) | max abs diff | max rel diff |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, timing, t_fl, t_co, m_fl, m_co, diff, rel in rows:
        lines.append(
            f"| {label} | {timing} | {t_fl:.3f} s | {t_co * 1e3:.2f} ms | {t_fl / t_co:,.0f}x "
            f"| {fmt_bytes(m_fl)} | {fmt_bytes(m_co)} | {m_fl / m_co:,.0f}x | {diff:.1e} | {rel:.1e} |"
        )
    t_ratio = min(r[2] / r[3] for r in rows)
    m_ratio = min(r[4] / r[5] for r in rows)
    lines += [
        "",
        (
            f"Worst case over the rows: {t_ratio:,.0f}x faster, {m_ratio:,.0f}x less peak memory "
            f"(targets: >= 10x each); relative agreement {'within' if ok else 'OUTSIDE'} {REL_TOL:g}."
        ),
        END,
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


# --------------------------------------------------------------------------------------------
# stocks through circopt.simulate
# --------------------------------------------------------------------------------------------
def make_instance(folder: Path, products: int, years: int, seed: int = 20240601) -> np.ndarray:
    """Write the instance; return the stock inflow (years, products, channels) it implies."""
    import pandas as pd
    import yaml

    rng = np.random.default_rng(seed)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "sources.csv").write_text("source_id,citation\nsynthetic,benchmark data\n")
    yrs = np.arange(1800, 1800 + years)
    names = [f"p{i}" for i in range(products)]
    vals = rng.uniform(0.0, 100.0, (products, years))
    pd.DataFrame({"product": np.repeat(names, years), "year": np.tile(yrs, products), "value": vals.ravel(),
                  "unit": "kt"}).to_csv(folder / "data" / "inflow.csv", index=False)
    comp = {"Fe": 1.0}  # channels Fe and other (empty): flodym gets the Fe series
    doc = {"name": "stocks_benchmark", "unit": "kt", "years": [int(yrs[0]), int(yrs[-1])], "elements": ["Fe"],
           "timing": "end", "dimensions": {"product": names},
           "compositions": {"steel": {"composition": comp, "source": "synthetic"}},
           "nodes": {"production": {"kind": "source", "over": ["product"], "series": "data/inflow.csv",
                                    "composition": "steel", "to": "in_use", "source": "synthetic"},
                     "in_use": {"kind": "stock", "over": ["product"], "lifetime": {"model": "normal", "mean": 30,
                                "sd": 8}, "to": "scrap", "source": "synthetic"},
                     "scrap": {"kind": "sink", "loss": "dissipation"}}}
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return vals.T  # (years, products): the Fe channel; 'other' is empty


def flodym_stocks(inflow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """flodym on (time, product) inflows: stock and outflow, same shape."""
    n_t, n_p = inflow.shape
    dims = flodym.DimensionSet(dim_list=[
        flodym.Dimension(name="time", letter="t", items=list(range(n_t))),
        flodym.Dimension(name="product", letter="p", items=list(range(n_p)))])
    model = flodym.NormalLifetime(dims=dims, inflow_at="end", mean=30.0, std=8.0)
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=model)
    dsm.inflow.values[...] = inflow
    dsm.compute()
    return dsm.stock.values, dsm.outflow.values


def simulate_part(args) -> bool:
    import tempfile
    import warnings

    import circopt

    with tempfile.TemporaryDirectory() as tmp:
        inflow = make_instance(Path(tmp), args.series, args.years)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loader's note on the span of masses
            system = circopt.load(tmp)
    sim = functools.partial(circopt.simulate, system)
    res = sim()  # warm-up: the stock plan (kernels) is built once per System, with the loader
    s_fl, o_fl = flodym_stocks(inflow)
    stock_edges = [e.id for e in system.edges if e.rule == "stock"]
    s_co = res.stock_array[:, :, 0].T  # (T, P): the Fe channel
    o_co = res.flows_array[:, stock_edges, 0]
    assert not res.stock_array[:, :, 1].any() and not res.flows_array[:, :, 1].any()  # 'other' is empty
    scale = max(np.abs(s_fl).max(), np.abs(o_fl).max())
    diff = max(np.abs(s_co - s_fl).max(), np.abs(o_co - o_fl).max())
    rel, audit = diff / scale, res.max_relative_imbalance
    del res, s_fl, o_fl, s_co, o_co
    f_fl = functools.partial(flodym_stocks, inflow)
    t_fl, t_co = best_time(f_fl, args.repeats), best_time(sim, max(args.repeats, 5))
    c_fl, c_co = best_time(f_fl, 1, time.process_time), best_time(sim, 5, time.process_time)
    m_fl, m_co = peak_memory(f_fl), peak_memory(sim)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ok = rel <= REL_TOL and t_fl / t_co >= 50 and m_fl / m_co >= 20
    print(f"simulate: flodym {t_fl:.3f} s ({c_fl:.3f} s CPU) {fmt_bytes(m_fl)} | circopt.simulate {t_co:.3f} s "
          f"({c_co:.3f} s CPU) {fmt_bytes(m_co)} | x{t_fl / t_co:.0f} time (x{c_fl / c_co:.0f} CPU), "
          f"x{m_fl / m_co:.0f} memory | rel diff {rel:.1e} | audit {audit:.1e}")
    cmd = f"python benchmarks/stocks.py --part simulate --series {args.series} --years {args.years} --repeats {args.repeats}"
    section = "\n".join([
        "## Stocks through `circopt.simulate` (benchmarks/stocks.py)", "",
        f"An instance of {args.series:,} stock nodes x {args.years} years: a source -> stock -> sink family over a "
        "`product` dimension, normal(30, 8) lifetimes, timing `end`, one element (`Fe`; the channel `other` is empty), random "
        "inflows (uniform 0-100). `circopt.simulate(system)` -- the whole call: the same-year network of every year, "
        "every stock, the Result with its mass-balance audit and decisions -- against flodym's `InflowDrivenDSM` on "
        "the same stock inflows (one series per product, `inflow_at=\"end\"`), same run.", "",
        f"* date: {_dt.date.today().isoformat()}; machine: {machine()}; load average at the end {load:.1f} "
        "(the machine is shared: times are wall times, both sides alike)",
        f"* command: `{cmd}`",
        "* time: best of the repeats (flodym: dimensions, lifetime model, DSM, setting the inflow, `compute()`; "
        "circopt: one `simulate` call on the loaded System, after one warm-up call, best of at least 5); wall "
        "time and, less sensitive to the other jobs on a shared machine, the process's CPU time",
        "* memory: `tracemalloc` peak during one call, in a separate untimed run",
        "", "| | flodym | circopt.simulate | ratio (flodym / circopt) |", "|---|---|---|---|",
        f"| time (wall) | {t_fl:.3f} s | {t_co * 1e3:.0f} ms | {t_fl / t_co:,.0f}x (target >= 50x) |",
        f"| time (CPU of the process) | {c_fl:.3f} s | {c_co * 1e3:.0f} ms | {c_fl / c_co:,.0f}x |",
        f"| peak memory | {fmt_bytes(m_fl)} | {fmt_bytes(m_co)} | {m_fl / m_co:,.0f}x (target >= 20x) |", "",
        f"Stock and outflow agree to {rel:.1e} relative to the largest value (target 1e-12; max abs {diff:.1e}); the "
        f"simulation's largest relative mass-balance imbalance is {audit:.1e}.",
        "", "How: the stocks fall into stages (no stock's outflow returns to it within a year here, so one stage); each "
        "stage's inflows come from one same-year solve of all years (a sweep over the edges' levels, no "
        "factorisation; its structure, the flow rules and the constants of the System's own series are derived "
        "once per System), and its levels and earlier cohorts' outflows from one product per kernel with the "
        "shared kernel's (triangular) convolution matrices, empty series (the channel `other`) left out "
        "(`circopt/stocks.py`). The Result takes those levels and outflows as they are; its audit "
        "(`circopt/audit.py`) gathers each node's in- and outflows block of years by block, in the processor's "
        "cache, and the audit table is built when first asked for."])
    print(section)
    if not args.no_write:
        from _results import write_section as write_named

        write_named("stocks_simulate", section)
    return bool(ok)


if __name__ == "__main__":
    sys.exit(main())
