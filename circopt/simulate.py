"""Plain simulation: every flow, stock and loss for given shares and allocations.

Year by year, (1) each stock's outflow from earlier cohorts is a convolution of its
inflow history with its outflow kernel; (2) the same-year network is one sparse linear
system ``(I - M_t) f_t = b_t`` over every edge and channel, so recycling loops close
with no hand algebra (a stock whose lifetime can end in its year of entry joins that
solve through its age-0 term ``pdf(0)``).

Blend rule in simulation (documented in docs/concepts.md): input *i* offers the share
``a_ij`` of its mass to output *j*; an output with a demand takes what is offered up to
that demand (every offer scaled by the same factor ``lambda_j <= 1``), each free input *f*
makes up the share ``m_fj`` (its baseline allocation) of what is still missing, and
whatever is not taken goes to the surplus outlet. ``lambda_j`` is found by a fixed-point
iteration (exact at convergence, 1e-15).

With given decisions (:class:`Shares` with ``exact=True``, made by
:mod:`circopt.decisions` from an optimum or a decisions table) nothing is capped or made
up: route shares and the allocation shares of every non-free input are applied as they
are, and free inputs supply the given amounts to each output.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import SimulationError
from .lifetimes import negative_inflow_tol
from .system import System
from .stocks import stock_plan


@dataclass
class Shares:
    """Decisions for one simulation: route shares (E, T) and blend allocation factors.

    ``allocation[b][i, j, t]``: for a non-free input, the share of its mass offered to output
    ``j``; for a free input, the share of output ``j``'s shortfall it makes up (baseline rule).
    With ``exact``, offers are taken as they are (no demand cap, nothing made up) and
    ``free_alloc[b][i, j, t]`` is the mass free input ``i`` supplies to output ``j``;
    ``free_amount`` the amount of each free source that does not feed a blend (node id -> (T,)).
    """

    route: np.ndarray  # (E, T) share of a route edge of its split's input (nan for non-route edges)
    allocation: list[np.ndarray]  # per blend: (n_in, n_out, T)
    exact: bool = False
    free_alloc: list[np.ndarray] | None = None
    free_amount: dict[int, np.ndarray] | None = None


def shares_from_decisions(system: System, decisions) -> Shares:
    """The exact shares of a decisions table, record or Result (see :mod:`circopt.decisions`)."""
    from .decisions import as_decisions

    return as_decisions(system, decisions).shares(system)


def baseline_shares(system: System, strict: bool = True) -> Shares:
    E, T = len(system.edges), system.T
    route = np.full((E, T), np.nan)
    missing = []
    for e in system.edges:
        if e.rule == "route":
            if e.coef is None:
                missing.append(system.nodes[e.source].name)
            else:
                route[e.id] = e.coef
    if missing and strict:
        raise SimulationError(
            f"split(s) {sorted(set(missing))} have no 'baseline' shares; simulation needs them "
            "(give 'baseline' in the instance or a scenario, or optimise instead)")
    return Shares(route=route, allocation=[b.allocation.copy() for b in system.blends])


def simulate(system: System | str | Path, scenario: str | None = None, shares: Shares | None = None,
             pulse: dict[str, np.ndarray] | None = None, decisions=None):
    """Simulate a system with its baseline (or the given) shares; returns a :class:`Result`.

    ``system`` may be a path to an instance folder; ``scenario`` then names a scenario.
    ``decisions`` (a :class:`~circopt.decisions.Decisions`, a decisions table, an optimised
    Result, or a path to a ``decisions.csv`` or an output folder) imposes every route flow,
    blend allocation (free inputs included) and free-source amount exactly: the simulation
    then reproduces the flows those decisions come from (the round trip).
    ``pulse`` (used by fate tracing) maps source node names to input series (T,): every
    other source, history cohort and following source is set to zero, and blends take
    everything they are offered (demands and free inputs belong to the full system, not to
    a traced pulse of material).
    """
    from .instance import load
    from .result import Result

    if not isinstance(system, System):
        system = load(system, scenario)
    elif scenario is not None and scenario != system.scenario:
        if system.path is None:
            raise ValueError("a scenario can only be applied to a System loaded from a folder")
        system = load(system.path, scenario, boundary=system.boundary)
    rec = None
    if decisions is not None:
        if shares is not None:
            raise SimulationError("give either shares or decisions, not both")
        from .decisions import as_decisions

        rec = as_decisions(system, decisions)
        shares = rec.shares(system)
    sh = shares or baseline_shares(system)
    flows, inflow_ext, lambdas, notes = _run(system, sh, pulse)
    res = Result.from_flows(system, flows, inflow_ext, engine="simulate", notes=notes, pulse=pulse is not None)
    stock_tot = res.stock_array.sum(axis=-1)
    if not np.all(np.isfinite(stock_tot)) or np.any(np.abs(stock_tot) > MAX_VALUE):
        s_, t = np.unravel_index(int(np.argmax(~np.isfinite(stock_tot) | (np.abs(stock_tot) > MAX_VALUE))),
                                 stock_tot.shape)
        raise SimulationError(f"the stock of {system.nodes[stock_plan(system).stocks[s_]].name} in "
                              f"{int(system.years[t])} is {stock_tot[s_, t]:.6g} {system.unit}: beyond {MAX_VALUE:g} "
                              "(or not finite); check the inputs for huge values (or use a larger unit)")
    if rec is not None and pulse is None:
        rec.check_reproduced(system, flows)
    res.attach_decisions(sh, lambdas)
    if rec is not None:
        from .decisions import with_capacities

        res.decisions = with_capacities(system, res.decisions, rec)
    return res


def _source_series(system: System, pulse: dict | None, sh: Shares) -> dict[int, np.ndarray]:
    out = {}
    for i, n in enumerate(system.nodes):
        if n.kind != "source" or "follows" in n.meta:
            continue
        if n.free:
            amount = (sh.free_amount or {}).get(i)
            if amount is not None:
                out[i] = np.zeros(system.T) if pulse is not None else np.asarray(amount, float).copy()
            continue
        if pulse is not None:
            out[i] = np.array(pulse.get(n.name, np.zeros(system.T)), dtype=float)
        else:
            out[i] = n.series.copy()
    return out


def _run(system: System, sh: Shares, pulse: dict | None):
    T, C, E = system.T, system.C, len(system.edges)
    n = E * C
    plan = stock_plan(system)
    stock_index = {node: s for s, node in enumerate(plan.stocks)}
    inflow_ext = plan.hist_inflow.copy() if pulse is None else np.zeros_like(plan.hist_inflow)
    series = _source_series(system, pulse, sh)
    notes: list[str] = []

    # --- static structure: same-channel pairs (row edge, col edge, coefficient getter) -------
    pair_rows, pair_cols, pair_kind, pair_ref = [], [], [], []
    for ed in system.edges:
        if ed.rule in ("tc", "stock", "route"):
            for ein in system.in_edges(ed.source):
                pair_rows.append(ed.id)
                pair_cols.append(ein)
                pair_kind.append(ed.rule)
                pair_ref.append(ed.id)
    pair_rows = np.array(pair_rows, int)
    pair_cols = np.array(pair_cols, int)
    tc_coef = np.zeros((len(pair_rows), T, C))
    for p, (kind, eid) in enumerate(zip(pair_kind, pair_ref)):
        ed = system.edges[eid]
        if kind == "tc":
            tc_coef[p] = ed.coef
        elif kind == "route":
            tc_coef[p] = sh.route[eid][:, None]
        # stock pairs filled per year (pdf at age 0 of that year's cohort)
    stock_pairs = [(p, stock_index[system.edges[eid].source]) for p, (k, eid) in enumerate(zip(pair_kind, pair_ref))
                   if k == "stock"]
    if not sh.exact:
        _check_free_sources(system, notes)
    flows = np.zeros((T, E, C))
    lambdas = [np.ones((len(b.outputs), T)) for b in system.blends]
    c_idx = np.arange(C)
    eye = sp.identity(n, format="csr")
    rows = (pair_rows[:, None] * C + c_idx[None, :]).ravel()  # same structure every year
    cols = (pair_cols[:, None] * C + c_idx[None, :]).ravel()
    for t in range(T):
        k = plan.H + t
        b = np.zeros(n)
        # stock-driven stocks set their feeding source's series
        for s, node_id in enumerate(plan.stocks):
            node = system.nodes[node_id]
            if node.target_stock is None:
                continue
            sf = plan.sf[s]
            ages = k - np.arange(k)
            sf_hist = sf[ages] if sf.ndim == 1 else sf[np.arange(k), ages]
            remaining = float(inflow_ext[s, :k].sum(axis=1) @ sf_hist)
            sf0 = sf[0] if sf.ndim == 1 else sf[k, 0]
            if sf0 <= 0:
                raise SimulationError(f"stock-driven stock {node.name}: survival at age 0 is 0 in "
                                      f"{int(system.years[t])}; inflow cannot be determined")
            need = (node.target_stock[t] - remaining) / sf0
            if 0 > need * sf0 >= -negative_inflow_tol(node.target_stock):  # round-off, as stock_driven()
                need = 0.0
            if need < 0:
                if node.negative_inflow == "error":
                    raise SimulationError(
                        f"stock-driven stock {node.name} falls faster than its cohorts leave in "
                        f"{int(system.years[t])}: it would need an inflow of {need:.6g} {system.unit}; "
                        "set negative_inflow: clip to let the stock exceed its target instead")
                notes.append(f"{node.name}: negative inflow clipped to 0 in {int(system.years[t])} ({need:.6g})")
                need = 0.0
            src = system.edges[system.in_edges(node_id)[0]].source
            series[src][t] = need
        # constants: sources and stock outflow from earlier cohorts
        for ed in system.edges:
            if ed.rule == "source" and ed.source in series:
                node = system.nodes[ed.source]
                b[ed.id * C + c_idx] = ed.coef[t] * series[ed.source][t] * node.composition[t]
            elif ed.rule == "stock":
                s = stock_index[ed.source]
                pdf = plan.pdf[s]
                ages = k - np.arange(k)
                w = pdf[ages] if pdf.ndim == 1 else pdf[np.arange(k), ages]
                b[ed.id * C + c_idx] = w @ inflow_ext[s, :k]
        coef_t = tc_coef[:, t, :].copy()
        for p, s in stock_pairs:
            pdf = plan.pdf[s]
            coef_t[p] = pdf[0] if pdf.ndim == 1 else pdf[k, 0]
        vals = coef_t.ravel()
        for _ in range(200):
            r_extra, c_extra, v_extra, b_extra = _blend_terms(system, sh, lambdas, t, C, full=pulse is None)
            M = sp.coo_matrix((np.concatenate([vals, v_extra]),
                               (np.concatenate([rows, r_extra]), np.concatenate([cols, c_extra]))),
                              shape=(n, n)).tocsc()
            A = (eye - M).tocsc()
            try:
                with np.errstate(all="raise"), warnings.catch_warnings():
                    warnings.simplefilter("error", spla.MatrixRankWarning)
                    x = spla.spsolve(A, b + b_extra) if n > 1 else np.linalg.solve(A.toarray(), b + b_extra)
            except Exception:
                x = np.full(n, np.nan)
            if not np.all(np.isfinite(x)):
                raise SimulationError(_cycle_message(system, coef_t, pair_rows, pair_cols, t))
            f = x.reshape(E, C)
            if pulse is not None or sh.exact or not _update_lambdas(system, sh, lambdas, f, t):
                break
        else:
            raise SimulationError(f"blend allocation did not converge in {int(system.years[t])}")
        flows[t] = f
        for s, node_id in enumerate(plan.stocks):
            ins = system.in_edges(node_id)
            inflow_ext[s, k] = f[ins].sum(axis=0) if ins else 0.0
    if pulse is None:
        _check_blend_outcomes(system, sh, lambdas, flows, notes)
    _refuse_huge(system, flows)
    if np.any(flows < -1e-9 * max(1.0, float(np.abs(flows).max()))):
        e, c = np.unravel_index(int(np.argmin(flows.min(axis=0))), (E, C))
        t = int(np.argmin(flows[:, e, c]))
        raise SimulationError(f"negative flow {flows[t, e, c]:.6g} on {system.edge_name(e)} "
                              f"({system.channels[c]}) in {int(system.years[t])}")
    return flows, inflow_ext, lambdas, notes


#: flows beyond this cannot be summed, scaled or handed to a solver in double precision
MAX_VALUE = 1e300


def _refuse_huge(system: System, flows: np.ndarray) -> None:
    """Non-finite or astronomically large flows (or totals over channels) are refused."""
    tot = flows.sum(axis=2)
    huge = (~np.isfinite(flows) | (np.abs(flows) > MAX_VALUE)).any(axis=2)
    bad = ~np.isfinite(tot) | (np.abs(tot) > MAX_VALUE) | huge
    if bad.any():
        t, e = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise SimulationError(f"the flow {system.edge_name(e)} in {int(system.years[t])} is {tot[t, e]:.6g} "
                              f"{system.unit}: beyond {MAX_VALUE:g} (or not finite) it cannot be summed or solved in "
                              "double precision; check the inputs for huge values (or use a larger unit)")


def _check_free_sources(system: System, notes: list[str]) -> None:
    """Baseline rule: a free source supplies what a blend's demands need of it, nothing else."""
    for e in system.edges:
        if e.rule != "source" or not system.nodes[e.source].free:
            continue
        name = system.nodes[e.source].name
        if system.nodes[e.target].kind != "blend":
            raise SimulationError(f"free source {name} feeds {system.nodes[e.target].name}, not a blend: in a "
                                  "baseline simulation only a blend's demand can set a free source's amount "
                                  "(simulate given decisions instead: decisions=...)")
        bl = next(b for b in system.blends if b.node == e.target)
        if not bl.allocation[bl.inputs.index(e.id)].any():
            notes.append(f"free source {name} makes up no demand in the baseline (no allocation of it to an "
                         "output with a demand) and supplies nothing")


def _blend_terms(system: System, sh: Shares, lambdas, t: int, C: int, full: bool = True):
    """Same-year rows that couple channels through totals: blend outputs, surplus, free
    inputs (making up demands, or given amounts), and sources that follow a node's input."""
    rows, cols, vals = [], [], []
    b_extra = np.zeros(len(system.edges) * C)
    c_idx = np.arange(C)

    def cross(row_edge, col_edge, weights_c, coef):
        # row (row_edge, c) gets coef * weights_c[c] * sum_c' f[col_edge, c']
        rows.append(np.repeat(row_edge * C + c_idx, C))
        cols.append(np.tile(col_edge * C + c_idx, C))
        vals.append(np.repeat(weights_c, C) * coef)

    for bi, bl in enumerate(system.blends):
        a = sh.allocation[bi][:, :, t]  # (n_in, n_out)
        lam = lambdas[bi][:, t]
        free_in = [system.nodes[system.edges[e].source].free for e in bl.inputs]
        taken = np.zeros(len(bl.inputs))
        for j, o in enumerate(bl.outputs):
            for i, e_in in enumerate(bl.inputs):
                coef = 0.0 if free_in[i] else lam[j] * a[i, j]
                taken[i] += coef
                if coef:
                    rows.append(o.edge * C + c_idx)
                    cols.append(e_in * C + c_idx)
                    vals.append(np.full(C, coef))
            if not full:
                continue
            for f, e_f in enumerate(bl.inputs):
                if not free_in[f]:
                    continue
                comp_f = system.nodes[system.edges[e_f].source].composition[t]
                if sh.exact:  # a given amount to this output
                    amount = sh.free_alloc[bi][f, j, t] if sh.free_alloc is not None else 0.0
                    for tgt in (o.edge, e_f):
                        b_extra[tgt * C + c_idx] += comp_f * amount
                elif a[f, j] > 0 and o.demand is not None and lam[j] >= 1.0:
                    # makes up its share a[f, j] of the shortfall: a[f, j] * (demand - sum_i offers)
                    for tgt in (o.edge, e_f):
                        b_extra[tgt * C + c_idx] += comp_f * a[f, j] * o.demand[t]
                        for i, e_in in enumerate(bl.inputs):
                            if not free_in[i] and a[i, j]:
                                cross(tgt, e_in, comp_f, -lam[j] * a[i, j] * a[f, j])
        if bl.surplus_edge is not None:
            for i, e_in in enumerate(bl.inputs):
                if free_in[i]:
                    continue
                rest = 1.0 - taken[i]
                if rest > 0:
                    rows.append(bl.surplus_edge * C + c_idx)
                    cols.append(e_in * C + c_idx)
                    vals.append(np.full(C, rest))
    if full:
        for ed in system.edges:
            node = system.nodes[ed.source]
            if ed.rule != "source" or "follows" not in node.meta:
                continue
            w = ed.coef[t] * node.meta["ratio"][t] * node.composition[t]
            for e_in in system.followed_edges(node.meta["follows"]):
                cross(ed.id, e_in, w, 1.0)
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), b_extra
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), b_extra


def _update_lambdas(system: System, sh: Shares, lambdas, f: np.ndarray, t: int) -> bool:
    changed = False
    for bi, bl in enumerate(system.blends):
        tot_in = f[bl.inputs].sum(axis=1)
        free_in = np.array([system.nodes[system.edges[e].source].free for e in bl.inputs])
        for j, o in enumerate(bl.outputs):
            if o.demand is None:
                continue
            offered = float(np.where(free_in, 0.0, sh.allocation[bi][:, j, t] * tot_in).sum())
            new = 1.0 if offered <= o.demand[t] else o.demand[t] / offered
            if abs(new - lambdas[bi][j, t]) > 1e-15:
                if new < 1.0 and bl.surplus_edge is None:
                    raise SimulationError(
                        f"blend {system.nodes[bl.node].name}: what is allocated to output {o.name} exceeds its demand "
                        f"in {int(system.years[t])} and the blend has no surplus outlet")
                lambdas[bi][j, t] = new
                changed = True
    return changed


def _check_blend_outcomes(system: System, sh: Shares, lambdas, flows: np.ndarray, notes: list[str]) -> None:
    for bl in system.blends:
        for o in bl.outputs:
            got = flows[:, o.edge].sum(axis=1)
            # report years outside the output's composition window
            frac = np.divide(flows[:, o.edge, :], got[:, None], out=np.zeros_like(flows[:, o.edge, :]),
                             where=got[:, None] > 0)
            off = ((frac < o.window_lo - 1e-9) | (frac > o.window_hi + 1e-9)) & (got[:, None] > 0)
            if off.any():
                t, c = np.unravel_index(int(np.argmax(off)), off.shape)
                notes.append(f"blend {system.nodes[bl.node].name}: output {o.name} has {system.channels[c]} "
                             f"{frac[t, c]:.4g}, outside its window [{o.window_lo[t, c]:.4g}, "
                             f"{o.window_hi[t, c]:.4g}] in {int(system.years[t])} ({int(off.any(axis=1).sum())} "
                             "years); the simulation follows the given allocation, the optimiser enforces windows")
            if o.demand is None:
                continue
            short = o.demand - got
            bad = short > 1e-9 * np.maximum(1.0, o.demand)
            if bad.any():
                t = int(np.argmax(bad))
                notes.append(f"blend {system.nodes[bl.node].name}: output {o.name} gets {got[t]:.6g} of its demand "
                             f"{o.demand[t]:.6g} in {int(system.years[t])} (free inputs make up "
                             "only their allocated share of the shortfall)")


def _cycle_message(system: System, coef_t, pair_rows, pair_cols, t) -> str:
    import scipy.sparse.csgraph as csg

    N = len(system.nodes)
    g = sp.coo_matrix((np.ones(len(system.edges)), ([e.source for e in system.edges],
                                                     [e.target for e in system.edges])), shape=(N, N))
    ncomp, lab = csg.connected_components(g, directed=True, connection="strong")
    cyc = [sorted(system.nodes[i].name for i in range(N) if lab[i] == c)
           for c in range(ncomp) if (lab == c).sum() > 1]
    return (f"the same-year network has no solution in {int(system.years[t])}: a loop without loss or stock "
            f"returns all its mass to itself. Loops: {cyc}. Give the loop an outlet (a loss, a route out) or "
            "put a stock with a lifetime in it")
