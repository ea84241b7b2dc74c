"""User constraints on indicators and on a blend's allocations (validation and LP rows).

* ``{type: indicator, indicator: NAME, min?, max?}`` -- a declared indicator
  (:mod:`circopt.indicators`) within ``[min, max]`` (rows ``indicator_min`` / ``indicator_max``);
* ``{type: allocation, node: BLEND, input: NODE, output: OUTPUT, min?, max?, share?, years?, index?}``
  -- what the blend's inputs from ``input`` (a source node family or name, or a list of them:
  summed) give ``output`` (or each output of a list: one row each), per
  year: absolute (in the instance's unit) or, with ``share: true``, as a share of the output's
  mass; ``max: 0`` forbids the allocation (e.g. an alloy's primary ingot kept out of another
  family). Rows ``allocation_min`` / ``allocation_max``, one per member blend and year.
"""

from __future__ import annotations

import numpy as np

INF = float("inf")


def validate(system, typ: str, doc: dict, con: dict, err, number) -> None:
    """Fill ``con`` for an indicator or allocation constraint; report problems through ``err``."""
    if typ == "indicator":
        _validate_indicator(system, doc, con, err, number)
    else:
        _validate_allocation(system, doc, con, err, number)


def _validate_indicator(system, doc, con, err, number) -> None:
    from .errors import InstanceError
    from .indicators import declared

    name = doc.get("indicator", doc.get("name"))
    try:
        known = declared(system)
    except InstanceError as e:
        err("indicator", f"the instance's indicators are invalid: {e}", name)
        return
    if name not in known:
        err("indicator", "unknown indicator", name, expected=f"one of {sorted(known)} (the instance's indicators:)")
    con["indicator"] = name
    con["min"] = number("min", lo=-INF)
    con["max"] = number("max", lo=-INF)
    if doc.get("min") is None and doc.get("max") is None:
        err("max", "an indicator constraint needs 'min' or 'max'")


def _validate_allocation(system, doc, con, err, number) -> None:
    from .lp.user_rows import member_nodes

    share = doc.get("share", False)
    if not isinstance(share, bool):
        err("share", "expected true or false", share)
        return
    con["share"] = share
    hi = 1.0 if share else None
    con["min"] = number("min", 0.0, hi)
    con["max"] = number("max", 0.0, hi)
    if doc.get("min") is None and doc.get("max") is None:
        err("max", "an allocation constraint needs 'min' or 'max' (max: 0 forbids it)")
    nodes = member_nodes(system, doc, err, ("blend",))
    if not nodes:
        return
    inp, out = _listed(doc.get("input")), _listed(doc.get("output"))
    groups = []
    for i in nodes:
        bi = next(b for b, bl in enumerate(system.blends) if bl.node == i)
        bl = system.blends[bi]
        names = [o.name for o in bl.outputs]
        ins = [q for q, e in enumerate(bl.inputs)
               if {system.nodes[system.edges[e].source].family, system.nodes[system.edges[e].source].name} & set(inp)]
        groups += [(bi, names.index(o), ins) for o in out if o in names and ins]
    bl_all = [bl for bl in system.blends if bl.node in nodes]
    outs = sorted({o.name for bl in bl_all for o in bl.outputs})
    srcs = {system.nodes[system.edges[e].source].family for bl in bl_all for e in bl.inputs} | {
        system.nodes[system.edges[e].source].name for bl in bl_all for e in bl.inputs}
    if any(o not in outs for o in out) or not out:
        err("output", f"unknown output of blend {doc.get('node')}", next((o for o in out if o not in outs), None),
            expected=f"one of {outs} (or a list of them)")
    elif any(q not in srcs for q in inp) or not inp:
        err("input", f"no input of blend {doc.get('node')} comes from this node",
            next((q for q in inp if q not in srcs), None), expected=f"one of {sorted(srcs)} (or a list of them)")
    con["groups"] = groups


def _listed(val) -> list[str]:
    """A node or output name, or a list of them (the constraint applies to each output, summing the inputs)."""
    if isinstance(val, (list, tuple)):
        return [str(v) for v in val]
    return [] if val is None else [str(val)]


def rows(b, k: int, con: dict, add, direct) -> None:
    """The LP rows of constraint ``k`` (``b``: the model builder)."""
    ts = np.flatnonzero(con["mask"])
    if con["type"] == "indicator":
        row, off = b.term(f"indicator:{con['indicator']}", {})
        if con.get("min") is not None:
            add(row, con["min"] - off, INF, "indicator_min", k, 0, 0, None, k)
        if con.get("max") is not None:
            add(row, -INF, con["max"] - off, "indicator_max", k, 0, 0, None, k)
        return
    for bi, j, ins in con["groups"]:
        nin = b.alloc_col[bi].shape[0]
        coef = np.zeros(nin)
        coef[ins] = 1.0
        for side in ("min", "max"):
            val = con.get(side)
            if val is None:
                continue
            c = coef - val if con["share"] else coef  # x_sel - s * sum_i x_ij  vs 0, or x_sel vs the bound
            rr = np.repeat(np.arange(len(ts)), nin)
            cc = (b.alloc_col[bi][:, j][None, :] + ts[:, None]).ravel()
            A = direct(rr, cc, np.tile(c, len(ts)), len(ts))
            bound = 0.0 if con["share"] else val
            lo, up = (bound, INF) if side == "min" else (-INF, bound)
            add(A, lo, up, f"allocation_{side}", bi, j, 0, ts, k)
