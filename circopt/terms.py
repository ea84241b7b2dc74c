"""Objective terms and indicators as weights on flows: one definition for the LP and for every Result.

A term is a weighted sum of the flows ``flow[t, e, c]`` (year, edge, channel) plus a constant:

* ``losses``: flows into sinks whose loss type is in ``loss_types`` (default dissipation, process,
  dilution and ``exported``, the export nodes), weighted per channel by ``elements`` (default ``{"total": 1}``);
* ``surplus``: flows into sinks of loss type ``surplus`` (same ``elements`` weights);
* ``primary``: what decision-driven ("free") sources supply;
* ``energy`` / ``co2``: a process's value per unit of its input, a source's per unit of its amount, a
  split route's per unit of its flow;
* ``cost``: a free source's cost per unit supplied, a route's per unit of its flow, a process's per
  unit of input (+ the cost of capacities a capacity constraint introduces: an LP column, added by
  the LP and, for a Result, from ``Result.extra["lp"]["capacity_cost"]``);
* ``indicator:NAME``: an indicator declared in the instance (:mod:`circopt.indicators`).

The years counted are those up to ``horizon`` and within ``years``. The LP multiplies these weights
by its flow map (:func:`circopt.lp.objective.term`); :func:`values` multiplies them by a Result's flows, so a
simulation reports energy, CO2 and cost exactly as the optimiser counts them.
"""

from __future__ import annotations

import numpy as np

from .errors import InstanceError
from .flowrules import edge_kind
from .system import TOTAL, System

__all__ = ["DEFAULT_LOSS_TYPES", "TERMS", "flow_weights", "free_supply", "objective_value", "series", "table",
           "value", "values"]

TERMS = ("losses", "surplus", "primary", "energy", "co2", "cost")
#: exported material (``export`` nodes) counts by default: under the domestic boundary view it is
#: lost to the region, and an objective that ignored it would gain by pushing material abroad
#: (under the global view an export node with a declared fate abroad is not a sink at all)
DEFAULT_LOSS_TYPES = ("dissipation", "process", "dilution", "exported")
INDICATOR = "indicator:"


def is_term(name: str) -> bool:
    return name in TERMS or (isinstance(name, str) and name.startswith(INDICATOR))


def flow_weights(system: System, name: str, opts: dict | None = None) -> tuple[np.ndarray, float]:
    """``(w, constant)``: the term ``name`` equals ``(w * flows).sum() + constant`` (w: (T, E, C))."""
    from .lp.select import channel_weights, years_mask

    opts = dict(opts or {})
    s = system
    T, E, C = s.T, len(s.edges), s.C
    if name.startswith(INDICATOR):
        from .indicators import indicator_weights

        return indicator_weights(s, name[len(INDICATOR):], opts)
    mask = years_mask(s, opts, name)
    w = np.zeros((T, E, C))
    if name in ("losses", "surplus"):
        types = set(opts.get("loss_types") or DEFAULT_LOSS_TYPES) if name == "losses" else {"surplus"}
        bad = types - set(_loss_types())
        if bad:
            raise InstanceError("objective option loss_types", "unknown loss type", sorted(bad),
                                expected=f"some of {list(_loss_types())}")
        cw = channel_weights(s, opts.get("elements") or {TOTAL: 1.0}, "objective option elements")
        for i, nd in enumerate(s.nodes):
            if nd.kind == "sink" and nd.loss in types:
                for e in s.in_edges(i):
                    w[:, e, :] = cw[None, :]
    elif name == "primary":
        for e in s.edges:
            if edge_kind(s, e) == "free":
                w[:, e.id, :] = 1.0
    elif name in ("energy", "co2", "cost"):
        _intensity_weights(s, name, w)
    else:
        raise InstanceError("objective", f"unknown objective '{name}'", name,
                            expected=f"one of {list(TERMS)} or indicator:NAME")
    w[~mask] = 0.0
    return w, 0.0


def _intensity_weights(s: System, name: str, w: np.ndarray) -> None:
    for i, nd in enumerate(s.nodes):
        val = getattr(nd, name, None)
        if val is None:
            continue
        if nd.kind == "process":
            for e in s.in_edges(i):
                w[:, e, :] += val[:, None]
        elif nd.kind == "source" and (name != "cost" or nd.free):
            for e in s.out_edges(i):
                w[:, e, :] += val[:, None]
    for e in s.edges:
        val = getattr(e, name, None)
        if e.rule == "route" and val is not None:
            w[:, e.id, :] += val[:, None]


def _loss_types():
    from .system import EXPORTED, LOSS_TYPES

    return (*LOSS_TYPES, EXPORTED)


def value(result, name: str, opts: dict | None = None) -> float:
    """The term ``name`` (with options ``opts``) recomputed from a Result's flows."""
    from .lp.select import years_mask

    w, const = flow_weights(result.system, name, opts)
    v = float(np.einsum("tec,tec->", w, result.flows_array)) + const
    if name == "cost":
        cap = (result.extra.get("lp") or {}).get("capacity_cost")
        if cap is not None:
            mask = years_mask(result.system, dict(opts or {}), name)
            v += float(np.asarray(cap, float)[mask].sum())
    return v


def series(result, name: str, opts: dict | None = None) -> np.ndarray:
    """The term per model year (T,) from a Result's flows (a stock indicator: per year of its
    flows' contribution, so only the sum is meaningful for stocks; the constant is not spread)."""
    w, _ = flow_weights(result.system, name, opts)
    out = np.einsum("tec,tec->t", w, result.flows_array)
    if name == "cost":
        from .lp.select import years_mask

        cap = (result.extra.get("lp") or {}).get("capacity_cost")
        if cap is not None:
            out = out + np.where(years_mask(result.system, dict(opts or {}), name), np.asarray(cap, float), 0.0)
    return out


def table(result) -> "pd.DataFrame":
    """Every term per model year (default options): columns year, losses, surplus, primary,
    energy, co2, cost (``terms.csv``)."""
    import pandas as pd

    out = pd.DataFrame({"year": result.system.years.astype(int)})
    for name in TERMS:
        out[name] = series(result, name)
    return out


def values(result) -> dict[str, float]:
    """Every term (default options) and every declared indicator (``indicator:NAME``) of a Result."""
    from .indicators import declared

    out = {name: value(result, name) for name in TERMS}
    for name in declared(result.system):
        out[f"{INDICATOR}{name}"] = value(result, f"{INDICATOR}{name}")
    return out


def objective_value(result, objective: dict[str, tuple[float, dict]]) -> float:
    """``sum weight x term`` recomputed from the flows, for a parsed objective ``{name: (weight, options)}``."""
    return float(sum(wt * value(result, name, opts) for name, (wt, opts) in objective.items()))


def free_supply(result) -> dict:
    """Per decision-driven (free) source: which of energy, CO2 and cost it declares (``priced``; the
    loader requires all three, 0 only explicitly), their values per unit (first year) and what it
    supplied, per element (+ total) and model year."""
    s = result.system
    F = result.flows_array
    out = {}
    for i, nd in enumerate(s.nodes):
        if nd.kind != "source" or not nd.free:
            continue
        outs = s.out_edges(i)
        arr = F[:, outs, :].sum(axis=1) if outs else np.zeros((s.T, s.C))  # (T, C)
        supplied = {el: arr[:, c].tolist() for c, el in enumerate(s.elements)}
        supplied[TOTAL] = arr.sum(axis=1).tolist()
        priced = {k: getattr(nd, k, None) is not None
                  for k in ("energy", "co2", "cost")}
        per_unit = {k: float(np.asarray(getattr(nd, k))[0]) for k in priced if priced[k]}
        out[nd.name] = {"priced": priced, "unpriced": not all(priced.values()), "per_unit": per_unit,
                        "supplied": supplied}
    return out
