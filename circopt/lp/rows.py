"""The LP's rows, one function per row family (user constraints: :mod:`circopt.lp.user_rows`).

Each row has a readable name in the instance's words (:mod:`circopt.lp.index`):

* ``balance[node,channel|total,year]`` -- the input of a process or stock is its inflows (a
  source following another node: ``amount = ratio * that input``); the route totals of a split
  are its input;
* ``share_min`` / ``share_max[split.route,year]`` -- ``lo * in <= R <= hi * in``; when a decision
  changes ``in``, it is written as the sum of the split's routes, which the split's balance makes
  equal to it (a few nonzeros instead of a copy of a convolution);
* ``capacity[split.route,year]`` -- a route's own capacity;
* ``allocation[blend.input,year]`` -- an input is allocated or left over;
* ``demand[blend.output,year]``, ``window_min`` / ``window_max[blend.output,element,year]``
  (``lo * sum_i x_ij <= sum_i comp_i x_ij <= hi * sum_i x_ij``);
* ``supply_max[source,year]``; ``epsilon[term]``.

No row multiplies two columns: every coefficient is a number known when the model is built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .index import C_STATE, DROP_REL, INF, RK
from .sparse import row_abs_max


class RowSet:
    """The rows as they are added, block by block: matrix, bounds and index arrays per block,
    and the blocks whose rows each define one dependent column (for the post-solve polish)."""

    def __init__(self, n: int):
        self.n = n
        self.blocks: list[tuple] = []  # (A csr, lb, ub, kind, a, b, c, t, u)
        self.count = 0
        self.polish: list[tuple[int, sp.csr_matrix]] = []  # (first row, candidate columns per row)

    def add(self, A, lb, ub, kind: str, a, b=0, c=0, t=None, u=-1) -> int:
        """Append the rows of ``A`` (bounds and index values broadcast over them); their first row."""
        m = A.shape[0]

        def f(v):
            return np.broadcast_to(np.asarray(v), (m,)).astype(np.int32)

        self.blocks.append((A.tocsr(), np.broadcast_to(lb, (m,)).astype(float),
                            np.broadcast_to(ub, (m,)).astype(float), f(RK[kind]), f(a), f(b), f(c),
                            f(-1 if t is None else t), f(u)))
        self.count += m
        return self.count - m

    def direct(self, rows, cols, vals, m: int) -> sp.csr_matrix:
        """An ``m x n`` matrix with ``vals`` at ``(rows, cols)`` (broadcast)."""
        rows, cols, vals = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(vals, float))
        return sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(m, self.n))

    def finish(self, b) -> None:
        """The matrix ``b.A`` (tiny entries dropped), bounds and index arrays, and the polish rows."""
        n = self.n
        if self.blocks:
            A = sp.vstack([blk[0] for blk in self.blocks]).tocsr()

            def cat(i):
                return np.concatenate([blk[i] for blk in self.blocks])

            b.row_lb, b.row_ub = cat(1), cat(2)
            b.row_kind, b.row_a, b.row_b, b.row_c, b.row_t, b.row_u = (cat(i) for i in range(3, 9))
        else:
            A = sp.csr_matrix((0, n))
            b.row_lb = b.row_ub = np.zeros(0)
            b.row_kind = b.row_a = b.row_b = b.row_c = b.row_t = b.row_u = np.zeros(0, np.int32)
        if self.polish:
            b.polish_rows = np.concatenate([np.arange(r0, r0 + P.shape[0]) for r0, P in self.polish])
            b.polish_cand = sp.vstack([P for _, P in self.polish]).tocsr()
        else:
            b.polish_rows = np.zeros(0, int)
            b.polish_cand = sp.csr_matrix((0, n))
        b.A_polish = A[b.polish_rows].tocsr()
        b.A = drop_small(A)


def rows(b) -> None:
    """Every row of the model, family by family, in a fixed order (the row numbers)."""
    from .objective import term
    from .user_rows import user_rows

    rs = RowSet(b.n)
    balance_rows(b, rs)
    splits = [i for i, nd in enumerate(b.s.nodes) if nd.kind == "split"]
    if splits:
        split_rows(b, rs, splits)
    for bi in range(len(b.s.blends)):
        allocation_rows(b, rs, bi)
        output_rows(b, rs, bi)
    supply_max_rows(b, rs)
    b.terms = {}
    for k, con in enumerate(b.cons):
        user_rows(b, rs, k, con)
    for q, (name, (val, opts)) in enumerate(b.eps.items()):
        row, off = term(b, name, opts)
        rs.add(row, -INF, val - off, "epsilon", q, 0, 0, None)
    rs.finish(b)


def balance_rows(b, rs: RowSet) -> None:
    """Balance of the state nodes: (sum of inflows) - input = 0, per channel or as one total;
    a following source's amount = ratio x the followed node's input."""
    s, T, C = b.s, b.T, b.C
    G, g = b.G, b.g
    st_rows_A, st_lb, meta = [], [], []
    for nd in b.state_nodes:
        ins = s.in_edges(nd)
        if s.nodes[nd].kind == "source" or b.total_mode[nd]:
            if s.nodes[nd].kind == "source":  # a pick-up source: its ratio x the total it follows
                k = int(np.flatnonzero(b.rules.source[b.rules.pickup_edges] == nd)[0])
                S = b.sel_total([b.rules.pickup_followed[k]], weights=b.rules.pickup_ratio[k])
            else:
                S = b.sel_total([ins])
            st_rows_A.append(S @ G - rs.direct(b.tt, b.state_col[nd] + b.tt, 1.0, T))
            st_lb.append(-(S @ g))
            meta.append((nd, np.full(T, -1), b.tt))
        else:
            rr = np.concatenate([np.arange(T * C) for _ in ins])
            cols = np.concatenate([b.fi(e).ravel() for e in ins])
            S = sp.csr_matrix((np.ones(len(rr)), (rr, cols)), shape=(T * C, b.F))
            st_rows_A.append(S @ G - rs.direct(np.arange(T * C), b.state_col[nd] + np.arange(T * C), 1.0, T * C))
            st_lb.append(-(S @ g))
            meta.append((nd, np.tile(b.cc, T), np.repeat(b.tt, C)))
    if not st_rows_A:
        return
    A_st = sp.vstack(st_rows_A).tocsr()
    rhs = np.concatenate(st_lb)
    a = np.concatenate([np.full(len(m[1]), m[0]) for m in meta])
    c = np.concatenate([m[1] for m in meta])
    t = np.concatenate([m[2] for m in meta])
    r0 = rs.add(A_st, rhs, rhs, "balance", a, 0, c, t)
    zc = np.flatnonzero(b.col_kind == C_STATE)  # same order as the rows
    rs.polish.append((r0, rs.direct(np.arange(len(zc)), zc, 1.0, len(zc))))


def split_rows(b, rs: RowSet, splits: list[int]) -> None:
    """Splits: the sum of the route totals = the input; share bounds; route capacities."""
    s, T = b.s, b.T
    S = b.sel_total([s.in_edges(p) for p in splits])
    M_in = (S @ b.G).tocsr()
    g_in = S @ b.g
    rr, kk = [], []
    for k, p in enumerate(splits):
        for e in s.out_edges(p):
            rr.append(k * T + b.tt)
            kk.append(b.route_col[e] + b.tt)
    P = rs.direct(np.concatenate(rr), np.concatenate(kk), 1.0, len(splits) * T)
    r0 = rs.add(P - M_in, g_in, g_in, "balance", np.repeat(splits, T), 0, -1, np.tile(b.tt, len(splits)))
    rs.polish.append((r0, P))
    b.split_row = {p: k for k, p in enumerate(splits)}
    b.M_in, b.g_in = M_in, g_in
    b.route_room = _route_room(b, splits, S)
    for side in ("min", "max"):
        q_edge, q_t, q_w = [], [], []
        for p in splits:
            for e in s.out_edges(p):
                ed = s.edges[e]
                arr = ed.lo if side == "min" else ed.hi
                ts = np.flatnonzero(arr > 0) if side == "min" else np.flatnonzero(arr < 1)
                q_edge.append(np.full(len(ts), e))
                q_t.append(ts)
                q_w.append(arr[ts])
        if q_edge:
            share_rows(b, rs, np.concatenate(q_edge), np.concatenate(q_t), np.concatenate(q_w), side, u=-1)
    route_capacity_rows(b, rs, splits)


def _route_room(b, splits: list[int], S: sp.csr_matrix) -> tuple:
    """Per route column: its split's input (as a selection of flows) and share bounds (tightened
    by user share and forbid constraints), so that the polish can pick, in each split and year,
    the route with the most room to absorb round-off."""
    s, T = b.s, b.T
    rc, rrow, lo_s, hi_s = [], [], [], []
    for k, p in enumerate(splits):
        for e in s.out_edges(p):
            rc.append(b.route_col[e] + b.tt)
            rrow.append(k * T + b.tt)
            lo_s.append(s.edges[e].lo if s.edges[e].lo is not None else np.zeros(T))
            hi_s.append(s.edges[e].hi if s.edges[e].hi is not None else np.ones(T))
    rrow = np.concatenate(rrow)
    rc, lo_s, hi_s = np.concatenate(rc), np.concatenate(lo_s), np.concatenate(hi_s)
    pos = {c: q for q, c in enumerate(rc.tolist())}
    for con in b.cons:
        if con["type"] in ("share", "forbid"):
            for e in con["edges"]:
                q = np.array([pos[b.route_col[e] + t] for t in np.flatnonzero(con["mask"])], int)
                if con["type"] == "forbid":
                    hi_s[q] = 0.0
                else:
                    if con.get("min") is not None:
                        lo_s[q] = np.maximum(lo_s[q], con["min"])
                    if con.get("max") is not None:
                        hi_s[q] = np.minimum(hi_s[q], con["max"])
    return (rc, S[rrow].tocsr(), lo_s, hi_s, rrow)


def route_capacity_rows(b, rs: RowSet, splits: list[int]) -> None:
    """``capacity[split.route,year]``: a route's flow at most its capacity (where finite)."""
    s = b.s
    ce, ct, cv = [], [], []
    for p in splits:
        for e in s.out_edges(p):
            cap = s.edges[e].capacity
            if cap is not None:
                ts = np.flatnonzero(np.isfinite(cap))
                ce.append(np.full(len(ts), e))
                ct.append(ts)
                cv.append(cap[ts])
    if ce:
        ce, ct, cv = np.concatenate(ce), np.concatenate(ct), np.concatenate(cv)
        cols = np.array([b.route_col[e] for e in ce], int) + ct
        rs.add(rs.direct(np.arange(len(ce)), cols, 1.0, len(ce)), -INF, cv, "capacity", ce, 0, 0, ct)


def share_rows(b, rs: RowSet, q_edge, q_t, q_w, side: str, u: int) -> None:
    """R[e,t] - w * input(split, t) >= w * const_input (min) or <= (max).

    When a decision changes the split's input, the input is written as the sum of the
    split's route totals (equal to it by the split's balance row): a few nonzeros
    instead of a copy of the input's convolution in every share row."""
    s, T = b.s, b.T
    if not len(q_edge):
        return
    split_rows_ = np.array([b.split_row[s.edges[e].source] for e in q_edge]) * T + q_t
    m = len(q_edge)
    cols = np.array([b.route_col[e] for e in q_edge]) + q_t
    var_in = np.diff(b.M_in.indptr)[split_rows_] > 0
    A = rs.direct(np.arange(m), cols, 1.0, m)
    rhs = q_w * b.g_in[split_rows_]
    rhs[var_in] = 0.0
    if var_in.any():
        rr, cc, vv = [], [], []
        for q in np.flatnonzero(var_in):
            p = s.edges[q_edge[q]].source
            for e in s.out_edges(p):
                rr.append(q)
                cc.append(b.route_col[e] + q_t[q])
                vv.append(-q_w[q])
        A = A + rs.direct(rr, cc, vv, m)
    kind = "share_min" if side == "min" else "share_max"
    if side == "min":
        rs.add(A, rhs, INF, kind, q_edge, 0, 0, q_t, u)
    else:
        rs.add(A, -INF, rhs, kind, q_edge, 0, 0, q_t, u)


def allocation_rows(b, rs: RowSet, bi: int) -> None:
    """``allocation[blend.input,year]``: each non-free input is allocated to the outputs or left over."""
    s, T = b.s, b.T
    bl = s.blends[bi]
    free = b.free_in[bi]
    nin, nout = len(bl.inputs), len(bl.outputs)
    fixed_in = [i for i in range(nin) if not free[i]]
    if not fixed_in:
        return
    S = b.sel_total([[bl.inputs[i]] for i in fixed_in])
    M = S @ b.G
    gi = S @ b.g
    rr, kk, dr, dk = [], [], [], []
    for q, i in enumerate(fixed_in):
        for j in range(nout):
            rr.append(q * T + b.tt)
            kk.append(b.alloc_col[bi][i, j] + b.tt)
        if i in b.left_col[bi]:
            rr.append(q * T + b.tt)
            kk.append(b.left_col[bi][i] + b.tt)
            dr.append(rr[-1])
            dk.append(kk[-1])
        else:
            dr.extend(rr[-nout:])
            dk.extend(kk[-nout:])
    P = rs.direct(np.concatenate(rr), np.concatenate(kk), 1.0, len(fixed_in) * T)
    r0 = rs.add(P - M, gi, gi, "allocation", bi, np.repeat(fixed_in, T), 0, np.tile(b.tt, len(fixed_in)))
    rs.polish.append((r0, rs.direct(np.concatenate(dr), np.concatenate(dk), 1.0, len(fixed_in) * T)))


def output_rows(b, rs: RowSet, bi: int) -> None:
    """A blend's outputs: ``demand`` (what the inputs give = the demand) and the composition
    ``window_min`` / ``window_max`` per element (only where some input lies outside the window)."""
    s, T = b.s, b.T
    bl = s.blends[bi]
    nin = len(bl.inputs)
    for j, o in enumerate(bl.outputs):
        if o.demand is not None:
            rows_ = np.repeat(b.tt, nin)
            cols = (b.alloc_col[bi][:, j][None, :] + b.tt[:, None]).ravel()
            rs.add(rs.direct(rows_, cols, 1.0, T), o.demand, o.demand, "demand", bi, j, 0, b.tt)
        comps = np.stack([b.in_comp(e) for e in bl.inputs])  # (nin, T, C)
        for ci in range(len(s.elements)):
            lo, hi = o.window_lo[:, ci], o.window_hi[:, ci]
            for side, bound in (("window_min", lo), ("window_max", hi)):
                coef = comps[:, :, ci] - bound[None, :]  # (nin, T)
                if side == "window_min":
                    ts = np.flatnonzero((bound > 0) & np.any(coef < 0, axis=0))
                else:
                    ts = np.flatnonzero((bound < 1) & np.any(coef > 0, axis=0))
                if not len(ts):
                    continue
                rows_ = np.repeat(np.arange(len(ts)), nin)
                cols = (b.alloc_col[bi][:, j][None, :] + ts[:, None]).ravel()
                A = rs.direct(rows_, cols, coef[:, ts].T.ravel(), len(ts))
                if side == "window_min":
                    rs.add(A, 0.0, INF, side, bi, j, ci, ts)
                else:
                    rs.add(A, -INF, 0.0, side, bi, j, ci, ts)


def supply_max_rows(b, rs: RowSet) -> None:
    """``supply_max[source,year]``: a free source supplies at most its ``max``."""
    s, T, kind = b.s, b.T, b.rules.table_kind
    for e in s.edges:
        if kind[e.id] == "supply" and s.nodes[e.source].max_series is not None:
            mx = s.nodes[e.source].max_series
            if e.source in b.supply_col:
                A = rs.direct(b.tt, b.supply_col[e.source] + b.tt, 1.0, T)
            else:
                bi = b.blend_of_node[e.target]
                i = s.blends[bi].inputs.index(e.id)
                cols = (b.alloc_col[bi][i, :][None, :] + b.tt[:, None])
                A = rs.direct(np.repeat(b.tt, cols.shape[1]), cols.ravel(), 1.0, T)
            rs.add(A, -INF, mx, "supply_max", e.source, 0, 0, b.tt)


def drop_small(A: sp.csr_matrix) -> sp.csr_matrix:
    """Leave out entries below DROP_REL x their row's largest |entry| (exact zeros too)."""
    A = A.tocsr()
    A.sum_duplicates()
    if A.nnz == 0:
        return A
    keep = np.abs(A.data) > DROP_REL * np.repeat(row_abs_max(A), np.diff(A.indptr))
    if keep.all():
        return A
    A.data[~keep] = 0.0
    A.eliminate_zeros()
    return A
