"""User constraints: validated before the model is built, then written as rows.

Constraints come from the instance's ``constraints:`` list, its scenario's additions and the
``constraints=`` argument (counted in that order: ``k`` in the row names
``constraints[k].<kind>[subject,year]``):

* ``{type: share, node, route, min?, max?, years?: [first, last], life?, index?: {dim: value}}``
  -- ``min * input <= route flow <= max * input`` for the family's members (or the one named);
* ``{type: capacity, node, route, max?, growth?, initial?, cost?, shared?, years?, life?, index?}``
  -- a capacity column ``K[t] >= 0`` with ``route <= K`` (in ``years``), ``K <= max``,
  ``K[t] - K[t-1] <= growth``, ``K[first year of the window] <= initial``; ``cost`` per unit of
  ``K`` per year; ``shared``: one capacity for the sum over the family's members;
* ``{type: recycled_content, node (blend), output, min, years?, index?}`` -- what non-free
  inputs bring is at least ``min`` of the output;
* ``{type: forbid, node, route, years?, life?, index?}`` -- the route carries nothing;
* ``{type: budget, max, years?}`` -- the ``cost`` term at most ``max``;
* ``{type: flow, source, target, min?, max?, years?, element?}`` -- the flow between two
  nodes (summed over the members of families), per year, within ``[min, max]``;
* ``{type: indicator, ...}`` and ``{type: allocation, ...}`` -- see :mod:`circopt.constraints_extra`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..definition.checks import MAX_MAGNITUDE
from ..errors import InstanceError, InstanceErrors
from ..system import TOTAL, System
from .index import INF, compact
from .select import channel_weights, year_window

#: accepted keys per user-constraint type (``type`` itself, ``description`` and ``source`` always)
CONSTRAINT_TYPES: dict[str, set[str]] = {
    "share": {"node", "route", "min", "max", "years", "life", "index"},
    "capacity": {"node", "route", "max", "growth", "initial", "cost", "years", "life", "index", "shared"},
    "recycled_content": {"node", "output", "min", "years", "index"},
    "forbid": {"node", "route", "years", "life", "index"},
    "budget": {"max", "years"},
    "flow": {"source", "target", "min", "max", "years", "element"},
    "indicator": {"indicator", "min", "max"},
    "allocation": {"node", "input", "output", "min", "max", "share", "years", "index"},
}
ALWAYS_KEYS = {"type", "description", "source", "name", "cite"}  # cite: a source id (flow uses 'source')


# ============================================================================================
# rows
# ============================================================================================
def user_rows(b, rs, k: int, con: dict) -> None:
    """The rows of user constraint ``k`` (``b``: the model builder, ``rs``: the row set)."""
    typ = con["type"]
    ts_all = np.flatnonzero(con["mask"])
    if typ == "share":
        from .rows import share_rows

        for side in ("min", "max"):
            if con.get(side) is None:
                continue
            q_edge = np.repeat(con["edges"], len(ts_all))
            q_t = np.tile(ts_all, len(con["edges"]))
            share_rows(b, rs, q_edge, q_t, np.full(len(q_edge), float(con[side])), side, u=k)
    elif typ == "forbid":
        q_edge = np.repeat(con["edges"], len(ts_all))
        q_t = np.tile(ts_all, len(con["edges"]))
        cols = np.array([b.route_col[e] for e in q_edge], int) + q_t
        rs.add(rs.direct(np.arange(len(q_edge)), cols, 1.0, len(q_edge)), -INF, 0.0, "forbid", q_edge, 0, 0, q_t, k)
    elif typ == "capacity":
        _capacity_rows(b, rs, k, con, ts_all)
    elif typ == "recycled_content":
        for bi, j in con["outputs"]:
            free = b.free_in[bi]
            mn = float(con["min"])
            coef = np.array([-mn if f else 1.0 - mn for f in free])
            nin = len(free)
            rows = np.repeat(np.arange(len(ts_all)), nin)
            cols = (b.alloc_col[bi][:, j][None, :] + ts_all[:, None]).ravel()
            vals = np.tile(coef, len(ts_all))
            rs.add(rs.direct(rows, cols, vals, len(ts_all)), 0.0, INF, "recycled_content", bi, j, 0, ts_all, k)
    elif typ == "flow":
        _flow_rows(b, rs, k, con, ts_all)
    elif typ == "budget":
        row, off = b.term("cost", {"years": con.get("years")})
        rs.add(row, -INF, float(con["max"]) - off, "budget", k, 0, 0, None, k)
    elif typ in ("indicator", "allocation"):
        from ..constraints_extra import rows as extra_rows

        extra_rows(b, k, con, rs.add, rs.direct)


def _capacity_rows(b, rs, k: int, con: dict, ts_all: np.ndarray) -> None:
    """``capacity`` (routes <= K), ``capacity_max``, ``capacity_growth``, ``capacity_initial``."""
    T, direct = b.T, rs.direct
    groups = ([(con["edges"][0], con["edges"], b.cap_col[(k, "shared")])] if con.get("shared")
              else [(e, [e], b.cap_col[(k, e)]) for e in con["edges"]])
    sh = 1 if con.get("shared") else 0  # row_c = 1 marks a family's shared capacity (names)
    for e, members, K0 in groups:
        m = len(ts_all)
        A = -direct(np.arange(m), K0 + ts_all, 1.0, m)
        for em in members:  # the routes' sum is within the capacity
            A = A + direct(np.arange(m), b.route_col[em] + ts_all, 1.0, m)
        rs.add(A, -INF, 0.0, "capacity", e, 0, sh, ts_all, k)
        if con.get("max") is not None:
            rs.add(direct(b.tt, K0 + b.tt, 1.0, T), -INF, float(con["max"]), "capacity_max", e, 0, sh, b.tt, k)
        if con.get("growth") is not None and T > 1:
            tg = b.tt[1:]
            A = direct(tg - 1, K0 + tg, 1.0, T - 1) - direct(tg - 1, K0 + tg - 1, 1.0, T - 1)
            rs.add(A, -INF, float(con["growth"]), "capacity_growth", e, 0, sh, tg, k)
        if con.get("initial") is not None:  # in the first year of the constraint's window
            t0 = int(ts_all[0])
            rs.add(direct([0], [K0 + t0], 1.0, 1), -INF, float(con["initial"]), "capacity_initial", e, 0, sh, [t0], k)


def _flow_rows(b, rs, k: int, con: dict, ts_all: np.ndarray) -> None:
    """``flow_min`` / ``flow_max``: the flow between two nodes (one element or the total) per year."""
    w = channel_weights(b.s, {con.get("element", TOTAL): 1.0}, con["where"])
    rr, cc, vv = [], [], []
    for q, t in enumerate(ts_all):
        for e in con["edges"]:
            rr.append(np.full(b.C, q))
            cc.append(b.fi(e)[t])
            vv.append(w)
    S = sp.csr_matrix((np.concatenate(vv), (np.concatenate(rr), np.concatenate(cc))), shape=(len(ts_all), b.F))
    M = S @ b.G
    off = S @ b.g
    if con.get("min") is not None:
        rs.add(M, float(con["min"]) - off, INF, "flow_min", k, 0, 0, ts_all, k)
    if con.get("max") is not None:
        rs.add(M, -INF, float(con["max"]) - off, "flow_max", k, 0, 0, ts_all, k)


# ============================================================================================
# validation
# ============================================================================================
def validate_constraints(system: System, extra: list[dict] | None, where: str | None = None) -> list[dict]:
    """Check every user constraint (instance's, scenario's and the argument's) before building
    (``where``: how to name the argument's constraints in messages, e.g. a lever's setting).

    Returns the constraints as records (``type``, ``doc``, ``where``, ``mask`` of years and what
    the type needs: ``edges``, ``outputs``, numbers); raises every problem found at once."""
    errors: list[InstanceError] = []
    out = []
    for k, (label, doc) in enumerate(_constraint_docs(system, extra, where)):
        con = _validate_one(system, k, label, doc, errors)
        if con is not None:
            out.append(con)
    if errors:
        raise errors[0] if len(errors) == 1 else InstanceErrors(errors)
    return out


def _constraint_docs(system: System, extra, where: str | None) -> list[tuple[str, object]]:
    """(where, document) of every constraint: the instance's (and its scenario's), then the argument's."""
    docs = []
    base = f"{Path(system.path) / 'instance.yaml'}" if system.path else "instance"
    if system.scenario:
        base += f" + scenarios/{system.scenario}.yaml"
    for k, c in enumerate(system.constraints or []):
        docs.append((f"{base}: constraints[{k}]", c))
    if extra is not None and not isinstance(extra, (list, tuple)):
        raise InstanceError("optimise(constraints=...)", "expected a list of constraint mappings", type(extra).__name__)
    k0 = len(docs)
    for j, c in enumerate(extra or []):
        docs.append((f"{where}[{j}]" if where else f"constraints[{k0 + j}] (argument constraints[{j}])", c))
    return docs


def _validate_one(system: System, k: int, where: str, doc, errors: list) -> dict | None:
    """One constraint as a record, or None (its problems appended to ``errors``)."""
    if not isinstance(doc, dict):
        errors.append(InstanceError(where, "a constraint must be a mapping with a 'type'", doc,
                                    expected=f"type one of {list(CONSTRAINT_TYPES)}"))
        return None
    label = f"{where} {compact(doc)}"

    def err(key, problem, value=None, expected=None):
        errors.append(InstanceError(f"{label}: {key}", problem, value, expected))

    typ = doc.get("type")
    if typ not in CONSTRAINT_TYPES:
        err("type", "unknown constraint type", typ, expected=f"one of {list(CONSTRAINT_TYPES)}")
        return None
    bad = set(doc) - CONSTRAINT_TYPES[typ] - ALWAYS_KEYS
    if bad:
        err(min(bad), f"unknown key(s) {sorted(bad)} for a {typ} constraint",
            expected=f"some of {sorted(CONSTRAINT_TYPES[typ])}")
        return None
    con = {"type": typ, "doc": doc, "where": where, "index_in_list": k}
    n_err = len(errors)
    try:
        con["mask"] = (year_window(system, doc["years"], f"{label}: years") if doc.get("years") is not None
                       else np.ones(system.T, bool))
    except InstanceError as e:
        errors.append(e)
        return None

    def number(key, lo=0.0, hi=None, required=False):
        return _number(doc, key, err, lo, hi, required)

    if typ in ("share", "capacity", "forbid"):
        _route_constraint(system, typ, doc, con, err, number)
    elif typ == "recycled_content":
        _recycled_content(system, doc, con, err, number)
    elif typ == "budget":
        con["max"] = number("max", lo=-INF, required=True)
    elif typ == "flow":
        _flow_constraint(system, doc, con, err, number)
    elif typ in ("indicator", "allocation"):
        from ..constraints_extra import validate

        validate(system, typ, doc, con, err, number)
    return con if len(errors) == n_err else None


def _number(doc: dict, key: str, err, lo=0.0, hi=None, required=False) -> float | None:
    """``doc[key]`` as a finite number within ``[lo, hi]`` (None, with ``err`` called, when not)."""
    v = doc.get(key)
    if v is None:
        if required:
            err(key, "required", expected="a number")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        err(key, "expected a number", v)
        return None
    if abs(v) > MAX_MAGNITUDE:  # the instance's own bound on any number (docs/instance-format.md)
        err(key, f"larger than {MAX_MAGNITUDE:g} in magnitude", v)
        return None
    if v < lo or (hi is not None and v > hi):
        err(key, "out of range", v, expected=f"a value in [{lo}, {hi if hi is not None else 'inf'}]")
        return None
    return float(v)


def _route_constraint(system: System, typ: str, doc: dict, con: dict, err, number) -> None:
    """share / capacity / forbid: the routes (``con["edges"]``) of the split members named, and the numbers."""
    nodes = member_nodes(system, doc, err, ("split",))
    route = doc.get("route")
    if nodes:
        routes = sorted({system.edges[e].label for i in nodes for e in system.out_edges(i)})
        fam = system.nodes[nodes[0]].family
        declared = list((system.raw.get("nodes", {}).get(fam, {}) or {}).get("routes", {}) or routes)
        if route not in declared:
            err("route", f"unknown route of split {fam}", route, expected=f"one of {declared}")
        else:
            con["edges"] = [e for i in nodes for e in system.out_edges(i) if system.edges[e].label == route]
            if not con["edges"]:
                err("route", f"route '{route}' of {fam} leads past the last life for the chosen member(s)",
                    route, expected="a member whose route exists")
    if typ == "share":
        con["min"] = number("min", 0.0, 1.0)
        con["max"] = number("max", 0.0, 1.0)
        if doc.get("min") is None and doc.get("max") is None:
            err("min", "a share constraint needs 'min' or 'max'")
        elif con["min"] is not None and con["max"] is not None and con["min"] > con["max"]:
            err("min", "min above max", doc.get("min"), expected=f"<= {doc.get('max')}")
    elif typ == "capacity":
        con["max"] = number("max")
        con["growth"] = number("growth")
        con["initial"] = number("initial")
        con["cost"] = number("cost", lo=-INF)
        if not isinstance(doc.get("shared", False), bool):
            err("shared", "expected true or false", doc.get("shared"))
        con["shared"] = bool(doc.get("shared", False))
        if all(doc.get(x) is None for x in ("max", "growth", "initial")):
            err("max", "a capacity constraint needs 'max', 'growth' or 'initial'")


def _recycled_content(system: System, doc: dict, con: dict, err, number) -> None:
    """recycled_content: the (blend, output) pairs of the members named (``con["outputs"]``) and ``min``."""
    nodes = member_nodes(system, doc, err, ("blend",))
    con["min"] = number("min", 0.0, 1.0, required=True)
    oname = doc.get("output")
    if nodes:
        pairs = []
        for i in nodes:
            bi = next(b for b, bl in enumerate(system.blends) if bl.node == i)
            names = [o.name for o in system.blends[bi].outputs]
            if oname in names:
                pairs.append((bi, names.index(oname)))
        if not pairs:
            names = sorted({o.name for i in nodes for bl in system.blends if bl.node == i for o in bl.outputs})
            err("output", f"unknown output of blend {doc.get('node')}", oname, expected=f"one of {names}")
        con["outputs"] = pairs


def _flow_constraint(system: System, doc: dict, con: dict, err, number) -> None:
    """flow: the streams from ``source`` to ``target`` (families or members), the bounds and the element."""
    src, tgt = doc.get("source"), doc.get("target")
    known = True
    for key, v in (("source", src), ("target", tgt)):
        if not isinstance(v, str) or not any(n.family == v or n.name == v for n in system.nodes):
            err(key, "unknown node", v, expected=f"one of {sorted({n.family for n in system.nodes})}")
            known = False
    if known:
        edges = [e.id for e in system.edges
                 if src in (system.nodes[e.source].family, system.nodes[e.source].name)
                 and tgt in (system.nodes[e.target].family, system.nodes[e.target].name)]
        if not edges:
            targets = sorted({system.nodes[system.edges[e].target].family for i, nd in enumerate(system.nodes)
                              if src in (nd.family, nd.name) for e in system.out_edges(i)})
            err("target", f"no stream from {src} to {tgt}", tgt, expected=f"one of {targets}")
        con["edges"] = edges
        con["source"], con["target"] = src, tgt
    con["min"] = number("min")
    con["max"] = number("max")
    if doc.get("min") is None and doc.get("max") is None:
        err("max", "a flow constraint needs 'min' or 'max'")
    el = doc.get("element", TOTAL)
    if el != TOTAL and el not in system.channels:
        err("element", "unknown element", el, expected=f"one of {[*system.channels, TOTAL]}")
    con["element"] = el


def member_nodes(system: System, con: dict, err, kinds: tuple[str, ...]) -> list[int]:
    """Member nodes of the constraint's family (or one member by name), filtered by life / index."""
    name = con.get("node")
    if not isinstance(name, str):
        err("node", "expected a node name", name, expected="a node family of the instance")
        return []
    nodes = [i for i, n in enumerate(system.nodes) if n.family == name or n.name == name]
    if not nodes:
        fams = sorted({n.family for n in system.nodes if n.kind in kinds})
        err("node", "unknown node", name, expected=f"one of {fams}")
        return []
    kind = system.nodes[nodes[0]].kind
    if kind not in kinds:
        fams = sorted({n.family for n in system.nodes if n.kind in kinds})
        err("node", f"{name} is a {kind}, this constraint applies to a {' or '.join(kinds)}", name,
            expected=f"one of {fams}")
        return []
    if con.get("life") is not None:
        life = con["life"]
        lives = sorted({system.nodes[i].index.get("life") for i in nodes if "life" in system.nodes[i].index})
        nodes = [i for i in nodes if str(system.nodes[i].index.get("life")) == str(life)]
        if not nodes:
            err("life", f"{name} has no life {life}", life, expected=f"one of {lives}" if lives else "no 'life' "
                "(the node is not over lives)")
            return []
    idx = con.get("index") or {}
    if not isinstance(idx, dict):
        err("index", "expected {dimension: value}", idx)
        return []
    for d, v in idx.items():
        dims = set().union(*(system.nodes[i].index.keys() for i in nodes))
        if d not in dims:
            err(f"index.{d}", f"{name} is not over dimension '{d}'", d, expected=f"one of {sorted(dims)}")
            return []
        vals = sorted({str(system.nodes[i].index.get(d)) for i in nodes})
        nodes = [i for i in nodes if str(system.nodes[i].index.get(d)) == str(v)]
        if not nodes:
            err(f"index.{d}", f"no member of {name} with {d}={v}", v, expected=f"one of {vals}")
            return []
    return nodes
