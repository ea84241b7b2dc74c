"""What the optimiser says about the alloy-level global_aluminium instance (README tables, notebook).

    python instances/global_aluminium/alloy_analysis.py            # every table (~10 min, 2 cores)
    python instances/global_aluminium/alloy_analysis.py remedies   # one part: seed | remedies | lexicographic | sse | why | tables

Writes results/*.csv beside this file and prints the README's markdown tables.

Acceptance: ``open`` lets the optimiser put any scrap class into any alloy (within the alloy's registered
limits: dilution with primary); ``practice`` keeps shredded classes (remelted mixed, demagged, twitch,
the XRF cast fraction) out of the wrought alloys, as wrought cast houses do (they take clean classes,
XRF-sorted wrought scrap and SSE metal): the allocation constraints of ``scenarios/practice.yaml``
(``circopt optimise instances/global_aluminium --scenario practice ...`` runs the same model).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import circopt  # noqa: E402
from circopt import terms  # noqa: E402
from circopt.lexicographic import hold_bound  # noqa: E402
from circopt.model import build_model, solve  # noqa: E402

OUT = HERE / "results"
PATHS = {"STEPS": "baseline", "APS": "baseline_pledges", "NZE": "baseline_netzero"}
SHREDDED = ("remelt_mixed", "remelt_demag", "heavy_media", "xrf_cast")
ROUTES = ("mixed", "demag", "twitch", "xrf", "sse")
CARS = ("ICEV", "HEV", "PHEV", "BEV", "FCEV")
LCVS = ("LCV_ICE", "LCV_EV")
SECONDARY_CAST = ("A380", "ADC12", "AlSi9Cu3", "C319")
NO_XRF = {"type": "share", "node": "sort", "route": "xrf", "max": 0.0}
NO_SSE = {"type": "forbid", "node": "sort", "route": "sse"}
SLACK = 1e-6


def load(path: str = "STEPS"):
    return circopt.load(HERE, scenario=PATHS[path])


def practice_rules() -> list[dict]:
    """The practice acceptance as constraints (scenarios/practice.yaml: shredded classes never go to
    a wrought alloy)."""
    import yaml

    cons = yaml.safe_load((HERE / "scenarios" / "practice.yaml").read_text())["constraints"]
    return [c for c in cons if c["type"] == "allocation"]


def run(system, objective, acceptance: str = "practice", constraints=None, epsilon=None):
    """Optimise with the acceptance rule (``practice`` adds :func:`practice_rules`)."""
    cons = [*(constraints or []), *(practice_rules() if acceptance == "practice" else [])]
    om = build_model(system, objective, constraints=cons or None, epsilon=epsilon)
    res = solve(om)
    assert res.max_relative_imbalance <= 1e-9, res.max_relative_imbalance
    return res


def lexicographic(system, second: str, acceptance: str = "practice", constraints=None, s_min: float | None = None):
    """(minimum surplus, second stage): the second objective with the minimum surplus held (``s_min``
    when already known for this system, acceptance and constraints)."""
    if s_min is None:
        s_min = run(system, "surplus", acceptance, constraints).objective
    held = {"surplus": hold_bound(s_min, SLACK)}
    return s_min, run(system, second, acceptance, constraints, epsilon=held)


# ---------------------------------------------------------------- indicators
def _edges(s, src, tgt=None) -> list[int]:
    def ok(node, want):
        return want is None or node.family in want or node.name in want
    src = (src,) if isinstance(src, str) else src
    tgt = (tgt,) if isinstance(tgt, str) else tgt
    return [e.id for e in s.edges if ok(s.nodes[e.source], src) and ok(s.nodes[e.target], tgt)]


def _sum(res, edges, channel: str = "total") -> np.ndarray:
    F = res.flows_array  # (T, E, C)
    if not edges:
        return np.zeros(res.system.T)
    if channel == "total":
        return F[:, edges, :].sum(axis=(1, 2))
    return F[:, edges, res.system.channels.index(channel)].sum(axis=1)


def _product(s, e) -> str | None:
    return s.nodes[s.edges[e].source].index.get("product")


def yearly(res) -> pd.DataFrame:
    """Per year (Mt/yr unless stated): surplus, deoxidation, sort routes, primary, additions,
    energy (TWh), CO2 (Mt), cost (bn USD), automotive balance."""
    s = res.system
    out = {"surplus": _sum(res, _edges(s, "casthouse", "scrap_surplus")),
           "deox": _sum(res, _edges(s, "casthouse", "steel_deox")),
           "primary": _sum(res, _edges(s, "primary", "casthouse"))}
    targets = dict(zip(ROUTES, ("remelt_mixed", "remelt_demag", "heavy_media", "xrf_sort", "sse_cell")))
    for r, tgt in targets.items():
        out[r] = _sum(res, _edges(s, "sort", tgt))
    out["shredded"] = sum(out[r] for r in ROUTES)
    for el in ("Si", "Fe", "Cu", "Mg", "Mn", "Zn"):
        out[f"add_{el}"] = _sum(res, _edges(s, f"addition[{el}]", "casthouse"))
    F = res.flows_array
    for name in ("energy", "co2", "cost"):
        w, _ = terms.flow_weights(s, name)
        out[name] = (w * F).sum(axis=(1, 2))
    out.update(automotive(res))
    return pd.DataFrame(out, index=s.years.astype(int)).rename_axis("year")


def automotive(res) -> dict:
    """The seed's closed automotive balance (BILLY2023's definition): end-of-life car scrap that only
    secondary castings take (shredded car classes reaching the cast house: remelted, demagged, twitch,
    XRF cast fraction) minus the secondary-casting alloy new cars need; with and without LCVs."""
    s = res.system
    bl = s.blends[0]
    demand = {o.name: o.demand for o in bl.outputs if o.demand is not None}
    rec = pd.read_csv(HERE / "data" / "recipes.csv").set_index("product")
    fab = pd.read_csv(HERE / "data" / "fabrication.csv").set_index("alloy")["delivered"]
    prod = {n.index["product"]: n.series for n in s.nodes if n.family == "products"}
    out = {}
    for label, group in (("auto", CARS), ("auto_lcv", CARS + LCVS)):
        edges = [e for e in _edges(s, SHREDDED, "casthouse") if _product(s, e) in group]
        scrap = _sum(res, edges)
        need = sum(prod[p] * rec.at[p, a] / fab[a] for p in group for a in SECONDARY_CAST)
        out[f"{label}_scrap"] = scrap
        out[f"{label}_need"] = need
        out[f"{label}_surplus"] = np.maximum(scrap - need, 0.0)
    del demand
    return out


def binding_top(res, n: int = 8) -> pd.DataFrame:
    b = circopt.binding(res)
    b = b[b.objective_change.abs() > 0]
    return b.head(n)


# ---------------------------------------------------------------- parts
def remedies() -> pd.DataFrame:
    """Minimum surplus per EV path, acceptance and remedy set (2040 and cumulative 2020-2050)."""
    rows = []
    cases = [("open", "none", [NO_XRF, NO_SSE]), ("practice", "none", [NO_XRF, NO_SSE]),
             ("practice", "sorting", [NO_SSE]), ("practice", "sse", [NO_XRF]), ("practice", "both", [])]
    for path in PATHS:
        s = load(path)
        for acc, name, cons in cases:
            r = run(s, "surplus", acc, cons)
            y = yearly(r)
            rows.append({"path": path, "acceptance": acc, "remedies": name, "surplus_2030": y.surplus[2030],
                         "surplus_2040": y.surplus[2040], "surplus_2050": y.surplus[2050],
                         "surplus_cum": y.surplus.sum(), "deox_2040": y.deox[2040], "xrf_2040": y.xrf[2040],
                         "sse_2040": y.sse[2040]})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def lexicographic_runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Surplus, then cost / energy / primary, per EV path (practice acceptance, all remedies)."""
    rows, binds = [], []
    for path in PATHS:
        s = load(path)
        sim = circopt.simulate(s)
        y = yearly(sim)
        y["path"], y["run"] = path, "baseline (simulation)"
        rows.append(y.reset_index())
        s_min = None
        for second in ("cost", "energy", "primary"):
            s_min, r = lexicographic(s, second, s_min=s_min)
            y = yearly(r)
            y["path"], y["run"] = path, f"surplus, then {second}"
            rows.append(y.reset_index())
            b = binding_top(r, 12)
            b.insert(0, "path", path)
            b.insert(1, "run", f"surplus, then {second}")
            binds.append(b)
            print(path, second, f"S_min={s_min:.4g}", flush=True)
    return pd.concat(rows, ignore_index=True), pd.concat(binds, ignore_index=True)


def sse_breakeven(path: str = "STEPS") -> pd.DataFrame:
    """SSE feed chosen when its cost (USD/kg feed) or energy (kWh/kg feed) falls (surplus, then cost /
    energy; practice acceptance)."""
    rows = []
    s_min = run(load(path), "surplus").objective  # SSE's prices do not change what surplus is possible
    for what, second, values in (("cost", "cost", [0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]),
                                 ("energy", "energy", [4.7, 3.5, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0])):
        for v in values:
            s = load(path)
            for n in s.nodes:
                if n.family == "sse_cell":
                    getattr(n, what)[:] = v
            _, r = lexicographic(s, second, s_min=s_min)
            y = yearly(r)
            rows.append({"parameter": f"SSE {what}", "value": v, "objective": second,
                         "sse_2040": y.sse[2040], "sse_cum": y.sse.sum(), "xrf_2040": y.xrf[2040],
                         "primary_cum": y.primary.sum(), f"{second}_cum": y[second].sum()})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def why(path: str = "STEPS") -> pd.DataFrame:
    """What binds when the surplus remains: the surplus optimum with practice acceptance and neither
    sorting nor SSE, its binding bound families and what one step of each is worth (Mt of surplus)."""
    s = load(path)
    r = run(s, "surplus", "practice", [NO_XRF, NO_SSE])
    b = circopt.binding(r)
    added = tuple(f"constraints[{len(s.constraints) + k}]" for k in range(2))  # NO_XRF, NO_SSE themselves
    b = b[~b.family.str.contains(r"\.allocation_max\[", regex=True)]  # the practice rule's own rows
    b = b[(b.objective_change.abs() > 0) & ~b.family.str.startswith(added)].head(15)
    b.insert(0, "path", path)
    return b


def seed_table() -> pd.DataFrame:
    """The seed's automotive surplus in 2040 per EV path (simulated practice) with its brackets."""
    rows = []
    for path in PATHS:
        for scen in ("", "sorting_"):
            name = PATHS[path] if not scen else (f"sorting_{PATHS[path].split('_')[1]}" if "_" in PATHS[path]
                                                 else "sorting")
            y = yearly(circopt.simulate(HERE, scenario=name))
            rows.append({"path": path, "scenario": name, "auto_surplus_2040": y.auto_surplus[2040],
                         "auto_lcv_surplus_2040": y.auto_lcv_surplus[2040], "auto_scrap_2040": y.auto_scrap[2040],
                         "auto_need_2040": y.auto_need[2040], "system_surplus_2040": y.surplus[2040],
                         "system_surplus_2050": y.surplus[2050]})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _md(df: pd.DataFrame, digits: int = 2) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)


def tables() -> None:
    """Print the README's tables from results/*.csv."""
    seed = pd.read_csv(OUT / "seed_surplus.csv")
    # bracket: end-of-life car scrap scales with collection (0.90-0.95 vs 0.935) and shredding recovery
    # (0.80-0.95 vs 0.85); the need does not
    seed["low"] = seed.auto_scrap_2040 * (0.90 / 0.935) * (0.80 / 0.85) - seed.auto_need_2040
    seed["high"] = seed.auto_scrap_2040 * (0.95 / 0.935) * (0.95 / 0.85) - seed.auto_need_2040
    print(_md(seed[["path", "scenario", "auto_scrap_2040", "auto_need_2040", "auto_surplus_2040", "low", "high",
                    "auto_lcv_surplus_2040", "system_surplus_2040", "system_surplus_2050"]]))
    rem = pd.read_csv(OUT / "remedies.csv")
    print()
    print(_md(rem[["path", "acceptance", "remedies", "surplus_2030", "surplus_2040", "surplus_2050", "surplus_cum",
                   "xrf_2040", "sse_2040", "deox_2040"]]))
    lex = pd.read_csv(OUT / "lexicographic.csv")
    cols = ["path", "run", "surplus", "mixed", "demag", "twitch", "xrf", "sse", "deox", "primary", "energy", "cost",
            "co2"]
    print()
    print(_md(lex[lex.year == 2040][cols]))
    cum = lex.groupby(["path", "run"], sort=False)[["surplus", "xrf", "sse", "primary", "energy", "cost", "co2"]].sum()
    print()
    print(_md(cum.reset_index(), 0))
    b = pd.read_csv(OUT / "binding.csv")
    print()
    print(_md(b[["path", "run", "family", "binding_rows", "first_binding", "last_binding", "objective_change", "per"]], 4))
    if (OUT / "binding_no_remedies.csv").exists():
        w = pd.read_csv(OUT / "binding_no_remedies.csv")
        print()
        print(_md(w[["family", "binding_rows", "first_binding", "last_binding", "objective_change", "per"]], 4))
    if (OUT / "sse_breakeven.csv").exists():
        print()
        print(_md(pd.read_csv(OUT / "sse_breakeven.csv"), 3))


def main(parts: list[str]) -> None:
    OUT.mkdir(exist_ok=True)
    if "seed" in parts:
        seed_table().to_csv(OUT / "seed_surplus.csv", index=False, float_format="%.6g")
    if "remedies" in parts:
        remedies().to_csv(OUT / "remedies.csv", index=False, float_format="%.6g")
    if "lexicographic" in parts:
        y, b = lexicographic_runs()
        y.to_csv(OUT / "lexicographic.csv", index=False, float_format="%.6g")
        b.to_csv(OUT / "binding.csv", index=False, float_format="%.6g")
    if "sse" in parts:
        sse_breakeven().to_csv(OUT / "sse_breakeven.csv", index=False, float_format="%.6g")
    if "why" in parts:
        why().to_csv(OUT / "binding_no_remedies.csv", index=False, float_format="%.6g")
    if "tables" in parts:
        tables()


if __name__ == "__main__":
    main(sys.argv[1:] or ["seed", "remedies", "lexicographic", "sse", "why"])
