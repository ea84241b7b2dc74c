"""Post-solve: every mass balance closed to round-off, in time linear in the model's size.

HiGHS meets the balance rows to its feasibility tolerance. :func:`_polish` recomputes the
columns those rows define (a process's or stock's input, one route of each split, each blend
input's leftover) from all the others with the exact coefficients, so every balance closes
to round-off; :func:`_project_routes` first moves route totals a tolerance put outside their
share bounds back inside.

The dependent columns of year ``t`` enter only rows of years ``>= t`` (a stock's outflow is a
convolution of *earlier* inflows), so the system is block lower-triangular by year: it is
solved by forward substitution, one small same-year block at a time (the same-year network:
loops through processes, a stock's age-0 outflow), never by factorising the whole
``T x T`` convolution. The work is the nonzeros of the rows plus ``T`` small block solves.
A model whose rows are not causal in this way (a hand-made row, say) falls back to one
sparse LU of the whole block.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

if TYPE_CHECKING:
    from ..model import OptModel

#: same-year blocks up to this size are inverted densely (in one batched call per size); larger
#: ones (many products in one year) are factorised by SuperLU, whose work follows their nonzeros
#: (the dense inverse's n^3 would grow faster than the model)
DENSE_MAX = 32
#: a same-year block whose 1-norm condition number exceeds this is taken as singular (a loop
#: without outlet)
COND_MAX = 1e14


class _YearBlocks:
    """Forward substitution over years for ``B y = r`` with B block lower-triangular by year."""

    def __init__(self, B: sp.csr_matrix, starts: np.ndarray, blocks: list, row_perm: np.ndarray,
                 col_perm: np.ndarray):
        self.B, self.starts, self.blocks = B, starts, blocks
        self.row_perm, self.col_perm = row_perm, col_perm

    @classmethod
    def make(cls, B: sp.csr_matrix, row_t: np.ndarray, col_t: np.ndarray):
        """Blocks by year, or one LU of the whole matrix when the rows are not causal by year."""
        m = B.shape[0]
        if m == 0 or m != B.shape[1]:
            return None
        rp = np.argsort(row_t, kind="stable")
        cp = np.argsort(col_t, kind="stable")
        rt, ct = row_t[rp], col_t[cp]
        coo = B[rp][:, cp].tocoo()
        ry, rn = np.unique(rt, return_counts=True)
        cy, cn = np.unique(ct, return_counts=True)
        causal = (rt[0] >= 0 and np.array_equal(ry, cy) and np.array_equal(rn, cn)
                  and not np.any(ct[coo.col] > rt[coo.row]))
        if not causal:
            return _WholeLU.make(B)
        starts = np.append(np.cumsum(np.r_[0, rn[:-1]]), m)
        same = ct[coo.col] == rt[coo.row]
        L = sp.csr_matrix((coo.data[~same], (coo.row[~same], coo.col[~same])), shape=(m, m))
        blocks = _factor_blocks(coo, same, starts, rn, rt)
        if blocks is None:
            return None  # singular: a loop without outlet
        L.sort_indices()
        return cls(L, starts, blocks, rp, cp)

    def solve(self, rhs: np.ndarray) -> np.ndarray | None:
        r = rhs[self.row_perm]
        y = np.zeros(len(r))
        st = self.starts
        ip, ix, dv = self.B.indptr, self.B.indices, self.B.data
        for k, (kind, lu) in enumerate(self.blocks):
            a, b = st[k], st[k + 1]
            rk = r[a:b].copy()
            lo, hi = ip[a], ip[b]
            if hi > lo:  # what the earlier years' columns already bring to these rows
                prod = dv[lo:hi] * y[ix[lo:hi]]
                rows = np.repeat(np.arange(b - a), np.diff(ip[a:b + 1]))
                rk -= np.bincount(rows, weights=prod, minlength=b - a)
            y[a:b] = lu @ rk if kind == "inverse" else lu.solve(rk)
        if not np.all(np.isfinite(y)):
            return None
        out = np.empty_like(y)
        out[self.col_perm] = y
        return out


class _WholeLU:
    def __init__(self, lu):
        self.lu = lu

    @classmethod
    def make(cls, B: sp.csr_matrix):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return cls(spla.splu(B.tocsc()))
        except (RuntimeError, ValueError, ArithmeticError, Warning):
            return None

    def solve(self, rhs: np.ndarray) -> np.ndarray | None:
        try:
            y = np.atleast_1d(self.lu.solve(rhs))
        except (RuntimeError, ValueError, ArithmeticError):
            return None
        return y if np.all(np.isfinite(y)) else None


def _factor_blocks(coo, same: np.ndarray, starts: np.ndarray, sizes: np.ndarray, rt: np.ndarray):
    """Each year's same-year block: small ones inverted together (one batched call), large
    ones factorised by SuperLU; None when a block is singular."""
    m = len(rt)
    year_of = np.repeat(np.arange(len(sizes)), sizes)
    r, c, v = coo.row[same], coo.col[same], coo.data[same]
    blocks: list = [None] * len(sizes)
    small = sizes <= DENSE_MAX
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for n in np.unique(sizes[small]):
                ks = np.flatnonzero(sizes == n)
                pos = np.full(len(sizes), -1)
                pos[ks] = np.arange(len(ks))
                D = np.zeros((len(ks), n, n))
                sel = pos[year_of[r]] >= 0
                kk = year_of[r[sel]]
                np.add.at(D, (pos[kk], r[sel] - starts[kk], c[sel] - starts[kk]), v[sel])
                inv = np.linalg.inv(D)
                # 1-norm condition number from the inverse at hand (an SVD per block would cost more
                # than the inversion itself)
                cond = np.linalg.norm(D, 1, axis=(1, 2)) * np.linalg.norm(inv, 1, axis=(1, 2))
                if not np.all(np.isfinite(cond)) or np.any(cond > COND_MAX):
                    return None
                for q, k in enumerate(ks.tolist()):
                    blocks[k] = ("inverse", inv[q])
            for k in np.flatnonzero(~small).tolist():
                a, b = starts[k], starts[k + 1]
                sel = (r >= a) & (r < b)
                D = sp.csc_matrix((v[sel], (r[sel] - a, c[sel] - a)), shape=(b - a, b - a))
                blocks[k] = ("sparse", spla.splu(D))
    except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError, Warning):
        return None
    return blocks


def _polish(om: OptModel, x: np.ndarray) -> np.ndarray:
    """Make every mass balance hold to round-off, keeping HiGHS's decisions.

    Each balance / allocation row defines one column: a process's or stock's input, the
    largest route of a split, a blend input's leftover (or its largest allocation). Those
    columns are recomputed from all others by one sparse solve of the exact rows (with
    every coefficient, also those too small to hand to HiGHS); a split then sends exactly
    its input, whatever the solver's feasibility tolerance left over.
    """
    if not len(om.polish_rows):
        return x
    cand = om.polish_cand.tocsr()
    m = cand.shape[0]
    counts = np.diff(cand.indptr)
    if np.any(counts == 0):
        return x
    rows = np.repeat(np.arange(m), counts)
    # the candidate with the largest value in each row; a split's route: the one with the most
    # room within its share bounds (ties: the widest bounds, then the first)
    score = x.copy()
    width = np.zeros(om.n_cols)
    if om.route_room is not None:
        rc, sel, lo, hi, _ = om.route_room
        inflow = sel @ (om.G @ x + om.g)
        r = x[rc]
        score[rc] = np.minimum(hi * inflow - r, r - lo * inflow)
        width[rc] = hi - lo
    order = np.lexsort((-width[cand.indices], -score[cand.indices], rows))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    dep = cand.indices[order[first]]
    if len(np.unique(dep)) != m:
        return x
    # the factorisation of the dependent block is kept for the next solve of the same model
    # (a sweep re-solves it many times, usually with the same dependent columns)
    key = dep.tobytes()
    cache = getattr(om, "_polish_cache", None)
    if cache is None or cache[0] != key:
        A = om.A_polish.tocsc()
        rest = np.ones(om.n_cols, bool)
        rest[dep] = False
        solver = _YearBlocks.make(A[:, dep].tocsr(), om.row_t[om.polish_rows], om.col_t[dep])
        if solver is None:
            return x
        cache = (key, solver, A[:, rest].tocsr(), rest)
        om._polish_cache = cache
    _, solver, A_rest, rest = cache
    rhs = om.row_lb[om.polish_rows] - A_rest @ x[rest]
    sol = solver.solve(rhs)
    if sol is None:
        return x
    if not np.all(np.isfinite(sol)):
        return x
    out = x.copy()
    out[dep] = sol
    return out


def _project_routes(om: OptModel, x: np.ndarray, movable: np.ndarray) -> bool:
    """Put each split's route totals inside their share bounds, in place.

    HiGHS meets a bound to its feasibility tolerance, an absolute amount: on a split whose
    input is itself tiny that can read as a share far outside the bounds (e.g. 1e-6 t all on a
    route capped at 0 %). Routes are clipped to ``[lo, hi] x input`` and what that moves is
    spread over the routes with room, in proportion to it. Splits with a fixed route are left
    alone. Returns whether anything moved."""
    if om.route_room is None:
        return False
    rc, sel, lo, hi, grp = om.route_room
    inflow = np.maximum(sel @ (om.G @ x + om.g), 0.0)
    r = x[rc]
    lo_m, hi_m = lo * inflow, hi * inflow
    clipped = np.clip(r, lo_m, hi_m)
    if not len(grp):
        return False
    ng = int(grp.max()) + 1
    fixed_grp = np.bincount(grp, weights=(~movable[rc]).astype(float), minlength=ng) > 0
    target = np.zeros(ng)
    target[grp] = inflow  # every route of a split-year sees the same input
    resid = target - np.bincount(grp, weights=clipped, minlength=ng)
    up = hi_m - clipped
    dn = clipped - lo_m
    room_up = np.bincount(grp, weights=up, minlength=ng)
    room_dn = np.bincount(grp, weights=dn, minlength=ng)
    new = clipped.copy()
    g_up = (resid > 0) & (room_up >= resid)
    g_dn = (resid < 0) & (room_dn >= -resid)
    w_up = np.divide(up, room_up[grp], out=np.zeros_like(up), where=room_up[grp] > 0)
    w_dn = np.divide(dn, room_dn[grp], out=np.zeros_like(dn), where=room_dn[grp] > 0)
    new = np.where(g_up[grp], new + w_up * resid[grp], new)
    new = np.where(g_dn[grp], new + w_dn * resid[grp], new)
    ok = (g_up | g_dn | (resid == 0)) & ~fixed_grp
    change = ok[grp] & (new != r)
    if not change.any():
        return False
    x[rc[change]] = new[change]
    return True


