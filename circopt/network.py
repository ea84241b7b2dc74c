"""Structural facts about a System that both engines need, computed once by the loader.

Nothing here changes a System: checks return the problems they find, and
:func:`propagate_compositions` returns the compositions the loader stores.

* :func:`check_structure`: every node is reached, sources have an amount, no loop without
  an outlet;
* :func:`check_linearity`: every stream a decision acts on (a split's input, a blend's
  inputs) has a composition that no decision can change, known when the model is built.
"""

from __future__ import annotations

import numpy as np

from .errors import InstanceError, InstanceErrors
from .system import System

COMP_TOL = 1e-12


def check_structure(system: System) -> list[InstanceError]:
    """The structural problems of a built network (facts; the System is not changed): nodes
    that receive nothing, free sources with several targets, sources without an amount,
    loops without an outlet. Run by the loader once blends and driven sources are derived."""
    errors: list[InstanceError] = []
    for n_id, node in enumerate(system.nodes):
        ins, outs = system.in_edges(n_id), system.out_edges(n_id)
        if (node.kind in ("process", "split", "blend", "stock") and not ins and node.history is None
                and node.fate_abroad_of is None):
            errors.append(InstanceError(node.where, f"node {node.name} receives no stream",
                                        expected="at least one node sending to it (or remove it)"))
        if node.kind == "source" and node.free:
            if len(outs) != 1:
                errors.append(InstanceError(node.where, f"free source {node.name} must have exactly one target"))
        if (node.kind == "source" and not node.free and node.series is None
                and node.driven_by is None and node.follows is None):
            errors.append(InstanceError(node.where, f"source {node.name} has neither 'series' nor 'free: true'"))
    _closed_loops(system, errors)
    return errors


def check_linearity(system: System, comp_known: np.ndarray) -> list[InstanceError]:
    """The linearity rule: every stream a decision acts on (a split's input, a blend's inputs)
    has a composition no decision can change (``comp_known``, from :func:`propagate_compositions`)."""
    errors: list[InstanceError] = []
    for n_id, node in enumerate(system.nodes):
        if node.kind in ("split", "blend"):
            for e in system.in_edges(n_id):
                if not comp_known[e]:
                    src = system.nodes[system.edges[e].source]
                    errors.append(InstanceError(
                        node.where,
                        f"{node.kind} {node.name} acts on the stream from {src.name}, whose composition depends on "
                        "decisions (it mixes streams in decided proportions or carries a blend's inputs); "
                        "a split or blend needs inputs of known composition (the linearity rule)",
                        expected="a stream of fixed composition: put the decision upstream of the mixing, "
                        "or use fixed transfer coefficients"))
    return errors


def propagate_compositions(system: System) -> tuple[np.ndarray, np.ndarray]:
    """Which edges have a composition no decision can change, and that composition:
    ``(known (E,) bool, comp (E, T, C))``. The System is not changed.

    Rules (conservative): a source's stream is known; a split passes its input's
    composition to every route; a process output is known when all its inputs are known
    and equal; a stock's outflow is known when its inflow composition is known and the
    same in every year (and equal to its history's); blend outputs and surplus carry
    decided mixtures, so they are known only when every input of the blend carries one and
    the same known composition (a market of identical products: new, reused, rebuilt). A
    cycle is resolved by iterating to a fixed point from "unknown".
    """
    E, T, C = len(system.edges), system.T, system.C
    comp = np.zeros((E, T, C))
    state = np.zeros(E, int)  # 0 unset, 1 known, -1 unknown
    for e in system.edges:
        if e.rule == "source":
            state[e.id] = 1
            comp[e.id] = system.nodes[e.source].composition
        # blend outputs and surplus: decided below (known when all the blend's inputs carry one
        # known composition, e.g. a market of identical engines; otherwise unknown)
    changed = True
    while changed:
        changed = False
        for n_id, node in enumerate(system.nodes):
            outs = [e for e in system.out_edges(n_id) if state[e] == 0]
            if not outs or node.kind in ("source", "sink"):
                continue
            # a stream whose coefficients are all zero carries nothing and no composition
            ins = [e for e in system.in_edges(n_id) if not _empty(system.edges[e])]
            if any(state[e] == 0 for e in ins):
                continue
            picks = pickups(system, n_id, ins)
            c_in = _common(comp, state, [e for e in ins if e not in picks], node)
            if c_in is not None and picks:
                c_in = with_pickups(system, comp, c_in, picks)
            if c_in is None:
                for e in outs:
                    state[e] = -1
                changed = True
                continue
            for e in outs:
                ed = system.edges[e]
                if ed.rule == "tc":
                    m = ed.coef * c_in
                    s = m.sum(axis=1, keepdims=True)
                    comp[e] = np.divide(m, s, out=np.zeros_like(m), where=s > 0)
                elif ed.rule == "stock":
                    if not np.allclose(c_in, c_in[0], atol=COMP_TOL, rtol=0):
                        state[e] = -1
                        continue
                    comp[e] = c_in
                else:
                    comp[e] = c_in
                state[e] = 1
            changed = True
        if not changed and np.any(state == 0):
            # a cycle of unset edges: conservatively unknown
            for e in np.where(state == 0)[0]:
                state[e] = -1
            changed = True
    return state == 1, comp


def _closed_loops(system: System, errors: list) -> None:
    """A loop of nodes that no stream leaves and no stock interrupts returns all its mass to
    itself within the year: the network has no solution. Found here, before any work."""
    N = len(system.nodes)
    live = [e for e in system.edges if not _empty(e)]
    if not live:
        return
    succ: list[list[int]] = [[] for _ in range(N)]
    for e in live:
        succ[e.source].append(e.target)
    for members in _strong_components(succ):
        members = np.asarray(members)
        if len(members) < 2 and not any(e.source == e.target == members[0] for e in live):
            continue
        if any(system.nodes[i].kind in ("stock", "sink") for i in members):
            continue  # a stock keeps mass beyond the year: an outlet
        inside = set(members.tolist())
        if any(e.source in inside and e.target not in inside for e in live):
            continue
        names = sorted(system.nodes[i].name for i in members)
        errors.append(InstanceError(system.nodes[members[0]].where, f"the loop {names} has no outlet: every stream "
                                    "that leaves one of its nodes returns to it within the year, so its mass can "
                                    "only grow (the network has no solution)",
                                    expected="a stream out of the loop (a loss, a route elsewhere) or a stock in it"))


def pickups(system: System, n_id: int, ins: list[int]) -> list[int]:
    """Input edges of node ``n_id`` from sources that follow ``n_id``'s own total input (pick-up:
    amount = coef x ratio x total input), whose streams have a fixed composition."""
    out = []
    for e in ins:
        ed = system.edges[e]
        src = system.nodes[ed.source]
        if ed.rule == "source" and src.follows == n_id:
            out.append(e)
    return out


def with_pickups(system: System, comp, c_rest, picks):
    """Composition of a node's total input when pick-up sources following that total add
    fixed fractions r_k (= edge coefficient x ratio) of it: (1 - sum r) c_rest + sum r_k c_k.
    Linear in the decisions however the rest of the input is made (the linearity rule)."""
    r = np.stack([system.edges[e].coef * system.nodes[system.edges[e].source].ratio for e in picks])
    total = r.sum(axis=0)  # (T,)
    if np.any(total >= 1.0):
        t = int(np.argmax(total))
        raise InstanceErrors([InstanceError(
            system.nodes[system.edges[picks[0]].target].where,
            f"sources following node {system.nodes[system.edges[picks[0]].target].name}'s own input add "
            f"{total[t]:.6g} of it in {int(system.years[t])}: at 1 or more its input has no solution",
            expected="ratios summing below 1")])
    out = (1.0 - total)[:, None] * c_rest
    for k, e in enumerate(picks):
        out = out + r[k][:, None] * comp[e]
    return out


def _strong_components(succ: list[list[int]]) -> list[list[int]]:
    """Strongly connected components of a directed graph given by successor lists (Tarjan's algorithm,
    iterative; plain Python keeps scipy's graph module out of ``circopt check``)."""
    index: list[int] = [-1] * len(succ)
    low = [0] * len(succ)
    on_stack = [False] * len(succ)
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(len(succ)):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if index[w] < 0:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comps


def _empty(edge) -> bool:
    return edge.rule in ("tc", "source") and edge.coef is not None and not np.any(edge.coef)


def _common(comp, state, ins, node):
    """The common input composition of a node, or None if inputs differ or are unknown."""
    hist = None
    if node.kind == "stock" and node.history is not None:
        h = node.history
        tot = h.sum(axis=1, keepdims=True)
        rows = h[tot[:, 0] > 0] / tot[tot[:, 0] > 0]
        if len(rows):
            if not np.allclose(rows, rows[0], atol=COMP_TOL, rtol=0):
                return None
            hist = rows[0]
    if any(state[e] != 1 for e in ins):
        return None
    if not ins:  # a stock that only empties: its history's composition
        return None if hist is None else np.tile(hist, (comp.shape[1], 1))
    c0 = comp[ins[0]]
    for e in ins[1:]:
        if not np.allclose(comp[e], c0, atol=COMP_TOL, rtol=0):
            return None
    if hist is not None and not np.allclose(c0, hist[None, :], atol=COMP_TOL, rtol=0):
        return None
    return c0

