"""The LP's columns (all masses in the instance's unit, all >= 0), laid out block by block,
one block of ``T`` columns (a year each; a state node in channel mode: ``T x C``) per:

* ``route[split.route, year]`` -- a split route's total flow;
* ``allocation[blend.input->output, year]`` -- mass of a blend's input sent to an output;
* ``leftover[blend.input, year]`` -- what of a (non-free) input goes to the surplus outlet;
* ``supply[source, year]`` -- a free source's amount when it feeds something else than a blend;
* ``input[node, channel|total, year]`` / ``amount[source, year]`` -- the input of a state node
  (:func:`circopt.lp.assemble.classify`);
* ``constraints[k].capacity[split.route, year]`` -- a capacity a user constraint introduces.
"""

from __future__ import annotations

import numpy as np

from .index import C_ALLOC, C_CAP, C_LEFT, C_ROUTE, C_STATE, C_SUPPLY, INF


class _Blocks:
    """Column blocks as they are laid out: per column its kind, ``a``, ``b``, ``c`` and year index."""

    def __init__(self, T: int):
        self.T, self.n = T, 0
        self.kinds, self.aa, self.bb, self.cc, self.tt = [], [], [], [], []

    def add(self, kind: int, a: int, b: int, c: int, per_t: int = 1) -> int:
        """A block of ``T`` columns (``T x per_t`` in channel mode: t-major, channel minor); its first column."""
        start, T = self.n, self.T
        size = T * per_t
        self.kinds.append(np.full(size, kind, np.int8))
        self.aa.append(np.full(size, a, np.int32))
        self.bb.append(np.full(size, b, np.int32))
        if per_t == 1:
            self.cc.append(np.full(size, c, np.int32))
            self.tt.append(np.arange(T, dtype=np.int32))
        else:
            self.cc.append(np.tile(np.arange(per_t, dtype=np.int32), T))
            self.tt.append(np.repeat(np.arange(T, dtype=np.int32), per_t))
        self.n += size
        return start

    def finish(self, b) -> None:
        """The column arrays and bounds (``>= 0``) on the builder."""
        def cat(lst, dt):
            return np.concatenate(lst).astype(dt) if lst else np.zeros(0, dt)

        b.n = n = self.n
        b.col_kind = cat(self.kinds, np.int8)
        b.col_a = cat(self.aa, np.int32)
        b.col_b = cat(self.bb, np.int32)
        b.col_c = cat(self.cc, np.int32)
        b.col_t = cat(self.tt, np.int32)
        b.col_lb = np.zeros(n)
        b.col_ub = np.full(n, INF)


def columns(b) -> None:
    """Lay out the columns: ``b.route_col``, ``b.alloc_col``, ``b.left_col``, ``b.supply_col``,
    ``b.state_col``, ``b.cap_col`` (first column of each block) and the ``b.col_*`` arrays; which
    edges have a ``route`` or ``supply`` block, and which blend inputs are free (no ``leftover``),
    follows from their rules (:func:`circopt.flowrules.table_kind`); a free source's supply into a
    blend is the sum of its ``allocation`` columns."""
    s, C = b.s, b.C
    blocks = _Blocks(b.T)
    block = blocks.add
    table_kind = b.rules.table_kind
    b.route_col = {}
    for e in np.flatnonzero(table_kind == "route").tolist():
        b.route_col[e] = block(C_ROUTE, e, 0, 0)
    b.alloc_col = []
    b.left_col = []
    b.free_in = []
    for bi, bl in enumerate(s.blends):
        free = [table_kind[e] == "supply" for e in bl.inputs]
        b.free_in.append(free)
        st = np.zeros((len(bl.inputs), len(bl.outputs)), int)
        for i in range(len(bl.inputs)):
            for j in range(len(bl.outputs)):
                st[i, j] = block(C_ALLOC, bi, i, j)
        b.alloc_col.append(st)
        lc = {}
        if bl.surplus_edge is not None:
            for i in range(len(bl.inputs)):
                if not free[i]:
                    lc[i] = block(C_LEFT, bi, i, 0)
        b.left_col.append(lc)
    b.supply_col = {}
    b.blend_of_node = {bl.node: bi for bi, bl in enumerate(s.blends)}
    for e in np.flatnonzero((table_kind == "supply") & (b.rules.blend < 0)).tolist():  # not into a blend
        src = s.edges[e].source
        b.supply_col[src] = block(C_SUPPLY, src, 0, 0)
    b.state_col = {}
    for nd in b.state_nodes:
        if b.total_mode[nd]:
            b.state_col[nd] = block(C_STATE, nd, 0, -1)
        else:
            b.state_col[nd] = block(C_STATE, nd, 0, 0, per_t=C)
    b.cap_col = {}
    for k, con in enumerate(b.cons):
        if con["type"] == "capacity":
            if con.get("shared"):  # one capacity for the sum over the family's members
                b.cap_col[(k, "shared")] = block(C_CAP, con["edges"][0], k, 1)
            else:
                for e in con["edges"]:
                    b.cap_col[(k, e)] = block(C_CAP, e, k, 0)
    blocks.finish(b)
