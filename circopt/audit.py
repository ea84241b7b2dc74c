"""The mass-balance audit of a Result: inflow, outflow, stock change and imbalance per node,
element (and total) and year, sinks left out.

Sources: the inflow is what the source must send (series x fractions x composition; ratio x the
followed node's input for a following source); a decided amount (free, stock-driven, a traced
pulse) is what it sends. Stocks: the change is the inflow minus the convolution of the inflows with
the outflow kernel (see docs/concepts.md), and the imbalance that convolution minus the outflow
edges, so the audit checks that each stock's outflow edges carry what its cohorts release. An
imbalance is measured relative to the node's throughput, with a floor of :data:`AUDIT_FLOOR` of the
system's largest flow.

The arrays are computed year-major, ``(T, nodes, elements + total)``, from the flows ``(T, E, C)``
as they lie in memory: each quantity of a node is a sum of gathered columns (its edges, what a
given source must send, a stock's convolved outflow), a block of years at a time; the structure
(which columns, what the given sources must send) is derived once per System.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stocks import stock_plan
from .system import System

#: an imbalance is measured relative to the node's throughput, with a floor of this
#: fraction of the largest flow of the system (so round-off on near-empty nodes is not
#: magnified into a large ratio)
AUDIT_FLOOR = 1e-12
AUDIT_TOL = 1e-9


#: in- or out-edges of a node summed by gathers (one per slot); a node's edges beyond this many
#: are added by a sparse product
SLOTS = 4

#: values per array in a block of years of :func:`max_relative` (a block's arrays stay in the
#: processor's cache)
BLOCK_VALUES = 2**16


@dataclass(frozen=True)
class _Gather:
    """Per audited node, the columns whose sum is one of its quantities: ``slots`` (K, D) column
    ids (padded with the zero column); ``rest`` (K*C, E*C) sparse, the flow edges of nodes with
    more than :data:`SLOTS` of them (or None)."""

    slots: np.ndarray
    rest: object

    @classmethod
    def of(cls, lists: list[list[int]], zero: int, E: int, C: int) -> _Gather:
        import scipy.sparse as sp

        K = len(lists)
        D = min(SLOTS, max((len(x) for x in lists), default=0))
        slots = np.full((K, D), zero, int)
        rows, cols = [], []
        for r, x in enumerate(lists):
            slots[r, : min(D, len(x))] = x[:D]
            for e in x[D:]:
                rows += [r * C + c for c in range(C)]
                cols += [e * C + c for c in range(C)]
        rest = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(K * C, E * C)) if rows else None
        return cls(slots=slots, rest=rest)

    def sum(self, cols: np.ndarray, E: int) -> np.ndarray:
        """``(Tb, K, C)`` from the columns ``(Tb, n, C)`` (the first ``E`` are the flows)."""
        Tb, _, C = cols.shape
        K, D = self.slots.shape
        if D == 0:
            out = np.zeros((Tb, K, C))
        else:
            out = np.take(cols, self.slots[:, 0], axis=1)
            for d in range(1, D):
                out += np.take(cols, self.slots[:, d], axis=1)
        if self.rest is not None:
            ft = np.ascontiguousarray(cols[:, :E, :].reshape(Tb, -1).T)
            out += (self.rest @ ft).T.reshape(Tb, K, C)
        return out


@dataclass(frozen=True)
class _Axes:
    """How the audit's quantities are gathered from the columns ``[flows (E) | 0 | what each given
    source must send (G) | each stock's convolved outflow (S)]`` of a block of years."""

    row: np.ndarray  # node id -> row (or -1): every node but the sinks
    names: list[str]
    given: np.ndarray  # sources with a given series (G,)
    need: np.ndarray  # (T, G, C): what they must send
    inflow: _Gather  # a node's in-edges; a source's need (given) or out-edges (decided amount)
    outflow: _Gather
    due: _Gather  # what is due to leave: a stock's convolved outflow, else the node's inflow
    following: list[int]
    frac: np.ndarray  # (N, T): the share of a source's amount its edges carry


def _axes_of(s: System, pulse: bool) -> _Axes:
    """:func:`_axes`, derived once per System (and pulse or not)."""
    return s.cached(f"audit_axes_{bool(pulse)}", lambda: _axes(s, bool(pulse)))


def _axes(s: System, pulse: bool) -> _Axes:
    N, T, C, E = len(s.nodes), s.T, s.C, len(s.edges)
    keep = [i for i, n in enumerate(s.nodes) if n.kind != "sink"]
    row = np.full(N, -1)
    row[keep] = np.arange(len(keep))
    given, following = [], []
    for i, n in enumerate(s.nodes):
        if n.kind == "source" and not (n.free or n.driven_by is not None):
            (following if n.follows is not None else given).append(i)
    frac = np.zeros((N, T))
    for e in s.edges:
        if s.nodes[e.source].kind == "source":
            frac[e.source] += e.coef
    need = np.zeros((T, len(given), C))
    if given:
        amount = np.array([s.nodes[i].series for i in given])  # (G, T)
        comp = np.array([s.nodes[i].composition for i in given])  # (G, T, C)
        need[:] = ((amount * frac[given])[:, :, None] * comp).transpose(1, 0, 2)
    zero, G = E, len(given)
    col_of_given = {i: E + 1 + g for g, i in enumerate(given)}
    ins: list[list[int]] = [list(s.in_edges(i)) for i in keep]
    outs: list[list[int]] = [list(s.out_edges(i)) for i in keep]
    for r, i in enumerate(keep):
        n = s.nodes[i]
        if n.kind != "source" or i in following:
            continue  # a following source's inflow is computed (see _following_source)
        ins[r] = [col_of_given[i]] if i in col_of_given and not pulse else list(s.out_edges(i))
    due = list(ins)
    for k, i in enumerate(stock_plan(s).stocks):
        due[row[i]] = [E + 1 + G + k]
    return _Axes(row=row, names=[s.nodes[i].name for i in keep], given=np.array(given, int), need=need,
                 inflow=_Gather.of(ins, zero, E, C), outflow=_Gather.of(outs, zero, E, C),
                 due=_Gather.of(due, zero, E, C), following=following, frac=frac)


def audit_arrays(s: System, flows: np.ndarray, conv_outflow: np.ndarray, pulse: bool) -> tuple:
    """Node names and ``(T, nodes, elements + total)`` arrays of inflow, outflow, stock change,
    imbalance and relative imbalance; ``conv_outflow`` (T, S, C): each stock's outflow as the
    convolution of its inflows."""
    ax = _axes_of(s, pulse)
    return (ax.names, *_years(s, ax, flows, conv_outflow, pulse, 0, _largest(flows)))


def max_relative(s: System, flows: np.ndarray, conv_outflow: np.ndarray, pulse: bool) -> float:
    """The largest relative imbalance of :func:`audit_arrays`, computed block of years by block
    without keeping the arrays."""
    ax = _axes_of(s, pulse)
    worst, big = 0.0, _largest(flows)
    step = max(1, BLOCK_VALUES // max(1, len(ax.names) * flows.shape[2]))
    for t0 in range(0, flows.shape[0], step):
        t1 = t0 + step
        rel = _years(s, ax, flows[t0:t1], conv_outflow[t0:t1], pulse, t0, big, table=False)[-1]
        if rel.size:
            worst = max(worst, float(rel.max()))
    return worst


def _years(s: System, ax: _Axes, flows: np.ndarray, conv_outflow: np.ndarray, pulse: bool, t0: int,
           big: float, table: bool = True) -> tuple:
    """The audit's arrays for the years ``t0 .. t0 + len(flows)``; ``big``: the largest |flow| of all
    years. Every quantity is a sum of gathered columns (nothing is scattered): the imbalance is
    what is due to leave a node (its inflow; a stock's convolved outflow) minus its outflow, a
    stock's change its inflow minus what is due (exactly 0 elsewhere). Without ``table``, the
    relative imbalance is returned only where the imbalance is not 0 (when that is rare)."""
    T, E, C = flows.shape
    cols = np.concatenate([flows, np.zeros((T, 1, C)), ax.need[t0 : t0 + T],
                           conv_outflow], axis=1)
    inflow, outflow, due = ax.inflow.sum(cols, E), ax.outflow.sum(cols, E), ax.due.sum(cols, E)
    for i in ax.following:  # a source that follows a node: ratio x what goes through it
        _following_source(s, ax, i, cols[:, :E], inflow, outflow, pulse, slice(t0, t0 + T))
        due[:, ax.row[i]] = inflow[:, ax.row[i]]
    change = np.subtract(inflow, due)
    imb = np.subtract(due, outflow, out=due)
    for a in (inflow, outflow, change, imb):  # 'other' -> the total over channels
        for c in range(C - 1):
            a[..., -1] += a[..., c]
    floor = AUDIT_FLOOR * max(big, 1e-300)
    if not table:
        nz = np.flatnonzero(imb)
        if 4 * nz.size < imb.size:  # mostly exact: the ratio where it is not
            i_, o_, c_, m_ = (a.ravel()[nz] for a in (inflow, outflow, change, imb))
            scale = np.maximum(np.maximum(np.abs(i_), np.abs(o_)), np.maximum(np.abs(c_), floor))
            return inflow, outflow, change, imb, np.abs(m_) / scale
    scale = np.abs(inflow)
    tmp = np.abs(outflow)
    np.maximum(scale, tmp, out=scale)
    np.abs(change, out=tmp)
    np.maximum(scale, tmp, out=scale)
    np.maximum(scale, floor, out=scale)
    rel = np.abs(imb, out=tmp)
    rel /= scale
    return inflow, outflow, change, imb, rel


def _largest(flows: np.ndarray) -> float:
    return max(float(flows.max()), -float(flows.min())) if flows.size else 0.0


def _following_source(s: System, ax: _Axes, i: int, flows: np.ndarray, inflow: np.ndarray,
                      outflow: np.ndarray, pulse: bool, years: slice) -> None:
    """A following source's 'inflow': what it must send, ratio x what goes through the followed
    node (nothing in a traced pulse). Sources are taken in order: one may follow another."""
    row, n = ax.row, s.nodes[i]
    f = n.follows
    through = (outflow[:, row[f]] if s.nodes[f].kind == "source" else
               inflow[:, row[f]] if row[f] >= 0 else flows[:, s.in_edges(f), :].sum(axis=1))
    amount = 0.0 if pulse else np.broadcast_to(n.ratio, (s.T,))[years] * through.sum(axis=1)
    inflow[:, row[i]] = (amount * ax.frac[i, years])[:, None] * n.composition[years]
