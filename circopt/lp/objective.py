"""The objective: the terms a user names (with weights and options), each term as one row over
the LP's columns, and the epsilon bounds that hold a second term below a value.

``objective="losses"``, ``["losses", "primary"]`` or ``{"losses": 1, "primary": 0.01}`` (a weight
may be ``{"weight": w, **options}``). ``losses``: flows into sinks whose loss type is in
``loss_types`` (default dissipation, process, dilution and exported material), weighted per
element by ``elements`` (default ``{"total": 1}``), summed over the years up to ``horizon`` (or
within ``years``); ``surplus``: flows into sinks of loss type ``surplus``; ``primary``: what free
sources supply; ``energy`` / ``co2``: a process's ``energy`` per unit of its input, a source's per
unit of its amount, a route's per unit of its flow; ``cost``: a free source's ``cost`` per unit
supplied + route costs (+ a process's cost per unit of input, + ``cost`` x capacity of capacity
constraints); ``indicator:NAME``: a declared indicator. ``epsilon={"surplus": 400}`` holds a term
at or below a value (row ``epsilon[surplus]``).

A term's weights on flows are :func:`circopt.terms.flow_weights`'s (the same weights a Result's
indicators use); here they are carried through the flow map ``G`` to the columns, and the cost
term adds what the capacities of capacity constraints cost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InstanceError
from ..system import System
from ..terms import DEFAULT_LOSS_TYPES, flow_weights, is_term
from .select import years_mask

OBJECTIVES = ("losses", "surplus", "primary", "energy", "co2", "cost")
OBJECTIVE_OPTIONS = {"loss_types", "elements", "horizon", "years"}


def check_options(opts: dict, where: str) -> None:
    """Refuse options a term does not know (``where``: how to name them in the message)."""
    bad = set(opts) - OBJECTIVE_OPTIONS
    if bad:
        raise InstanceError(where, f"unknown objective option(s) {sorted(bad)}",
                            expected=f"some of {sorted(OBJECTIVE_OPTIONS)}")


def parse_objective(objective, weights, options) -> dict[str, tuple[float, dict]]:
    """``{term: (weight, options)}`` from a name, a list of names or ``{name: weight | {"weight": w,
    **options}}``; ``weights`` overrides the weights, ``options`` apply to every term."""
    check_options(options, "objective options")
    if isinstance(objective, str):
        spec = {objective: 1.0}
    elif isinstance(objective, (list, tuple)):
        spec = {str(k): 1.0 for k in objective}
    elif isinstance(objective, dict):
        spec = dict(objective)
    else:
        raise InstanceError("objective", "expected a name, a list of names or {name: weight}", objective,
                            expected=f"names from {list(OBJECTIVES)}")
    for k, w in (weights or {}).items():
        if k not in spec:
            spec[k] = w
        elif isinstance(spec[k], dict):
            spec[k] = {**spec[k], "weight": w}
        else:
            spec[k] = w
    out = {}
    for name, val in spec.items():
        w, opts = _term_spec("objective", name, val, "weight", 1.0, options)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise InstanceError(f"objective.{name}", "weight must be a finite number", w)
        out[name] = (float(w), opts)
    if not out:
        raise InstanceError("objective", "no objective term given", objective, expected=f"names from {list(OBJECTIVES)}")
    return out


def parse_epsilon(epsilon, options) -> dict[str, tuple[float, dict]]:
    """``{term: (upper bound, options)}`` from ``epsilon={term: max | {"max": max, **options}}``."""
    out = {}
    for name, val in (epsilon or {}).items():
        mx, opts = _term_spec("epsilon", name, val, "max", None, options)
        if isinstance(mx, bool) or not isinstance(mx, (int, float)) or not math.isfinite(mx):
            raise InstanceError(f"epsilon.{name}", "expected a finite upper bound", mx)
        out[name] = (float(mx), opts)
    return out


def _term_spec(where: str, name: str, val, key: str, default, options: dict) -> tuple[Any, dict]:
    """(the number given for term ``name``, its options): ``val`` is the number or
    ``{key: number, **options}``; ``options`` are the defaults for every term."""
    if not is_term(name):
        raise InstanceError(where, f"unknown objective '{name}'", name,
                            expected=f"one of {list(OBJECTIVES)} or indicator:NAME")
    opts = dict(options)
    if isinstance(val, dict):
        val = dict(val)
        num = val.pop(key, default)
        check_options(val, f"{where}.{name}")
        opts.update(val)
    else:
        num = val
    return num, opts


def freeze(x):
    """A hashable copy of nested dicts and lists (cache keys)."""
    if isinstance(x, dict):
        return tuple(sorted((k, freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(freeze(v) for v in x)
    return x


def term(b, name: str, opts: dict) -> tuple[sp.csr_matrix, float]:
    """A term as (1 x n row over columns, constant) in instance units: the weights on flows
    of :func:`circopt.terms.flow_weights` through the flow map, + the cost of capacities."""
    key = (name, freeze(opts))
    cache = b.term_cache
    if key in cache:
        return cache[key]
    w, const = flow_weights(b.s, name, opts)
    extra = np.zeros(b.n)
    if name == "cost":
        mask = years_mask(b.s, opts, name)
        for k, con in enumerate(b.cons):
            if con["type"] == "capacity" and con.get("cost") is not None:
                keys = ["shared"] if con.get("shared") else con["edges"]
                for e in keys:
                    extra[b.cap_col[(k, e)] + b.tt[mask]] += float(con["cost"])
    wf = w.ravel()
    nz = np.flatnonzero(wf)
    W = sp.csr_matrix((wf[nz], (np.zeros(len(nz), int), nz)), shape=(1, b.F))
    row = (W @ b.G).tocsr() + sp.csr_matrix(extra[None, :])
    off = float(wf[nz] @ b.g[nz]) + const
    cache[key] = (row.tocsr(), off)
    return cache[key]


def objective_row(b) -> None:
    """The objective row (``b.c``, ``b.c_offset``) and every named term's row in ``b.terms``."""
    c = np.zeros(b.n)
    off = 0.0
    for name, (wt, opts) in b.obj.items():
        row, o = term(b, name, opts)
        b.terms[name] = (row, o)
        c += wt * row.toarray().ravel()
        off += wt * o
    for name, (_, opts) in b.eps.items():
        if name not in b.terms:
            row, o = term(b, name, opts)
            b.terms[name] = (row, o)
    b.c, b.c_offset = c, off


def boundary_note(obj: dict, system: System) -> dict:
    """The boundary view and whether the objective's losses term counts exported material."""
    opts = (obj.get("losses") or (None, {}))[1]
    counted = "losses" in obj and "exported" in set(opts.get("loss_types") or DEFAULT_LOSS_TYPES)
    return {"view": system.boundary, "objective_counts_exported": bool(counted)}
