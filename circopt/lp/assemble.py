"""Assembly of the flow map: every flow as an affine function of the LP's columns,
``flow = G @ x + g`` (``G``: (T*E*C) x n, ``g``: constants), by the simulator's edge rules.

* :func:`classify` finds the edges a decision can change (downstream of a split route, a blend
  or a free source, and pick-up sources following a node whose input a decision changes) and
  the *state* nodes whose input becomes a column;
* :func:`constants` computes every other flow with the simulator itself (``simulate._run`` on the
  sub-network of those edges), plus the outflow of the stocks' history cohorts;
* :func:`flow_map` writes ``G`` edge rule by edge rule: ``tc`` (``coef[t, c] * input``), ``stock``
  (the lifetime convolution of the inputs), ``route`` / ``blend_out`` / ``surplus`` / free
  ``source`` (the column times its known composition; a blend output carries exactly what its
  inputs bring) and pick-up sources (``coef * composition * amount``).

:class:`Builder` holds what the steps share while a model is built (:mod:`circopt.lp.build`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from ..network import pickups, with_pickups
from ..stocks import stock_plan
from ..system import System


class Builder:
    """The state of one model build: the System, the parsed objective, constraints and epsilon
    bounds, and what each step adds (columns, flow map, rows, terms)."""

    def __init__(self, system: System, obj: dict[str, tuple[float, dict]], cons: list[dict],
                 eps: dict[str, tuple[float, dict]]):
        self.s = system
        self.obj = obj
        self.cons = cons
        self.eps = eps
        self.T, self.C, self.E = system.T, system.C, len(system.edges)
        self.F = self.T * self.E * self.C
        self.tt = np.arange(self.T)
        self.cc = np.arange(self.C)
        self.plan = stock_plan(system)
        self.notes: list[str] = []
        self.terms: dict = {}
        self.term_cache: dict = {}
        self.route_room = None

    def fi(self, e: int) -> np.ndarray:
        """(T, C) flow indices of edge e."""
        return (self.tt[:, None] * self.E + e) * self.C + self.cc[None, :]

    def state_cols_of(self, nd: int) -> np.ndarray:
        """(T, C) column indices of a state node's channel inputs (total mode: (T,) broadcast)."""
        st = self.state_col[nd]
        if self.total_mode[nd]:
            return np.repeat((st + self.tt)[:, None], self.C, axis=1)
        return st + self.tt[:, None] * self.C + self.cc[None, :]

    def in_comp(self, e: int) -> np.ndarray:
        """(T, C) composition of the stream on edge ``e`` (a source's own composition for a source)."""
        ed = self.s.edges[e]
        if ed.rule == "source":
            return self.s.nodes[ed.source].composition
        return self.s.edge_comp[e]

    # -- selection matrices over flows ------------------------------------------------------------
    def sel_total(self, groups: list[list[int]], weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Rows (group g, year t) summing every channel of the edges of group g (weight per row)."""
        T, C = self.T, self.C
        rr, cc = [], []
        for gi, edges in enumerate(groups):
            for e in edges:
                rr.append(np.repeat(gi * T + self.tt, C))
                cc.append(self.fi(e).ravel())
        rows = np.concatenate(rr) if rr else np.zeros(0, int)
        cols = np.concatenate(cc) if cc else np.zeros(0, int)
        vals = np.ones(len(rows)) if weights is None else weights[rows]
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(groups) * T, self.F))

    def term(self, name: str, opts: dict) -> tuple[sp.csr_matrix, float]:
        """A term as (1 x n row, constant): :func:`circopt.lp.objective.term`."""
        from .objective import term

        return term(self, name, opts)

    _term = term  # the name used before the split (branches in flight call ``b._term``)


def classify(b) -> None:
    """Which edges (``b.var_edge``) and nodes (``b.var_node``) a decision can change; the state
    nodes (``b.state_nodes``) whose input is a column, per channel or as one total (``b.total_mode``)."""
    s = b.s
    E, N = b.E, len(s.nodes)
    dec = np.zeros(E, bool)
    for e in s.edges:
        dec[e.id] = (e.rule in ("route", "blend_out", "surplus")
                     or (e.rule == "source" and s.nodes[e.source].free))
    follows = [e for e in s.edges if e.rule == "source" and "follows" in s.nodes[e.source].meta]
    var_edge = dec.copy()
    var_node = np.zeros(N, bool)
    stack = [s.edges[e].target for e in np.flatnonzero(dec)]
    while True:
        while stack:
            n = stack.pop()
            if var_node[n]:
                continue
            var_node[n] = True
            if s.nodes[n].kind in ("process", "stock"):
                for e in s.out_edges(n):
                    if not var_edge[e]:
                        var_edge[e] = True
                        stack.append(s.edges[e].target)
        # a source following a node whose input a decision changes follows the decision too
        for e in follows:
            f = s.nodes[e.source].meta["follows"]
            if not var_edge[e.id] and (var_node[f] or (s.nodes[f].kind == "source"
                                                     and any(var_edge[o] for o in s.out_edges(f)))):
                var_edge[e.id] = True
                stack.append(e.target)
        if not stack:
            break
    b.var_edge, b.var_node = var_edge, var_node
    # state nodes: processes and stocks whose input a decision changes, and following
    # sources whose amount does (one column per year: their amount)
    b.follow_sources = sorted({e.source for e in follows if var_edge[e.id]})
    b.state_nodes = [n for n in range(N) if (var_node[n] and s.nodes[n].kind in ("process", "stock"))
                     or n in b.follow_sources]
    b.total_mode = {}
    b.node_comp = {}
    for n in b.state_nodes:
        if s.nodes[n].kind == "source":
            b.total_mode[n] = True
            continue
        ins, outs = s.in_edges(n), s.out_edges(n)
        known = all(s.comp_known[e] for e in ins) and all(s.comp_known[e] for e in outs) and len(ins) > 0
        b.total_mode[n] = known
        if known:
            b.node_comp[n] = input_comp(s, n, ins)


def constants(b) -> None:
    """``b.g``: the flows no decision changes (by the simulator), + the history cohorts' outflow."""
    from ..simulate import Shares, _run

    s = b.s
    T, E, C = b.T, b.E, b.C
    const = [e for e in s.edges if not b.var_edge[e.id]]
    flows = np.zeros((T, E, C))
    b.notes = []
    if const:
        sub_edges = [dataclasses.replace(e, id=k) for k, e in enumerate(const)]
        sub = System(name=s.name, description="", unit=s.unit, years=s.years, elements=s.elements,
                     nodes=s.nodes, edges=sub_edges, blends=[], timing=s.timing)
        sub._stock_plan = b.plan  # same nodes, same kernels
        sh = Shares(route=np.full((len(const), T), np.nan), allocation=[])
        f_c, _, _, notes = _run(sub, sh, None)
        flows[:, [e.id for e in const], :] = f_c
        b.notes.extend(notes)
    # history cohorts' outflow of stocks whose outflow a decision changes
    b.hist_out = b.plan.outflows(b.plan.hist_inflow)[:, b.plan.H:, :]  # (S, T, C)
    b.stock_index = {node: k for k, node in enumerate(b.plan.stocks)}
    g = flows
    for n in b.state_nodes:
        if s.nodes[n].kind == "stock":
            for e in s.out_edges(n):
                g[:, e, :] += b.hist_out[b.stock_index[n]]
    b.g = g.ravel()


def flow_map(b) -> None:
    """``b.G``: each flow a decision can change, as a sparse row over the columns."""
    s = b.s
    R, K, V = [], [], []

    def put(rows, cols, vals):
        rows, cols, vals = np.broadcast_arrays(rows, cols, vals)
        m = vals != 0
        R.append(rows[m].ravel())
        K.append(cols[m].ravel())
        V.append(vals[m].ravel().astype(float))

    tcol = b.tt[:, None]
    for e in s.edges:
        if not b.var_edge[e.id]:
            continue
        fi = b.fi(e.id)
        if e.rule == "route":
            put(fi, b.route_col[e.id] + tcol, s.edge_comp[e.id])
        elif e.rule == "source" and e.source in b.state_col:  # follows another node's input
            comp = s.nodes[e.source].composition
            put(fi, b.state_col[e.source] + tcol, e.coef[:, None] * comp)
        elif e.rule == "source":  # free source
            comp = s.nodes[e.source].composition
            if e.source in b.supply_col:
                put(fi, b.supply_col[e.source] + tcol, comp)
            else:
                bi = b.blend_of_node[e.target]
                i = s.blends[bi].inputs.index(e.id)
                for j in range(len(s.blends[bi].outputs)):
                    put(fi, b.alloc_col[bi][i, j] + tcol, comp)
        elif e.rule == "blend_out":
            bi = b.blend_of_node[e.source]
            bl = s.blends[bi]
            j = [o.edge for o in bl.outputs].index(e.id)
            for i, ein in enumerate(bl.inputs):
                put(fi, b.alloc_col[bi][i, j] + tcol, b.in_comp(ein))
        elif e.rule == "surplus":
            bi = b.blend_of_node[e.source]
            bl = s.blends[bi]
            for i, ein in enumerate(bl.inputs):
                if i in b.left_col[bi]:
                    put(fi, b.left_col[bi][i] + tcol, b.in_comp(ein))
        elif e.rule == "tc":
            nd = e.source
            cols = b.state_cols_of(nd)
            coef = e.coef * b.node_comp[nd] if b.total_mode[nd] else e.coef
            put(fi, cols, coef)
        elif e.rule == "stock":
            put(*_stock_outflow(b, e))
        else:  # pragma: no cover - every rule is listed above
            raise AssertionError(e.rule)
    rows = np.concatenate(R) if R else np.zeros(0, int)
    cols = np.concatenate(K) if K else np.zeros(0, int)
    vals = np.concatenate(V) if V else np.zeros(0)
    b.G = sp.csr_matrix((vals, (rows, cols)), shape=(b.F, b.n))


def _stock_outflow(b, e) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flow rows, columns, values) of a stock's outflow: ``sum_{t' <= t} pdf(t', t - t') * input[t']``."""
    T, C, nd = b.T, b.C, e.source
    pdf = b.plan.pdf[b.stock_index[nd]]
    H = b.plan.H
    ti, tj = np.tril_indices(T)
    w = pdf[ti - tj] if pdf.ndim == 1 else pdf[H + tj, ti - tj]
    m = w != 0
    ti, tj, w = ti[m], tj[m], w[m]
    rows = (ti[:, None] * b.E + e.id) * C + b.cc[None, :]
    if b.total_mode[nd]:
        cols = np.repeat((b.state_col[nd] + tj)[:, None], C, axis=1)
        vals = w[:, None] * b.node_comp[nd][tj]
    else:
        cols = b.state_col[nd] + tj[:, None] * C + b.cc[None, :]
        vals = np.repeat(w[:, None], C, axis=1)
    return rows, cols, vals


def input_comp(s: System, n: int, ins: list[int]) -> np.ndarray:
    """Composition of a node's total input when it is known: its inputs' common composition, mixed
    with the pick-up sources that follow the node's own input (not the first input edge's alone)."""
    picks = pickups(s, n, ins)
    rest = [e for e in ins if e not in picks]
    # an all-zero edge carries no composition of its own: take the first input that carries something
    live = [e for e in rest if not (s.edges[e].rule in ("tc", "source") and s.edges[e].coef is not None
                                    and not np.any(s.edges[e].coef))]
    comp = s.edge_comp[(live or rest or ins)[0]]
    return with_pickups(s, s.edge_comp, comp, picks) if picks and rest else comp

