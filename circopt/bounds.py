"""What each bound of an optimum is worth: the LP's duals aggregated by row family and by lever.

A dual is the change of the objective per unit of a row's bound (``Result.duals``, in the
objective's units; HiGHS's sign: raising a binding upper bound lowers a minimised objective,
so its dual is <= 0). Rows of one family differ only by their year (``share_max[eol.reuse,2025]``,
``share_max[eol.reuse,2026]`` ...); a family is reported once, its per-year duals turned into
the objective change when the family's bound moves by one *step* in every year:

=====================================  =========================================  ==============
row kinds                              the bound, one step                        scale per year
=====================================  =========================================  ==============
share_min / share_max                  a route's share of its split's input, +0.01  split input
window_min / window_max                an element's mass fraction in an output, +0.001  output mass
recycled_content, allocation share     a share of a blend output, +0.01            output mass
capacity*, demand, supply_max, flow,   the bound itself, +1 (instance unit, or the
forbid, budget, epsilon, indicator,    term's / indicator's unit)                  1
allocation (absolute)
=====================================  =========================================  ==============

(the row of a share bound reads ``route - share * input >= 0``; moving the share by d moves
its right-hand side by ``d * input``, hence the scale). Mass balances (``balance``,
``allocation``) are structure, not bounds, and are left out.

A row *binds* when its activity is at a finite bound within the tolerance of
:func:`circopt.model` (``Result.duals.binding``). A lever (the instance's ``levers:``) owns the
rows on the routes, outputs or sources its constraints name; a lever none of whose rows binds
sits strictly inside its bounds: moving its bounds a little changes nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["binding", "binding_levers", "format_binding"]

#: row kind -> (group, step of the bound, scale) ; scale: "input" (split input), "output" (blend output mass)
KINDS: dict[str, tuple[str, float, str | None]] = {
    "share_min": ("share bound", 0.01, "input"),
    "share_max": ("share bound", 0.01, "input"),
    "forbid": ("share bound", 1.0, None),
    "capacity": ("capacity", 1.0, None),
    "capacity_max": ("capacity", 1.0, None),
    "capacity_growth": ("capacity", 1.0, None),
    "capacity_initial": ("capacity", 1.0, None),
    "demand": ("demand/market", 1.0, None),
    "window_min": ("composition window", 0.001, "output"),
    "window_max": ("composition window", 0.001, "output"),
    "recycled_content": ("composition window", 0.01, "output"),
    "supply_max": ("supply", 1.0, None),
    "budget": ("budget", 1.0, None),
    "flow_min": ("user constraint", 1.0, None),
    "flow_max": ("user constraint", 1.0, None),
    "indicator_min": ("user constraint", 1.0, None),
    "indicator_max": ("user constraint", 1.0, None),
    "allocation_min": ("user constraint", 1.0, None),
    "allocation_max": ("user constraint", 1.0, None),
    "epsilon": ("epsilon", 1.0, None),
    "user": ("user constraint", 1.0, None),
}
STRUCTURAL = ("balance", "allocation")
_LEVER_IN_ORIGIN = re.compile(r"lever ([^\s(]+) \(")
COLUMNS = ["family", "kind", "group", "node", "element", "lever", "rows", "binding_rows", "priced_rows", "first_binding",
           "last_binding", "objective_change", "step", "per", "max_abs_dual", "origin"]


def binding(result, tol: float = 1e-12) -> pd.DataFrame:
    """One line per bound family of an optimum: how many of its rows bind (``binding_rows``), how
    many have a nonzero dual (``priced_rows``: moving the bound in those years changes the
    objective) and what moving its bound by one step in every year changes the objective
    (``objective_change``), sorted by the size of that change. ``lever`` names the instance's lever that owns the rows (if any).

    ``tol``: a dual below ``tol`` x the largest |dual| counts as zero."""
    d = result.duals
    if d is None or not len(d):
        return pd.DataFrame(columns=COLUMNS)
    d = d[~d.kind.isin(STRUCTURAL)].copy()
    if not len(d):
        return pd.DataFrame(columns=COLUMNS)
    d["family"] = [_family(c) for c in d.constraint]
    scale = _scales(result, d)
    info = [KINDS.get(k, ("user constraint", 1.0, None)) for k in d.kind]
    d["group"] = [i[0] for i in info]
    d["step"] = np.where(d.kind.eq("allocation_min") | d.kind.eq("allocation_max"),
                         [_alloc_step(o) for o in d.origin], [i[1] for i in info])
    d["change"] = d.dual.to_numpy() * scale * d.step.to_numpy()
    # a share of nothing (a split without input, an output not made) binds trivially (0 <= 0)
    scaled = np.array([KINDS.get(k, ("", 1.0, None))[2] is not None for k in d.kind])
    d.loc[scaled & (scale == 0.0), "binding"] = False
    big = float(d.dual.abs().max()) if len(d) else 0.0
    d.loc[d.dual.abs() <= tol * max(big, 1e-300), "change"] = 0.0
    owners = _lever_owner(result)
    d["lever"] = [_row_lever(o, f, owners) for o, f in zip(d.origin, d.family)]
    recs = []
    for fam, g in d.groupby("family", sort=False):
        yb = g.year[g.binding].dropna()
        kind = g.kind.iloc[0]
        step = float(g.step.iloc[0])
        recs.append({
            "family": fam, "kind": kind, "group": g.group.iloc[0], "node": g.node.iloc[0],
            "element": g.element.iloc[0], "lever": g.lever.iloc[0], "rows": len(g),
            "binding_rows": int(g.binding.sum()), "priced_rows": int((g.change != 0).sum()),
            "first_binding": int(yb.min()) if len(yb) else None, "last_binding": int(yb.max()) if len(yb) else None,
            "objective_change": float(g.change.sum()), "step": step, "per": _per(kind, step, result.system.unit),
            "max_abs_dual": float(g.dual.abs().max()), "origin": g.origin.iloc[0]})
    out = pd.DataFrame.from_records(recs, columns=COLUMNS)
    out["first_binding"] = out.first_binding.astype("Int64")
    out["last_binding"] = out.last_binding.astype("Int64")
    order = np.lexsort((-out.binding_rows.to_numpy(), -out.objective_change.abs().to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def binding_levers(result, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One line per declared lever: its bound families, how many of their rows bind, the summed
    ``objective_change`` of its families (each per its own step) and ``status``: ``at bound``
    (a row binds with a nonzero dual), ``at bound, zero dual`` (binds, but moving it changes
    nothing at first order) or ``inside`` (no row binds: the lever sits strictly inside its bounds)."""
    table = binding(result) if table is None else table
    names = list((getattr(result.system, "levers", None) or {}))
    for lv in table.lever.dropna().unique():
        if lv not in names:
            names.append(lv)
    recs = []
    for name in names:
        g = table[table.lever == name]
        nb = int(g.binding_rows.sum()) if len(g) else 0
        change = float(g.objective_change.sum()) if len(g) else 0.0
        live = bool(len(g) and (g[g.binding_rows > 0].objective_change != 0).any())
        status = "at bound" if live else ("at bound, zero dual" if nb else "inside")
        recs.append({"lever": name, "families": "; ".join(g.family), "rows": int(g.rows.sum()) if len(g) else 0,
                     "binding_rows": nb, "objective_change": change, "status": status})
    return pd.DataFrame.from_records(recs, columns=["lever", "families", "rows", "binding_rows",
                                                    "objective_change", "status"])


def format_binding(table: pd.DataFrame, top: int = 10) -> str:
    """The ``top`` binding families as text lines (for the CLI)."""
    t = table[table.binding_rows > 0].head(top)
    if not len(t):
        return "no bound binds (every decision sits strictly inside its bounds)"
    lines = [f"top {len(t)} binding bound(s) of {int((table.binding_rows > 0).sum())}: objective change per step"]
    for r in t.itertuples():
        if pd.isna(r.first_binding):
            yrs = "all years"
        else:
            a, b = int(r.first_binding), int(r.last_binding)
            yrs = f"{a}-{b}" if a != b else f"{a}"
        lever = f" [lever {r.lever}]" if isinstance(r.lever, str) else ""
        lines.append(f"  {r.objective_change:+.6g} {r.per}: {r.family}{lever} (binds {r.binding_rows}/{r.rows} rows, "
                     f"{yrs}{_priced(r)})")
    return "\n".join(lines)


# ---- helpers ------------------------------------------------------------------------------------
def _priced(r) -> str:
    n = getattr(r, "priced_rows", None)  # (absent from a binding.csv of an earlier version)
    return "" if n is None or pd.isna(n) else f"; {int(n)} with a nonzero dual"


def _family(name: str) -> str:
    """``share_max[eol.reuse,2025]`` -> ``share_max[eol.reuse]`` (the year dropped)."""
    m = re.match(r"^(.*)\[(.*),(\d{4})\]$", name)
    if m:
        return f"{m.group(1)}[{m.group(2)}]"
    return re.sub(r"\[(\d{4})\]$", "", name)


def _subject(family: str) -> str:
    family = re.sub(r"^constraints\[\d+\]\.", "", family)
    i = family.find("[")
    return family[i + 1:-1] if i >= 0 and family.endswith("]") else ""


def _per(kind: str, step: float, unit: str) -> str:
    scale = KINDS.get(kind, ("", 1.0, None))[2]
    if scale == "input":
        what = "share"
    elif scale == "output":
        what = "mass fraction" if kind.startswith("window") else "share of the output"
    elif kind in ("epsilon", "budget", "indicator_min", "indicator_max"):
        what = "of the bound"
    else:
        what = unit
    return f"per +{step:g} {what} (every year)"


def _alloc_step(origin: str) -> float:
    return 0.01 if "share: True" in str(origin) else 1.0


def _scales(result, d: pd.DataFrame) -> np.ndarray:
    """Per row: the split's input (share rows), the output's mass (window / share-of-output rows), else 1."""
    dec = result.decisions
    scale = np.ones(len(d))
    if dec is None or not len(dec):
        return scale
    routes = dec[dec.kind == "route"].drop_duplicates(["node", "year"]).set_index(["node", "year"])["input"]
    alloc = dec[dec.kind == "allocation"].copy()
    alloc["output"] = alloc.decision.str.split(" -> ").str[-1]
    out_mass = alloc.groupby(["node", "output", "year"])["value"].sum()
    kinds = d.kind.to_numpy()
    for q, (kind, fam, node, year, origin) in enumerate(zip(kinds, d.family, d.node, d.year, d.origin)):
        sc = KINDS.get(kind, ("", 1.0, None))[2]
        if kind in ("allocation_min", "allocation_max") and "share: True" in str(origin):
            sc = "output"
        if sc is None or pd.isna(year):
            continue
        if sc == "input":
            scale[q] = float(routes.get((node, int(year)), 0.0))
        else:
            subj = _subject(fam).split(",")[0]  # blend.output (window rows add the element)
            output = subj[len(node) + 1:] if node and subj.startswith(f"{node}.") else subj.rsplit(".", 1)[-1]
            if kind.startswith("allocation"):
                output = subj.rsplit("->", 1)[-1]
            scale[q] = float(out_mass.get((node, output, int(year)), 0.0))
    return scale


def _lever_owner(result) -> list[tuple[str, str, str | None, dict]]:
    """(lever, node family or name, route/output, index filter) of every constraint of every lever."""
    out = []
    for name, spec in (getattr(result.system, "levers", None) or {}).items():
        if not isinstance(spec, dict):
            continue
        for con in [*(spec.get("baseline") or []), *(spec.get("ambitious") or [])]:
            if isinstance(con, dict) and con.get("node"):
                out.append((name, str(con["node"]), con.get("route") or con.get("output"),
                            dict(con.get("index") or {})))
    return out


def _row_lever(origin, family: str, owners) -> str | None:
    m = _LEVER_IN_ORIGIN.search(str(origin))
    if m:
        return m.group(1)
    subj = _subject(family).split(",")[0]
    if "." not in subj:
        return None
    node, _, what = subj.rpartition(".")
    fam = node.split("[")[0]
    idx = node[len(fam) + 1:-1].split(",") if "[" in node else []
    for lever, n, route, index in owners:
        if n not in (node, fam) or (route is not None and route != what):
            continue
        if all(str(v) in idx for v in index.values()):
            return lever
    return None
