"""Selections the LP's terms, rows and expressions are written over: counted years, year
windows, element weights, one year, one stream (named in the instance's words)."""

from __future__ import annotations

import numpy as np

from ..errors import InstanceError
from ..system import TOTAL, System


def years_mask(system: System, opts: dict, where: str) -> np.ndarray:
    """(T,) the model years a term counts: up to ``horizon`` and within ``years`` of ``opts``."""
    yrs = system.years
    mask = np.ones(len(yrs), bool)
    if opts.get("horizon") is not None:
        h = opts["horizon"]
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)):
            raise InstanceError(f"{where}: horizon", "expected a year", h)
        mask &= yrs <= int(h)
    if opts.get("years") is not None:
        mask &= year_window(system, opts["years"], f"{where}: years")
    if not mask.any():
        raise InstanceError(where, "no model year is counted", {k: opts.get(k) for k in ("horizon", "years")},
                            expected=f"years within {int(yrs[0])}..{int(yrs[-1])}")
    return mask


def year_window(system: System, val, where: str) -> np.ndarray:
    """(T,) the model years in ``[first, last]`` (inclusive) or the one year ``val``."""
    yrs = system.years
    if isinstance(val, (int, np.integer)) and not isinstance(val, bool):
        first = last = int(val)
    elif (isinstance(val, (list, tuple)) and len(val) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in val)):
        first, last = int(val[0]), int(val[1])
    else:
        raise InstanceError(where, "expected [first, last] (inclusive years) or one year", val)
    if first > last:
        raise InstanceError(where, "first year after last year", val)
    mask = (yrs >= first) & (yrs <= last)
    if not mask.any():
        raise InstanceError(where, "the window holds no model year", val,
                            expected=f"years within {int(yrs[0])}..{int(yrs[-1])}")
    return mask


def channel_weights(system: System, spec, where: str) -> np.ndarray:
    """(C,) weights per channel from ``{element|"total": weight}`` (a name or a list: weight 1)."""
    if isinstance(spec, (list, tuple)):
        spec = {k: 1.0 for k in spec}
    if isinstance(spec, str):
        spec = {spec: 1.0}
    if not isinstance(spec, dict) or not spec:
        raise InstanceError(where, "expected {element: weight}", spec)
    w = np.zeros(system.C)
    for el, v in spec.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InstanceError(f"{where}.{el}", "expected a number", v)
        if el == TOTAL:
            w += float(v)
        elif el in system.channels:
            w[system.channels.index(el)] += float(v)
        else:
            raise InstanceError(where, "unknown element", el, expected=f"one of {[*system.channels, TOTAL]}")
    return w


def year_index(system: System, year: int) -> int:
    """The index of a model year (KeyError when it is not one)."""
    hits = np.flatnonzero(system.years == int(year))
    if not len(hits):
        raise KeyError(f"year {year} is not a model year ({int(system.years[0])}..{int(system.years[-1])})")
    return int(hits[0])


def edge_between(system: System, source: str, target: str) -> int:
    """The edge from node ``source`` to node ``target`` (names; KeyError when there is none)."""
    for e in system.edges:
        if system.nodes[e.source].name == source and system.nodes[e.target].name == target:
            return e.id
    raise KeyError(f"no stream {source} -> {target}")

