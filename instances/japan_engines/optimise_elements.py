"""The optimised mix of case A per element: the shares (by life and over time, within the
instance's bounds) that minimise the 50-year losses of Fe, of Ni, of Cr, of Co, and of a
weighted sum of the four; which bounds bind and what relaxing each is worth (duals).

    python instances/japan_engines/optimise_elements.py     # about 10 s

Writes ``optimise_elements.csv`` (one row per run and element: 50-year losses, and the chosen
shares) and ``optimise_duals.csv`` (one row per run and binding bound family) next to this
file, and prints the README's tables.

Runs: ``circopt.optimise(base instance, objective="losses", horizon=2070, elements={el: 1})``
for el in Fe, Ni, Cr, Co, and ``elements={el: 1 / m0[el]}`` (``weighted``), where m0[el] is the
initial mass of el (engine_production's amount x the engine composition, read from the
instance). With these weights the objective is the sum of the four elements' loss *shares*,
so each element counts equally whatever its mass (Fe would otherwise outweigh Ni by 2000:1).

Duals: rows other than balances (share_max, share_min, capacity, ...) are grouped by family
(the row name with its year replaced by ``*``). ``worth`` = sum over years of what relaxing
the row's binding bound by one kt of flow is worth, i.e. the decrease of the objective
(objective unit per kt: kt of the element for a single-element run, sum of loss shares for
``weighted``); ``worth_pp_per_0.01`` = the decrease of the element's 50-year loss share (in
percentage points; for ``weighted`` of the sum of the four shares) if the share bound were
0.01 wider in every year (dual x the row's input x 0.01, first order).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import circopt
from circopt.instance import helper_module

HERE = Path(__file__).resolve().parent
EL = ["Fe", "Ni", "Cr", "Co"]
HORIZON = 2070
AUDIT_TOL = 1e-9
YEARS = (2021, 2070)  # window over which the chosen shares are averaged (weighted by input)
SHARES = [("engine_eol[1]", "reuse"), ("engine_eol[2]", "reuse"), ("engine_eol[1]", "reman"),
          ("engine_eol[2]", "reman"), ("alloy_sorting", "dismantle")]


def _local(name: str):
    """This instance folder's helper module (see circopt.instance.helper_module)."""
    return helper_module(HERE, name)


metrics = _local("metrics")


def initial_masses(system) -> dict[str, float]:
    """Initial mass (kt) of each element: what engine_production sends out, from the
    instance's series x the engine stream's composition (via a simulation's flows)."""
    res = circopt.simulate(system)
    F = res.flows_array  # (T, E, C)
    src = system.node_id("engine_production")
    tot = F[:, system.out_edges(src), :].sum(axis=(0, 1))
    return {el: float(tot[system.elements.index(el)]) for el in EL}


def runs(system) -> dict[str, dict[str, float]]:
    """Objective weights per run name: each element alone, and the weighted sum."""
    m0 = initial_masses(system)
    return {el: {el: 1.0} for el in EL} | {"weighted": {el: 1.0 / m0[el] for el in EL}}


def optimise(system, elements: dict[str, float]):
    res = circopt.optimise(system, objective="losses", horizon=HORIZON, elements=elements)
    assert res.max_relative_imbalance <= AUDIT_TOL, res.max_relative_imbalance
    return res


def chosen_shares(res) -> dict[str, float]:
    """Route / input over 2021-2070 (input-weighted average of the yearly shares)."""
    d = res.decisions
    d = d[(d.year >= YEARS[0]) & (d.year <= YEARS[1])]
    out = {}
    for node, route in SHARES:
        sel = d[(d.node == node) & (d.decision == route)]
        out[f"{route}[{node}]"] = float(sel.value.sum() / sel.input.sum()) if sel.input.sum() > 0 else np.nan
    return out


def dual_families(res, run: str, initial: float) -> pd.DataFrame:
    """Binding non-balance rows aggregated per family (year -> *)."""
    d = res.duals
    d = d[(d.kind != "balance") & d.binding].copy()
    # worth of relaxing: an upper bound binds -> -dual; a lower bound binds -> +dual
    at_upper = np.isfinite(d.upper) & np.isclose(d.activity, d.upper, rtol=1e-9, atol=1e-12)
    d["worth"] = np.where(at_upper, -d.dual, d.dual)
    d["family"] = [re.sub(r",\d{4}\]$", ",*]", c) for c in d.constraint]
    # the row's input (route = share x input): d objective / d share = dual x input
    dec = res.decisions.groupby(["node", "year"]).input.first()
    d["input"] = [dec.get((n, y), np.nan) for n, y in zip(d.node, d.year)]
    d["worth_share"] = d.worth * d.input.fillna(0.0)
    d = d[d.dual.abs() > 1e-12]
    g = d.groupby(["family", "kind", "origin"], sort=False).agg(
        years=("year", "size"), first=("year", "min"), last=("year", "max"),
        worth=("worth", "sum"), abs_dual=("dual", lambda x: float(np.abs(x).sum())),
        worth_share=("worth_share", "sum")).reset_index()
    g["worth_pp_per_0.01"] = 100 * 0.01 * g.pop("worth_share") / initial
    # a bound with equal min and max in the instance (export 0.2995, rebuilt 0.9) is a fixed
    # coefficient by design, not a lever: its dual prices the assumption, not a policy
    origins = set(res.duals.origin.dropna())
    g["fixed"] = [o.replace("(max share", "(min share") in origins and o.replace("(min share", "(max share") in origins
                  for o in g.origin]
    g.insert(0, "run", run)
    return g.sort_values("abs_dual", ascending=False)


def main(write: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    system = circopt.load(HERE)
    m0 = initial_masses(system)
    weights = runs(system)
    rows, duals = [], []
    for run, w in weights.items():
        res = optimise(system, w)
        ind = metrics.indicators(res)
        sh = chosen_shares(res)
        for el in EL:
            rows.append({"run": run, "element": el, "losses": float(ind.loc[el, "losses"]),
                         "dissipation": float(ind.loc[el, "dissipation"]),
                         "process": float(ind.loc[el, "process"]),
                         "dilution": float(ind.loc[el, "dilution"]),
                         "export": float(ind.loc[el, "export"]), "in_use": float(ind.loc[el, "in_use"]),
                         "objective": res.objective, "weight": w.get(el, 0.0),
                         "audit": res.max_relative_imbalance, **sh})
        # the dual's unit: kt of the element (single runs), sum of shares (weighted: initial = 1)
        duals.append(dual_families(res, run, 1.0 if run == "weighted" else m0[run]))
    elements = pd.DataFrame(rows)
    du = pd.concat(duals, ignore_index=True)
    if write:
        elements.to_csv(HERE / "optimise_elements.csv", index=False, float_format="%.10g")
        du.to_csv(HERE / "optimise_duals.csv", index=False, float_format="%.10g")
    print_tables(elements, du)
    return elements, du


def print_tables(elements: pd.DataFrame, du: pd.DataFrame) -> None:
    pct = lambda x: f"{100 * x:.2f}"
    print(f"### 50-year losses under each optimum (% of the initial mass, 2020-{HORIZON})\n")
    print("| optimum of | " + " | ".join(EL) + " | reuse (life 1 / 2) | reman (life 1 / 2) | dismantle |")
    print("|---|" + "---:|" * len(EL) + "---:|---:|---:|")
    for run, g in elements.groupby("run", sort=False):
        g = g.set_index("element")
        r0 = g.iloc[0]
        cells = [(f"**{pct(g.loc[el, 'losses'])}**" if el == run else pct(g.loc[el, "losses"])) for el in EL]
        print(f"| {run} | " + " | ".join(cells)
              + f" | {r0['reuse[engine_eol[1]]']:.5f} / {r0['reuse[engine_eol[2]]']:.5f}"
              + f" | {r0['reman[engine_eol[1]]']:.5f} / {r0['reman[engine_eol[2]]']:.5f}"
              + f" | {r0['dismantle[alloy_sorting]']:.4f} |")
    print("\n### Binding bounds: loss share avoided (pp) if the bound were 0.01 wider in every year\n")
    runs_ = list(dict.fromkeys(du.run))
    piv = du.pivot_table(index=["family", "fixed"], columns="run", values="worth_pp_per_0.01", aggfunc="sum")
    piv = piv.reindex(columns=runs_).fillna(0.0).sort_values(["fixed", "weighted"], ascending=[True, False])
    print("| bound (rows over years) | lever? | " + " | ".join(f"opt. {r}" for r in runs_) + " |")
    print("|---|---|" + "---:|" * len(runs_))
    for (fam, fixed), r in piv.iterrows():
        print(f"| `{fam}` | {'no (fixed)' if fixed else 'yes'} | " + " | ".join(f"{r[c]:.3f}" for c in runs_) + " |")


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
