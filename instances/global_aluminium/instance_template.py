"""Write instance.yaml and the EV-path scenarios of global_aluminium (called by prepare_alloys.py).

The network is written here once, with its comments; the numbers come from the tables in data/
(referenced, not copied) except the alloy windows and the product compositions, which are written
inline from data/alloy_specs_used.csv and data/products14.csv so that a reader sees them.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

import pandas as pd

HERE = Path(__file__).resolve().parent
ELEMENTS = ["Si", "Fe", "Cu", "Mg", "Mn", "Zn"]

#: additions: composition (mass fraction; the rest is Al), energy kWh/kg, CO2 kg/kg, cost USD/kg [all estimate;
#: ranges in README]: metallurgical Si (98.5 % Si, Fe <= 0.5), Al-Fe and Al-Mn tablets (75 %), Cu cathode,
#: Mg ingot (99.8 %), Zn (SHG); energies are the producing process's (Si: submerged-arc furnace; Mg:
#: Pidgeon, the main route), costs 2020-2022 market levels
ADDITIONS = {
    "Si": ({"Si": 0.985, "Fe": 0.004}, 12.0, 5.0, 2.5),
    "Fe": ({"Fe": 0.75}, 3.0, 2.0, 1.5),
    "Cu": ({"Cu": 0.9999}, 5.0, 4.0, 8.0),
    "Mg": ({"Mg": 0.998}, 35.0, 25.0, 3.5),
    "Mn": ({"Mn": 0.75}, 6.0, 8.0, 2.5),
    "Zn": ({"Zn": 0.9999}, 4.0, 3.5, 2.8),
}
#: simulation offers of the cast house (real practice; README 'offer rules'): scrap class -> alloys
SECONDARY = {"A380": 0.30, "ADC12": 0.30, "AlSi9Cu3": 0.25, "C319": 0.15}
CLEAN_OFFER = {
    "wheels": {"A356": 1.0},                      # wheels to wheels (A356 remelted by wheel makers)
    "extrusions": {"AA6063": 1.0},                # extrusions to billet
    "UBC": {"AA3104": 1.0},                       # cans to cans
    "wire": {"AA1050": 1.0},                      # EC wire to rod
    "profiles_plate": {"AA6082": 0.5, "AA6061": 0.5},
    "old_cast": {"A380": 0.5, "AlSi9Cu3": 0.5},   # old castings to secondary castings
    "old_sheet": {"AA3003": 1.0},                 # Taint/Tabor to 3xxx sheet
}
SHRED_OFFER = {"building": {"AA3003": 0.5, "AlSi9Cu3": 0.5}, "packaging": {"AlSi9Cu3": 0.7, "deox": 0.3},
               "electrical": {"A380": 0.5, "C413": 0.5}}  # others: SECONDARY (BILLY2023 rule)


def _flow(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"


def _tc(prefix: str) -> str:
    parts = [f"{c}: {{file: data/scrap_tc.csv, column: {prefix}_{c}}}" for c in [*ELEMENTS, "other"]]
    return "{" + ", ".join(parts) + "}"


def streams_block(prod: pd.DataFrame) -> str:
    out = []
    for _, r in prod.iterrows():
        comp = ", ".join(f"{c}: {float(f'{r[c]:.10g}')!r}" for c in ELEMENTS)
        out.append(f"  product_{r['product']}: {{composition: {{{comp}}}, source: [BILLY2023, DENG2025_USAL, "
                   "AA_LUSK, ALCOA_RCS2006, STENA_EN1676, JIS_H5302, estimate]}")
    return "\n".join(out)


def casthouse_outputs(specs: pd.DataFrame, path: str = "steps") -> str:
    out = []
    for a, sub in specs.groupby("alloy", sort=False):
        win = ", ".join(f"{r.element}: [{r['min']:.6g}, {r['max']:.6g}]" for _, r in sub.iterrows())
        out.append(f"      {a}: {{to: \"fab[alloy={a}]\", demand: {{file: data/paths/{path}/alloy_demand14.csv, "
                   f"column: {a}}},\n           window: {{{win}}}}}")
    out.append("      deox: {to: steel_deox, window: {Si: [0, 0.03], Fe: [0, 0.03], Cu: [0, 0.02], Mg: [0, 0.05], "
               "Mn: [0, 0.02], Zn: [0, 0.02]}}")
    return "\n".join(out)


def allocation_block(specs: pd.DataFrame, prod: pd.DataFrame) -> str:
    typ = specs.pivot(index="alloy", columns="element", values="typical")
    lines = []
    for _, r in prod.iterrows():
        p = r["product"]
        lines.append(f"      \"clean_remelt[{p}]\": {_flow(CLEAN_OFFER[r['clean_class']])}")
        shred = SHRED_OFFER.get(p, SECONDARY)
        for fam in ("remelt_mixed", "remelt_demag", "heavy_media", "xrf_cast"):
            lines.append(f"      \"{fam}[{p}]\": {_flow(shred)}")
    lines.append(f"      xrf_wrought: {_flow({'AA6063': 0.5, 'AA3003': 0.5})}")
    lines.append(f"      sse_cell: {_flow({'AA1050': 0.3, 'AA6063': 0.4, 'AA3104': 0.3})}")
    # free inputs: their share of each alloy's shortfall to its demand (simulation): additions at the
    # alloy's typical content (per unit of the addition's element), primary the rest
    prim = {}
    if not _free_offers():
        return "\n".join(lines)
    for el, (comp, *_rest) in ADDITIONS.items():
        shares = {a: round(float(typ.at[a, el]) / comp[el], 6) for a in typ.index if typ.at[a, el] > 0}
        lines.append(f"      \"addition[{el}]\": {_flow(shares)}")
        for a, v in shares.items():
            prim[a] = prim.get(a, 0.0) + v
    lines.append(f"      primary: {_flow({a: round(1 - prim.get(a, 0.0), 6) for a in typ.index})}")
    return "\n".join(lines)


#: scrap classes wrought cast houses do not take (practice acceptance, README)
SHREDDED = ("remelt_mixed", "remelt_demag", "heavy_media", "xrf_cast")


def practice_scenario(alloys: list[str], base: str) -> str:
    """A scenario with the instance's constraints plus the practice rule (a scenario replaces a list)."""
    import yaml

    own = yaml.safe_load((HERE / "instance.yaml").read_text())["constraints"]
    rows = [f"  - {json.dumps(c)}" for c in own]
    rows += [f"  - {{type: allocation, node: casthouse, input: {fam}, output: {a}, max: 0, source: estimate}}"
             for fam in SHREDDED for a in alloys if a.startswith("AA")]
    return (f"# generated by prepare_alloys.py\nextends: {base}\ndescription: >\n  Practice acceptance: wrought "
            "alloys take clean classes, XRF-sorted wrought scrap and SSE metal,\n  never shredded classes "
            "(remelted mixed, demagged, twitch, the XRF cast fraction).\nconstraints:\n" + "\n".join(rows) + "\n")


def _free_offers() -> bool:
    """Free inputs' offers are shares of an output's shortfall (no filler) in this circopt version."""
    from circopt import instance

    return "filler" not in instance.BLEND_OUTPUT_KEYS


def additions_block() -> str:
    comp = {el: {m: ADDITIONS[m][0].get(el, 0) for m in ADDITIONS} for el in ELEMENTS}
    c = ", ".join(f"{el}: {_flow(v)}" for el, v in comp.items())
    e = _flow({m: v[1] for m, v in ADDITIONS.items()})
    co2 = _flow({m: v[2] for m, v in ADDITIONS.items()})
    cost = _flow({m: v[3] for m, v in ADDITIONS.items()})
    return f"    composition: {{{c}}}\n    energy: {e}\n    co2: {co2}\n    cost: {cost}"


def write_instance(specs: pd.DataFrame, typ: pd.DataFrame, prod: pd.DataFrame) -> None:
    alloys = list(dict.fromkeys(specs.alloy))
    products = list(prod["product"])
    hist_streams = _flow({p: f"product_{p}" for p in products})
    text = Template(TEMPLATE).substitute(
        products=", ".join(products), alloys=", ".join(alloys), streams=streams_block(prod),
        outputs=casthouse_outputs(specs), allocation=allocation_block(specs, prod), additions=additions_block(),
        hist_streams=hist_streams, tc_clean=_tc("clean"), tc_twitch=_tc("twitch"), tc_xw=_tc("xrfw"),
        tc_xc=_tc("xrfc"))
    (HERE / "instance.yaml").write_text(text)
    (HERE / "scenarios" / "practice.yaml").write_text(practice_scenario(alloys, "baseline"))
    for key in ("pledges", "netzero"):
        (HERE / "scenarios" / f"practice_{key}.yaml").write_text(practice_scenario(alloys, f"baseline_{key}"))
    for key, name in (("pledges", "APS"), ("netzero", "NZE")):
        scen = Template(SCENARIO).substitute(key=key, name=name, outputs="\n".join(
            f"      {a}: {{demand: {{file: data/paths/{key}/alloy_demand14.csv, column: {a}}}}}" for a in alloys))
        (HERE / "scenarios" / f"baseline_{key}.yaml").write_text(scen)


SCENARIO = """# generated by prepare_alloys.py: EV path $name (tables under data/paths/$key/)
description: >
  Today's practice with the IEA $name EV sales-share path for cars (data/paths/$key/) and the
  matching electric-LCV path (prepare_alloys.py LCV_EV, estimate).
nodes:
  products:
    series: {file: data/paths/$key/demand14_long.csv, column: value}
  casthouse:
    outputs:
$outputs
"""

TEMPLATE = (HERE / "instance.yaml.in").read_text()
