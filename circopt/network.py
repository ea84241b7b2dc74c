"""Structural facts about a System that both engines need, computed once.

* blend inputs and baseline allocations are resolved;
* the **linearity rule** is enforced: every stream a decision acts on (a split's input, a
  blend's inputs) must have a composition that no decision can change, known when the
  model is built (:func:`propagate_compositions`);
* stock-driven stocks must be fed by exactly one source.
"""

from __future__ import annotations

import numpy as np

from .errors import InstanceError, InstanceErrors
from .system import System

COMP_TOL = 1e-12


def check_structure(system: System) -> None:
    errors: list[InstanceError] = []
    _resolve_blends(system, errors)
    for n_id, node in enumerate(system.nodes):  # stock-driven stocks first: they set their source's series
        if node.kind == "stock" and node.target_stock is not None:
            srcs = [system.edges[e] for e in system.in_edges(n_id)]
            ok = (len(srcs) == 1 and system.nodes[srcs[0].source].kind == "source"
                  and not system.nodes[srcs[0].source].free
                  and len(system.out_edges(srcs[0].source)) == 1)
            if not ok:
                errors.append(InstanceError(node.where, f"stock-driven stock {node.name} must be fed by exactly one "
                                            "source that sends only to it (its series is then computed)"))
            elif (src := system.nodes[srcs[0].source]).series is not None and "driven_by" not in src.meta:
                errors.append(InstanceError(f"{src.where}.series", f"source {src.name} feeds the stock-driven stock "
                                            f"{node.name}, whose 'stock' sets its amount; it cannot also have a "
                                            "series", expected="no 'series' on this source (or no 'stock' on "
                                            f"{node.name}, to make it inflow-driven)"))
            else:
                system.nodes[srcs[0].source].series = np.zeros(system.T)  # computed by the engine
                system.nodes[srcs[0].source].meta["driven_by"] = n_id
    for n_id, node in enumerate(system.nodes):
        ins, outs = system.in_edges(n_id), system.out_edges(n_id)
        if (node.kind in ("process", "split", "blend", "stock") and not ins and node.history is None
                and "fate_abroad_of" not in node.meta):
            errors.append(InstanceError(node.where, f"node {node.name} receives no stream",
                                        expected="at least one node sending to it (or remove it)"))
        if node.kind == "source" and node.free:
            if len(outs) != 1:
                errors.append(InstanceError(node.where, f"free source {node.name} must have exactly one target"))
        if (node.kind == "source" and not node.free and node.series is None
                and not {"driven_by", "follows"} & set(node.meta)):
            errors.append(InstanceError(node.where, f"source {node.name} has neither 'series' nor 'free: true'"))
    _closed_loops(system, errors)
    if errors:
        raise InstanceErrors(errors)
    propagate_compositions(system)
    for n_id, node in enumerate(system.nodes):
        if node.kind in ("split", "blend"):
            for e in system.in_edges(n_id):
                if not system.comp_known[e]:
                    src = system.nodes[system.edges[e].source]
                    errors.append(InstanceError(
                        node.where,
                        f"{node.kind} {node.name} acts on the stream from {src.name}, whose composition depends on "
                        "decisions (it mixes streams in decided proportions or carries a blend's inputs); "
                        "a split or blend needs inputs of known composition (the linearity rule)",
                        expected="a stream of fixed composition: put the decision upstream of the mixing, "
                        "or use fixed transfer coefficients"))
    if errors:
        raise InstanceErrors(errors)


def _resolve_blends(system: System, errors: list) -> None:
    for b in system.blends:
        node = system.nodes[b.node]
        b.inputs = list(system.in_edges(b.node))
        spec = getattr(b, "_alloc_spec", {})
        alloc = np.zeros((len(b.inputs), len(b.outputs), system.T))
        names = [o.name for o in b.outputs]
        used = set()
        for ii, e in enumerate(b.inputs):
            src = system.nodes[system.edges[e].source]
            key = _alloc_key(spec, src)
            if key is None:
                continue
            m = spec[key]
            used.add(key)
            for oname, arr in m.items():
                alloc[ii, names.index(oname)] = arr
        fams = {system.nodes[system.edges[e].source].family for e in b.inputs}
        for k in spec:
            # a key of a family that sends here (its name, a member's, a partial index) is valid for a
            # family of blends even where a more specific key or another member takes its inputs
            if k not in used and k.partition("[")[0] not in fams:
                errors.append(InstanceError(f"{node.where}.allocation.{k}", f"{k} does not send to blend {node.name}",
                                            expected=f"one of {[system.nodes[system.edges[e].source].name for e in b.inputs]}"))
        free = np.array([system.nodes[system.edges[e].source].free for e in b.inputs], bool)
        s = alloc.sum(axis=1)
        if np.any(s[~free] > 1 + 1e-9):
            ii, t = np.unravel_index(int(np.argmax(np.where(free[:, None], 0.0, s))), s.shape)
            errors.append(InstanceError(f"{node.where}.allocation", f"allocation shares of input "
                                        f"{system.nodes[system.edges[b.inputs[ii]].source].name} sum above 1 in "
                                        f"{int(system.years[t])}", f"{s[ii, t]:.12g}"))
        if b.surplus_edge is None and np.any(np.abs(s[~free] - 1) > 1e-9):
            ii = int(np.flatnonzero(~free)[np.argmax(np.abs(s[~free] - 1).max(axis=1))])
            errors.append(InstanceError(f"{node.where}.allocation", f"blend {node.name} has no surplus outlet, "
                                        "so every non-free input must be fully allocated",
                                        system.nodes[system.edges[b.inputs[ii]].source].name))
        # free inputs: the share of each output's shortfall to its demand they make up (simulation)
        made_up = alloc[free].sum(axis=0)  # (n_out, T)
        for j, o in enumerate(b.outputs):
            names = [system.nodes[system.edges[e].source].name for e, f in zip(b.inputs, free) if f]
            if np.any(made_up[j] > 1 + 1e-9):
                errors.append(InstanceError(f"{node.where}.allocation", f"free inputs {names} make up more than "
                                            f"the whole shortfall of output {o.name}", f"{made_up[j].max():.12g}",
                                            expected="shares of the shortfall summing to at most 1"))
            elif o.demand is None and np.any(made_up[j] > 0):
                errors.append(InstanceError(f"{node.where}.allocation", f"free inputs {names} make up output "
                                            f"{o.name}'s shortfall, but it has no demand",
                                            expected=f"a 'demand' for {o.name}, or no allocation of free inputs to it"))
        b.allocation = alloc


def _alloc_key(spec: dict, src) -> str | None:
    """The allocation key that names input node ``src``: its member name, else a partial index of
    its family (``remelt[product=building]``: every member with that index), else its family."""
    if src.name in spec:
        return src.name
    for k in spec:
        fam, _, idx = k.partition("[")
        if fam == src.family and idx.endswith("]") and "=" in idx:
            pairs = [p.split("=", 1) for p in idx[:-1].split(",")]
            if all(len(p) == 2 and str(src.index.get(p[0].strip())) == p[1].strip() for p in pairs):
                return k
    return src.family if src.family in spec else None


def propagate_compositions(system: System) -> None:
    """Mark each edge whose composition no decision can change, and compute it (T, C).

    Rules (conservative): a source's stream is known; a split passes its input's
    composition to every route; a process output is known when all its inputs are known
    and equal; a stock's outflow is known when its inflow composition is known and the
    same in every year (and equal to its history's); blend outputs and surplus carry
    decided mixtures, so they are known only when every input of the blend carries one and
    the same known composition (a market of identical products: new, reused, rebuilt). A
    cycle is resolved by iterating to a fixed point from "unknown".
    """
    E, T, C = len(system.edges), system.T, system.C
    known = np.zeros(E, bool)
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
    known = state == 1
    system.comp_known = known
    system.edge_comp = comp


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
        if ed.rule == "source" and src.meta.get("follows") == n_id:
            out.append(e)
    return out


def with_pickups(system: System, comp, c_rest, picks):
    """Composition of a node's total input when pick-up sources following that total add
    fixed fractions r_k (= edge coefficient x ratio) of it: (1 - sum r) c_rest + sum r_k c_k.
    Linear in the decisions however the rest of the input is made (the linearity rule)."""
    r = np.stack([system.edges[e].coef * system.nodes[system.edges[e].source].meta["ratio"] for e in picks])
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
