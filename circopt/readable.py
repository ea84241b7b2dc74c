"""Results in words and readable tables: the objective in words, numbers with units and a
sensible precision, what the optimiser chose, and what stops each decision (binding rows
grouped by the instance key that made them, with their worth in the objective's units).

Used by the report (HTML) and the terminal output of the studies; nothing here solves.
"""

from __future__ import annotations

import base64
import html
import math
import re

import numpy as np
import pandas as pd

from .flowrules import table_kinds

#: rows that only state the network's physics (mass balances, a blend input allocated or
#: left over): binding by construction, not a limit
STRUCTURAL_ROWS = ("balance", "allocation")
OBJECTIVE_WORDS = {"losses": "losses", "surplus": "scrap surplus", "primary": "primary supply",
                   "energy": "energy use", "co2": "CO2 emissions", "cost": "cost"}


# ---------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------
def num(v, unit: str = "", digits: int = 4, scale: float | None = None) -> str:
    """A number for people: ``digits`` significant digits, thousands separators, no e-notation
    for ordinary magnitudes, no ``-0``; a value below 1e-9 of ``scale`` (or 1e-12 absolute) is 0."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    v = float(v)
    tiny = 1e-9 * abs(scale) if scale else 1e-12
    if abs(v) <= tiny:
        v = 0.0
    if v == 0:
        text = "0"
    elif 1e-3 <= abs(v) < 1e9:
        dec = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
        text = f"{v:,.{dec}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        mant, _, exp = f"{v:.{digits - 1}e}".partition("e")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        text = f"{mant}e{int(exp)}"
    text = text.replace("-", "−")
    return f"{text} {unit}".strip() if unit else text


def pct(v) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    if abs(v) < 5e-5:
        return "0 %"
    return f"{100 * v:+.1f} %".replace("-", "−")


def table_html(df: pd.DataFrame, units: dict[str, str] | None = None, max_rows: int = 25, name: str = "table",
               caption: str | None = None, scale: dict[str, float] | None = None) -> str:
    """An HTML table with formatted numbers (units in the header), at most ``max_rows`` rows
    shown; the full table is attached as a CSV download (data: URI) when it is longer."""
    units, scale = units or {}, scale or {}
    shown = df.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}{' (' + html.escape(units[c]) + ')' if units.get(c) else ''}</th>"
                   for c in df.columns)
    rows = []
    for r in shown.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, r):
            if isinstance(v, (float, np.floating)) or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                       and c not in ("year", "rows", "years")):
                cells.append(f"<td class='n'>{num(v, scale=scale.get(c))}</td>")
            else:
                cells.append(f"<td>{html.escape('' if v is None or v is pd.NA else str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    out = f"<table class='tbl'>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if len(df) > max_rows:
        out += (f"<p class='more'>{max_rows} of {len(df):,} rows shown; " + csv_link(df, name) + "</p>")
    return out


def csv_link(df: pd.DataFrame, name: str) -> str:
    data = base64.b64encode(df.to_csv(index=False).encode()).decode()
    return (f"<a download='{html.escape(name)}.csv' href='data:text/csv;base64,{data}'>download the full table "
            f"({len(df):,} rows, CSV)</a>")


# ---------------------------------------------------------------------------------------
# the objective in words
# ---------------------------------------------------------------------------------------
def objective_terms(objective) -> dict[str, tuple[float, dict]]:
    from .lp.objective import parse_objective

    return parse_objective(objective, None, {})


def objective_unit(objective, system) -> str:
    """The instance's mass unit for mass objectives; otherwise 'objective units'. ``system``
    may be a System or its unit."""
    names = set(objective_terms(objective))
    unit = system if isinstance(system, str) else system.unit
    if names <= {"losses", "surplus", "primary"}:
        return unit
    inds = {n[len("indicator:"):] for n in names if n.startswith("indicator:")}
    if len(inds) == len(names) and not isinstance(system, str):  # declared indicators: their own unit
        from .indicators import declared

        units = {declared(system)[n]["unit"] for n in inds if n in declared(system)}
        if len(units) == 1:
            return units.pop()
    return "objective units"


def indicator_unit(name: str, unit: str, objective=None) -> str:
    """The unit of an indicator of :func:`indicators`: a mass (cumulative) for flows, none for
    the audit ratio, the objective's own unit for the objective."""
    if name == "max_relative_imbalance":
        return "ratio"
    if name.startswith("cost/"):
        return "cost units"
    if name.startswith(("energy/", "co2/")):
        return "instance units"
    if name == "objective":
        return "" if objective is None else objective_unit(objective, unit)
    return unit


def counted_loss_types(objective) -> list[str]:
    """Loss types the objective counts (losses: its loss_types; surplus: surplus)."""
    from .terms import DEFAULT_LOSS_TYPES

    out = []
    for name, (_, opts) in objective_terms(objective).items():
        if name == "losses":
            out += list(opts.get("loss_types") or DEFAULT_LOSS_TYPES)
        elif name == "surplus":
            out.append("surplus")
    return list(dict.fromkeys(out))


def objective_words(objective, system) -> str:
    """``minimise cumulative losses (dissipation, process, dilution) of total mass, 2020–2075``."""
    parts = []
    terms = objective_terms(objective)
    for name, (w, opts) in terms.items():
        what = OBJECTIVE_WORDS.get(name, name)
        if name.startswith("indicator:"):  # a declared indicator: its own description
            from .indicators import declared

            desc = declared(system).get(name[len("indicator:"):], {}).get("description", "")
            what = f"{name[len('indicator:'):]}" + (f" ({desc})" if desc else "")
        if name == "losses":
            what += f" to {', '.join(counted_loss_types({name: {'weight': w, **opts}}))}"
        els = opts.get("elements")
        what += (" of " + ", ".join(f"{k}{'' if v == 1 else f' × {v:g}'}" for k, v in els.items())
                 if els else " of total mass" if name in ("losses", "surplus", "primary") else "")
        first, last = int(system.years[0]), int(system.years[-1])
        if opts.get("years") is not None:
            yrs = opts["years"] if isinstance(opts["years"], (list, tuple)) else [opts["years"]] * 2
            first, last = int(yrs[0]), int(yrs[-1])
        if opts.get("horizon") is not None:
            last = int(opts["horizon"])
        span = f"{first}–{last}"
        parts.append(f"{'' if len(terms) == 1 else f'{w:g} × '}{what}, {span}")
    return "minimise the cumulative " + " + ".join(parts)


# ---------------------------------------------------------------------------------------
# what the optimiser chose
# ---------------------------------------------------------------------------------------
def decision_table(opt, base=None) -> pd.DataFrame:
    """One row per decision (a split member's route, a blend allocation, a free source's
    supply): flow-weighted mean share and cumulative flow at the optimum and in the baseline,
    the bounds the optimiser was given, and in how many years the share sits at a bound.
    Sorted by the size of the change."""
    s = opt.system
    d = opt.decisions
    bounds = route_bounds(s)
    b = base.decisions if base is not None and base.decisions is not None else None
    recs = []
    for (node, dec, kind), g in d.groupby(["node", "decision", "kind"], sort=False):
        flow = float(g.value.sum())
        inp = float(g.input.sum()) if kind in ("route", "allocation") else float("nan")
        rec = {"decision": f"{node}: {dec}", "kind": kind, "optimum share": flow / inp if inp > 0 else np.nan,
               "baseline share": np.nan, "bounds": "", "years at a bound": "", "optimum": flow, "baseline": np.nan}
        if kind == "supply" and base is not None:
            rec["baseline"] = _supplied(base, node)
        elif b is not None:
            gb = b[(b.node == node) & (b.decision == dec) & (b.kind == kind)]
            if len(gb):
                rec["baseline"] = float(gb.value.sum())
                ib = float(gb.input.sum())
                rec["baseline share"] = rec["baseline"] / ib if ib > 0 and kind != "supply" else np.nan
        if kind == "route" and (node, dec) in bounds:
            lo, hi = bounds[(node, dec)]
            rec["bounds"] = _span(lo, hi)
            share = g.share.to_numpy()
            live = g.input.to_numpy() > 1e-9 * max(1.0, float(g.input.max()))
            at = live & ((np.abs(share - hi[: len(share)]) < 1e-6) | (np.abs(share - lo[: len(share)]) < 1e-6))
            fixed = np.all(np.abs(hi - lo) < 1e-12)
            rec["years at a bound"] = "fixed" if fixed else f"{int(at.sum())} of {int(live.sum())}"
        recs.append(rec)
    t = pd.DataFrame.from_records(recs)
    if t.empty:
        return t
    t["change"] = t["optimum"] - t["baseline"]
    order = t["change"].abs().fillna(t["optimum"].abs()).sort_values(ascending=False).index
    return t.loc[order].reset_index(drop=True)


def route_bounds(system) -> dict[tuple[str, str], tuple]:
    """``(node, route) -> (lo, hi)``: the share bounds of each decision the decisions table calls
    a ``route`` (:func:`circopt.flowrules.table_kind`), by its ``node`` and ``decision`` there."""
    return {(system.nodes[e.source].name, e.label): (e.lo, e.hi)
            for e, kind in zip(system.edges, table_kinds(system)) if kind == "route"}


def _supplied(res, node: str) -> float:
    s = res.system
    i = next((k for k, n in enumerate(s.nodes) if n.name == node), None)
    return float(res.flows_array[:, s.out_edges(i), :].sum()) if i is not None else float("nan")


def _span(lo, hi) -> str:
    def rng(a):
        a = np.asarray(a, float)
        return num(a.min()) if np.ptp(a) < 1e-12 else f"{num(a.min())}–{num(a.max())}"

    return f"[{rng(lo)}, {rng(hi)}]"


# ---------------------------------------------------------------------------------------
# what stops each decision
# ---------------------------------------------------------------------------------------
def what_binds(opt, objective=None) -> pd.DataFrame:
    """Binding limits (not the network's physics) of an optimum, from :func:`circopt.binding`,
    grouped by the instance key that made them: category (share bound, capacity, market,
    composition window, budget, ...), the lever that owns them, where, the years they bind, and
    their worth: the objective's change if the limit moved one step in every year (a share by
    0.01, a mass fraction by 0.001, a mass by one unit). A share fixed by the instance (lower
    bound = upper bound) is not a decision: its category says so."""
    from .bounds import binding

    cols = ["limit", "category", "lever", "members", "binding years", "worth", "per"]
    t = binding(opt)
    t = t[t.binding_rows > 0] if len(t) else t
    if t.empty:
        return pd.DataFrame(columns=cols)
    fixed = _fixed_routes(opt.system)
    key = t.origin.fillna(t.family).replace("", np.nan).fillna(t.family)
    recs = []
    for origin, g in t.groupby(key, sort=False):
        subj = [f.split("[", 1)[1][:-1] if "[" in f else "" for f in g.family]
        is_fixed = g.kind.isin(["share_min", "share_max"]).all() and all(x in fixed for x in subj)
        levers = sorted({str(v) for v in g.lever.dropna()})
        recs.append({"limit": _limit_words(str(origin)), "category": "fixed share" if is_fixed else g.group.iloc[0],
                     "lever": ", ".join(levers) or "—", "members": int(g.node.nunique()),
                     "binding years": f"{int(g.first_binding.min())}–{int(g.last_binding.max())}",
                     "worth": float(g.objective_change.sum()), "per": str(g.per.iloc[0])})
    out = pd.DataFrame.from_records(recs, columns=cols)
    return out.reindex(out.worth.abs().sort_values(ascending=False).index).reset_index(drop=True)


def _fixed_routes(system) -> set[str]:
    """``node.route`` of every split route whose share bounds are equal in every year."""
    return {f"{node}.{route}" for (node, route), (lo, hi) in route_bounds(system).items()
            if lo is not None and np.all(np.abs(np.asarray(hi) - np.asarray(lo)) < 1e-12)}


def _limit_words(origin: str) -> str:
    """``nodes.engine_eol.shares.reuse (max share 0.1401)`` -> ``engine_eol: shares.reuse (max share 0.1401)``;
    a user constraint ``FILE: constraints[0] {name: cap, type: capacity, node: n, route: r, ...}`` ->
    ``constraint cap (capacity of n.r)``."""
    m = re.search(r"constraints\[(\d+)\]\s*\{(.*)\}", origin)
    if m:
        fields = dict(re.findall(r"(\w+): ([^,{}\[\]]+)", m.group(2)))
        label = fields.get("name", f"constraints[{m.group(1)}]").strip()
        subject = ".".join(fields[k].strip() for k in ("node", "route") if k in fields) or fields.get("source", "")
        kind = fields.get("type", "").strip()
        return f"constraint {label} ({kind}{' of ' + subject if subject else ''})"
    if origin.startswith("nodes."):
        head, _, rest = origin[len("nodes."):].partition(".")
        return f"{head}: {rest}" if rest else head
    return origin
