"""User-declared indicators: linear sums of flows, stocks or losses, declared in the instance.

    indicators:
      - {name: scrap_to_castings, kind: flow, source: remelt, target: casthouse, unit: Mt,
         description: "secondary metal into castings"}
      - {name: nickel_in_use_2050, kind: stock, node: in_use, weights: {Ni: 1}, years: 2050}
      - {name: landfilled, kind: loss, node: landfill, years: [2020, 2040]}

Keys: ``name`` (required, unique), ``kind`` (``flow`` | ``stock`` | ``loss``), selectors --
``source`` / ``target`` (flow: node families or names, a name or a list; at least one), ``node``
(stock: stock families or names, default every stock; loss: sink families or names), ``loss_types``
(loss: default dissipation, process, dilution when no ``node`` is given), ``index``
(``{dimension: value}``: only members with that index) --, ``weights`` (``{element|total: weight}``,
default ``{total: 1}``), ``years`` (``[first, last]`` or one year, default all), ``unit``,
``description``, ``cite`` (a source id).

An indicator is one number: the weighted sum over the selected years (a stock: the sum of its
end-of-year levels in those years). It is linear in the flows -- a stock's level is its level
before the first model year plus the cumulated inflow minus outflow -- so it is reported in every
Result's summary (``indicators``), and is usable as an objective term (``indicator:NAME``, e.g.
``--objective indicator:landfilled``; a negative weight maximises) and in a constraint
``{type: indicator, indicator: NAME, min?, max?}``.
"""

from __future__ import annotations

import numpy as np

from .errors import InstanceError, InstanceErrors
from .system import TOTAL, System

__all__ = ["INDICATOR_KEYS", "declared", "indicator_weights", "validate", "values"]

INDICATOR_KEYS = {"name", "kind", "source", "target", "node", "loss_types", "index", "weights", "years", "unit",
                  "description", "cite"}
KINDS = ("flow", "stock", "loss")


def declared(system: System) -> dict[str, dict]:
    """The instance's indicators by name, validated (cached on the System)."""
    cached = system.__dict__.get("_indicators")
    if cached is not None:
        return cached
    errors: list[InstanceError] = []
    out = _parse(system, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else InstanceErrors(errors)
    system.__dict__["_indicators"] = out
    return out


def validate(system: System, where: str = "instance.yaml") -> list[InstanceError]:
    """Every problem of the instance's ``indicators:`` (the loader's hook)."""
    errors: list[InstanceError] = []
    out = _parse(system, errors, where)
    if not errors:
        system.__dict__["_indicators"] = out
    return errors


def indicator_weights(system: System, name: str, opts: dict | None = None) -> tuple[np.ndarray, float]:
    """``(w, constant)`` with the indicator = ``(w * flows).sum() + constant`` (w: (T, E, C)).
    Objective options ``horizon`` / ``years`` narrow the indicator's own years."""
    from .lp.select import years_mask

    ind = declared(system).get(name)
    if ind is None:
        raise InstanceError("objective", f"unknown indicator '{name}'", name,
                            expected=f"one of {sorted(declared(system))} (the instance's indicators:)")
    mask = ind["mask"].copy()
    if opts and (opts.get("horizon") is not None or opts.get("years") is not None):
        mask &= years_mask(system, opts, f"indicator:{name}")
    s = system
    T, E, C = s.T, len(s.edges), s.C
    w = np.zeros((T, E, C))
    cw = ind["channels"]
    const = 0.0
    if ind["kind"] in ("flow", "loss"):
        w[np.ix_(mask, ind["edges"], np.arange(C))] = cw
        return w, const
    # stock(t) = level before the first year + sum_{t' <= t} (inflow(t') - outflow(t'))
    later = np.cumsum(mask[::-1])[::-1].astype(float)  # per t': counted years t >= t'
    from .stocks import stock_plan

    plan = stock_plan(s)
    before = plan.stock_levels(plan.hist_inflow)[:, plan.H - 1, :] if plan.H > 0 else np.zeros((len(plan.stocks), C))
    for n in ind["nodes"]:
        for e in s.in_edges(n):
            w[:, e, :] += later[:, None] * cw[None, :]
        for e in s.out_edges(n):
            w[:, e, :] -= later[:, None] * cw[None, :]
        const += float(mask.sum()) * float(before[plan.stocks.index(n)] @ cw)
    return w, const


def values(result) -> dict[str, float]:
    """Every declared indicator of a Result."""
    from .terms import value

    return {name: value(result, f"indicator:{name}") for name in declared(result.system)}


# ---- parsing ---------------------------------------------------------------------------------------
def _parse(system: System, errors: list, where: str = "instance.yaml") -> dict[str, dict]:
    docs = (system.raw or {}).get("indicators") if isinstance(system.raw, dict) else None
    if docs is None:
        return {}
    if not isinstance(docs, list):
        errors.append(InstanceError(f"{where}: indicators", "expected a list of indicators",
                                    type(docs).__name__, expected="[{name, kind, ...}, ...]"))
        return {}
    out: dict[str, dict] = {}
    for k, doc in enumerate(docs):
        label = f"{where}: indicators[{k}]"
        n0 = len(errors)

        def err(key, problem, value=None, expected=None, _label=label):
            errors.append(InstanceError(f"{_label}.{key}" if key else _label, problem, value, expected))

        if not isinstance(doc, dict):
            err("", "expected a mapping {name, kind, ...}", doc)
            continue
        bad = set(doc) - INDICATOR_KEYS
        if bad:
            err(min(bad), f"unknown key(s) {sorted(bad)}", expected=f"some of {sorted(INDICATOR_KEYS)}")
            continue
        name, kind = doc.get("name"), doc.get("kind")
        if not isinstance(name, str) or not name or any(c in name for c in " ,=[]"):
            err("name", "expected a name without spaces, commas, '=' or brackets", name)
        elif name in out:
            err("name", "duplicated indicator name", name)
        if kind not in KINDS:
            err("kind", "unknown indicator kind", kind, expected=f"one of {list(KINDS)}")
        if len(errors) > n0:
            continue
        spec = {"name": name, "kind": kind, "unit": str(doc.get("unit", system.unit)),
                "description": str(doc.get("description", ""))}
        spec["channels"] = _weights(system, doc.get("weights"), err)
        spec["mask"] = _mask(system, doc.get("years"), err)
        nodes = _select(system, doc, kind, err)
        if len(errors) > n0:
            continue
        if kind == "stock":
            spec["nodes"] = nodes
        else:
            spec["edges"] = nodes
        out[name] = spec
    return out


def _weights(system: System, val, err) -> np.ndarray:
    from .lp.select import channel_weights

    try:
        return channel_weights(system, val if val is not None else {TOTAL: 1.0}, "weights")
    except InstanceError as e:
        err("weights", e.problem if hasattr(e, "problem") else str(e), val,
            expected=f"{{element: weight}} with elements of {[*system.channels, TOTAL]}")
        return np.zeros(system.C)


def _mask(system: System, val, err) -> np.ndarray:
    from .lp.select import year_window

    if val is None:
        return np.ones(system.T, bool)
    try:
        return year_window(system, val, "years")
    except InstanceError:
        err("years", "expected [first, last] or one year within the model years", val,
            expected=f"years within {int(system.years[0])}..{int(system.years[-1])}")
        return np.ones(system.T, bool)


def _names(val) -> list[str] | None:
    if val is None:
        return None
    return [str(v) for v in val] if isinstance(val, (list, tuple)) else [str(val)]


def _match(system: System, i: int, names: list[str] | None, index: dict) -> bool:
    nd = system.nodes[i]
    if names is not None and nd.family not in names and nd.name not in names:
        return False
    return all(str(nd.index.get(d)) == str(v) for d, v in index.items())


def _select(system: System, doc: dict, kind: str, err) -> list[int]:
    """Stock node ids (stock), or edge ids (flow: source -> target; loss: into the sinks)."""
    s = system
    index = doc.get("index") or {}
    if not isinstance(index, dict):
        err("index", "expected {dimension: value}", index)
        return []
    fams = sorted({n.family for n in s.nodes})
    for key in ("source", "target", "node"):
        for nm in _names(doc.get(key)) or []:
            if not any(n.family == nm or n.name == nm for n in s.nodes):
                err(key, "unknown node", nm, expected=f"one of {fams}")
                return []
    if kind == "flow":
        src, tgt = _names(doc.get("source")), _names(doc.get("target"))
        if src is None and tgt is None:
            err("source", "a flow indicator needs 'source' and/or 'target'")
            return []
        edges = [e.id for e in s.edges if _match(s, e.source, src, index if src else {})
                 and _match(s, e.target, tgt, index if not src else {})]
        if not edges:
            err("target", f"no stream from {src or 'any node'} to {tgt or 'any node'}", doc.get("target"))
        return edges
    nodes = _names(doc.get("node"))
    want = "stock" if kind == "stock" else "sink"
    picked = [i for i, n in enumerate(s.nodes) if n.kind == want and _match(s, i, nodes, index)]
    if kind == "loss":
        types = doc.get("loss_types")
        if types is None and nodes is None:
            from .terms import DEFAULT_LOSS_TYPES

            types = DEFAULT_LOSS_TYPES
        if types is not None:
            from .system import LOSS_TYPES

            types = _names(types)
            bad = sorted(set(types) - set(LOSS_TYPES))
            if bad:
                err("loss_types", "unknown loss type", bad, expected=f"some of {list(LOSS_TYPES)}")
                return []
            picked = [i for i in picked if s.nodes[i].loss in types]
    if not picked:
        err("node", f"selects no {want}", doc.get("node"),
            expected=f"{want} families: {sorted({n.family for n in s.nodes if n.kind == want})}")
        return []
    if kind == "stock":
        return picked
    return [e for i in picked for e in s.in_edges(i)]
