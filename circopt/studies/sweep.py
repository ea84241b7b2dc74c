"""Many parameter sets of an instance's ranges: Monte Carlo draws or a grid, run by an executor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CircoptError
from ..readable import indicator_unit
from ..system import System
from ..terminal import Progress as _Progress
from .executors import map_jobs
from .study import Study, indicators


def sample_ranges(system: System, samples: int | None = None, grid: dict[str, list[float]] | None = None,
                  seed: int = 0) -> pd.DataFrame:
    """Parameter sets: ``samples`` Monte-Carlo draws (uniform in each range's [low, high],
    from ``numpy.random.default_rng(seed)``), or the full ``grid`` {range name: values}."""
    if grid:
        unknown = set(grid) - set(system.ranges)
        if unknown:
            raise CircoptError(f"grid names {sorted(unknown)} are not ranges of the instance; ranges: "
                               f"{sorted(system.ranges)}")
        keys = list(grid)
        mesh = np.array(np.meshgrid(*[np.asarray(grid[k], float) for k in keys], indexing="ij")).reshape(len(keys), -1).T
        return pd.DataFrame(mesh, columns=keys)
    if not system.ranges:
        raise CircoptError(f"{system.name}: no ranges declared (add 'ranges:' to the instance)")
    rng = np.random.default_rng(seed)
    keys = sorted(system.ranges)
    lo = np.array([system.ranges[k]["low"] for k in keys])
    hi = np.array([system.ranges[k]["high"] for k in keys])
    u = rng.random((int(samples or 1), len(keys)))
    return pd.DataFrame(lo + u * (hi - lo), columns=keys)


def run_sample(doc: dict, folder, ranges: dict, params: dict, objective: Any = None, opt: dict | None = None):
    """The Result of one parameter set: the instance built with it (:func:`circopt.ranges.build_sample`),
    simulated, or optimised for ``objective`` (``opt``: optimise's other options)."""
    from ..ranges import build_sample

    system = build_sample(doc, folder, ranges, params)
    if objective is None:
        from ..simulate import simulate

        return simulate(system)
    from ..lp.solve import optimise

    return optimise(system, objective=objective, **(opt or {}))


def _run_point(args) -> dict:
    """Evaluate one parameter set (top-level so process pools and Dask can pickle it)."""
    doc, folder, ranges, params, objective, opt = args
    try:
        res = run_sample(doc, folder, ranges, params, objective, opt)
        return {**params, **indicators(res), "status": "ok"}
    except CircoptError as e:
        return {**params, "status": f"error: {str(e).splitlines()[0][:120]}"}


def sweep(path: str | Path, samples: int | None = None, grid: dict[str, list[float]] | None = None,
          scenario: str | None = None, objective: Any = None, seed: int = 0, executor: str = "processes",
          workers: int | None = None, scheduler: str | None = None, progress: bool = True,
          indicators: list[str] | None = None, **opt) -> Study:
    """Run many parameter sets: Monte Carlo over the instance's ranges (``samples``) or a grid.
    ``indicators``: the columns to plot (default: every losses/surplus/primary/objective one).

    ``executor``: ``inprocess``, ``processes`` (local process pool, default) or ``dask``
    (``scheduler`` = a Dask distributed scheduler address; without one a local cluster is
    started). The parameter sets are drawn before any run, so the numbers are the same
    whichever executor computes them.

    Each point is built and solved from scratch on purpose: a point's parameters change the
    model's coefficients, and a warm start from another point's basis can land on a different
    optimal vertex of a degenerate LP, so results would depend on the order in which points
    happen to be solved (and on the executor). Where only a constraint's number changes,
    :func:`whatif` re-uses the built model and warm-starts (5.5x faster, benchmarks/sweep.py).
    """
    from ..instance import load, load_document

    system = load(path, scenario)
    params = sample_ranges(system, samples, grid, seed)
    doc, folder, _ = load_document(path, scenario)
    jobs = [(doc, folder, system.ranges, dict(row), objective, opt) for row in params.to_dict("records")]
    bar = _Progress(len(jobs), "sweep", progress)
    t0 = time.perf_counter()
    out = map_jobs(_run_point, jobs, executor, workers, scheduler, bar)
    bar.done()
    table = pd.DataFrame.from_records(out)
    table.insert(0, "sample", range(len(table)))
    ok = table.status == "ok"
    if not ok.any():
        raise CircoptError(f"sweep: every one of {len(table)} parameter sets was refused; the first: "
                           f"{table.status.iloc[0]}")
    inds = [c for c in table.columns if c.startswith(("losses/", "surplus/", "primary/", "objective"))]
    plot = list(indicators or inds)
    unknown = [c for c in plot if c not in table.columns or c in ("sample", "status")]
    if unknown:
        raise CircoptError(f"sweep: unknown indicator(s) {unknown}; indicators: {inds}")
    summary = (table.loc[ok, list(dict.fromkeys([*plot, *inds]))].astype(float)
               .describe(percentiles=[0.05, 0.5, 0.95]).T.reset_index().rename(columns={"index": "indicator"}))
    summary.insert(1, "unit", [indicator_unit(k, system.unit, objective) for k in summary.indicator])
    summary["refused_samples"] = int((~ok).sum())
    return Study("sweep", table, {"sweep_summary": summary},
                 meta={"samples": len(jobs), "seed": seed, "executor": executor, "objective": str(objective),
                       "seconds": round(time.perf_counter() - t0, 3), "indicators": inds, "plot": plot,
                       "units": {k: indicator_unit(k, system.unit, objective) for k in plot}})
