"""User-declared indicators: linear sums of flows, stocks or losses, declared in the instance.

    indicators:
      - {name: scrap_to_castings, kind: flow, source: remelt, target: casthouse, unit: Mt,
         description: "secondary metal into castings"}
      - {name: nickel_in_use_2050, kind: stock, node: in_use, weights: {Ni: 1}, years: 2050}
      - {name: landfilled, kind: loss, node: landfill, years: [2020, 2040]}

      - {name: car_scrap_less_need, kind: sum, terms: {car_scrap: 1, car_need: -1}}

Keys: ``name`` (required, unique), ``kind`` (``flow`` | ``stock`` | ``loss`` | ``sum``), selectors --
``source`` / ``target`` (flow: node families or names, a name or a list; at least one), ``node``
(stock: stock families or names, default every stock; loss: sink families or names), ``loss_types``
(loss: default dissipation, process, dilution when no ``node`` is given), ``index``
(``{dimension: value}``: only members with that index; ``{dimension: [v1, v2]}``: members with any
of them; ``{dimension: {v1: w1, v2: w2}}``: those members, each counted with its weight) --,
``weights`` (``{element|total: weight}``,
default ``{total: 1}``), ``years`` (``[first, last]`` or one year, default all), ``unit``,
``description``, ``cite`` (a source id). ``kind: sum`` has only ``terms`` (``{indicator: coefficient}``,
indicators declared before it) besides ``name``, ``unit``, ``description`` and ``cite``: a linear
combination, e.g. a balance of two flows.

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
                  "description", "cite", "terms"}
KINDS = ("flow", "stock", "loss", "sum")


def declared(system: System) -> dict[str, dict]:
    """The instance's indicators by name, validated (cached on the System)."""
    return system.cached("indicators", lambda: _declared(system))


def _declared(system: System) -> dict[str, dict]:
    errors: list[InstanceError] = []
    out = _parse(system, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else InstanceErrors(errors)
    return out


def validate(system: System, where: str = "instance.yaml") -> list[InstanceError]:
    """Every problem of the instance's ``indicators:`` (the loader's hook)."""
    errors: list[InstanceError] = []
    out = _parse(system, errors, where)
    if not errors:
        system.cached("indicators", lambda: out)
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
    const = 0.0
    if ind["kind"] == "sum":
        for term, coef in ind["terms"].items():
            wt, ct = indicator_weights(system, term, opts)
            w += coef * wt
            const += coef * ct
        return w, const
    cw = ind["channels"]
    if ind["kind"] in ("flow", "loss"):
        for e, f in zip(ind["edges"], ind["factors"]):
            w[mask, e, :] += f * cw
        return w, const
    # stock(t) = level before the first year + sum_{t' <= t} (inflow(t') - outflow(t'))
    later = np.cumsum(mask[::-1])[::-1].astype(float)  # per t': counted years t >= t'
    from .stocks import stock_plan

    plan = stock_plan(s)
    before = plan.stock_levels(plan.hist_inflow)[:, plan.H - 1, :] if plan.H > 0 else np.zeros((len(plan.stocks), C))
    for n, f in zip(ind["nodes"], ind["factors"]):
        for e in s.in_edges(n):
            w[:, e, :] += f * later[:, None] * cw[None, :]
        for e in s.out_edges(n):
            w[:, e, :] -= f * later[:, None] * cw[None, :]
        const += f * float(mask.sum()) * float(before[plan.stocks.index(n)] @ cw)
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
        if kind == "sum":
            spec["terms"] = _terms(doc, out, err)
            spec["mask"] = np.zeros(system.T, bool)
            if len(errors) == n0:
                out[name] = spec
            continue
        spec["channels"] = _weights(system, doc.get("weights"), err)
        spec["mask"] = _mask(system, doc.get("years"), err)
        nodes, factors = _select(system, doc, kind, err)
        if len(errors) > n0:
            continue
        spec["nodes" if kind == "stock" else "edges"] = nodes
        spec["factors"] = factors
        out[name] = spec
    return out


def _terms(doc: dict, known: dict, err) -> dict[str, float]:
    """``kind: sum``: ``{indicator: coefficient}`` over indicators declared before it."""
    extra = sorted(set(doc) - {"name", "kind", "terms", "unit", "description", "cite"})
    if extra:
        err(extra[0], "a 'sum' indicator takes only terms (and name, unit, description, cite)",
            expected="terms: {indicator: coefficient}")
        return {}
    terms = doc.get("terms")
    if not isinstance(terms, dict) or not terms:
        err("terms", "expected {indicator: coefficient} with at least one indicator", terms)
        return {}
    out = {}
    for k, v in terms.items():
        if str(k) not in known:
            err("terms", "unknown indicator (a sum takes indicators declared before it)", k,
                expected=f"one of {sorted(known)}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            err(f"terms.{k}", "expected a finite number", v)
        else:
            out[str(k)] = float(v)
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


def _factor(system: System, i: int, names: list[str] | None, index: dict) -> float:
    """0 when node ``i`` is not selected, else its weight (1, or the product of the weights its index
    members carry in ``index``: a value, a list of values or ``{value: weight}`` per dimension)."""
    nd = system.nodes[i]
    if names is not None and nd.family not in names and nd.name not in names:
        return 0.0
    f = 1.0
    for d, v in index.items():
        member = str(nd.index.get(d))
        if isinstance(v, dict):
            f *= float(v.get(member, v.get(nd.index.get(d), 0.0)))
        elif isinstance(v, (list, tuple)):
            f *= 1.0 if member in {str(x) for x in v} else 0.0
        else:
            f *= 1.0 if member == str(v) else 0.0
    return f


def _index(system: System, index, err) -> dict | None:
    """Check ``index``: {dimension: value | [values] | {value: weight}} with known members."""
    if not isinstance(index, dict):
        err("index", "expected {dimension: value}, {dimension: [values]} or {dimension: {value: weight}}", index)
        return None
    for d, v in index.items():
        members = {str(m) for m in (system.dimensions or {}).get(d, [])}
        vals = list(v) if isinstance(v, (dict, list, tuple)) else [v]
        if members and any(str(x) not in members for x in vals):
            bad = next(str(x) for x in vals if str(x) not in members)
            err(f"index.{d}", "unknown member", bad, expected=f"one of {sorted(members)}")
            return None
        if isinstance(v, dict) and any(isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w)
                                       for w in v.values()):
            err(f"index.{d}", "expected finite numbers as weights", v)
            return None
    return index


def _select(system: System, doc: dict, kind: str, err) -> tuple[list[int], list[float]]:
    """Stock node ids (stock), or edge ids (flow: source -> target; loss: into the sinks), with
    each one's weight from ``index``."""
    s = system
    index = _index(s, doc.get("index") or {}, err)
    if index is None:
        return [], []
    fams = sorted({n.family for n in s.nodes})
    for key in ("source", "target", "node"):
        for nm in _names(doc.get(key)) or []:
            if not any(n.family == nm or n.name == nm for n in s.nodes):
                err(key, "unknown node", nm, expected=f"one of {fams}")
                return [], []
    if kind == "flow":
        src, tgt = _names(doc.get("source")), _names(doc.get("target"))
        if src is None and tgt is None:
            err("source", "a flow indicator needs 'source' and/or 'target'")
            return [], []
        picked = [(e.id, _factor(s, e.source, src, index if src else {})
                   * _factor(s, e.target, tgt, index if not src else {})) for e in s.edges]
        picked = [(e, f) for e, f in picked if f != 0.0]
        if not picked:
            err("target", f"no stream from {src or 'any node'} to {tgt or 'any node'}", doc.get("target"))
        return [e for e, _ in picked], [f for _, f in picked]
    nodes = _names(doc.get("node"))
    want = "stock" if kind == "stock" else "sink"
    weight = {i: _factor(s, i, nodes, index) for i, n in enumerate(s.nodes) if n.kind == want}
    picked = [i for i, f in weight.items() if f != 0.0]
    if kind == "loss":
        types = doc.get("loss_types")
        if types is None and nodes is None:
            from .terms import DEFAULT_LOSS_TYPES

            types = DEFAULT_LOSS_TYPES
        if types is not None:
            from .system import EXPORTED, LOSS_TYPES

            types = _names(types)
            known = (*LOSS_TYPES, EXPORTED)  # 'exported': the export nodes (the default counts them)
            bad = sorted(set(types) - set(known))
            if bad:
                err("loss_types", "unknown loss type", bad, expected=f"some of {list(known)}")
                return []
            picked = [i for i in picked if s.nodes[i].loss in types]
    if not picked:
        err("node", f"selects no {want}", doc.get("node"),
            expected=f"{want} families: {sorted({n.family for n in s.nodes if n.kind == want})}")
        return [], []
    if kind == "stock":
        return picked, [weight[i] for i in picked]
    edges = [(e, weight[i]) for i in picked for e in s.in_edges(i)]
    return [e for e, _ in edges], [f for _, f in edges]
