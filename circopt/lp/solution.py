"""The Result of a solved LP: the solution read back in instance units, its balances closed
(:mod:`circopt.lp.postsolve`), checked on the unscaled model (:mod:`circopt.lp.verify`), and
turned into flows, stocks, decisions (with the bounds in force) and duals."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd

from ..decisions import Decisions
from ..flowrules import table_kinds
from ..stocks import stock_plan
from ..system import System
from .fix import violations
from .highs import Handover, col_label, highs_version
from .index import C_ALLOC, C_CAP, OptModel
from .postsolve import _polish, _project_routes
from .verify import UNRELIABLE, refuse_non_finite, verify


class NumericalWarning(UserWarning):
    """A solution that breaks its constraints on the unscaled model (status ``numerically unreliable``)."""


def build_result(om: OptModel, hl: Handover, h, sol, solve_seconds: float, opts: dict):
    """The Result of HiGHS's solution ``sol`` of ``hl`` (``h``: the solver, ``opts``: its options)."""
    from ..result import Result

    s = om.system
    T, E, C = s.T, len(s.edges), s.C
    t_post = time.perf_counter()
    x_all = np.asarray(sol.col_value, float) * hl.col_scale
    refuse_non_finite(x_all, lambda j: col_label(om, hl, j))
    x_all = np.minimum(np.maximum(x_all, hl.col_lb), hl.col_ub)
    x = x_all[: hl.n].copy()
    x = _polish(om, x)
    movable = hl.col_lb[: hl.n] < hl.col_ub[: hl.n]
    if _project_routes(om, x, movable):
        x = _polish(om, x)
    x_all[: hl.n] = x
    # Pyomo values
    for v, val in zip(om._xs, x.tolist()):
        v._value = val
    for v, val in zip(hl.extra_vars, x_all[hl.n:].tolist()):
        v.set_value(val, skip_validation=True)
    flows = (om.G @ x + om.g).reshape(T, E, C)
    refuse_non_finite(flows.ravel(), lambda k: s.edge_name((k // C) % E), "flows of the solution")
    plan = stock_plan(s)
    inflow_ext = plan.hist_inflow.copy()
    for k, nd in enumerate(plan.stocks):
        ins = s.in_edges(nd)
        if ins:
            inflow_ext[k, plan.H:] += flows[:, ins, :].sum(axis=1)
    notes = list(om.notes) + violations(om, x)
    terms = {name: float((row @ x)[0] + off) for name, (row, off) in om.terms.items()}
    if hl.user_objective:
        objective = hl.obj_sign * float(hl.c @ x_all + hl.obj_offset)
    else:
        objective = float(om.c @ x + om.c_offset)
    check = _check(om, hl, h, x_all, terms)
    if not check.ok:
        notes.append(check.note())
        warnings.warn(check.note(), NumericalWarning, stacklevel=3)
    record = decisions_of(om, x, flows)
    fields = dict(objective=objective, objective_terms=terms, status="optimal" if check.ok else UNRELIABLE,
                  solve_seconds=solve_seconds,
                  solver={"name": "highs", "version": highs_version(h), "options": dict(opts),
                          "model_status": h.modelStatusToString(h.getModelStatus())},
                  decision_record=record, decisions=with_bounds(om, record.to_table(s)),
                  duals=duals(om, hl, sol, x_all))
    res = Result.from_flows(_with_driven_series(s, flows), flows, inflow_ext, engine="optimise", notes=notes,
                            **fields)
    om.timings["postsolve"] = time.perf_counter() - t_post  # the Result and its audit included
    extra = {"verification": check.summary()}
    extra["lp"] = {"columns": int(hl.lp.num_col_), "rows": int(hl.lp.num_row_), "nonzeros": int(hl.A.nnz),
                   "objective": dict(om.objective), "epsilon": dict(om.epsilon),
                   "capacity_cost": capacity_cost(om, x),
                   "timings": {k: float(v) for k, v in om.timings.items()}, **om.fixed}
    if om.boundary:
        extra["boundary"] = om.boundary
    return res.annotated(**extra)


def _check(om: OptModel, hl: Handover, h, x_all: np.ndarray, terms: dict[str, float]):
    """The solution checked on the unscaled model (:mod:`circopt.lp.verify`)."""
    names = om.row_names
    extra = [nm for nm, _ in hl.extra_rows]
    row_name = (lambda i: names[i] if i < om.n_rows else extra[i - om.n_rows])
    own = None if hl.user_objective else float(sum(w * terms[k] for k, w in om.objective.items()))
    highs = float(h.getInfo().objective_function_value) * hl.obj_scale + hl.obj_offset
    return verify(hl.A, hl.row_lb, hl.row_ub, hl.col_lb, hl.col_ub, x_all, row_name,
                  lambda j: col_label(om, hl, j), objective=own, solver_objective=highs if own is not None else None,
                  c=hl.c, floor=max(om.mass_scale, float(np.abs(x_all).max(initial=0.0))))


def capacity_cost(om: OptModel, x: np.ndarray) -> list[float]:
    """Per model year: the cost of the capacities capacity constraints introduce (cost x K[t])."""
    cap = np.zeros(om.system.T)
    for j in np.flatnonzero(om.col_kind == C_CAP).tolist():
        cost = om.constraints[int(om.col_b[j])].get("cost")
        if cost is not None:
            cap[om.col_t[j]] += float(cost) * x[j]
    return cap.tolist()
def _with_driven_series(s: System, flows: np.ndarray) -> System:
    """The System with each stock-driven source's computed series filled in.

    ``network.check_structure`` leaves such a series at zeros (the engine computes it) and
    ``Result``'s audit reads ``node.series``, so without this the audit would report the
    source's whole outflow as an imbalance. A shallow copy: the caller's System is untouched.
    """
    driven = [i for i, n in enumerate(s.nodes) if n.kind == "source" and n.driven_by is not None]
    if not driven:
        return s
    nodes = list(s.nodes)
    for i in driven:
        outs = s.out_edges(i)
        frac = sum(s.edges[e].coef for e in outs)
        tot = flows[:, outs, :].sum(axis=(1, 2))
        series = np.divide(tot, frac, out=np.zeros(s.T), where=frac > 0)
        nodes[i] = dataclasses.replace(nodes[i], series=series)
    return dataclasses.replace(s, nodes=nodes)


def decisions_of(om: OptModel, x: np.ndarray, flows: np.ndarray):
    """The optimum's decisions (:class:`~circopt.decisions.Decisions`): route flows, blend
    allocations (free inputs included), free-source amounts and capacities."""
    s = om.system
    alloc = {b: np.zeros((len(bl.inputs), len(bl.outputs), s.T)) for b, bl in enumerate(s.blends)}
    cols = np.flatnonzero(om.col_kind == C_ALLOC)
    for j in cols.tolist():
        alloc[int(om.col_a[j])][int(om.col_b[j]), int(om.col_c[j]), int(om.col_t[j])] = x[j]
    cap = {}
    for j in np.flatnonzero(om.col_kind == C_CAP).tolist():
        e, shared = int(om.col_a[j]), int(om.col_c[j]) == 1  # a family's shared capacity: the family's name
        node = s.nodes[s.edges[e].source].family if shared else s.nodes[s.edges[e].source].name
        cap.setdefault((node, s.edges[e].label), np.zeros(s.T))[int(om.col_t[j])] = x[j]
    return Decisions.from_flows(s, flows, alloc, cap)


def with_bounds(om: OptModel, table: pd.DataFrame) -> pd.DataFrame:
    """The decisions table with the bounds in force, ``lower``/``upper``: on the ``share`` of a
    route (its split's bounds tightened by user share and forbid constraints) or of an
    allocation (0..1), on the ``value`` of a free source's supply (0..its ``max``) or of a
    capacity (0..inf; the capacity rows and their worth are in ``duals``)."""
    s = om.system
    n = len(table)
    lower, upper = np.zeros(n), np.full(n, np.inf)
    if not n:
        return table.assign(lower=lower, upper=upper)
    t = np.searchsorted(s.years.astype(int), table["year"].to_numpy(int))
    kind = table["kind"].to_numpy()
    upper[kind == "allocation"] = 1.0
    edge_of = {(s.nodes[e.source].name, e.label): e.id for e, k in zip(s.edges, table_kinds(s)) if k == "route"}
    rows = np.flatnonzero(kind == "route")
    if len(rows):
        eid = np.array([edge_of[(nd, lab)] for nd, lab in zip(table["node"].to_numpy()[rows],
                                                                 table["decision"].to_numpy()[rows])], int)
        lower[rows], upper[rows] = route_bounds(om, eid, t[rows])
    node_of = {nd.name: nd for nd in s.nodes}
    for r in np.flatnonzero(kind == "supply"):
        mx = node_of[table["node"].iat[r]].max_series
        if mx is not None:
            upper[r] = mx[t[r]]
    return table.assign(lower=lower, upper=upper)


def route_bounds(om: OptModel, eid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The share bounds in force on route ``eid`` in year index ``t`` (the split's own bounds
    tightened by user share constraints and forbidden routes): what ``decisions`` reports as
    ``lower``/``upper`` of a route's share."""
    lo, hi = np.zeros(len(eid)), np.ones(len(eid))
    if om.route_room is not None:
        rc, _, lo_s, hi_s, _ = om.route_room
        key = {(a, b): q for q, (a, b) in enumerate(zip(om.col_a[rc].tolist(), om.col_t[rc].tolist()))}
        q = np.array([key.get((e, tt), -1) for e, tt in zip(eid.tolist(), t.tolist())], int)
        ok = q >= 0
        lo[ok], hi[ok] = lo_s[q[ok]], hi_s[q[ok]]
    return lo, hi


def duals(om: OptModel, hl: Handover, sol, x_all: np.ndarray) -> pd.DataFrame:
    """Row duals in instance units (objective per unit of the row's bound) and which rows bind."""
    ydual = np.asarray(sol.row_dual, float) * hl.obj_scale / (hl.row_scale * hl.col_scale)
    act = hl.A @ x_all
    lb, ub = hl.row_lb, hl.row_ub
    mag = np.maximum(np.where(np.isfinite(lb), np.abs(lb), 0.0), np.where(np.isfinite(ub), np.abs(ub), 0.0))
    tol = 1e-7 * np.maximum(hl.col_scale, mag)
    binding = (np.isfinite(lb) & (np.abs(act - lb) <= tol)) | (np.isfinite(ub) & (np.abs(act - ub) <= tol))
    table = om.row_table()
    if hl.extra_rows:
        extra = pd.DataFrame({"constraint": [nm for nm, _ in hl.extra_rows], "kind": "user", "node": None,
                              "year": pd.array([pd.NA] * len(hl.extra_rows), dtype="Int64"), "element": None,
                              "origin": "added to the Pyomo model"})
        table = pd.concat([table, extra], ignore_index=True)
    table.insert(5, "dual", ydual)
    table.insert(6, "binding", binding)
    table.insert(7, "activity", act)
    table.insert(8, "lower", lb)
    table.insert(9, "upper", ub)
    return table
