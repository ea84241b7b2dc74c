"""Data the loader derives from the built network before handing the System down (new
records: a System and its records are frozen, and no check below the loader changes them):

* each blend's inputs and its baseline allocation matrix, matched from the ``allocation``
  the instance gives by input node or family;
* the source feeding each stock-driven stock (its series is then computed by the engine);
* which streams have a composition no decision can change, and that composition
  (:func:`circopt.network.propagate_compositions`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InstanceError
from ..system import Blend, Node, System

#: tolerance on allocation shares (as on every sum that must be 1)
ALLOC_TOL = 1e-9


def blend_allocations(system: System, specs: dict[int, dict[str, dict[str, np.ndarray]]]
                      ) -> tuple[list[Blend], list[InstanceError]]:
    """The blends with their ``inputs`` (incoming edges) and ``allocation`` (n_in, n_out, T) from
    ``specs`` (blend index -> {input node or family: {output: share}}); the problems found."""
    errors: list[InstanceError] = []
    blends = []
    for bi, b in enumerate(system.blends):
        b = replace(b, inputs=list(system.in_edges(b.node)))
        b = replace(b, allocation=_allocation(system, b, specs.get(bi, {}), errors))
        _check_allocation(system, b, errors)
        blends.append(b)
    return blends, errors


def _allocation(system: System, b: Blend, spec: dict, errors: list) -> np.ndarray:
    node = system.nodes[b.node]
    alloc = np.zeros((len(b.inputs), len(b.outputs), system.T))
    names = [o.name for o in b.outputs]
    used = set()
    for ii, e in enumerate(b.inputs):
        src = system.nodes[system.edges[e].source]
        key = _alloc_key(spec, src)
        if key is None:
            continue
        used.add(key)
        for oname, arr in spec[key].items():
            alloc[ii, names.index(oname)] = arr
    fams = {system.nodes[system.edges[e].source].family for e in b.inputs}
    for k in spec:
        # a key of a family that sends here (its name, a member's, a partial index) is valid for a
        # family of blends even where a more specific key or another member takes its inputs
        if k not in used and k.partition("[")[0] not in fams:
            errors.append(InstanceError(f"{node.where}.allocation.{k}", f"{k} does not send to blend {node.name}",
                                        expected=f"one of {[system.nodes[system.edges[e].source].name for e in b.inputs]}"))
    return alloc


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


def _check_allocation(system: System, b: Blend, errors: list) -> None:
    node = system.nodes[b.node]
    alloc = b.allocation
    free = np.array([system.nodes[system.edges[e].source].free for e in b.inputs], bool)
    s = alloc.sum(axis=1)
    if np.any(s[~free] > 1 + ALLOC_TOL):
        ii, t = np.unravel_index(int(np.argmax(np.where(free[:, None], 0.0, s))), s.shape)
        errors.append(InstanceError(f"{node.where}.allocation", f"allocation shares of input "
                                    f"{system.nodes[system.edges[b.inputs[ii]].source].name} sum above 1 in "
                                    f"{int(system.years[t])}", f"{s[ii, t]:.12g}"))
    if b.surplus_edge is None and np.any(np.abs(s[~free] - 1) > ALLOC_TOL):
        ii = int(np.flatnonzero(~free)[np.argmax(np.abs(s[~free] - 1).max(axis=1))])
        errors.append(InstanceError(f"{node.where}.allocation", f"blend {node.name} has no surplus outlet, "
                                    "so every non-free input must be fully allocated",
                                    system.nodes[system.edges[b.inputs[ii]].source].name))
    # free inputs: the share of each output's shortfall to its demand they make up (simulation)
    made_up = alloc[free].sum(axis=0)  # (n_out, T)
    for j, o in enumerate(b.outputs):
        names = [system.nodes[system.edges[e].source].name for e, f in zip(b.inputs, free) if f]
        if np.any(made_up[j] > 1 + ALLOC_TOL):
            errors.append(InstanceError(f"{node.where}.allocation", f"free inputs {names} make up more than "
                                        f"the whole shortfall of output {o.name}", f"{made_up[j].max():.12g}",
                                        expected="shares of the shortfall summing to at most 1"))
        elif o.demand is None and np.any(made_up[j] > 0):
            errors.append(InstanceError(f"{node.where}.allocation", f"free inputs {names} make up output "
                                        f"{o.name}'s shortfall, but it has no demand",
                                        expected=f"a 'demand' for {o.name}, or no allocation of free inputs to it"))


def driven_sources(system: System) -> tuple[list[Node], list[InstanceError]]:
    """The nodes, with the source feeding each stock-driven stock marked (``driven_by``; its series,
    zeros here, is computed by the engine); the problems found (it must be the stock's only feed)."""
    errors: list[InstanceError] = []
    nodes = list(system.nodes)
    for n_id, node in enumerate(system.nodes):
        if node.kind != "stock" or node.target_stock is None:
            continue
        srcs = [system.edges[e] for e in system.in_edges(n_id)]
        ok = (len(srcs) == 1 and system.nodes[srcs[0].source].kind == "source"
              and not system.nodes[srcs[0].source].free
              and len(system.out_edges(srcs[0].source)) == 1)
        if not ok:
            errors.append(InstanceError(node.where, f"stock-driven stock {node.name} must be fed by exactly one "
                                        "source that sends only to it (its series is then computed)"))
        elif (src := system.nodes[srcs[0].source]).series is not None and src.driven_by is None:
            errors.append(InstanceError(f"{src.where}.series", f"source {src.name} feeds the stock-driven stock "
                                        f"{node.name}, whose 'stock' sets its amount; it cannot also have a "
                                        "series", expected="no 'series' on this source (or no 'stock' on "
                                        f"{node.name}, to make it inflow-driven)"))
        else:  # its series is computed by the engine
            nodes[srcs[0].source] = replace(src, series=np.zeros(system.T), driven_by=n_id)
    return nodes, errors
