"""Fate tracing (the MaTrace view): where does the material of one year's input end up?

A unit pulse of a source's stream enters in year ``t0``; the simulation then follows only
that material (other sources, history cohorts, free and following sources are off,
blends take what they are offered).

With an objective, the pulse follows *the optimum's decisions*: in every year each split
sends the pulse along its routes in the shares the optimum's route flows have of that
split's input, and each blend input offers the pulse to each output (and the surplus) in
the fractions the optimum allocates of that input; free inputs add nothing to a pulse.
(Where the optimum's split or blend input carries nothing in a year, the baseline shares,
or an even split, apply.) Because every year's flows end in a stock or a
sink, in every year

    sum over stocks (in use, by product and life) + cumulative sum over sinks (by loss type) = 1

for each element and the total — the test of a trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CircoptError
from .result import sink_kind
from .simulate import Shares, shares_from_decisions, simulate
from .system import TOTAL, System

SUMMARY_YEARS = (10, 25, 50, 100)
#: a trace whose shares (in use + cumulative losses) miss 1 by more than this in any year and
#: element is refused: its numbers would not be shares of the pulse
SHARE_TOL = 1e-6
#: horizon (years after the pulse) of the inflow-share indicators
INFLOW_YEARS = 50


@dataclass
class Fate:
    """Shares of a traced pulse by year, element, kind (``in_use``, ``loss`` or ``exported``) and
    state (the stock, the loss type, or ``export``)."""

    table: pd.DataFrame  # year, element, kind, state, share
    summary: pd.DataFrame  # element, indicator, value
    result: object  # the pulse simulation's Result
    pulse: dict[str, float] = field(default_factory=dict)
    year: int = 0

    def in_use(self, element: str = TOTAL) -> pd.Series:
        t = self.table
        return t[(t.element == element) & (t.kind == "in_use")].groupby("year")["share"].sum()

    def loss(self, element: str = TOTAL, loss_type: str | None = None) -> pd.Series:
        t = self.table
        sel = t[(t.element == element) & (t.kind == "loss")]
        if loss_type:
            sel = sel[sel.state == loss_type]
        return sel.groupby("year")["share"].sum()

    def exported(self, element: str = TOTAL) -> pd.Series:
        """Cumulative share that has left the region through export nodes (neither in use nor lost)."""
        t = self.table
        return t[(t.element == element) & (t.kind == "exported")].groupby("year")["share"].sum()

    def to_dir(self, out: str | Path) -> Path:
        from .result import write_atomic

        summ = {"pulse": self.pulse, "pulse_year": self.year, "instance": self.result.system.name,
                "scenario": self.result.system.scenario,
                "max_relative_imbalance": self.result.max_relative_imbalance,
                "max_share_sum_error": float(self.share_sum_error())}
        return write_atomic(out, {"fate": self.table, "fate_summary": self.summary}, summ,
                            instance_dir=self.result.system.path, command="trace")

    def share_sum_error(self) -> float:
        s = self.table.groupby(["year", "element"])["share"].sum()
        return float(np.abs(s - 1.0).max())


def pulse_sources(system: System, source: str | None) -> list[int]:
    """The source nodes a pulse enters at: a node name, a family, or the instance's ``trace.source``."""
    name = source or (system.raw.get("trace") or {}).get("source")
    cands = [i for i, n in enumerate(system.nodes)
             if n.kind == "source" and not n.free and n.follows is None]
    if name is None:
        if len({system.nodes[i].family for i in cands}) == 1:  # one source, or the members of one family
            return cands
        if len(cands) != 1:
            raise CircoptError("fate tracing needs a source: give --source NAME (or 'trace: {source: NAME}' in the "
                               f"instance); sources: {[system.nodes[i].name for i in cands]}")
        return cands
    ids = [i for i in cands if system.nodes[i].name == name or system.nodes[i].family == name]
    if not ids:
        raise CircoptError(f"trace source '{name}' is not a source with a series; sources: "
                           f"{[system.nodes[i].name for i in cands]}")
    return ids


def trace(system: System | str | Path, source: str | None = None, year: int | None = None, amount: float = 1.0,
          scenario: str | None = None, shares: Shares | None = None, objective=None, decisions=None,
          **opt_kwargs) -> Fate:
    """Trace a pulse of ``amount`` (unit of the instance) of a source's stream entering in ``year``.

    With ``objective``, the system is first optimised and the pulse follows the optimum's
    decisions (its route shares and allocation fractions, see the module docstring); with
    ``decisions`` (a record, Result, table or path), those; with ``shares``, those shares;
    otherwise the baseline.
    """
    from .instance import load

    if not isinstance(system, System):
        system = load(system, scenario)
    elif scenario is not None and scenario != system.scenario:
        system = load(system.path, scenario, boundary=system.boundary)
    cfg = system.raw.get("trace") or {}
    year = int(year if year is not None else cfg.get("year", system.years[0]))
    if year not in set(int(y) for y in system.years):
        raise CircoptError(f"trace year {year} is outside the model years {system.years[0]}-{system.years[-1]}")
    t0 = int(np.where(system.years == year)[0][0])
    ids = pulse_sources(system, source)
    weights = np.array([system.nodes[i].series[t0] for i in ids], float)
    if weights.sum() <= 0:
        weights = np.ones(len(ids))
    weights = weights / weights.sum()
    pulse = {}
    for i, w in zip(ids, weights):
        s = np.zeros(system.T)
        s[t0] = amount * w
        pulse[system.nodes[i].name] = s
    if objective is not None and shares is None and decisions is None:
        from .model import optimise

        decisions = optimise(system, objective=objective, **opt_kwargs)
    if decisions is not None and shares is None:
        shares = shares_from_decisions(system, decisions)
    res = simulate(system, shares=shares, pulse=pulse)
    table, summary = _fate_tables(system, res, ids, t0)
    _check_shares(system, table)
    return Fate(table=table, summary=summary, result=res,
                pulse={k: float(v[t0]) for k, v in pulse.items()}, year=year)


def _fate_tables(system: System, res, ids: list[int], t0: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    F = res.flows_array  # (T, E, C)
    # element mass of the pulse (per channel)
    inj = sum(F[t0, e, :] for i in ids for e in system.out_edges(i))
    inj_k = np.concatenate([inj[:-1], [inj.sum()]])  # tracked elements + total
    elements = [*system.elements, TOTAL]

    def norm(a):  # (..., C) -> (..., K) shares of the pulse
        k = np.concatenate([a[..., :-1], a.sum(axis=-1, keepdims=True)], axis=-1)
        return np.divide(k, inj_k, out=np.zeros_like(k), where=inj_k > 0)

    years = system.years[t0:]
    recs = []
    names, lives = res._stock_labels()
    stock_nodes = [n for n in system.nodes if n.kind == "stock"]
    for s, (name, life) in enumerate(zip(names, lives)):
        sh = norm(res.stock_array[s, t0:, :])
        state = f"{name}/life{life}" if "life" in stock_nodes[s].index else name
        recs.append(_long(years, elements, "in_use", state, sh))
    sinks = {}
    for i, n in enumerate(system.nodes):
        if n.kind == "sink":
            ins = system.in_edges(i)
            if ins:
                sinks.setdefault((sink_kind(n), n.loss), []).extend(ins)
    for (kind, loss), edges in sorted(sinks.items()):
        cum = np.cumsum(F[t0:, edges, :].sum(axis=1), axis=0)
        recs.append(_long(years, elements, kind, loss, norm(cum)))
    table = pd.concat(recs, ignore_index=True)
    present = [el for el, m in zip(elements, inj_k) if m > 0]  # an element absent from the pulse has no fate
    table = table[table.element.isin(present)]
    elements = present
    table = table.groupby(["year", "element", "kind", "state"], as_index=False, sort=True)["share"].sum()
    # summary indicators
    stock_ids = [i for i, n in enumerate(system.nodes) if n.kind == "stock"]
    inflow_use = sum(F[t0:, e, :].sum(axis=0) for i in stock_ids for e in system.in_edges(i))
    uses_all = norm(np.asarray(inflow_use, float)) if len(stock_ids) else np.zeros(len(inj_k))
    all_names = [*system.elements, TOTAL]
    srecs = []
    for el in elements:
        k = all_names.index(el)
        iu = table[(table.element == el) & (table.kind == "in_use")].groupby("year")["share"].sum()
        iu = iu.reindex(years, fill_value=0.0)
        for n_years in SUMMARY_YEARS:
            y = years[0] + n_years
            if y <= years[-1]:
                srecs.append((el, f"in_use_after_{n_years}y", float(iu.loc[y])))
                for kinds, label in ((["loss"], "lost"), (["exported"], "exported"),
                                     (["loss", "exported"], "lost_to_region")):
                    sel = table[(table.element == el) & table.kind.isin(kinds) & (table.year == y)]
                    srecs.append((el, f"{label}_after_{n_years}y", float(sel.share.sum())))
        srecs.append((el, "average_number_of_uses", float(uses_all[k])))
        srecs.append((el, "half_life_years", _half_life(iu.to_numpy(), years)))
        lo = table[(table.element == el) & table.kind.isin(["loss", "exported"]) & (table.year == years[-1])]
        for r in lo.itertuples():
            srecs.append((el, f"cumulative_{r.state}_at_{years[-1]}", float(r.share)))
        srecs.append((el, f"in_use_at_{years[-1]}", float(iu.iloc[-1])))
    srecs += _inflow_shares(system, F, t0, elements)
    summary = pd.DataFrame.from_records(srecs, columns=["element", "indicator", "value"])
    return table, summary


def _check_shares(system: System, table: pd.DataFrame) -> None:
    """Refuse a trace whose shares do not add up to 1 (material entered that is not the pulse's,
    or left without being booked)."""
    s = table.groupby(["year", "element"])["share"].sum()
    err = (s - 1.0).abs()
    if len(err) and float(err.max()) > SHARE_TOL:
        (year, el), total = err.idxmax(), float(s[err.idxmax()])
        raise CircoptError(f"{system.name}: the traced shares of {el} add up to {total:.6g} in {year}, not 1 "
                           f"(tolerance {SHARE_TOL:g}): material that is not the pulse's enters its path, or "
                           "some leaves unbooked; the fate would be meaningless")


def _inflow_shares(system: System, F: np.ndarray, t0: int, elements: list[str]) -> list[tuple]:
    """Where the pulse enters use: per stock family with dimensions, the share of the family's
    inflow (summed over the first INFLOW_YEARS years, every cycle) that goes to each value of
    each dimension other than life, e.g. ``inflow_share_50y/products[product=construction]``."""
    all_names = [*system.elements, TOTAL]
    t1 = min(system.T, t0 + INFLOW_YEARS + 1)
    fams: dict[str, list[int]] = {}
    for i, n in enumerate(system.nodes):
        if n.kind == "stock" and any(k != "life" for k in n.index):
            fams.setdefault(n.family, []).append(i)
    recs = []
    for fam, ids in fams.items():
        inflow = {i: sum(F[t0:t1, e, :].sum(axis=0) for e in system.in_edges(i)) for i in ids}
        inflow = {i: np.concatenate([v[:-1], [v.sum()]]) if np.ndim(v) else np.zeros(len(all_names))
                  for i, v in inflow.items()}
        total = sum(inflow.values())
        groups: dict[str, np.ndarray] = {}
        for i in ids:
            for dim, val in system.nodes[i].index.items():
                if dim != "life":
                    key = f"{fam}[{dim}={val}]"
                    groups[key] = groups.get(key, 0.0) + inflow[i]
        for key, v in groups.items():
            share = np.divide(v, total, out=np.zeros_like(v), where=total > 0)
            recs += [(el, f"inflow_share_{INFLOW_YEARS}y/{key}", float(share[all_names.index(el)]))
                     for el in elements]
    return recs


def _long(years, elements, kind, state, arr) -> pd.DataFrame:
    T, K = arr.shape
    return pd.DataFrame({"year": np.repeat(years, K), "element": np.tile(elements, T), "kind": kind,
                         "state": state, "share": arr.ravel()})


def _half_life(in_use: np.ndarray, years: np.ndarray) -> float:
    """Years after the pulse until less than half of it is in use (linear interpolation);
    NaN if that does not happen within the horizon. The pulse enters use during its year,
    so the share at the pulse year is the starting point."""
    below = np.where(in_use < 0.5)[0]
    if not len(below):
        return float("nan")
    k = int(below[0])
    if k == 0:
        return 0.0
    a, b = in_use[k - 1], in_use[k]
    frac = (a - 0.5) / (a - b) if a != b else 0.0
    return float(years[k - 1] - years[0] + frac)
