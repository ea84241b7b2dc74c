"""Building an LP: a System (loaded once) -> a validated set of user constraints, a parsed
objective -> columns, flow map, rows, objective (:mod:`circopt.lp.assemble` and the modules
it names) -> an :class:`~circopt.lp.index.OptModel` holding the Pyomo model."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InstanceError
from ..system import System
from .assemble import Builder, classify, constants, flow_map
from .columns import columns
from .fix import apply_fix
from .index import OptModel
from .objective import boundary_note, objective_row, parse_epsilon, parse_objective
from .rows import rows
from .user_rows import validate_constraints


def build_model(system: System | str | Path, objective: Any = "losses", constraints: list[dict] | None = None,
                fix: Any = None, weights: dict[str, float] | None = None, epsilon: dict | None = None,
                scenario: str | None = None, **objective_options: Any) -> OptModel:
    """Build the LP of a system as an :class:`OptModel` (see :func:`circopt.lp.solve.optimise` for
    the arguments)."""
    system = as_system(system, scenario)
    t0 = time.perf_counter()
    cons = validate_constraints(system, constraints)
    obj = parse_objective(objective, weights, objective_options)
    eps = parse_epsilon(epsilon, objective_options)
    om = assemble(Builder(system, obj, cons, eps), fix)
    om.timings["validate+assemble"] = time.perf_counter() - t0
    return om


def assemble(b: Builder, fix) -> OptModel:
    """Every step of a build, in order, then the model record and its Pyomo model."""
    classify(b)
    constants(b)
    columns(b)
    flow_map(b)
    rows(b)
    objective_row(b)
    fixed, relaxed = apply_fix(b, fix) if fix is not None else ({}, None)
    om = OptModel(
        system=b.s, A=b.A, row_lb=b.row_lb, row_ub=b.row_ub, col_lb=b.col_lb, col_ub=b.col_ub,
        c=b.c, c_offset=b.c_offset, G=b.G, g=b.g,
        col_kind=b.col_kind, col_a=b.col_a, col_b=b.col_b, col_c=b.col_c, col_t=b.col_t,
        row_kind=b.row_kind, row_a=b.row_a, row_b=b.row_b, row_c=b.row_c, row_t=b.row_t,
        row_u=b.row_u, objective={k: w for k, (w, _) in b.obj.items()}, terms=b.terms,
        constraints=b.cons, epsilon={k: v for k, (v, _) in b.eps.items()},
        mass_scale=mass_scale(b), polish_rows=b.polish_rows, polish_cand=b.polish_cand,
        A_polish=b.A_polish, route_room=b.route_room, fixed=fixed, notes=list(b.notes), relaxed=relaxed,
        boundary=boundary_note(b.obj, b.s))
    return om


def mass_scale(b) -> float:
    """The power of two near the largest mass the model holds (constants, demands, maxima, capacities):
    the hand-over divides every mass by it."""
    s = b.s
    vals = [np.abs(b.g).max() if b.g.size else 0.0]
    for bl in s.blends:
        for o in bl.outputs:
            if o.demand is not None:
                vals.append(np.abs(o.demand).max())
    for nd in s.nodes:
        for arr in (nd.max_series, nd.target_stock):
            if arr is not None:
                vals.append(np.abs(arr).max())
    for e in s.edges:
        if e.capacity is not None and np.isfinite(e.capacity).any():
            vals.append(np.abs(e.capacity[np.isfinite(e.capacity)]).max())
    v = max(vals)
    return float(2.0 ** min(round(math.log2(v)), 1000)) if v > 0 and math.isfinite(v) else 1.0


def as_system(system: System | str | Path, scenario: str | None = None) -> System:
    """The System to build from: ``system`` itself, or loaded from its folder (with ``scenario``)."""
    from ..instance import load

    if isinstance(system, System):
        if scenario is not None and scenario != system.scenario:
            if system.path is None:
                raise InstanceError("scenario", "a scenario can only be applied to a System loaded from a folder",
                                    scenario)
            return load(system.path, scenario)
        return system
    return load(system, scenario)
