"""Print the README's result tables (markdown) from fresh simulations.

    python instances/japan_engines/report.py

Tables: 50-year indicators per scenario and element (shares of the initial mass of the
2020 engines), the reduction of losses against 'recycling_only', where the material in use
sits in 2070, the fate-tracing cross-check, and the MaTrace-2014 benchmark set-up with the
variants that explain its gap.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
import circopt
from circopt.instance import build, helper_module, load_document
from circopt.trace import trace


def _local(name: str):
    """This instance folder's helper module (see circopt.instance.helper_module)."""
    return helper_module(HERE, name)


_m = _local("metrics")
HORIZON, in_use_by_product, indicators = _m.HORIZON, _m.in_use_by_product, _m.indicators

MAIN = ["recycling_only", "current", "circular"]
EXTRA = ["circular_sorting", "recycling_only_physical", "current_physical", "circular_physical"]
EL = ["Fe", "Ni", "Cr", "Co"]


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def run(scenario: str):
    return circopt.simulate(circopt.load(HERE, scenario))


def main() -> None:
    res = {sc: run(sc) for sc in MAIN + EXTRA}
    ind = {sc: indicators(r) for sc, r in res.items()}

    print(f"### 50-year indicators (cumulative 2020-{HORIZON}, % of the initial mass of each element)\n")
    print("| scenario | element | dissipation | process | dilution | **losses (3 types)** | export | in use 2070 "
          "| new parts added |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for sc in MAIN + EXTRA:
        for el in EL:
            r = ind[sc].loc[el]
            print(f"| {sc} | {el} | {pct(r.dissipation)} | {pct(r.process)} | {pct(r.dilution)} | "
                  f"**{pct(r.losses)}** | {pct(r.export)} | {pct(r.in_use)} | {pct(r.new_parts)} |")

    print("\n### Loss reduction against recycling_only (3 loss types, 50 years)\n")
    print("| comparison | " + " | ".join(f"{el} pp (rel.)" for el in EL) + " |")
    print("|---|" + "---:|" * len(EL))
    for base, alt in [("recycling_only", "current"), ("recycling_only", "circular"),
                      ("recycling_only", "circular_sorting"),
                      ("recycling_only_physical", "current_physical"),
                      ("recycling_only_physical", "circular_physical")]:
        cells = []
        for el in EL:
            a, b = ind[base].loc[el, "losses"], ind[alt].loc[el, "losses"]
            cells.append(f"{100 * (a - b):.2f} ({100 * (a - b) / a:.1f} %)")
        print(f"| {alt} vs {base} | " + " | ".join(cells) + " |")

    print(f"\n### Where the material in use sits at the end of {HORIZON} (recycling_only / circular, % of initial)\n")
    a, b = in_use_by_product(res["recycling_only"]), in_use_by_product(res["circular"])
    print("| stock | Fe | Ni | Cr | Co |")
    print("|---|---:|---:|---:|---:|")
    for k in a.index:
        if max(a.loc[k, EL].max(), b.loc[k, EL].max()) < 5e-4:
            continue
        print(f"| {k} | " + " | ".join(f"{pct(a.loc[k, el])} / {pct(b.loc[k, el])}" for el in EL) + " |")

    print("\n### Fate tracing (circopt trace: pulse of engine_production, following sources off)\n")
    print("| scenario | element | in use after 50 y (trace) | in use 2070 (simulate) | average number of uses |")
    print("|---|---|---:|---:|---:|")
    for sc in MAIN:
        f = trace(circopt.load(HERE, sc))
        s = f.summary.set_index(["element", "indicator"])["value"]
        for el in EL:
            print(f"| {sc} | {el} | {pct(s[(el, 'in_use_after_50y')])} | {pct(ind[sc].loc[el, 'in_use'])} | "
                  f"{s[(el, 'average_number_of_uses')]:.3f} |")

    print("\n### MaTrace-2014 benchmark set-up (1 unit of ELV steel scrap into carbon-steel remelting in 2020)\n")
    doc, folder, _ = load_document(HERE, "matrace2014_check")
    products = doc["dimensions"]["product"]

    def variant(label, edit=None):
        d = copy.deepcopy(doc)
        if edit:
            edit(d)
        r = circopt.simulate(build(d, folder))
        m = indicators(r, source="elv_steel_scrap").loc["Fe"]
        print(f"| {label} | {pct(m.in_use)} | {pct(m.dissipation)} | {pct(m.process)} | {pct(m.export)} |")

    def long_construction(d):
        lt = d["nodes"]["products"]["lifetime"]
        lt["mean"] = {p: copy.deepcopy(lt["mean"]) for p in products} | {"construction": 75}
        lt["sd"] = {p: copy.deepcopy(lt["sd"]) for p in products} | {"construction": 22.5}

    def no_obsolete(d):
        d["nodes"]["product_eol"]["to"]["hibernating_stock"]["construction"] = 0.0

    def improved(d):
        d["nodes"]["remelting"]["to"]["steel_market"]["Fe"] = 0.97
        d["nodes"]["remelting"]["to"]["steel_market"]["other"] = 0.97

    print("| variant | Fe in use after 50 y | dissipation | process | export |")
    print("|---|---:|---:|---:|---:|")
    with np.errstate(invalid="ignore"):
        variant("this instance's parameters")
        variant("construction lifetime 75 y (MaTrace default outside Japan)", long_construction)
        variant("no obsolete (hibernating) construction stock", no_obsolete)
        variant("remelting yield 0.97 (MaTrace 'improved')", improved)
        variant("all three", lambda d: (long_construction(d), no_obsolete(d), improved(d)))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
