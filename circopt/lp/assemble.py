"""Assembly of the flow map: every flow as an affine function of the LP's columns,
``flow = G @ x + g`` (``G``: (T*E*C) x n, ``g``: constants), by the simulator's edge rules.

* :func:`classify` finds the edges a decision can change (downstream of a split route, a blend
  or a free source, and pick-up sources following a node whose input a decision changes) and
  the *state* nodes whose input becomes a column;
* :func:`constants` computes every other flow with the simulator itself (``simulate._run`` on the
  sub-network of those edges), plus the outflow of the stocks' history cohorts;
* :func:`flow_map` writes ``G`` edge rule by edge rule, from the coefficient arrays of
  :mod:`circopt.flowrules` (the simulator's same-year solve reads the same arrays): ``tc``
  (``coef[t, c] * input``), ``stock`` (the lifetime convolution of the inputs), ``route`` /
  ``blend_out`` / ``surplus`` / ``free`` (the column times its known composition; a blend output
  carries exactly what its inputs bring) and ``pickup`` sources (``coef * composition * amount``).

:class:`Builder` holds what the steps share while a model is built (:mod:`circopt.lp.build`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from ..flowrules import SOURCES, flow_rules
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
        self.rules = flow_rules(system, self.plan.stocks)
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
        if self.rules.kind[e] in SOURCES:
            return self.s.nodes[self.rules.source[e]].composition
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
    N = len(s.nodes)
    dec = b.rules.decision
    follows = [s.edges[e] for e in b.rules.pickup_edges.tolist()]
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
            f = s.nodes[e.source].follows
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
        sub.cached("stock_plan", lambda: b.plan)  # same nodes, same kernels
        sh = Shares(route=np.full((len(const), T), np.nan), allocation=[])
        f_c, _, _, notes, _ = _run(sub, sh, None)
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
    """``b.G``: each flow a decision can change, as a sparse row over the columns, by its rule
    (:class:`circopt.flowrules.FlowRules`)."""
    r = b.rules
    R, K, V = [], [], []

    def put(rows, cols, vals):
        rows, cols, vals = np.broadcast_arrays(rows, cols, vals)
        m = vals != 0
        R.append(rows[m].ravel())
        K.append(cols[m].ravel())
        V.append(vals[m].ravel().astype(float))

    for e in np.flatnonzero(b.var_edge).tolist():
        for rows, cols, vals in _RULES[r.kind[e]](b, e):
            put(rows, cols, vals)
    rows = np.concatenate(R) if R else np.zeros(0, int)
    cols = np.concatenate(K) if K else np.zeros(0, int)
    vals = np.concatenate(V) if V else np.zeros(0)
    b.G = sp.csr_matrix((vals, (rows, cols)), shape=(b.F, b.n))


def _route(b, e):
    """A route: its column (the route's total) times the composition of the split's input."""
    yield b.fi(e), b.route_col[e] + b.tt[:, None], b.s.edge_comp[e]


def _pickup(b, e):
    """A pick-up source's edge: ``coef x composition`` times the source's amount (a state column)."""
    src = int(b.rules.source[e])
    if src in b.state_col:
        yield b.fi(e), b.state_col[src] + b.tt[:, None], b.rules.source_unit([e])[0]


def _free(b, e):
    """A free source: its supply column, or its allocation columns into a blend, in its composition."""
    r, tcol = b.rules, b.tt[:, None]
    comp = r.source_comp[r.source_index(e)]
    src = int(r.source[e])
    if src in b.supply_col:
        yield b.fi(e), b.supply_col[src] + tcol, comp
        return
    bi, i = int(r.blend[e]), int(r.slot[e])
    for j in range(len(b.s.blends[bi].outputs)):
        yield b.fi(e), b.alloc_col[bi][i, j] + tcol, comp


def _blend_out(b, e):
    """A blend output: what each input allocates to it, in that input's composition."""
    bi, j = int(b.rules.blend[e]), int(b.rules.slot[e])
    for i, ein in enumerate(b.s.blends[bi].inputs):
        yield b.fi(e), b.alloc_col[bi][i, j] + b.tt[:, None], b.in_comp(ein)


def _surplus(b, e):
    """A blend's surplus: what each non-free input leaves, in that input's composition."""
    bi = int(b.rules.blend[e])
    for i, ein in enumerate(b.s.blends[bi].inputs):
        if i in b.left_col[bi]:
            yield b.fi(e), b.left_col[bi][i] + b.tt[:, None], b.in_comp(ein)


def _tc(b, e):
    """A transfer coefficient times the source node's input (per channel, or its total x composition)."""
    nd = int(b.rules.source[e])
    coef = b.rules.tc_coef[np.searchsorted(b.rules.tc_edges, e)]
    yield b.fi(e), b.state_cols_of(nd), coef * b.node_comp[nd] if b.total_mode[nd] else coef


def _stock(b, e):
    """A stock's outflow: ``sum_{t' <= t} pdf(t', t - t') * input[t']`` (:meth:`StockPlan.convolution_entries`)."""
    C, nd = b.C, int(b.rules.source[e])
    ti, tj, w = b.plan.convolution_entries(b.stock_index[nd], b.T)
    rows = (ti[:, None] * b.E + e) * C + b.cc[None, :]
    if b.total_mode[nd]:
        cols = np.repeat((b.state_col[nd] + tj)[:, None], C, axis=1)
        vals = w[:, None] * b.node_comp[nd][tj]
    else:
        cols = b.state_col[nd] + tj[:, None] * C + b.cc[None, :]
        vals = np.repeat(w[:, None], C, axis=1)
    yield rows, cols, vals


#: the flow-map terms of each rule (an exogenous source's flow is a constant: never a decision's)
_RULES = {"route": _route, "pickup": _pickup, "free": _free, "blend_out": _blend_out, "surplus": _surplus,
          "tc": _tc, "stock": _stock}


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

