"""Plain simulation: every flow, stock and loss for given shares and allocations.

Year by year, (1) each stock's outflow from earlier cohorts is a convolution of its
inflow history with its outflow kernel; (2) the same-year network is one sparse linear
system ``(I - M_t) f_t = b_t`` over every edge and channel, so recycling loops close
with no hand algebra (a stock whose lifetime can end in its year of entry joins that
solve through its age-0 term ``pdf(0)``).

Blend rule in simulation (documented in docs/concepts.md): input *i* offers the share
``a_ij`` of its mass to output *j*; an output with a demand takes what is offered up to
that demand (every offer scaled by the same factor ``lambda_j <= 1``), its filler (a free
source) makes up any shortfall, and whatever is not taken goes to the surplus outlet.
``lambda_j`` is found by a fixed-point iteration (exact at convergence, 1e-15).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import SimulationError
from .system import System
from .stocks import stock_plan


@dataclass
class Shares:
    """Decisions for one simulation: route shares (E, T) and blend allocation factors."""

    route: np.ndarray  # (E, T) share of a route edge of its split's input (nan for non-route edges)
    allocation: list[np.ndarray]  # per blend: (n_in, n_out, T)


def shares_from_decisions(system: System, decisions) -> Shares:
    """Shares implied by a decisions table (e.g. an optimised Result's): route shares of each
    split's input, and blend allocations as shares of each input; where an input is zero the
    baseline share (or 0) is kept."""
    base = baseline_shares(system, strict=False)
    route = base.route.copy()
    years = {int(y): t for t, y in enumerate(system.years)}
    d = decisions
    for e in system.edges:
        if e.rule != "route":
            continue
        sel = d[(d.kind == "route") & (d.node == system.nodes[e.source].name) & (d.decision == e.label)]
        for r in sel.itertuples():
            if r.input > 0:
                route[e.id, years[int(r.year)]] = r.share
    route = np.nan_to_num(route, nan=0.0)
    alloc = [a.copy() for a in base.allocation]
    for bi, bl in enumerate(system.blends):
        bname = system.nodes[bl.node].name
        sel = d[(d.kind == "allocation") & (d.node == bname)]
        for i, e_in in enumerate(bl.inputs):
            src = system.nodes[system.edges[e_in].source].name
            for j, o in enumerate(bl.outputs):
                rows = sel[sel.decision == f"{src} -> {o.name}"]
                for r in rows.itertuples():
                    if r.input > 0:
                        alloc[bi][i, j, years[int(r.year)]] = r.share
    return Shares(route=route, allocation=alloc)


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
             pulse: dict[str, np.ndarray] | None = None):
    """Simulate a system with its baseline (or the given) shares; returns a :class:`Result`.

    ``system`` may be a path to an instance folder; ``scenario`` then names a scenario.
    ``pulse`` (used by fate tracing) maps source node names to input series (T,): every
    other source, history cohort and following source is set to zero, and blends take
    everything they are offered (demands and fillers belong to the full system, not to a
    traced pulse of material).
    """
    from .instance import load
    from .result import Result

    if not isinstance(system, System):
        system = load(system, scenario)
    elif scenario is not None and scenario != system.scenario:
        if system.path is None:
            raise ValueError("a scenario can only be applied to a System loaded from a folder")
        system = load(system.path, scenario)
    sh = shares or baseline_shares(system)
    flows, inflow_ext, lambdas, notes = _run(system, sh, pulse)
    res = Result.from_flows(system, flows, inflow_ext, engine="simulate", notes=notes, pulse=pulse is not None)
    res.attach_decisions(sh, lambdas)
    return res


def _source_series(system: System, pulse: dict | None) -> dict[int, np.ndarray]:
    out = {}
    for i, n in enumerate(system.nodes):
        if n.kind != "source" or n.free or {"follows", "balancing"} & set(n.meta):
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
    series = _source_series(system, pulse)
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
    free_edges = [e.id for e in system.edges
                  if e.rule == "source" and system.nodes[e.source].free]
    fillers = {o.filler for b in system.blends for o in b.outputs if o.filler is not None}
    for e in free_edges:
        if system.edges[e].id not in fillers:
            notes.append(f"free source {system.nodes[system.edges[e].source].name} fills no demand in simulation "
                         "and supplies nothing")
    for e in system.edges:
        if e.rule == "source" and system.nodes[e.source].free and system.nodes[e.target].kind != "blend":
            raise SimulationError(f"free source {system.nodes[e.source].name} feeds {system.nodes[e.target].name}, "
                                  "not a blend: in simulation only a blend's demand can set a free source's amount")

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
        keep = _pulse_keep(system, C) if pulse is not None else None
        for _ in range(200):
            r_extra, c_extra, v_extra, b_extra = _blend_terms(system, sh, lambdas, t, C, full=pulse is None,
                                                              keep=keep)
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
            if pulse is not None:
                if not _update_keep(system, sh, lambdas, keep, f, t):
                    break
            elif not _update_lambdas(system, sh, lambdas, f, t):
                break
        else:
            raise SimulationError(f"blend allocation did not converge in {int(system.years[t])}")
        _book_nominal(system, sh, lambdas, f, t, full=pulse is None)
        flows[t] = f
        for s, node_id in enumerate(plan.stocks):
            ins = system.in_edges(node_id)
            inflow_ext[s, k] = f[ins].sum(axis=0) if ins else 0.0
    if pulse is None:
        _check_blend_outcomes(system, sh, lambdas, flows, notes)
    if np.any(flows < -1e-9 * max(1.0, float(np.abs(flows).max()))):
        e, c = np.unravel_index(int(np.argmin(flows.min(axis=0))), (E, C))
        t = int(np.argmin(flows[:, e, c]))
        raise SimulationError(f"negative flow {flows[t, e, c]:.6g} on {system.edge_name(e)} "
                              f"({system.channels[c]}) in {int(system.years[t])}")
    return flows, inflow_ext, lambdas, notes


def _pulse_keep(system: System, C: int) -> list[np.ndarray]:
    """Per blend, output and channel: the fraction of what the inputs bring that a nominal
    output keeps in a traced pulse (starts at 1; see :func:`_update_keep`)."""
    return [np.ones((len(b.outputs), C)) for b in system.blends]


def _update_keep(system: System, sh: Shares, lambdas, keep, f: np.ndarray, t: int) -> bool:
    """A traced pulse follows only its own material: a nominal output keeps, per element, what
    the pulse brings up to the nominal content (``min(brought, nominal x total)``); the rest is
    the excess (booked to the excess sink by :func:`_book_nominal`), and the balancing source's
    deficit is not pulse material, so it is not added. Returns True if ``keep`` changed (the
    same-year solve is then repeated: a loop through the blend changes what it is offered)."""
    changed = False
    for bi, bl in enumerate(system.blends):
        a = sh.allocation[bi][:, :, t]
        free_in = [system.nodes[system.edges[e].source].free for e in bl.inputs]
        for j, o in enumerate(bl.outputs):
            if o.nominal is None:
                continue
            brought = sum(lambdas[bi][j, t] * a[i, j] * f[e_in] for i, e_in in enumerate(bl.inputs)
                          if not free_in[i]) + np.zeros(f.shape[1])
            cap = o.nominal[t] * brought.sum()
            new = np.divide(np.minimum(brought, cap), brought, out=np.ones_like(brought), where=brought > 0)
            if np.abs(new - keep[bi][j]).max() > 1e-12:
                keep[bi][j] = new
                changed = True
    return changed


def _blend_terms(system: System, sh: Shares, lambdas, t: int, C: int, full: bool = True, keep=None):
    """Same-year rows that couple channels through totals: blend outputs (nominal ones take
    their nominal composition; in a traced pulse, ``keep`` x what their inputs bring), surplus,
    fillers, and sources that follow a node's input."""
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
            nom = o.nominal[t] if o.nominal is not None else None
            for i, e_in in enumerate(bl.inputs):
                if free_in[i]:
                    continue
                coef = lam[j] * a[i, j]
                taken[i] += coef
                if not coef:
                    continue
                if nom is None or keep is not None:
                    rows.append(o.edge * C + c_idx)
                    cols.append(e_in * C + c_idx)
                    vals.append(np.full(C, coef) if nom is None else coef * keep[bi][j])
                else:
                    cross(o.edge, e_in, nom, coef)
            if full and o.filler is not None and lam[j] >= 1.0:
                comp_f = system.nodes[system.edges[o.filler].source].composition[t]
                for tgt, w in ((o.edge, comp_f if nom is None else nom), (o.filler, comp_f)):
                    b_extra[tgt * C + c_idx] += w * o.demand[t]
                    for i, e_in in enumerate(bl.inputs):
                        if not free_in[i] and a[i, j]:
                            cross(tgt, e_in, w, -lam[j] * a[i, j])
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
            for e_in in system.in_edges(node.meta["follows"]):
                cross(ed.id, e_in, w, 1.0)
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), b_extra
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), b_extra


def _book_nominal(system: System, sh: Shares, lambdas, f: np.ndarray, t: int, full: bool = True) -> None:
    """Elements above a nominal output's spec go to the excess sink, those below come from
    the balancing source (terminal edges, so they are booked after the same-year solve)."""
    for bi, bl in enumerate(system.blends):
        if bl.excess_edge is None:
            continue
        exc = np.zeros(f.shape[1])
        dfc = np.zeros(f.shape[1])
        a = sh.allocation[bi][:, :, t]
        tot_in = f[bl.inputs].sum(axis=1)
        free_in = [system.nodes[system.edges[e].source].free for e in bl.inputs]
        for j, o in enumerate(bl.outputs):
            if o.nominal is None:
                continue
            lam = lambdas[bi][j, t]
            actual = sum(lam * a[i, j] * f[e_in] for i, e_in in enumerate(bl.inputs) if not free_in[i])
            actual = actual + np.zeros(f.shape[1])
            if full and o.filler is not None and lam >= 1.0:
                fill = o.demand[t] - sum(lam * a[i, j] * tot_in[i] for i in range(len(bl.inputs)) if not free_in[i])
                actual = actual + system.nodes[system.edges[o.filler].source].composition[t] * fill
            dev = actual - f[o.edge]
            exc += np.clip(dev, 0.0, None)
            dfc += np.clip(-dev, 0.0, None)
        f[bl.excess_edge] = exc
        if bl.deficit_edge is not None:
            f[bl.deficit_edge] = dfc


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
            if o.nominal is None:  # a carried output: report years outside its composition window
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
                             f"{o.demand[t]:.6g} in {int(system.years[t])} (no filler)")


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
