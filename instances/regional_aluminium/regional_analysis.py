"""Every table of the regional_aluminium README (issue 15): 2020 validation, surplus per region and EV
path (simulated practice and the lexicographic optimum), scrap trade, sorting/SSE, binding limits.

    python instances/regional_aluminium/regional_analysis.py           # runs, writes results/*.csv (~10 min)
    python instances/regional_aluminium/regional_analysis.py tables    # prints them as markdown
    python instances/regional_aluminium/regional_analysis.py validation  # only the 2020 validation (~30 s)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prepare_regions import CARS, REGIONS

import circopt

OUT = HERE / "results"
SCEN = {"STEPS/SP": None, "APS/SUS": "pledges", "NZE/NZE": "netzero"}
NOTRADE = {None: "notrade", "pledges": "notrade_pledges", "netzero": "notrade_netzero"}
SECONDARY_CAST = "A380"
#: stage 1: scrap surplus plus transport loss (else shipping surplus scrap would "remove" 1 % of it);
#: then primary metal; then cost (no cross-hauling of identical scrap)
OBJECTIVE, THEN = "indicator:unmelted", ["primary", "cost"]


def _sum(res, src_fam: str, tgt_fam: str | None = None, where=None) -> np.ndarray:
    """Flow (Mt/yr, all channels) from one family to another, members filtered by ``where(src, tgt)``."""
    s, F = res.system, res.flows_array
    ids = [e.id for e in s.edges if s.nodes[e.source].family == src_fam
           and (tgt_fam is None or s.nodes[e.target].family == tgt_fam)
           and (where is None or where(s.nodes[e.source], s.nodes[e.target]))]
    return F[:, ids, :].sum(axis=(1, 2)) if ids else np.zeros(s.T)


def _reg(r):
    return lambda a, b: a.index.get("region") == r


def surplus_by_region(res) -> dict:
    return {r: _sum(res, "casthouse", "scrap_surplus", _reg(r)) for r in REGIONS}


def automotive(res) -> dict:
    """The seed's closed automotive balance by region (BILLY2023's definition): end-of-life car scrap
    offered for melting where it arises (after collection and shredding) minus the secondary-casting
    alloy (A380 family) the region's new cars need."""
    s = res.system
    rec = pd.read_csv(HERE / "data" / "recipes.csv").set_index("product")
    fab = pd.read_csv(HERE / "data" / "fabrication.csv").set_index("alloy")["delivered"]
    out = {}
    for r in REGIONS:
        scrap = _sum(res, "shred", "sort", lambda a, b, r=r: a.index["region"] == r and a.index["product"] in CARS)
        need = sum(n.series * rec.at[n.index["product"], SECONDARY_CAST] / fab[SECONDARY_CAST]
                   for n in s.nodes if n.family == "products" and n.index["region"] == r and n.index["product"] in CARS)
        out[r] = (scrap, need, np.maximum(scrap - need, 0.0))
    return out


# ---------------------------------------------------------------- 2020 validation
def _stock_from_history(year: int) -> pd.Series:
    """In-use stock by region at the end of ``year`` from the inflow history and the instance's
    lifetimes (folded normal ~ normal here; timing 'end': a cohort of year c leaves in year c + L)."""
    h = pd.read_csv(HERE / "data" / "history.csv")
    life = pd.read_csv(HERE / "data" / "regions_products.csv").set_index(["region", "product"])
    out = {}
    for r in REGIONS:
        tot = 0.0
        for p, g in h[(h.region == r) & (h.year <= year)].groupby("product"):
            m, sd = life.at[(r, p), "lifetime_mean"], max(life.at[(r, p), "lifetime_sd"], 1e-9)
            age = year - g.year.to_numpy()
            tot += float((g.value.to_numpy() * norm.sf(age + 0.5, m, sd) / norm.sf(0, m, sd)).sum())
        out[r] = tot
    return pd.Series(out)


def validation() -> pd.DataFrame:
    """2020 against independent published figures (none of them an input of the instance)."""
    res = circopt.simulate(circopt.load(HERE))
    t = 0
    prim = {r: _sum(res, "primary", where=_reg(r))[t] for r in REGIONS}
    post = sum(_sum(res, "shred", "sort", _reg(r))[t] for r in REGIONS)
    dem = pd.read_csv(HERE / "data" / "alloy_demand_steps.csv")
    fab = pd.read_csv(HERE / "data" / "fabrication.csv").set_index("alloy")
    d20 = dem[dem.year == 2020]
    new = sum(float(d20[a].sum()) * fab.at[a, "delivered"] * (1 - fab.at[a, "fab_yield"]) / fab.at[a, "fab_yield"]
              for a in fab.index)
    s2021 = res_stocks(res)
    st05, st10 = _stock_from_history(2005), _stock_from_history(2010)
    rows = [
        ("primary metal used, world", "Mt", sum(prim.values()), 65.3, "IAI_2020PROD",
         "production; stocks and LME inventory changes make up the rest"),
        ("primary metal used, China", "Mt", prim["CN"], 38.5, "ANTAIKE_2020", "primary consumption"),
        ("primary metal used, North America", "Mt", prim["NAM"], 3.98, "IAI_2020PROD",
         "production only: NA imports ~5 Mt of primary metal (not modelled as trade)"),
        ("primary metal used, Europe", "Mt", prim["EU"], 3.33 + 4.15 * 0.4, "IAI_2020PROD",
         "W. Europe 3.33 + non-Russian share of E&C Europe (estimate 0.4 of 4.15); Europe imports primary"),
        ("post-consumer scrap collected, world", "Mt", post, 20.0, "IAI_MFM2021", "2019 record; 2020 fell with demand"),
        ("new (fabrication) scrap, world", "Mt", new, 13.3, "IAI_MFM2021", "2019, derived (33.3 - 20)"),
        ("in-use stock, world, end 2021", "Mt", s2021, 1200.0, "IAI_STILLINUSE", "75 % of all metal produced"),
        ("in-use stock, China, 2005", "Mt", st05["CN"], 49.0, "WANG_GRAEDEL_2010", "bottom-up; a lower bound"),
        ("NA share of world in-use stock, 2010", "%", 100 * st10["NAM"] / st10.sum(), 28.0, "LIU_MULLER_2013",
         "US only (Canada adds ~2-3 points)"),
        ("JK share of world in-use stock, 2010", "%", 100 * st10["JK"] / st10.sum(), 7.0, "LIU_MULLER_2013",
         "Japan only (Korea adds ~2 points)"),
        ("China share of world in-use stock, 2010", "%", 100 * st10["CN"] / st10.sum(), 15.0, "LIU_MULLER_2013",
         "top-down model of the same study"),
    ]
    df = pd.DataFrame(rows, columns=["quantity", "unit", "model", "published", "source", "note"])
    df["difference_%"] = 100 * (df.model / df.published - 1)
    return df


def res_stocks(res, year: int = 2021) -> float:
    """World in-use stock (Mt, all channels) at the end of ``year``."""
    st = res.stocks
    return float(st[(st.year == year) & (st.element == "total") & st.node.str.startswith("use[")].value.sum())


def _binding(res, label: str) -> pd.DataFrame:
    """The bounds that bind at the optimum and their worth (``circopt explain``): the eight largest,
    the practice-acceptance rows summed into one line, China's import cap and the SSE growth."""
    b = circopt.binding(res).drop(columns=["origin"], errors="ignore")
    alloc = b[b.kind == "allocation_max"]
    rest = b[b.kind != "allocation_max"]
    keep = pd.concat([rest.head(8), rest[rest.family.str.contains("flow|capacity", regex=True)]]).drop_duplicates("family")
    if len(alloc):
        keep = pd.concat([keep, pd.DataFrame([{"family": f"practice acceptance: {len(alloc)} shredded-to-wrought "
                                               "allocations forbidden (each)", "kind": "allocation_max",
                                               "binding_rows": int(alloc.binding_rows.sum()),
                                               "first_binding": alloc.first_binding.min(),
                                               "last_binding": alloc.last_binding.max(),
                                               "objective_change": alloc.objective_change.min(),
                                               "per": alloc.per.iloc[0]}])])
    keep.insert(0, "path", label)
    return keep[["path", "family", "binding_rows", "first_binding", "last_binding", "objective_change", "per"]]


# ---------------------------------------------------------------- runs
def runs() -> None:
    OUT.mkdir(exist_ok=True)
    surplus, auto, trade, sortx, binding = [], [], [], [], []
    for label, scen in SCEN.items():
        sim = circopt.simulate(circopt.load(HERE, scenario=scen))
        system = circopt.load(HERE, scenario=scen)
        opt = circopt.optimise(system, OBJECTIVE, then=THEN)
        nt = circopt.optimise(circopt.load(HERE, scenario=NOTRADE[scen]), OBJECTIVE, then=THEN)
        assert max(sim.max_relative_imbalance, opt.max_relative_imbalance, nt.max_relative_imbalance) <= 1e-9
        for run, res in (("practice (simulated)", sim), ("optimum", opt), ("optimum, no trade", nt)):
            sr = surplus_by_region(res)
            sr["shipping loss (world)"] = sum(_sum(res, f"ship_{d}", "transport_loss") for d in REGIONS)
            for r in sr:
                surplus.append({"path": label, "run": run, "region": r, "2030": sr[r][10], "2040": sr[r][20],
                                "2050": sr[r][30], "2020-2050": sr[r].sum()})
        for r, (sc, need, sur) in automotive(sim).items():
            auto.append({"path": label, "region": r, "car_scrap_2040": sc[20], "A380_need_2040": need[20],
                         "auto_surplus_2040": sur[20]})
        for o in REGIONS:
            for d in REGIONS:
                if o != d:
                    f = _sum(opt, "market", f"ship_{d}", _reg(o))
                    if f.sum() > 1e-6:
                        trade.append({"path": label, "from": o, "to": d, "2020": f[0], "2030": f[10], "2040": f[20],
                                      "2050": f[30], "2020-2050": f.sum()})
        for r in REGIONS:
            for route, src, tgt in (("xrf", "sort", "xrf_sort"), ("sse", "sort", "sse_cell"),
                                    ("demag", "remelt", "melt_demag")):
                f = _sum(opt, src, tgt, _reg(r))
                yrs = np.flatnonzero(f > 1e-4)
                sortx.append({"path": label, "region": r, "route": route, "first_year": int(2020 + yrs[0]) if len(yrs) else None,
                              "2030": f[10], "2040": f[20], "2050": f[30], "2020-2050": f.sum()})
        binding.append(_binding(circopt.optimise(system, OBJECTIVE), label))  # worth in Mt of unmelted scrap
    pd.DataFrame(surplus).to_csv(OUT / "surplus.csv", index=False, float_format="%.4f")
    pd.DataFrame(auto).to_csv(OUT / "automotive_2040.csv", index=False, float_format="%.4f")
    pd.DataFrame(trade).to_csv(OUT / "trade.csv", index=False, float_format="%.4f")
    pd.DataFrame(sortx).to_csv(OUT / "sorting.csv", index=False, float_format="%.4f")
    pd.concat(binding).to_csv(OUT / "binding.csv", index=False, float_format="%.4f")


def _md(df: pd.DataFrame, digits: int = 2) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def tables() -> None:
    """The README tables (from results/*.csv)."""
    print("\n### validation\n")
    print(_md(pd.read_csv(OUT / "validation.csv")))
    s = pd.read_csv(OUT / "surplus.csv")
    for col, title in (("2020-2050", "cumulative 2020-2050, Mt"), ("2040", "2040, Mt/yr")):
        piv = s.pivot_table(index=["path", "run"], columns="region", values=col, sort=False)
        piv = piv[[*REGIONS, "shipping loss (world)"]]
        piv["world"] = piv.sum(axis=1)
        print(f"\n### surplus by region ({title})\n")
        print(_md(piv.reset_index(), 1 if col == "2020-2050" else 2))
    a = pd.read_csv(OUT / "automotive_2040.csv")
    piv = a.pivot_table(index="path", columns="region", values="auto_surplus_2040", sort=False)[REGIONS]
    piv["world (sum)"] = piv.sum(axis=1)
    print("\n### automotive surplus 2040 (seed's definition, simulated practice, Mt)\n")
    print(_md(piv.reset_index()))
    t = pd.read_csv(OUT / "trade.csv")
    t = t[t["2020-2050"] >= 0.5]
    print("\n### shipments at the optimum (>= 0.5 Mt over 2020-2050), Mt/yr and cumulative Mt\n")
    print(_md(t))
    x = pd.read_csv(OUT / "sorting.csv")
    piv = x.pivot_table(index=["path", "route"], columns="region", values="first_year", sort=False)[REGIONS]
    print("\n### first year of XRF sorting, SSE and demagging at the optimum\n")
    print(_md(piv.reset_index(), 0))
    piv = x.pivot_table(index=["path", "route"], columns="region", values="2040", sort=False)[REGIONS]
    print("\n### feed of XRF sorting, SSE and demagging in 2040 at the optimum (Mt/yr)\n")
    print(_md(piv.reset_index()))
    print("\n### binding limits of the first stage (unmelted scrap) and their worth (Mt over 2020-2050)\n")
    print(_md(pd.read_csv(OUT / "binding.csv")))


def main(args: list[str]) -> None:
    if "tables" in args:
        tables()
        return
    OUT.mkdir(exist_ok=True)
    validation().to_csv(OUT / "validation.csv", index=False, float_format="%.2f")
    if "validation" not in args:
        runs()
    tables()


if __name__ == "__main__":
    main(sys.argv[1:])
