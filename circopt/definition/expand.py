"""Expansion: dimensions, node families ``over:`` them, references between members, and
the network's shape (members past the last life dropped, one stream per pair)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InstanceError, InstanceErrors
from ..system import NODE_KINDS, Node
from . import checks
from .compositions import check_source
from .schema import REF, node_key_problems


def dimensions(b, dims_doc: dict, nodes_doc: dict) -> dict[str, list]:
    """The declared dimensions, and ``life`` for stocks with further ``lives``."""
    dims: dict[str, list] = {}
    if not isinstance(dims_doc, dict):
        b.err("dimensions", "expected a mapping dim -> list of values", dims_doc)
        return dims
    for k, v in dims_doc.items():
        if checks.bad_name(k):
            b.errors.append(checks.name_error(f"{b.yml}: dimensions.{k}", "a dimension name", k))
        elif not isinstance(v, list) or not v:
            b.err(f"dimensions.{k}", "expected a non-empty list of values", v)
        elif any(checks.bad_name(x, value=True) for x in v):
            bad = next(x for x in v if checks.bad_name(x, value=True))
            b.errors.append(checks.name_error(f"{b.yml}: dimensions.{k}", "a dimension value", bad,
                                                 value=True))
        elif len(set(map(str, v))) != len(v):
            b.err(f"dimensions.{k}", "duplicated value", v)
        else:
            dims[str(k)] = list(v)
    lives = {f: s.get("lives") for f, s in nodes_doc.items() if isinstance(s, dict) and s.get("lives")}
    for fam, k in lives.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            b.err(f"nodes.{fam}.lives", "expected a whole number >= 0 (further lives)", k)
            continue
        want = list(range(1, k + 2))
        if "life" in dims and dims["life"] != want:
            b.err(f"nodes.{fam}.lives", "conflicts with another 'life' dimension", dims["life"],
                     expected=f"{want}")
        dims["life"] = want
    return dims


def families(b, nodes_doc: dict) -> None:
    """Each node family -> its members, one per combination of the dimensions it is ``over``."""
    for fam, spec in nodes_doc.items():
        key = f"nodes.{fam}"
        if checks.bad_name(fam):
            b.errors.append(checks.name_error(b.where(key), "a node name", fam))
            continue
        if not isinstance(spec, dict):
            b.err(key, "expected a mapping", spec)
            continue
        kind = spec.get("kind")
        if kind not in NODE_KINDS:
            b.err(f"{key}.kind", "unknown or missing node kind", kind, expected=f"one of {list(NODE_KINDS)}")
            continue
        for k, problem, expected in node_key_problems(kind, spec):
            b.err(f"{key}.{k}", problem, expected=expected)
        over = spec.get("over") or []
        if isinstance(over, str):
            over = [over]
        if not isinstance(over, list) or not all(isinstance(o, str) for o in over):
            b.err(f"{key}.over", "expected a list of dimension names", over)
            continue
        if kind == "stock" and spec.get("lives") and "life" not in over:
            over = [*over, "life"]
        bad = [o for o in over if o not in b.dims]
        if bad:
            b.err(f"{key}.over", "unknown dimension", bad, expected=f"one of {list(b.dims)}")
            continue
        if "source" not in spec and "sources" not in spec and kind not in ("sink", "export"):
            b.err(f"{key}.source", "every node with numbers cites a source id or says 'estimate'")
        for sk in ("source", "sources"):
            if sk in spec:
                v = spec[sk]
                vals = list(v.values()) if isinstance(v, dict) else v
                check_source(b, f"{key}.{sk}", vals)
                flat = vals if isinstance(vals, list) else [vals]
                b.node_sources[fam] = [str(x) for x in flat]
        b.family_dims[fam] = list(over)
        ids = []
        size = math.prod(len(b.dims[o]) for o in over)
        if size > checks.MAX_MEMBERS:
            b.err(f"{key}.over", f"the family expands into {size:,} members", over,
                     expected=f"at most {checks.MAX_MEMBERS:,}")
            continue
        for combo in itertools.product(*[b.dims[o] for o in over]):
            index = dict(zip(over, combo))
            name = fam if not over else f"{fam}[{','.join(map(str, combo))}]"
            node = Node(name=name, family=fam, kind=internal_kind(b, kind, spec), index=index,
                        where=f"{b.yml}: {key}")
            ids.append(len(b.nodes))
            b.nodes.append(node)
        b.family_nodes[fam] = ids


def internal_kind(b, kind: str, spec: dict) -> str:
    """An ``export`` node is a sink tagged exported, except under the global boundary view
    with a declared fate abroad (``abroad``), where it passes its input on (a process)."""
    if kind != "export":
        return kind
    return "process" if b.boundary == "global" and spec.get("abroad") is not None else "sink"


def ref(b, ref: Any, src: int, key: str) -> int | None:
    """Resolve a target reference from node ``src``; None = past the last life (dropped)."""
    if not isinstance(ref, str):
        raise InstanceError(b.where(key), "expected a node reference", ref)
    m = REF.match(ref.strip())
    if not m or m["name"] not in b.family_nodes:
        raise InstanceError(b.where(key), "unknown node", ref, expected=f"one of {list(b.family_nodes)}")
    fam = m["name"]
    dims = b.family_dims[fam]
    index = dict(b.nodes[src].index)
    explicit: dict[str, str] = {}
    if m["idx"]:
        parts = [p.strip() for p in m["idx"].split(",")]
        for i, p in enumerate(parts):
            if "=" in p:
                dk, dv = (s.strip() for s in p.split("=", 1))
            elif len(parts) == len(dims):
                dk, dv = dims[i], p
            else:
                raise InstanceError(b.where(key), "ambiguous index; write dim=value", ref)
            if dk not in dims:
                raise InstanceError(b.where(key), f"node {fam} is not over '{dk}'", ref,
                                    expected=f"dimensions {dims}")
            explicit[dk] = dv
    want = []
    for dk in dims:
        if dk in explicit:
            want.append(explicit[dk])
        elif dk in index:
            v = index[dk]
            if m["next"] and dk == "life":
                v = v + 1
                if v > max(b.dims["life"]):
                    return None
            want.append(v)
        elif dk == "life":  # entering a stock with lives from outside: the first life
            want.append(b.dims["life"][0])
        else:
            raise InstanceError(b.where(key), f"node {fam} is over '{dk}' but {b.nodes[src].name} "
                                "is not; give the index explicitly", ref, expected=f"{fam}[{dk}=...]")
    if m["next"] and "life" not in dims:
        raise InstanceError(b.where(key), "'.next_life' needs a target over 'life' (a stock with lives)", ref)
    if m["next"] and "life" not in index:
        raise InstanceError(b.where(key), "'.next_life' used from a node that is not over 'life'", ref)
    for nid in b.family_nodes[fam]:
        if [str(b.nodes[nid].index[dk]) for dk in dims] == [str(w) for w in want]:
            return nid
    raise InstanceError(b.where(key), "no such member of the node family", ref,
                        expected=f"values from {[b.dims[dk] for dk in dims]}")


def drop_past_last_life(b) -> None:
    """Members that would send past the last life exist only if nothing reaches them: drop them."""
    dead = [i for i, n in enumerate(b.nodes) if n.past_last_life is not None]
    if not dead:
        return
    dead_set = set(dead)
    drop = []
    for e in b.edges:
        if e.target not in dead_set:
            continue
        n = b.nodes[e.target]
        unused = (e.rule == "route" and not np.any(e.lo > 0)
                  and (e.coef is None or not np.any(e.coef > 0)))
        if unused:  # a split route into it that is never used: the route does not exist either
            drop.append(e.id)
        else:
            b.errors.append(InstanceError(n.where, f"{n.name} sends {n.past_last_life} past the last "
                                             f"life but receives a stream from {b.nodes[e.source].name}",
                                             expected="no stream into it at the last life (a zero share there)"))
    if b.errors:
        raise InstanceErrors(b.errors)
    keep = [i for i in range(len(b.nodes)) if i not in dead_set]
    remap = {old: new for new, old in enumerate(keep)}
    kept = [e for e in b.edges if e.id not in set(drop)]
    edge_id = {e.id: k for k, e in enumerate(kept)}
    b.edges = [replace(e, id=k, source=remap[e.source], target=remap[e.target]) for k, e in enumerate(kept)]
    b.nodes = [b.nodes[i] for i in keep]
    for fam, ids in b.family_nodes.items():
        b.family_nodes[fam] = [remap[i] for i in ids if i in remap]
    # a blend's streams are never dropped (only unused split routes are), but their ids move
    b.blends = [replace(bl, node=remap[bl.node], outputs=[replace(o, edge=edge_id[o.edge]) for o in bl.outputs],
                        surplus_edge=None if bl.surplus_edge is None else edge_id[bl.surplus_edge])
                for bl in b.blends]


def check_pairs(b) -> None:
    """One stream per pair of nodes, none into a source."""
    seen = {}
    for e in b.edges:
        pair = (e.source, e.target)
        if pair in seen:
            b.errors.append(InstanceError(e.where, "two streams join the same pair of nodes "
                                             f"({b.nodes[e.source].name} -> {b.nodes[e.target].name})",
                                             expected="one stream per pair (merge the routes)"))
        seen[pair] = e.id
        if b.nodes[e.target].kind == "source":
            b.errors.append(InstanceError(e.where, f"a stream flows into source {b.nodes[e.target].name}",
                                             expected="sources have no inputs"))
    if b.errors:
        raise InstanceErrors(b.errors)
