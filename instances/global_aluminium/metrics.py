"""Headline indicators of the global_aluminium instance (README tables, tests/test_global_aluminium.py).

All values are Mt per year (total mass unless an element is named), from a circopt Result
(simulation or optimisation) of this instance.

Definitions
-----------
* ``demand``: aluminium entering use (all products) = the CRU/IAI "total demand" (primary +
  post-consumer recycled metal); the cast house makes ``demand`` plus the new scrap.
* ``primary``: primary aluminium = the Al ('other') content of the primary fillers plus any Al
  supplied by the cast house's composition balance (Al added to dilute scrap that is too rich in
  elements for the nominal composition; see README, 'composition booking').
* ``post_consumer_scrap``: collected end-of-life metal that enters recycling after shredding /
  pre-treatment (the input of ``sort`` plus the dismantled wheels) - IAI's "post-consumer scrap
  intake".
* ``new_scrap``: fabrication (pre-consumer) scrap.
* ``surplus``: scrap no alloy takes (flow into ``scrap_surplus``).
* ``automotive_surplus``: the closed automotive balance of BILLY2023 / the seed report: recycled
  metal from end-of-life cars that only secondary castings can take (mixed shredded car scrap
  after remelting, plus sorted secondary-cast car scrap), minus the secondary-casting alloy that new
  cars need; zero when negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CARS = ("ICEV", "HEV", "PHEV", "BEV", "FCEV")


def _edges(s, src=None, tgt=None) -> list[int]:
    """Edges whose source / target family (or name) matches."""
    def ok(node, want):
        return want is None or node.family == want or node.name == want or (
            isinstance(want, (set, tuple, list)) and (node.family in want or node.name in want))
    return [e.id for e in s.edges if ok(s.nodes[e.source], src) and ok(s.nodes[e.target], tgt)]


def _sum(res, edges, channel: str = "total") -> np.ndarray:
    F = res.flows_array  # (T, E, C)
    if not edges:
        return np.zeros(res.system.T)
    if channel == "total":
        return F[:, edges, :].sum(axis=(1, 2))
    c = res.system.channels.index(channel)
    return F[:, edges, c].sum(axis=1)


def indicators(res) -> pd.DataFrame:
    """One row per year: the headline quantities (Mt/yr)."""
    s = res.system
    out = {
        "demand": _sum(res, _edges(s, "assembly", "use")),
        "demand_cars": _sum(res, [e for e in _edges(s, "assembly", "use")
                                  if s.nodes[s.edges[e].source].index["product"] in CARS]),
        "primary": _sum(res, _edges(s, "primary", "casthouse"), "other")
        + _sum(res, _edges(s, "composition_balance", "casthouse"), "other"),
        "primary_ingot": _sum(res, _edges(s, "primary", "casthouse")),
        "additions": _sum(res, _edges(s, "addition", "casthouse")),
        "eol_outflow": _sum(res, _edges(s, {"use", *[f"legacy_{p}" for p in _products(s)]}, "collect")),
        "post_consumer_scrap": _sum(res, _edges(s, "shred", "sort")) + _sum(res, _edges(s, "dismantle", "pool")),
        "new_scrap": _sum(res, _edges(s, "fab", "new_scrap")),
        "sorted": _sum(res, _edges(s, "sort", "alloy_sort")),
        "sse_feed": _sum(res, _edges(s, "sort", "sse_cell")),
        "sse_metal": _sum(res, _edges(s, "sse_cell", "casthouse")),
        "surplus": _sum(res, _edges(s, "casthouse", "scrap_surplus")),
        "composition_excess": _sum(res, _edges(s, "casthouse", "composition_excess")),
        "composition_balance": _sum(res, _edges(s, "composition_balance", "casthouse")),
        "sc_output": _sum(res, _edges(s, "casthouse", "fab[sc]")),
    }
    out["primary_net"] = out["primary"] - _sum(res, _edges(s, "casthouse", "composition_excess"), "other")
    for name in ("energy", "co2"):
        out[name] = intensity_total(res, name)
    # automotive balance (BILLY2023 definition)
    car_scrap = np.zeros(s.T)
    for p in CARS:
        car_scrap += _sum(res, _edges(s, f"remelt_mixed[{p}]", "casthouse"))
        # sorted secondary-cast car scrap, after remelting (pool yield)
        car_scrap += _sum(res, _edges(s, f"alloy_sort[{p}]", "pool[sc]")) * _pool_yield(s)
    car_sc_need = _sum(res, [e for e in _edges(s, "fab[sc]", "assembly")
                             if s.nodes[s.edges[e].target].index["product"] in CARS])
    car_sc_need = car_sc_need / _fab_yield_sc(res)
    out["automotive_scrap_to_castings"] = car_scrap
    out["automotive_castings_demand"] = car_sc_need
    out["automotive_surplus"] = np.clip(car_scrap - car_sc_need, 0.0, None)
    df = pd.DataFrame(out, index=pd.Index(s.years, name="year"))
    return df


def intensity_total(res, name: str) -> np.ndarray:
    """Energy (TWh/yr, from kWh/kg) or CO2 (Mt/yr) per year, counted as the optimiser counts them:
    per unit of a source's output, of a process's input and of a split route's flow."""
    s = res.system
    F = res.flows_array.sum(axis=2)  # (T, E)
    tot = np.zeros(s.T)
    for i, nd in enumerate(s.nodes):
        val = getattr(nd, name, None)
        if val is None:
            continue
        if nd.kind == "process":
            tot += val * F[:, s.in_edges(i)].sum(axis=1)
        elif nd.kind == "source":
            tot += val * F[:, s.out_edges(i)].sum(axis=1)
    for e in s.edges:
        val = getattr(e, name, None)
        if e.rule == "route" and val is not None:
            tot += val * F[:, e.id]
    return tot


def _products(s) -> list[str]:
    return [str(v) for v in s.dimensions["product"]]


def _pool_yield(s) -> float:
    e = _edges(s, "pool[sc]", "casthouse")[0]
    return float(s.edges[e].coef[0, -1])


def _fab_yield_sc(res) -> np.ndarray:
    """Share of the sc cast-house output that ends in products (the fabrication yield)."""
    s = res.system
    tot = _sum(res, _edges(s, "casthouse", "fab[sc]"))
    prod = _sum(res, _edges(s, "fab[sc]", "assembly"))
    return np.divide(prod, tot, out=np.ones_like(tot), where=tot > 0)


def surplus_by_input(res) -> pd.DataFrame:
    """Scrap surplus by cast-house input (Mt/yr): what each input offered minus what the outputs
    took (from the decisions table; simulation results only)."""
    s = res.system
    d = res.decisions
    rows = {}
    bl = next(b for b in s.blends if s.nodes[b.node].name == "casthouse")
    F = res.flows_array.sum(axis=2)
    for e_in in bl.inputs:
        src = s.nodes[s.edges[e_in].source]
        if src.free:
            continue
        taken = d[(d.node == "casthouse") & (d.kind == "allocation") & d.decision.str.startswith(f"{src.name} -> ")]
        taken = taken.groupby("year").value.sum().reindex(s.years, fill_value=0.0).to_numpy()
        rows[src.name] = F[:, e_in] - taken
    return pd.DataFrame(rows, index=pd.Index(s.years, name="year"))


def window_violations(res, tol: float = 1e-9) -> pd.DataFrame:
    """Years where the metal actually charged to an alloy (inputs as allocated, before the nominal
    booking) falls outside the alloy's window: one row per (year, alloy, element) with the
    actual mass fraction and the window. Simulation results only."""
    s = res.system
    bl = next(b for b in s.blends if s.nodes[b.node].name == "casthouse")
    d = res.decisions
    d = d[(d.node == "casthouse") & (d.kind == "allocation")]
    F = res.flows_array
    tot = F.sum(axis=2)
    rows = []
    for j, o in enumerate(bl.outputs):
        mix = np.zeros((s.T, s.C))
        for e_in in bl.inputs:
            src = s.nodes[s.edges[e_in].source]
            sel = d[d.decision == f"{src.name} -> {o.name}"].set_index("year").value.reindex(s.years, fill_value=0)
            comp = np.divide(F[:, e_in, :], tot[:, e_in, None], out=np.zeros((s.T, s.C)), where=tot[:, e_in, None] > 0)
            mix += sel.to_numpy()[:, None] * comp
        m = mix.sum(axis=1, keepdims=True)
        frac = np.divide(mix, m, out=np.zeros_like(mix), where=m > 0)
        for ci, el in enumerate(s.elements):
            lo, hi = o.window_lo[:, ci], o.window_hi[:, ci]
            bad = (frac[:, ci] < lo - tol) | (frac[:, ci] > hi + tol)
            for t in np.flatnonzero(bad):
                rows.append((int(s.years[t]), o.name, el, float(frac[t, ci]), float(lo[t]), float(hi[t])))
    return pd.DataFrame(rows, columns=["year", "alloy", "element", "actual", "min", "max"])
