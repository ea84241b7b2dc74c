"""Every edge rule once, as coefficient arrays: what both engines build their flows from.

An edge's flow is set by one of these rules (``FlowRules.kind``):

* ``tc``: a fixed transfer coefficient ``coef[t, c]`` times its source node's input in channel
  ``c`` (process yields per element, ``rest``, a process's sinks);
* ``stock``: a stock's outflow, the lifetime convolution of its input (:mod:`circopt.stocks`);
* ``route``: a split route, a decision: a share of its split's input;
* ``blend_out`` / ``surplus``: a blend's output or leftover, decisions (allocations of its inputs);
* ``exogenous``: a source's given series times ``coef`` in the source's composition;
* ``free``: a free source's amount, a decision (in the source's composition);
* ``pickup``: a source that follows a node's total input at a fixed ratio:
  ``coef x ratio x composition x total of the followed edges`` (:meth:`System.followed_edges`).

The simulator's same-year solve (:class:`circopt.sameyear.SameYear`) and the LP's flow map
(:func:`circopt.lp.assemble.flow_map`) both read these arrays; neither decides an edge's
coefficients from ``Edge.rule`` itself. What the decisions table and the LP's columns call a
decision edge (:func:`table_kind`) follows from its rule too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .system import System

#: the rules an edge can follow (see the module docstring)
KINDS = ("tc", "stock", "route", "blend_out", "surplus", "exogenous", "free", "pickup")
#: rules whose flow is a decision of the optimiser
DECISIONS = ("route", "blend_out", "surplus", "free")
#: rules of the edges leaving a source
SOURCES = ("exogenous", "free", "pickup")
#: rules whose flow is a share of the source node's input (the same-year pairs)
SHARES_OF_INPUT = ("tc", "stock", "route")
#: what the decisions table (``decisions.csv``) and the LP's columns
#: (:data:`circopt.lp.index.COL_KINDS`) call the flow of an edge that follows a decision rule
TABLE_KINDS = {"route": "route", "blend_out": "allocation", "surplus": "leftover", "free": "supply"}


@dataclass(frozen=True)
class FlowRules:
    """The edge rules of a System as arrays (E edges, T years, C channels).

    Per edge: ``kind`` (one of :data:`KINDS`), ``source`` / ``target`` nodes, ``blend`` (index in
    ``System.blends`` of the blend an edge leaves or a free source's edge enters, else -1) and
    ``slot`` (its output position, or its input position for an edge into a blend).
    Per rule, the edges in id order and their coefficients:
    ``tc_edges`` with ``tc_coef`` (k, T, C); ``stock_edges`` with ``stock_of_edge`` (index in
    ``StockPlan.stocks``); ``source_edges`` (every edge leaving a source: exogenous, free or
    pickup) with ``source_coef`` (k, T) and ``source_comp`` (k, T, C); ``pickup_edges`` with
    ``pickup_ratio`` (k, T) and ``pickup_followed`` (the edges whose total each follows).
    ``pair_rows`` / ``pair_cols``: each edge whose flow is a share of its source node's input
    (:data:`SHARES_OF_INPUT`) paired with every input edge of that node.
    """

    kind: np.ndarray
    source: np.ndarray
    target: np.ndarray
    blend: np.ndarray
    slot: np.ndarray
    tc_edges: np.ndarray
    tc_coef: np.ndarray
    stock_edges: np.ndarray
    stock_of_edge: np.ndarray
    source_edges: np.ndarray
    source_coef: np.ndarray
    source_comp: np.ndarray
    pickup_edges: np.ndarray
    pickup_ratio: np.ndarray
    pickup_followed: list[list[int]]
    pair_rows: np.ndarray
    pair_cols: np.ndarray

    @property
    def decision(self) -> np.ndarray:
        """(E,) bool: edges whose flow is a decision."""
        return np.isin(self.kind, DECISIONS)

    @property
    def table_kind(self) -> np.ndarray:
        """(E,) object: each edge's :func:`table_kind` (None: not a decision)."""
        return np.array([table_kind(k) for k in self.kind.tolist()] or [None], dtype=object)[:len(self.kind)]

    def edges_of(self, kind: str) -> np.ndarray:
        """Ids of the edges that follow rule ``kind``."""
        return np.flatnonzero(self.kind == kind)

    def source_index(self, edges) -> np.ndarray:
        """Positions of ``edges`` (edges leaving a source) in ``source_edges``."""
        return np.searchsorted(self.source_edges, edges)

    def source_unit(self, edges) -> np.ndarray:
        """(k, T, C): the flow on each of ``edges`` per unit of its source's amount (``coef x composition``)."""
        k = self.source_index(edges)
        return self.source_coef[k][:, :, None] * self.source_comp[k]

    def pickup_weight(self) -> np.ndarray:
        """(k, T, C): each pickup edge's flow per unit of the total it follows (``coef x ratio x composition``)."""
        k = self.source_index(self.pickup_edges)
        return self.source_coef[k][:, :, None] * self.pickup_ratio[:, :, None] * self.source_comp[k]

    def pair_coef(self, route_share: np.ndarray, age0: np.ndarray) -> np.ndarray:
        """(T, P, C): the same-year coefficient of each pair (an edge, an input of its source node):
        ``tc_coef`` for ``tc``, the route share ``route_share`` (E, T) for ``route``, the age-0
        outflow ``age0`` (S, T) of the stock for ``stock`` (a cohort's outflow in its own year)."""
        _, T, C = self.tc_coef.shape
        coef = np.zeros((T, len(self.pair_rows), C))
        kind = self.kind[self.pair_rows]
        tc, sk, rt = (np.flatnonzero(kind == k) for k in SHARES_OF_INPUT)
        if tc.size:
            coef[:, tc, :] = self.tc_coef[np.searchsorted(self.tc_edges, self.pair_rows[tc])].transpose(1, 0, 2)
        coef[:, rt, :] = route_share[self.pair_rows[rt]].T[:, :, None]
        stock = self.stock_of_edge[np.searchsorted(self.stock_edges, self.pair_rows[sk])]
        coef[:, sk, :] = age0[stock].T[:, :, None]
        return coef


def edge_kind(system: System, e) -> str:
    """The rule of edge ``e`` (an :class:`~circopt.system.Edge`), one of :data:`KINDS`."""
    if e.rule != "source":
        return e.rule
    src = system.nodes[e.source]
    if src.follows is not None:
        return "pickup"
    return "free" if src.free else "exogenous"


def table_kind(rule: str) -> str | None:
    """What the decisions table and the LP's columns call an edge that follows ``rule`` (one of
    :data:`KINDS`): :data:`TABLE_KINDS`; None: not a decision (its flow follows from them)."""
    return TABLE_KINDS.get(rule)


def table_kinds(system: System) -> tuple[str | None, ...]:
    """The :func:`table_kind` of every edge of ``system``, in id order (without building the
    arrays; derived once per System)."""
    return system.cached("table_kinds", lambda: tuple(table_kind(edge_kind(system, e)) for e in system.edges))


def flow_rules(system: System, stocks: list[int] | None = None) -> FlowRules:
    """The :class:`FlowRules` of ``system``; ``stocks``: the stock nodes in the stock engine's order
    (``StockPlan.stocks``; the system's stock nodes in id order when None)."""
    E, T, C, N = len(system.edges), system.T, system.C, len(system.nodes)
    kind = np.array([edge_kind(system, e) for e in system.edges] or [""], dtype=object)[:E]
    source = np.array([e.source for e in system.edges], int)
    target = np.array([e.target for e in system.edges], int)
    blend, slot = _blend_slots(system, E)
    if stocks is None:
        stocks = [i for i, n in enumerate(system.nodes) if n.kind == "stock"]
    stock_of_node = np.full(N, -1)
    stock_of_node[np.asarray(stocks, int)] = np.arange(len(stocks))
    tc_edges = np.flatnonzero(kind == "tc")
    tc_coef = np.zeros((len(tc_edges), T, C))
    for k, e in enumerate(tc_edges.tolist()):
        tc_coef[k] = np.broadcast_to(system.edges[e].coef, (T, C))
    stock_edges = np.flatnonzero(kind == "stock")
    source_edges = np.flatnonzero(np.isin(kind, SOURCES))
    source_coef = np.array([system.edges[e].coef for e in source_edges.tolist()], float).reshape(-1, T)
    source_comp = np.array([system.nodes[system.edges[e].source].composition for e in source_edges.tolist()],
                           float).reshape(-1, T, C)
    pickup_edges = np.flatnonzero(kind == "pickup")
    pick_nodes = [system.nodes[system.edges[e].source] for e in pickup_edges.tolist()]
    pickup_ratio = np.array([np.broadcast_to(n.ratio, (T,)) for n in pick_nodes], float).reshape(-1, T)
    followed = [list(system.followed_edges(n.follows)) for n in pick_nodes]
    pr, pc = [], []
    for eid in np.flatnonzero(np.isin(kind, SHARES_OF_INPUT)).tolist():
        ins = system.in_edges(int(source[eid]))
        pr += [eid] * len(ins)
        pc += list(ins)
    return FlowRules(kind=kind, source=source, target=target, blend=blend, slot=slot,
                     tc_edges=tc_edges, tc_coef=tc_coef, stock_edges=stock_edges,
                     stock_of_edge=stock_of_node[source[stock_edges]], source_edges=source_edges,
                     source_coef=source_coef, source_comp=source_comp, pickup_edges=pickup_edges,
                     pickup_ratio=pickup_ratio, pickup_followed=followed,
                     pair_rows=np.array(pr, int), pair_cols=np.array(pc, int))


def _blend_slots(system: System, E: int) -> tuple[np.ndarray, np.ndarray]:
    """(E,) blend index and position of each edge leaving a blend (output j; the surplus: -1) or
    entering one (input i); -1 elsewhere."""
    blend, slot = np.full(E, -1), np.full(E, -1)
    for bi, bl in enumerate(system.blends):
        for i, e in enumerate(bl.inputs):
            blend[e], slot[e] = bi, i
        for j, o in enumerate(bl.outputs):
            blend[o.edge], slot[o.edge] = bi, j
        if bl.surplus_edge is not None:
            blend[bl.surplus_edge] = bi
    return blend, slot
