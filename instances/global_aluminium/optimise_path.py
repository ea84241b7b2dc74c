"""The optimised deployment path (sorting share and SSE capacity per year) for each EV path.

    python instances/global_aluminium/optimise_path.py      # ~1 min; writes the two CSVs below

For each EV path (scenarios ``baseline`` = IEA STEPS, ``baseline_pledges`` = APS,
``baseline_netzero`` = NZE) and within the instance's own limits (sorting share of shredded
scrap between today's and the ceiling of ``data/sorting_limits.csv``, SSE not before 2029 and
its feed under the capacity path 0.25 Mt/yr per year, alloy windows):

(a) ``surplus``: minimise the cumulative scrap surplus 2020-2050 -> S_min;
(b) ``primary``: then minimise what the free sources supply (primary ingot, alloying additions,
    composition balance) with the surplus held at ``S_min + tolerance`` (epsilon-constraint);
(c) ``energy``: alternatively minimise energy with the same epsilon.

Every run's audit must close to 1e-9 (asserted). Outputs, next to this file:

* ``optimised_path.csv``: one row per (path, run, year), run in {baseline (the simulation),
  surplus, primary, energy}: surplus, sorted scrap, shredded scrap into sorting, sorting share
  of shredded scrap, SSE feed (= the SSE capacity needed that year), SSE metal, primary
  (Al content, as ``metrics.primary``), primary net of the composition booking, energy (TWh), CO2.
* ``optimised_savings.csv``: one row per (path, run): cumulative 2020-2050 surplus, primary and
  energy, and the primary and energy saved against the simulated baseline of the same EV path,
  the peak SSE capacity and the cumulative sorted scrap.

The markdown tables of the README are printed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import metrics  # noqa: E402

import circopt  # noqa: E402

PATHS = {"baseline": "STEPS", "baseline_pledges": "APS", "baseline_netzero": "NZE"}
YEARS = (2025, 2030, 2035, 2040, 2045, 2050)
RUNS = ("baseline", "surplus", "primary", "energy")
AUDIT_TOL = 1e-9


def epsilon_of(s_min: float) -> float:
    """The surplus bound of the second stage: S_min plus a small tolerance (Mt, cumulative)."""
    return s_min + max(1e-6, 1e-6 * abs(s_min))


def lexicographic(system, second: str, s_min: float | None = None):
    """(surplus-minimal run or None, run minimising ``second`` with the surplus held at S_min)."""
    first = None
    if s_min is None:
        first = circopt.optimise(system, objective="surplus")
        s_min = float(first.objective_terms["surplus"])
    res = circopt.optimise(system, objective=second, epsilon={"surplus": epsilon_of(s_min)})
    return first, res


def path_table(res) -> pd.DataFrame:
    """The deployment indicators of one run, one row per year."""
    s = res.system
    ind = metrics.indicators(res)
    shredded = metrics._sum(res, metrics._edges(s, "shred", "sort"))
    out = pd.DataFrame({
        "surplus": ind.surplus,
        "sorted": ind.sorted,
        "shredded": shredded,
        "sorting_share": np.divide(ind.sorted.to_numpy(), shredded, out=np.zeros(s.T), where=shredded > 0),
        "sse_feed": ind.sse_feed,
        "sse_metal": ind.sse_metal,
        "primary": ind.primary,
        "primary_net": ind.primary_net,
        "energy": ind.energy,
        "co2": ind.co2,
    }, index=ind.index)
    return out.mask(out.abs() < 1e-9, 0.0)  # solver noise (|x| < 1e-9 Mt) shown as 0


def run_path(name: str, verbose: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All four runs of one EV path: (per-year table, savings table)."""
    system = circopt.load(HERE, name)
    t = time.perf_counter()
    runs = {"baseline": circopt.simulate(system)}
    runs["surplus"] = circopt.optimise(system, objective="surplus")
    s_min = float(runs["surplus"].objective_terms["surplus"])
    for second in ("primary", "energy"):
        runs[second] = lexicographic(system, second, s_min)[1]
    for key, r in runs.items():
        assert r.max_relative_imbalance <= AUDIT_TOL, (name, key, r.max_relative_imbalance)
    if verbose:
        print(f"<!-- {name}: 4 runs in {time.perf_counter() - t:.1f} s; S_min = {s_min:.3g} Mt; max imbalance "
              f"{max(r.max_relative_imbalance for r in runs.values()):.2g} -->")
    tables = {k: path_table(r) for k, r in runs.items()}
    yearly = pd.concat({k: v for k, v in tables.items()}, names=["run", "year"]).reset_index()
    yearly.insert(0, "path", name)
    base = tables["baseline"]
    rows = []
    for k, tab in tables.items():
        rows.append({
            "path": name, "run": k,
            "surplus_cum": tab.surplus.sum(),
            "primary_cum": tab.primary.sum(),
            "primary_saved": base.primary.sum() - tab.primary.sum(),
            "primary_net_saved": base.primary_net.sum() - tab.primary_net.sum(),
            "energy_cum": tab.energy.sum(),
            "energy_saved": base.energy.sum() - tab.energy.sum(),
            "co2_saved": base.co2.sum() - tab.co2.sum(),
            "sorted_cum": tab.sorted.sum(),
            "sse_capacity_max": tab.sse_feed.max(),
            "sse_feed_cum": tab.sse_feed.sum(),
            "primary_net_cum": tab.primary_net.sum(),
            "max_imbalance": runs[k].max_relative_imbalance,
        })
    return yearly, pd.DataFrame(rows)


def markdown_path(yearly: pd.DataFrame, name: str) -> str:
    lines = [f"| {PATHS[name]} (`{name}`) | year | surplus | sorted | sorting share | SSE feed = capacity | "
             "SSE metal | primary | energy, TWh |", "|---|---|---|---|---|---|---|---|---|"]
    y = yearly[yearly.path == name].set_index(["run", "year"])
    for run in RUNS:
        for yr in YEARS:
            r = y.loc[(run, yr)]
            lines.append(f"| {run if yr == YEARS[0] else ''} | {yr} | {r.surplus:.2f} | {r.sorted:.1f} | "
                         f"{r.sorting_share:.0%} | {r.sse_feed:.2f} | {r.sse_metal:.2f} | {r.primary:.1f} | "
                         f"{r.energy:.0f} |")
    return "\n".join(lines)


def markdown_savings(savings: pd.DataFrame) -> str:
    lines = ["| path | run | surplus 2020-2050, Mt | primary 2020-2050, Mt | primary saved, Mt | "
             "primary net saved, Mt | energy 2020-2050, TWh | energy saved, TWh | "
             "sorted 2020-2050, Mt | peak SSE capacity, Mt/yr |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in savings.iterrows():
        lines.append(f"| {PATHS[r.path]} | {r.run} | {abs(r.surplus_cum):.1f} | {r.primary_cum:.0f} | "
                     f"{r.primary_saved:.1f} | {r.primary_net_saved:.1f} | {r.energy_cum:.0f} | {r.energy_saved:.0f} | {r.sorted_cum:.0f} | "
                     f"{r.sse_capacity_max:.2f} |")
    return "\n".join(lines)


def main() -> None:
    yearly, savings = [], []
    for name in PATHS:
        y, s = run_path(name)
        yearly.append(y)
        savings.append(s)
    yearly = pd.concat(yearly, ignore_index=True)
    savings = pd.concat(savings, ignore_index=True)
    yearly.to_csv(HERE / "optimised_path.csv", index=False, float_format="%.6g")
    savings.to_csv(HERE / "optimised_savings.csv", index=False, float_format="%.6g")
    for name in PATHS:
        print("\n" + markdown_path(yearly, name))
    print("\n" + markdown_savings(savings))


if __name__ == "__main__":
    main()
