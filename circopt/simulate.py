"""Plain simulation: every flow, stock and loss for given shares and allocations.

(1) Each stock's outflow from earlier cohorts is a convolution of its inflow history with its
outflow kernel (computed by :mod:`circopt.stocks`, the one stock engine); (2) the same-year
network is one sparse linear system ``(I - M_t) f_t = b_t`` over every edge and channel, so
recycling loops close with no hand algebra (a stock whose lifetime can end in its year of
entry joins that solve through its age-0 term ``pdf(0)``). Stocks are handled as whole
arrays: when no stock's outflow returns to it within a year, the stocks fall into stages
and each stage takes one same-year solve of all years and one convolution of all its stocks
(see :func:`_run`); otherwise the years are solved one after another.

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
from ._cache import derived
from .flowrules import FlowRules, flow_rules
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
    from .result import Result, channel_total

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
    flows, inflow_ext, lambdas, notes, stock_parts = _run(system, sh, pulse)
    res = Result.from_flows(system, flows, inflow_ext, engine="simulate", notes=notes, pulse=pulse is not None,
                            stock_parts=stock_parts)
    st = res.stock_array
    big = max(float(st.max()), -float(st.min())) * st.shape[2] if st.size else 0.0
    stock_tot = channel_total(st) if not big <= MAX_VALUE else None  # NaN: not <=
    if stock_tot is not None and (not np.all(np.isfinite(stock_tot)) or np.any(np.abs(stock_tot) > MAX_VALUE)):
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
        if n.kind != "source" or n.follows is not None:
            continue
        if n.free:
            amount = (sh.free_amount or {}).get(i)
            if amount is not None:
                out[i] = np.zeros(system.T) if pulse is not None else np.asarray(amount, float).copy()
            continue
        if pulse is not None:
            out[i] = np.array(pulse.get(n.name, np.zeros(system.T)), dtype=float)
        else:
            out[i] = n.series  # read, never written
    return out


def _run(system: System, sh: Shares, pulse: dict | None):
    """Every flow of the simulation (T, E, C), the stocks' inflow on the extended axis, the
    blend factors and notes.

    Stocks are handled as whole arrays. When no stock's outflow reaches its own inflow within a
    year, the stocks fall into stages (stage 0: fed without any stock's outflow; stage p: by
    stocks of stages < p); each stage's inflows come from one same-year solve of all years,
    and its outflows from one convolution of every stock of the stage at once (see
    :mod:`circopt.stocks`). Otherwise the years are solved one after another, the outflow of
    earlier cohorts of every stock computed for each year in one vectorised product.
    """
    T, C, E = system.T, system.C, len(system.edges)
    plan = stock_plan(system)
    inflow_ext = plan.hist_inflow.copy() if pulse is None else np.zeros_like(plan.hist_inflow)
    series = _source_series(system, pulse, sh)
    notes: list[str] = []
    net = _SameYear.of(system, sh, plan, pulse)
    if not sh.exact:
        _check_free_sources(system, net.rules, notes)
    _driven_series(system, plan, inflow_ext, series, notes)
    b_src = net.source_constants(series)
    stages = net.stock_stages()
    if stages is None:
        (flows, lambdas), stock_parts = _year_by_year(net, plan, inflow_ext, b_src), None
    else:
        flows, lambdas, stock_parts = _by_stage(net, plan, inflow_ext, b_src, stages)
    if pulse is None:
        _check_blend_outcomes(system, sh, lambdas, flows, notes)
    lo, hi = (float(flows.min()), float(flows.max())) if flows.size else (0.0, 0.0)
    _refuse_huge(system, flows, lo, hi)
    if lo < -1e-9 * max(1.0, hi, -lo):
        e, c = np.unravel_index(int(np.argmin(flows.min(axis=0))), (E, C))
        t = int(np.argmin(flows[:, e, c]))
        raise SimulationError(f"negative flow {flows[t, e, c]:.6g} on {system.edge_name(e)} "
                              f"({system.channels[c]}) in {int(system.years[t])}")
    return flows, inflow_ext, lambdas, notes, stock_parts


def _by_stage(net: _SameYear, plan, inflow_ext: np.ndarray, b_src: np.ndarray, stages: np.ndarray):
    """All years at once, stage by stage; a last solve with every stock's outflow known (in
    ``b_src``, which it consumes). Also returns the stocks' levels and outflows in model years (one
    convolution per stage gives a stock's level and the outflow of its earlier cohorts; the age-0
    part comes from its inflow)."""
    T, C, H = net.system.T, net.system.C, plan.H
    before = np.zeros((len(plan.stocks), T, C))  # outflow of earlier cohorts, model years
    levels = np.zeros((len(plan.stocks), T, C))
    years = np.arange(T)
    n_stages = int(stages.max()) + 1 if stages.size else 0
    for p in range(n_stages + 1):
        lambdas = net.fresh_lambdas()
        which = np.flatnonzero(stages == p) if p < n_stages else np.arange(len(plan.stocks))
        last = p == n_stages  # b_src is not needed after the last solve: it becomes the flows
        b = b_src if p == 0 and not last else net.with_stock_constants(b_src, before, inplace=last)
        flows = net.solve(years, b, lambdas, only=which if p < n_stages else None, own=last)
        if p < n_stages or net.coupled:  # else the stages' inflows stand (the same sums)
            inflow_ext[which, H:] = net.stock_inflow(flows, which)
        if p < n_stages:
            lv, bf = plan.levels_and_before(inflow_ext, which)
            if len(which) == len(plan.stocks):  # every stock at once: the arrays themselves
                levels, before = lv[:, H:], bf[:, H:]
            else:
                levels[which], before[which] = lv[:, H:], bf[:, H:]
    before += net.age0[:, :, None] * inflow_ext[:, H:]  # the whole outflow
    return flows, lambdas, (levels, before)


def _year_by_year(net: _SameYear, plan, inflow_ext: np.ndarray, b_src: np.ndarray):
    """One year after another (a stock whose outflow returns to it within the year)."""
    T, E, C = net.system.T, len(net.system.edges), net.system.C
    flows = np.zeros((T, E, C))
    lambdas = net.fresh_lambdas()
    all_stocks = np.arange(len(plan.stocks))
    for t in range(T):
        k = plan.H + t
        b = net.with_stock_constants(b_src[t : t + 1], plan.outflow_before(inflow_ext, k)[:, None, :])
        flows[t] = net.solve(np.array([t]), b, lambdas)[0]
        inflow_ext[:, k] = net.stock_inflow(flows[t : t + 1], all_stocks)[:, 0]
    return flows, lambdas


def _driven_series(system: System, plan, inflow_ext: np.ndarray, series: dict, notes: list[str]) -> None:
    """Stock-driven stocks set the series of their feeding source (which sends only to them), from
    their target and their own earlier cohorts (:meth:`circopt.stocks.StockPlan.driven_inflow`)."""
    for s, node_id in enumerate(plan.stocks):
        node = system.nodes[node_id]
        if node.target_stock is None:
            continue
        ed = system.edges[system.in_edges(node_id)[0]]
        gain = ed.coef * system.nodes[ed.source].composition.sum(axis=1)
        need, events = plan.driven_inflow(s, node.target_stock, inflow_ext, gain, node.negative_inflow)
        for t, amount, kind in events:
            year = int(system.years[t])
            if kind == "no_survival":
                raise SimulationError(f"stock-driven stock {node.name}: survival at age 0 is 0 in "
                                      f"{year}; inflow cannot be determined")
            if kind == "negative":
                raise SimulationError(
                    f"stock-driven stock {node.name} falls faster than its cohorts leave in "
                    f"{year}: it would need an inflow of {amount:.6g} {system.unit}; "
                    "set negative_inflow: clip to let the stock exceed its target instead")
            notes.append(f"{node.name}: negative inflow clipped to 0 in {year} ({amount:.6g})")
        series[ed.source] = need


class _SameYear:
    """The same-year network of many years at once: ``(I - M_t) f_t = b_t`` over every edge and
    channel, one block per year. Static structure (pairs of an edge and the inputs of its source
    node, source constants, stock edges) is built once; blend rows come from :func:`_blend_terms`.
    When no edge depends on itself within a year the blocks are solved by a sweep over the
    edges' levels (no factorisation), else by one sparse LU of the block-diagonal matrix."""

    def __init__(self, system: System, sh: Shares | None, plan, pulse: dict | None, rules: FlowRules | None = None):
        self.system, self.sh, self.plan, self.pulse = system, sh, plan, pulse
        T, C, E, N = system.T, system.C, len(system.edges), len(system.nodes)
        self.n, c_idx = E * C, np.arange(C)
        self.rules = rules = rules if rules is not None else flow_rules(system, plan.stocks)
        self.pair_rows, self.pair_cols = rules.pair_rows, rules.pair_cols
        self.rows = (self.pair_rows[:, None] * C + c_idx).ravel()
        self.cols = (self.pair_cols[:, None] * C + c_idx).ravel()
        self.age0 = plan.age0("pdf")[:, plan.H:]  # (S, T): a cohort's outflow within its own year
        self.coef = None if sh is None else rules.pair_coef(sh.route, self.age0).reshape(T, -1)  # (T, P*C)
        k = rules.source_edges
        self.source_cols = _Columns.of((k[:, None] * C + c_idx).ravel())
        self.source_comp = np.ascontiguousarray(rules.source_comp.transpose(1, 0, 2))  # (T, k, C)
        self._stages: tuple | None = None  # (stages,) once found
        self._sweeps: dict = {}  # sweep plans of stage solves, by the stages' stocks
        self._b_own: np.ndarray | None = None  # source constants of the System's own series
        self.stock_edges, self.stock_of_edge = rules.stock_edges, rules.stock_of_edge
        self.stock_cols = _Columns.of((self.stock_edges[:, None] * C + c_idx).ravel())  # in (T, E*C)
        stock_of_node = np.full(N, -1)
        stock_of_node[plan.stocks] = np.arange(len(plan.stocks))
        into = np.flatnonzero(stock_of_node[rules.target] >= 0)
        self.inc = sp.csr_matrix((np.ones(len(into)), (stock_of_node[rules.target[into]], into)),
                                 shape=(len(plan.stocks), E))
        self.one_in = bool(len(into) == len(plan.stocks) and (np.diff(self.inc.indptr) == 1).all())
        self.follows = _follows(rules)
        self.coupled = bool(system.blends or self.follows)  # rows beyond the pairs (blend terms)
        self.levels: list[tuple] | None = None

    @classmethod
    def of(cls, system: System, sh: Shares, plan, pulse: dict | None) -> _SameYear:
        """The same-year network of ``system`` with shares ``sh``: its structure (flow rules, stages,
        sweep plans) derived once per System, the coefficients from the shares."""
        import copy

        def template(s: System) -> _SameYear:
            net = cls(s, None, plan, None, flow_rules(s, plan.stocks))
            net.stock_stages()
            net.source_constants({})  # derives the constants of the System's own series
            if not (net.rules.kind[net.pair_rows] == "route").any():  # coefficients without decisions
                net.coef = net.rules.pair_coef(np.zeros((len(s.edges), s.T)), net.age0).reshape(s.T, -1)
            return net

        tpl = derived(system, "same_year", template)
        net = copy.copy(tpl)
        net.sh, net.pulse = sh, pulse
        if tpl.coef is None:  # route shares enter the coefficients
            net.coef = net.rules.pair_coef(sh.route, net.age0).reshape(system.T, -1)
        return net

    # ---- constants and stocks -----------------------------------------------------------
    def source_constants(self, series: dict[int, np.ndarray]) -> np.ndarray:
        """``(T, E*C)``: what each source sends, every year (``series``: node id -> amount (T,); a
        source not in it sends nothing here). The constants of the System's own series are
        derived once; only the sources whose amount differs are filled in anew."""
        r, T = self.rules, self.system.T
        nodes = r.source[r.source_edges].tolist()
        if self._b_own is None:  # the template: the System's own series
            own = {n: self.system.nodes[n].series for n in set(nodes)}
            self._b_own = self._fill(np.zeros((T, self.n)), np.arange(len(nodes)), own)
        b = self._b_own.copy()
        own_series = [self.system.nodes[n].series for n in nodes]
        k = np.array([q for q, n in enumerate(nodes) if series.get(n) is not own_series[q]], int)
        return self._fill(b, k, series) if k.size else b

    def _fill(self, b: np.ndarray, k: np.ndarray, series: dict) -> np.ndarray:
        """Set the columns of the source edges ``k`` (positions in ``source_edges``) from ``series``."""
        r, T, C = self.rules, self.system.T, self.system.C
        zero = np.zeros(T)
        amount = r.source_coef[k] * np.array([zero if (x := series.get(n)) is None else x
                                              for n in r.source[r.source_edges[k]].tolist()]).reshape(len(k), T)
        vals = (self.source_comp if len(k) == len(r.source_edges) else self.source_comp[:, k]) * amount.T[:, :, None]
        cols = (r.source_edges[k][:, None] * C + np.arange(C)).ravel()
        (self.source_cols if len(k) == len(r.source_edges) else _Columns.of(cols)).set(b, vals.reshape(T, -1))
        return b

    def with_stock_constants(self, b: np.ndarray, before: np.ndarray, inplace: bool = False) -> np.ndarray:
        """``b`` (Tq, E*C) plus the outflow of earlier cohorts ``before`` (S, Tq, C) on each stock's
        edges (a new array, or ``b`` itself with ``inplace``)."""
        Tq = before.shape[1]
        out = b if inplace else b.copy()
        add = np.take(before, self.stock_of_edge, axis=0).transpose(1, 0, 2).reshape(Tq, -1)
        self.stock_cols.add(out, add)
        return out

    def stock_inflow(self, flows: np.ndarray, which: np.ndarray) -> np.ndarray:
        """``(len(which), Tq, C)``: what enters the stocks ``which``, from flows ``(Tq, E, C)``."""
        Tq, E, C = flows.shape
        if self.one_in:  # one edge into each stock: a gather
            return flows.transpose(1, 0, 2)[self.inc.indices[which]]  # (n, Tq, C)
        inc = self.inc[which]
        edges = np.unique(inc.indices)
        sub = flows[:, edges, :].transpose(1, 0, 2).reshape(len(edges), Tq * C)
        return (inc[:, edges] @ sub).reshape(-1, Tq, C)

    def fresh_lambdas(self) -> list[np.ndarray]:
        return [np.ones((len(b.outputs), self.system.T)) for b in self.system.blends]

    # ---- structure ----------------------------------------------------------------------
    def _dependencies(self) -> tuple[np.ndarray, np.ndarray]:
        """Edge pairs (row, col): the flow of ``row`` may depend on ``col`` within a year (every
        blend output, surplus and free input on every blend input, whatever the factors)."""
        s = self.system
        r, c = list(self.pair_rows), list(self.pair_cols)
        for bl in s.blends:
            outs = set(s.out_edges(bl.node)) | {o.edge for o in bl.outputs}
            free = [e for e in bl.inputs if s.nodes[s.edges[e].source].free]
            for o in outs:
                r += [o] * len(bl.inputs)
                c += list(bl.inputs)
            for f in free:
                others = [e for e in bl.inputs if e not in free]
                r += [f] * len(others)
                c += others
        for eid, _, followed in self.follows:
            r += [eid] * len(followed)
            c += list(followed)
        return np.array(r, int), np.array(c, int)

    def stock_stages(self) -> np.ndarray | None:
        """Stage of each stock (0: fed without any stock's outflow within the year; p: by stocks of
        stages < p), or None when a stock's outflow returns to it within the year. Also sets the
        edges' levels for the sweep when no edge depends on itself."""
        if self._stages is None:
            self._stages = (self._find_stages(),)
        return self._stages[0]

    def _find_stages(self) -> np.ndarray | None:
        import scipy.sparse.csgraph as csg

        E, S = len(self.system.edges), len(self.plan.stocks)
        if E == 0:
            self.levels = []
            return np.zeros(S, int)
        r, c = self._dependencies()
        is_stock = np.zeros(E, int)
        is_stock[self.stock_edges] = 1
        g = sp.csr_matrix((np.ones(len(r)), (c, r)), shape=(E, E))
        ncomp, lab = csg.connected_components(g, directed=True, connection="strong")
        looped = np.bincount(lab, minlength=ncomp) > 1
        looped[lab[r[r == c]]] = True
        if looped[lab[self.stock_edges]].any():
            return None
        self._dep = (r, c)
        if not looped.any():
            self.level_of_edge = _longest_path(r, c, np.ones(E, int), E)
            self.levels = self._plan_sweep(np.ones(E, bool))
        inc = np.zeros(ncomp, int)
        np.maximum.at(inc, lab, is_stock)
        keep = lab[r] != lab[c]
        val = _longest_path(lab[r][keep], lab[c][keep], inc, ncomp)[lab]
        stage = np.zeros(S, int)
        ins = self.inc.tocoo()
        np.maximum.at(stage, ins.row, val[ins.col])
        return stage

    # ---- solve --------------------------------------------------------------------------
    def solve(self, ts: np.ndarray, b: np.ndarray, lambdas: list[np.ndarray], only=None,
              own: bool = False) -> np.ndarray:
        """Flows ``(len(ts), E, C)`` of the years ``ts`` with constants ``b`` (len(ts), E*C); the
        blend factors ``lambdas`` are iterated to their fixed point year by year (in place).
        ``own``: ``b`` may be overwritten (it becomes the flows when no blend iterates).
        ``only`` (stock indices): just the flows their inflows need are sure to be right (a sweep
        over those edges alone when the network has no loop and no blend terms; else only the
        blends upstream of them iterate their factors)."""
        s = self.system
        E, C = len(s.edges), s.C
        if only is not None and self.levels is not None and not self.coupled:
            key = np.asarray(only).tobytes()
            if key not in self._sweeps:
                self._sweeps[key] = self._plan_sweep(self._upstream(only))
            return self._sweep(ts, b, None, self._sweeps[key], own=own).reshape(len(ts), E, C)
        blends = None  # all; for a stage, those its stocks' inflows depend on (the others' factors
        if only is not None:  # would be found from placeholder outflows of later stages)
            need = self._upstream(only)
            blends = [i for i, bl in enumerate(s.blends) if need[[o.edge for o in bl.outputs]].any()]
        x = self._linear(ts, b, lambdas, own=own and not self.coupled)
        active = np.arange(len(ts))
        for _ in range(199):
            if self.pulse is not None or self.sh.exact or not s.blends:
                break
            changed = np.array([_update_lambdas(s, self.sh, lambdas, x[q].reshape(E, C), int(ts[q]), blends)
                                for q in active], bool)
            if not changed.any():
                break
            active = active[changed]
            x[active] = self._linear(ts[active], b[active], lambdas)
        else:
            raise SimulationError(f"blend allocation did not converge in {int(s.years[ts[active[0]]])}")
        return x.reshape(len(ts), E, C)

    def _plan_sweep(self, needed: np.ndarray) -> list[tuple]:
        """For each level above the first (edges in ``needed`` only): its unknowns (flat columns),
        the pair terms that feed them (columns of ``self.coef``) and their inputs, and how the
        terms add up per unknown (:class:`_Adder`)."""
        C, level = self.system.C, self.level_of_edge
        pair_level = np.where(needed[self.pair_rows], level[self.pair_rows], 0)
        out = []
        for v in range(2, int(level.max()) + 1):
            idx = (np.flatnonzero((level == v) & needed)[:, None] * C + np.arange(C)).ravel()
            sel = np.flatnonzero(np.repeat(pair_level == v, C))  # columns of self.coef
            if not idx.size:
                continue
            pos = np.searchsorted(idx, self.rows[sel])
            order = np.argsort(pos, kind="stable")
            sel, pos = sel[order], pos[order]
            out.append((_Columns.of(idx), sel, self.cols[sel], _Adder.of(pos, len(idx))))
        return out

    def _upstream(self, stocks: np.ndarray) -> np.ndarray:
        """Edges whose flows the inflows of ``stocks`` depend on within a year (and those inflows)."""
        r, c = self._dep
        need = np.zeros(len(self.system.edges), bool)
        need[self.inc[stocks].indices] = True
        while True:
            more = need.copy()
            more[c[need[r]]] = True
            if np.array_equal(more, need):
                return need
            need = more

    def _linear(self, ts: np.ndarray, b: np.ndarray, lambdas, own: bool = False) -> np.ndarray:
        q, n, C = len(ts), self.n, self.system.C
        off = np.arange(q)[:, None] * n
        rows, cols, vals, rhs = [], [], [], b
        if self.coupled:
            rhs = b.copy()
            for i, t in enumerate(ts.tolist()):
                r, c, v, bx = _blend_terms(self.system, self.sh, lambdas, t, C, full=self.pulse is None,
                                           follows=self.follows)
                rhs[i] += bx
                rows.append(r + i * n)
                cols.append(c + i * n)
                vals.append(v)
        if self.levels is not None:
            extra = None
            if rows:
                extra = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                      shape=(q * n, q * n))
            x = self._sweep(ts, rhs, extra, self.levels, own=own or rhs is not b)
        else:
            rows.append((off + self.rows).ravel())
            cols.append((off + self.cols).ravel())
            vals.append(self.coef[ts].ravel())
            M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(q * n, q * n))
            x = _factor_solve(M, rhs.ravel()).reshape(q, n)
        if not np.all(np.isfinite(x)):
            bad = int(np.argmax(~np.isfinite(x).all(axis=1)))
            if q > 1:  # the first year that has no solution on its own
                for i in range(q):
                    self._linear(ts[i : i + 1], b[i : i + 1], lambdas)
            raise SimulationError(_cycle_message(self.system, int(ts[bad])))
        return x

    def _sweep(self, ts: np.ndarray, rhs: np.ndarray, extra: sp.csr_matrix | None, levels: list,
               own: bool) -> np.ndarray:
        """Level by level: an edge's flow from the flows of lower levels (its inputs), every year
        at once: the pair terms (coefficient x input), plus the blend terms ``extra``."""
        if not levels and extra is None:  # nothing to add: the flows are the constants (read only)
            return rhs
        x = rhs if own else rhs.copy()  # (q, n)
        q, n = x.shape
        coef = self.coef if q == self.system.T and np.array_equal(ts, np.arange(q)) else self.coef[ts]
        for idx, sel, cols, add in levels:
            terms = np.take(coef, sel, axis=1)
            terms *= np.take(x, cols, axis=1)
            idx.add(x, add.sum(terms))
            if extra is not None:
                flat = (np.arange(q)[:, None] * n + idx.cols).ravel()
                idx.add(x, (extra[flat] @ x.ravel()).reshape(q, len(idx.cols)))
        return x


def _set_cols(x: np.ndarray, cols: np.ndarray, vals: np.ndarray, add: bool = False) -> None:
    """``x[:, cols] = vals`` (or ``+=``) on a 2-d array: a slice when ``cols`` is a run."""
    _Columns.of(cols).add(x, vals) if add else _Columns.of(cols).set(x, vals)


@dataclass(frozen=True)
class _Columns:
    """Columns of a 2-d array, addressed by a slice when they are a run of consecutive ones
    (fancy indexing costs a gather and a scatter)."""

    cols: np.ndarray
    run: slice | None

    @classmethod
    def of(cls, cols: np.ndarray) -> _Columns:
        cols = np.asarray(cols, int)
        run = (slice(int(cols[0]), int(cols[-1]) + 1) if cols.size and cols[-1] - cols[0] + 1 == cols.size
               and (np.diff(cols) == 1).all() else None)
        return cls(cols=cols, run=run)

    def add(self, x: np.ndarray, vals: np.ndarray) -> None:
        if self.run is not None:
            x[:, self.run] += vals
        else:
            x[:, self.cols] += vals

    def set(self, x: np.ndarray, vals: np.ndarray) -> None:
        if self.run is not None:
            x[:, self.run] = vals
        else:
            x[:, self.cols] = vals


@dataclass(frozen=True)
class _Adder:
    """How the terms of a sweep level (sorted by their unknown ``pos``) add up per unknown: when
    each unknown has one term, they are its value as they are; else up to four gathers (a term
    slot per gather, padded with a zero column), or a sparse product for more."""

    slots: np.ndarray | None
    matrix: sp.csr_matrix | None

    @classmethod
    def of(cls, pos: np.ndarray, n: int) -> _Adder:
        count = np.bincount(pos, minlength=n)
        if len(pos) == n and (count == 1).all():
            return cls(slots=None, matrix=None)
        D = int(count.max()) if count.size else 0
        if D > 4:
            m = sp.csr_matrix((np.ones(len(pos)), (pos, np.arange(len(pos)))), shape=(n, len(pos)))
            return cls(slots=None, matrix=m)
        first = np.r_[0, np.cumsum(count)[:-1]]
        slots = np.full((n, D), len(pos))
        for d in range(D):
            has = count > d
            slots[has, d] = first[has] + d
        return cls(slots=slots, matrix=None)

    def sum(self, terms: np.ndarray) -> np.ndarray:
        if self.matrix is not None:
            return (self.matrix @ np.ascontiguousarray(terms.T)).T
        if self.slots is None:
            return terms
        if not self.slots.shape[1]:  # no pair term feeds these unknowns (blend terms only)
            return np.zeros((terms.shape[0], self.slots.shape[0]))
        tz = np.concatenate([terms, np.zeros((terms.shape[0], 1))], axis=1)
        out = np.take(tz, self.slots[:, 0], axis=1)
        for d in range(1, self.slots.shape[1]):
            out += np.take(tz, self.slots[:, d], axis=1)
        return out


def _factor_solve(M: sp.csr_matrix, rhs: np.ndarray) -> np.ndarray:
    m = M.shape[0]
    A = (sp.identity(m, format="csr") - M).tocsc()
    try:
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error", spla.MatrixRankWarning)
            return spla.spsolve(A, rhs) if m > 1 else np.linalg.solve(A.toarray(), rhs)
    except Exception:
        return np.full(m, np.nan)


def _longest_path(rows: np.ndarray, cols: np.ndarray, gain: np.ndarray, N: int) -> np.ndarray:
    """``v[e] = gain[e] + max(v[p] for p with (e, p) in zip(rows, cols))`` on an acyclic graph."""
    v = gain.copy()
    for _ in range(N + 1):
        new = gain.copy()
        np.maximum.at(new, rows, v[cols] + gain[rows])
        if np.array_equal(new, v):
            break
        v = new
    return v


#: flows beyond this cannot be summed, scaled or handed to a solver in double precision
MAX_VALUE = 1e300


def _refuse_huge(system: System, flows: np.ndarray, lo: float, hi: float) -> None:
    """Non-finite or astronomically large flows (or totals over channels) are refused (``lo``,
    ``hi``: the smallest and largest flow)."""
    from .result import channel_total

    if not flows.size or max(hi, -lo) * flows.shape[2] <= MAX_VALUE:
        return  # no total can be beyond it either (also False for NaN)
    tot = channel_total(flows)
    if max(hi, -lo, float(np.abs(tot).max())) <= MAX_VALUE:
        return
    huge = (~np.isfinite(flows) | (np.abs(flows) > MAX_VALUE)).any(axis=2)
    bad = ~np.isfinite(tot) | (np.abs(tot) > MAX_VALUE) | huge
    if bad.any():
        t, e = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise SimulationError(f"the flow {system.edge_name(e)} in {int(system.years[t])} is {tot[t, e]:.6g} "
                              f"{system.unit}: beyond {MAX_VALUE:g} (or not finite) it cannot be summed or solved in "
                              "double precision; check the inputs for huge values (or use a larger unit)")


def _check_free_sources(system: System, rules: FlowRules, notes: list[str]) -> None:
    """Baseline rule: a free source supplies what a blend's demands need of it, nothing else."""
    for eid in rules.edges_of("free").tolist():
        e = system.edges[eid]
        name = system.nodes[e.source].name
        if system.nodes[e.target].kind != "blend":
            raise SimulationError(f"free source {name} feeds {system.nodes[e.target].name}, not a blend: in a "
                                  "baseline simulation only a blend's demand can set a free source's amount "
                                  "(simulate given decisions instead: decisions=...)")
        bl = next(b for b in system.blends if b.node == e.target)
        if not bl.allocation[bl.inputs.index(e.id)].any():
            notes.append(f"free source {name} makes up no demand in the baseline (no allocation of it to an "
                         "output with a demand) and supplies nothing")


def _follows(rules: FlowRules) -> list[tuple]:
    """``(edge, weights (T, C), followed edges)`` of every pickup source's edge."""
    return list(zip(rules.pickup_edges.tolist(), rules.pickup_weight(), rules.pickup_followed))


def _blend_terms(system: System, sh: Shares, lambdas, t: int, C: int, full: bool = True, follows=None):
    """Same-year rows that couple channels through totals: blend outputs, surplus, free
    inputs (making up demands, or given amounts), and sources that follow a node's input
    (``follows``: ``(edge, weights (T, C), followed edges)``, found from the system if None)."""
    d_row, d_col, d_val = [], [], []  # same-channel terms: row (e, c) gets val * f[e', c]
    x_row, x_col, x_w, x_val = [], [], [], []  # cross terms: row (e, c) gets val * w[c] * sum_c' f[e', c']
    b_extra = np.zeros(len(system.edges) * C)
    c_idx = np.arange(C)

    def cross(row_edge, col_edge, weights_c, coef):
        x_row.append(row_edge)
        x_col.append(col_edge)
        x_w.append(weights_c)
        x_val.append(coef)

    for bi, bl in enumerate(system.blends):
        a = sh.allocation[bi][:, :, t]  # (n_in, n_out)
        lam = lambdas[bi][:, t]
        ins = np.asarray(bl.inputs, int)
        free_in = np.array([system.nodes[system.edges[e].source].free for e in bl.inputs], bool)
        offer = np.where(free_in[:, None], 0.0, lam[None, :] * a)  # (n_in, n_out)
        taken = offer.sum(axis=1) if len(bl.outputs) else np.zeros(len(ins))
        for j, o in enumerate(bl.outputs):
            on = np.flatnonzero(offer[:, j])
            d_row.extend([o.edge] * len(on))
            d_col.extend(ins[on].tolist())
            d_val.extend(offer[on, j].tolist())
            if not full:
                continue
            for f in np.flatnonzero(free_in).tolist():
                e_f = int(ins[f])
                comp_f = system.nodes[system.edges[e_f].source].composition[t]
                if sh.exact:  # a given amount to this output
                    amount = sh.free_alloc[bi][f, j, t] if sh.free_alloc is not None else 0.0
                    for tgt in (o.edge, e_f):
                        b_extra[tgt * C + c_idx] += comp_f * amount
                elif a[f, j] > 0 and o.demand is not None and lam[j] >= 1.0:
                    # makes up its share a[f, j] of the shortfall: a[f, j] * (demand - sum_i offers)
                    by = np.flatnonzero(~free_in & (a[:, j] != 0))
                    for tgt in (o.edge, e_f):
                        b_extra[tgt * C + c_idx] += comp_f * a[f, j] * o.demand[t]
                        x_row.extend([tgt] * len(by))
                        x_col.extend(ins[by].tolist())
                        x_w.extend([comp_f] * len(by))
                        x_val.extend((-lam[j] * a[by, j] * a[f, j]).tolist())
        if bl.surplus_edge is not None:
            rest = 1.0 - taken
            on = np.flatnonzero(~free_in & (rest > 0))
            d_row.extend([bl.surplus_edge] * len(on))
            d_col.extend(ins[on].tolist())
            d_val.extend(rest[on].tolist())
    if full:
        if follows is None:
            follows = _follows(flow_rules(system))
        for eid, w, followed in follows:
            for e_in in followed:
                cross(eid, e_in, w[t], 1.0)
    rows = [(np.array(d_row, int)[:, None] * C + c_idx).ravel()]
    cols = [(np.array(d_col, int)[:, None] * C + c_idx).ravel()]
    vals = [np.repeat(np.array(d_val, float), C)]
    if x_row:
        shape = (len(x_row), C, C)
        rows.append(np.broadcast_to(np.array(x_row)[:, None, None] * C + c_idx[None, :, None], shape).ravel())
        cols.append(np.broadcast_to(np.array(x_col)[:, None, None] * C + c_idx[None, None, :], shape).ravel())
        vals.append(np.broadcast_to(np.array(x_w)[:, :, None] * np.array(x_val)[:, None, None], shape).ravel())
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), b_extra


def _update_lambdas(system: System, sh: Shares, lambdas, f: np.ndarray, t: int, blends=None) -> bool:
    """One fixed-point step of the blend factors of year ``t`` (of the blends ``blends``, or all)."""
    changed = False
    for bi, bl in enumerate(system.blends):
        if blends is not None and bi not in blends:
            continue
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


def _cycle_message(system: System, t: int) -> str:
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
