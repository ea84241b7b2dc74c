"""The same-year network of a simulation: every edge's flow from the flows of the same year,
built from :mod:`circopt.flowrules` (``(I - M_t) f_t = b_t`` over every edge and channel, one block per
year), solved for many years at once by a sweep over the edges' levels (or one sparse LU when an
edge depends on itself within a year); blend allocation factors are iterated to their fixed point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .errors import SimulationError
from .flowrules import FlowRules, flow_rules
from .system import System

if TYPE_CHECKING:
    from .simulate import Shares


class SameYear:
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
        self.source_comp = np.ascontiguousarray(rules.source_comp.transpose(1, 0, 2))  # (T, k, C)
        self._stages: tuple | None = None  # (stages,) once found
        self._sweeps: dict = {}  # sweep plans of stage solves, by the stages' stocks
        self._b_own: np.ndarray | None = None  # source constants of the System's own series
        self._own: list[tuple] = []  # (position, node, its own series) of each source edge
        self.stock_edges, self.stock_of_edge = rules.stock_edges, rules.stock_of_edge
        self.stock_in_order = bool(np.array_equal(self.stock_of_edge, np.arange(len(plan.stocks))))
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
    def of(cls, system: System, sh: Shares, plan, pulse: dict | None) -> SameYear:
        """The same-year network of ``system`` with shares ``sh``: its structure (flow rules, stages,
        sweep plans) derived once per System, the coefficients from the shares."""
        import copy

        def template() -> SameYear:
            net = cls(system, None, plan, None, flow_rules(system, plan.stocks))
            net.stock_stages()
            net.source_constants({})  # derives the constants of the System's own series
            if not (net.rules.kind[net.pair_rows] == "route").any():  # coefficients without decisions
                net.coef = net.rules.pair_coef(np.zeros((len(system.edges), system.T)), net.age0).reshape(system.T, -1)
            return net

        tpl = system.cached("same_year", template)
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
        if self._b_own is None:  # the template: the System's own series
            nodes = r.source[r.source_edges].tolist()
            self._own = [(q, n, self.system.nodes[n].series) for q, n in enumerate(nodes)]
            own = {n: self.system.nodes[n].series for n in set(nodes)}
            self._b_own = self._fill(np.zeros((T, self.n)), np.arange(len(nodes)), own)
        b = self._b_own.copy()
        get = series.get
        k = np.array([q for q, n, x in self._own if get(n) is not x], int)
        return self._fill(b, k, series) if k.size else b

    def _fill(self, b: np.ndarray, k: np.ndarray, series: dict) -> np.ndarray:
        """Set the columns of the source edges ``k`` (positions in ``source_edges``) from ``series``."""
        r, T, C = self.rules, self.system.T, self.system.C
        zero = np.zeros(T)
        amount = r.source_coef[k] * np.array([zero if (x := series.get(n)) is None else x
                                              for n in r.source[r.source_edges[k]].tolist()]).reshape(len(k), T)
        vals = self.source_comp[:, k] * amount.T[:, :, None]  # (T, k, C)
        _Columns.of((r.source_edges[k][:, None] * C + np.arange(C)).ravel()).set(b, vals.reshape(T, -1))
        return b

    def with_stock_constants(self, b: np.ndarray, before: np.ndarray, inplace: bool = False) -> np.ndarray:
        """``b`` (Tq, E*C) plus the outflow of earlier cohorts ``before`` (Tq, S, C, year-major) on
        each stock's edges (a new array, or ``b`` itself with ``inplace``)."""
        Tq = before.shape[0]
        out = b if inplace else b.copy()
        per_edge = before if self.stock_in_order else np.take(before, self.stock_of_edge, axis=1)
        self.stock_cols.add(out, per_edge.reshape(Tq, -1))
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
    import scipy.sparse.linalg as spla  # only networks with same-year loops (`circopt check` stays quick)

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
