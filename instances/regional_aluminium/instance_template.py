"""Write instance.yaml and scenarios/*.yaml of regional_aluminium (called by prepare_regions.py).

The network is one set of node families over [region, product] (or [region, alloy]); scrap trade is
the split ``market[region, product]`` whose routes ``to_XX`` lead through ``ship_XX[region, product]``
(transport: its loss, energy, CO2 and cost) to ``remelt[region=XX, product]`` of the destination.
The 2020 baseline export shares are calibrated on a first simulation (``calibrate_trade``).
"""

from __future__ import annotations

import pandas as pd
from prepare_regions import ALLOYS, DATA, ELEMENTS, EXPORTS_2020, HERE, MIXED, PATHS, PRODUCTS, REGIONS, WROUGHT

#: transport of scrap between regions (per Mt shipped; estimate): 1 % lost (0.5-2 %), 0.1 TWh/Mt
#: (bulk sea freight ~10,000 km; 0.05-0.2), 0.03 Mt CO2/Mt (0.01-0.06), 0.08 bn USD/Mt (0.04-0.15)
SHIP = {"keep": 0.99, "energy": 0.1, "co2": 0.03, "cost": 0.08}
#: China's scrap imports (Mt/yr): quota 0.69 Mt to July 2020 (RT_CN_AUG2020), 1.9-2.8 Mt/yr 2007-2017
#: (CRU_CN_SCRAP_2020); a cap of 1.0 Mt/yr on imports by all routes (estimate, 0.7-2.8)
CN_IMPORT_CAP = 1.0
ADDITIVES = {"Si": {"Si": 0.985}, "Cu": {"Cu": 0.9999}, "Mg": {"Mg": 0.998}}
ADD_PRICE = {"energy": {"Si": 12.0, "Cu": 5.0, "Mg": 35.0}, "co2": {"Si": 5.0, "Cu": 4.0, "Mg": 25.0},
             "cost": {"Si": 2.5, "Cu": 8.0, "Mg": 3.5}}


def _flow(v: float) -> str:
    return f"{v:.6g}"


def _comp(prod: pd.DataFrame, p: str) -> str:
    return "{" + ", ".join(f"{el}: {_flow(prod.at[p, el])}" for el in ELEMENTS) + "}"


def _tc(prefix: str) -> str:
    parts = [f"{el}: {{file: data/xrf_tc.csv, column: {prefix}_{el}}}" for el in [*ELEMENTS, "other"]]
    return "{" + ", ".join(parts) + "}"


def _window(spec: pd.DataFrame, a: str) -> str:
    s = spec[spec.alloy == a].set_index("element")
    return "{" + ", ".join(f"{el}: [{_flow(s.at[el, 'min'])}, {_flow(s.at[el, 'max'])}]" for el in ELEMENTS) + "}"


def nodes(spec: pd.DataFrame, path: str, exports: dict) -> str:
    prod = pd.read_csv(DATA / "products.csv").set_index("product")
    routes = ", ".join(f"to_{r}: ship_{r}" for r in REGIONS)
    base = ", ".join(f"to_{r}: {{{', '.join(f'{o}: {_flow(exports.get(o, {}).get(r, 0.0))}' for o in REGIONS)}}}"
                     for r in REGIONS)
    outs = "\n".join(f"      {a}: {{to: \"fab[alloy={a}]\", demand: {{file: data/alloy_demand_{path}.csv, column: {a}}},"
                     f"\n           window: {_window(spec, a)}}}" for a in ALLOYS)
    alloc = ["      \"melt_plain[product=building]\": {AA6063: 1.0}", "      \"melt_plain[product=packaging]\": {AA3104: 1.0}",
             "      melt_plain: {A380: 1.0}", "      melt_demag: {A380: 1.0}", "      xrf_wrought: {AA6063: 1.0}", "      xrf_cast: {A380: 1.0}",
             "      sse_cell: {AA1050: 1.0}",
             "      primary: {" + ", ".join(f"{a}: 1.0" for a in ALLOYS) + "}"]
    ships = "\n".join(
        f"  ship_{r}:\n    kind: process\n    over: [region, product]\n"
        f"    description: scrap shipped to {r} (sea/land freight; 1 % lost in handling)\n"
        f"    to: {{\"remelt[region={r}]\": {SHIP['keep']}, transport_loss: rest}}\n"
        f"    energy: {SHIP['energy']}\n    co2: {SHIP['co2']}\n    cost: {SHIP['cost']}\n    source: estimate"
        for r in REGIONS)
    comps = "\n".join(f"  comp_{p}: {{composition: {_comp(prod, p)}, source: estimate}}" for p in PRODUCTS)
    hist = "{" + ", ".join(f"{p}: comp_{p}" for p in PRODUCTS) + "}"
    add_comp = "{" + ", ".join(f"{el}: {{{', '.join(f'{a}: {c.get(el, 0)}' for a, c in ADDITIVES.items())}}}"
                               for el in ELEMENTS) + "}"
    price = {k: "{" + ", ".join(f"{a}: {v[a]}" for a in ADDITIVES) + "}" for k, v in ADD_PRICE.items()}
    return TEMPLATE.format(regions=", ".join(REGIONS), products=", ".join(PRODUCTS), alloys=", ".join(ALLOYS),
                           additives=", ".join(ADDITIVES), comps=comps, hist=hist, path=path, routes=routes,
                           base=base, ships=ships, outs=outs, alloc="\n".join(alloc), add_comp=add_comp,
                           add_energy=price["energy"], add_co2=price["co2"], add_cost=price["cost"],
                           constraints=constraints(), xw=_tc("w"), xc=_tc("c"),
                           plain_base="{" + ", ".join(f"{p}: {0.0 if p in MIXED else 1.0}" for p in PRODUCTS) + "}")


def constraints() -> str:
    rows = [f"  - {{type: forbid, node: market, route: to_{r}, index: {{region: {r}}}, source: estimate,"
            f" description: \"no shipment from {r} to itself (the home route)\"}}" for r in REGIONS]
    rows += [("  - {type: forbid, node: sort, route: sse, years: [2020, 2028], source: LU2022_SSE,"
              " description: \"SSE at industrial scale not before late 2028 (LOOPARTS plan)\"}"),
             ("  - {type: capacity, node: sort, route: sse, shared: true, years: [2029, 2050], initial: 0.25,"
              " growth: 0.25, source: estimate, description: \"world SSE capacity: +0.25 Mt/yr per year from 2029\"}"),
             (f"  - {{type: flow, source: ship_CN, target: remelt, max: {CN_IMPORT_CAP}, cite: estimate,"
              " description: \"China's scrap imports at most 1.0 Mt/yr (quota 0.69 Mt to July 2020; 0.7-2.8)\"}")]
    for r in REGIONS:
        for p in MIXED:
            for a in WROUGHT:
                for m in ("melt_plain", "melt_demag"):
                    rows.append(f"  - {{type: allocation, node: casthouse, input: \"{m}[{r},{p}]\", output: {a}, max: 0,"
                                " source: estimate}")
    rows += [f"  - {{type: allocation, node: casthouse, input: xrf_cast, output: {a}, max: 0, source: estimate}}"
             for a in WROUGHT]
    return "\n".join(rows)


def scenario(spec: pd.DataFrame, path: str) -> str:
    outs = "\n".join(f"      {a}: {{demand: {{file: data/alloy_demand_{path}.csv, column: {a}}}}}" for a in ALLOYS)
    return (f"# generated by prepare_regions.py: EV path {PATHS[path]} of BILLY2023 with the matching IEA demand path\n"
            f"description: demand and regional EV path {PATHS[path]} (data/demand_{path}.csv)\n"
            f"nodes:\n  products:\n    series: {{file: data/demand_{path}.csv, column: value}}\n"
            f"  casthouse:\n    outputs:\n{outs}\n")


def calibrate_trade(text: str) -> dict:
    """Export shares 2020 = observed exports / the scrap each region offers for melting (first simulation
    without trade)."""
    import circopt

    (HERE / "instance.yaml").write_text(text)
    res = circopt.simulate(circopt.load(HERE))
    s = res.system
    F = res.flows_array
    offered = {r: 0.0 for r in REGIONS}
    for e in s.edges:
        src = s.nodes[e.source]
        if src.family == "sort" and s.nodes[e.target].family == "market":
            offered[src.index["region"]] += F[0, e.id, :].sum()
    shares = {}
    rows = []
    for o, (mt, dest) in EXPORTS_2020.items():
        shares[o] = {d: mt * f / offered[o] for d, f in dest.items()}
        rows += [{"origin": o, "destination": d, "exports_2020_Mt": mt * dest[d], "offered_2020_Mt": offered[o],
                  "share": shares[o][d]} for d in dest]
    pd.DataFrame(rows).to_csv(DATA / "trade_baseline.csv", index=False, float_format="%.6g")
    return shares


def write(spec: pd.DataFrame, rec: pd.DataFrame) -> None:
    del rec
    text = nodes(spec, "steps", {})
    shares = calibrate_trade(text)
    (HERE / "instance.yaml").write_text(nodes(spec, "steps", shares))
    for path in PATHS:
        if path != "steps":
            (HERE / "scenarios" / f"{path}.yaml").write_text(scenario(spec, path))
    closed = "".join(f"  - {{type: forbid, node: market, route: to_{r}, source: estimate}}\n" for r in REGIONS)
    for path in PATHS:
        name = "notrade" if path == "steps" else f"notrade_{path}"
        ext = "" if path == "steps" else f"extends: {path}\n"
        (HERE / "scenarios" / f"{name}.yaml").write_text(
            f"# generated by prepare_regions.py\ndescription: no scrap trade between regions (every to_XX route "
            f"closed), EV path {PATHS[path]}\n{ext}constraints:\n{constraints()}\n{closed}")

TEMPLATE = """\
# Case B by region (issue 15): five regions (China, Europe, North America, Japan + Korea, rest of the
# world) with their own demand, EV path, stocks and cast houses; scrap trade between them is a decision.
# GENERATED by prepare_regions.py (instance_template.py) -- edit those, not this file.
#
#   products[region,product] --> use[region,product] (stock, history 1900-2019) --> collect --> shred
#   (+ Fe, Cu pick-up) --> sort (split: melt | xrf | sse) --> market (split: home | to_XX = scrap trade)
#   --> ship_XX (transport loss) --> remelt[XX,product] (split: plain | demag) --> casthouse[XX] (blend: 7 alloys,
#   primary P1020 and priced additions) --> fab[region,alloy] --> to_products; leftovers --> scrap_surplus[region]
name: regional_aluminium
description: >
  Five-region aluminium cycle 2020-2050 (CN, EU, NA, JK, RW after BILLY2023): demand by product
  (cars by powertrain with the regional EV path, other transport, building, packaging, electrical,
  other), regional lifetimes and collection, in-use stocks from the 1900-2019 inflow history split
  by region; shredded scrap with Fe/Cu pick-up, XRF/LIBS sorting and SSE; scrap trade between
  regions as decisions (transport loss, energy, CO2, cost; China's import cap); a cast house per
  region melting scrap, primary P1020 and priced additions into seven registered alloys.
unit: Mt
years: [2020, 2050]
elements: [Si, Fe, Cu, Mg]   # aluminium and the untracked elements are the rest ('other')
timing: end

dimensions:
  region: [{regions}]
  product: [{products}]
  alloy: [{alloys}]
  additive: [{additives}]

compositions:
  # a product's aluminium: its alloy recipe (data/recipes.csv) at each alloy's typical composition
{comps}

nodes:
  products:
    kind: source
    over: [region, product]
    series: {{file: data/demand_{path}.csv, column: value}}
    composition: {{Si: {{file: data/products.csv, column: Si}}, Fe: {{file: data/products.csv, column: Fe}},
                  Cu: {{file: data/products.csv, column: Cu}}, Mg: {{file: data/products.csv, column: Mg}}}}
    to: use
    source: [BILLY2023, CRU_IAI2022, CHINA_2017, AA_REVIEW2015, JAA_FY2020, ANTAIKE_2020, estimate]
  use:
    kind: stock
    over: [region, product]
    lifetime: {{model: folded_normal, mean: {{file: data/regions_products.csv, column: lifetime_mean}},
               sd: {{file: data/regions_products.csv, column: lifetime_sd}}}}
    history: {{file: data/history.csv, column: value}}
    history_composition: {hist}
    to: collect
    source: [BILLY2023, DENG2025_USAL, AL_HISTORY, CRU_VIA_STERLITE, estimate]
  collect:
    kind: process
    over: [region, product]
    to: {{shred: {{file: data/regions_products.csv, column: collect}}, uncollected: rest}}
    source: [BILLY2023, ALSTORY, estimate]
  pickup_fe:
    kind: source
    over: [region, product]
    description: Fe picked up in shredding, a fixed fraction of the shredder's total input
    composition: {{Fe: 1.0}}
    follows: shred
    ratio: {{file: data/products.csv, column: pickup_Fe}}
    to: shred
    source: estimate
  pickup_cu:
    kind: source
    over: [region, product]
    description: Cu picked up in shredding, a fixed fraction of the shredder's total input
    composition: {{Cu: 1.0}}
    follows: shred
    ratio: {{file: data/products.csv, column: pickup_Cu}}
    to: shred
    source: estimate
  shred:
    kind: process
    over: [region, product]
    to: {{sort: {{file: data/products.csv, column: shred}}, shredder_residue: rest}}
    source: [BILLY2023, NRCAN_2003, estimate]
  sort:
    kind: split
    over: [region, product]
    description: the collected scrap is melted as it is (sold at home or abroad), alloy-sorted by XRF/LIBS, or upgraded by SSE
    routes: {{melt: market, xrf: xrf_sort, sse: sse_cell}}
    baseline: {{xrf: 0.0, sse: 0.0, melt: rest}}
    shares: {{xrf: [0.0, {{2020: 0.0, 2025: 0.2, 2030: 0.5, 2040: 0.65, 2050: 0.8, fill: interpolate}}]}}
    source: [BILLY2023, estimate]
  market:
    kind: split
    over: [region, product]
    description: scrap melted at home or shipped to another region (route flows = shipments); 2020 export shares calibrated on observed exports
    routes: {{home: remelt, {routes}}}
    baseline: {{{base}, home: rest}}
    source: [USGS_VIA_YUENSENG, EUWID_2022, estimate]
{ships}
  remelt:
    kind: split
    over: [region, product]
    description: the scrap of one product from home and abroad (one composition) melted plainly or with demagging
    routes: {{plain: melt_plain, demag: melt_demag}}
    baseline: {{plain: {plain_base}, demag: rest}}
    source: [DENG2025_USAL, estimate]
  melt_plain:
    kind: process
    over: [region, product]
    to: {{casthouse: 0.95, dross: rest}}
    energy: 1.66
    co2: 0.6
    cost: 0.3
    source: [DENG2025_USAL, estimate]
  melt_demag:
    kind: process
    over: [region, product]
    description: "remelting with demagging (chlorine or salt flux): 85 % of the Mg to the salt slag"
    to: {{casthouse: {{Mg: 0.1425, default: 0.95}}, dross: rest}}
    energy: 1.76
    co2: 0.7
    cost: 0.35
    source: [DENG2025_USAL, estimate]
  xrf_sort:
    kind: process
    over: [region, product]
    description: XRF/LIBS alloy sorting; 90 % of the wrought pieces to the wrought fraction (5 % of the picked-up Fe, Cu), both remelted (0.95)
    to: {{xrf_wrought: {xw}, xrf_cast: {xc}, dross: rest}}
    energy: 1.71
    co2: 0.62
    cost: 0.38
    source: [STEINERT_LSS, RPN_STEINERT, DENG2025_USAL, estimate]
  xrf_wrought: {{kind: process, over: [region, product], to: casthouse, source: estimate}}
  xrf_cast: {{kind: process, over: [region, product], to: casthouse, source: estimate}}
  sse_cell:
    kind: process
    over: [region, product]
    description: solid-state electrolysis, 96 % of the Al to 99.9 % Al (1 % of each tracked element follows)
    to: {{casthouse: {{other: 0.96, default: 0.01}}, anode_residue: rest}}
    energy: 4.7
    co2: 2.1
    cost: 0.8
    source: [LU2022_SSE, estimate]
  primary:
    kind: source
    over: [region]
    free: true
    description: primary aluminium P1020 melted into each alloy
    composition: {{Si: 0.0005, Fe: 0.001}}
    energy: 14.0
    co2: 17.4
    cost: 2.2
    to: casthouse
    source: [EA_HYDRO, BILLY2023, estimate]
  addition:
    kind: source
    over: [region, additive]
    free: true
    description: pure additions (metallurgical Si, Cu cathode, Mg ingot)
    composition: {add_comp}
    energy: {add_energy}
    co2: {add_co2}
    cost: {add_cost}
    to: casthouse
    source: estimate
  casthouse:
    kind: blend
    over: [region]
    description: scrap, primary and additions melted into seven registered alloys; what no alloy takes is the region's scrap surplus
    outputs:
{outs}
    allocation:
{alloc}
    surplus: scrap_surplus
    source: [AA_LUSK, ALCOA_RCS2006, ASM_A356_SCRIBD, NADCA_A31, AA_TABLE21_SCRIBD, estimate]
  fab:
    kind: process
    over: [region, alloy]
    description: fabrication; new scrap remelted in-house into the same alloy, its 2 % melt loss leaves (data/fabrication.csv)
    to: {{to_products: {{file: data/fabrication.csv, column: delivered}}, fab_dross: rest}}
    source: [ALSTORY, estimate]
  to_products: {{kind: sink, loss: unspecified, description: semis and castings delivered to product makers}}
  scrap_surplus: {{kind: sink, over: [region], loss: surplus}}
  uncollected: {{kind: sink, loss: dissipation}}
  shredder_residue: {{kind: sink, loss: dissipation}}
  dross: {{kind: sink, loss: process}}
  fab_dross: {{kind: sink, loss: process}}
  anode_residue: {{kind: sink, loss: process}}
  transport_loss: {{kind: sink, loss: process}}

indicators:
  - {{name: unmelted, kind: loss, node: [scrap_surplus, transport_loss], description: "scrap no alloy takes plus scrap lost in shipping (the surplus that trade cannot hide by shipping it)"}}
  - {{name: shipped, kind: flow, source: market, target: [ship_CN, ship_EU, ship_NAM, ship_JK, ship_RW], description: scrap shipped between regions}}

constraints:
{constraints}

ranges:
  nodes.primary.energy: [12.3, 15.0]
  nodes.melt_plain.to.casthouse: [0.90, 0.98]
  nodes.ship_CN.cost: [0.04, 0.15]
  nodes.ship_EU.cost: [0.04, 0.15]
  nodes.ship_NAM.cost: [0.04, 0.15]
  nodes.ship_JK.cost: [0.04, 0.15]
  nodes.ship_RW.cost: [0.04, 0.15]
  nodes.sse_cell.cost: [0.4, 2.0]
"""
