"""Writes notebooks/regional_aluminium.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# Case B by region: where the scrap arises, where it can be melted

Five regions (China, Europe, North America, Japan + Korea, rest of the world), each with its own
demand, EV path, stocks and cast house; scrap can be shipped between them (a decision with its
transport loss, energy, CO2 and cost; China's imports capped). Every parameter, its source and its
range: `instances/regional_aluminium/README.md`. The numbers below are the instance's declared
`indicators:` (the same as in `circopt simulate instances/regional_aluminium --out DIR`'s
`summary.json`); the optimisation tables (three EV paths, with and without trade) come from the
`circopt optimise ... --then primary --then cost` commands listed in the README (minutes each, so not
re-run here). This notebook recomputes the simulated practice (STEPS / BILLY2023 SP)."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt

INST = circopt.instance_dir("regional_aluminium")  # found next to the package: runs from any folder
REGIONS = ["CN", "EU", "NAM", "JK", "RW"]
sim = circopt.simulate(str(INST))                # today's practice, 2020 scrap exports, STEPS / SP
ind = sim.summary()["indicators"]                # the instance's declared indicators
print("audit", f"{sim.max_relative_imbalance:.1e}")
los = sim.losses
los = los[los.node.str.startswith("scrap_surplus[") & (los.element == "total")]
sur = los.assign(region=los.node.str[14:-1]).pivot_table(index="year", columns="region", values="value",
                                                         aggfunc="sum")[REGIONS]
sur.loc[[2020, 2030, 2040, 2050]].round(2)"""),
    nbf.v4.new_markdown_cell("""## Where the surplus arises (simulated practice)
Scrap that no alloy takes under today's offer rules (shredded classes to secondary castings, cans to
can body, building scrap to extrusion billet), Mt/yr by region; below, the seed's 2040 automotive
surplus (indicators `carscrap_R_2040`, `carneed_R_2040` and their difference `auto_R_2040`)."""),
    nbf.v4.new_code_cell("""fig, ax = plt.subplots(figsize=(9, 4.5))
sur.plot.area(ax=ax, lw=0)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.grid(alpha=0.3); ax.set_title("simulated practice, STEPS / SP")
auto = pd.DataFrame({r: {"car scrap 2040": ind[f"carscrap_{r}_2040"], "A380 need 2040": ind[f"carneed_{r}_2040"],
                         "automotive surplus 2040": ind[f"auto_{r}_2040"]} for r in REGIONS}).T
auto.round(2)"""),
    nbf.v4.new_markdown_cell("""## 2020 against independent statistics
Published figures with their sources are data (`data/validation_published.csv`); the model's figures
are the indicators named there (the `history_*` rows: the stock engine's pre-2020 levels)."""),
    nbf.v4.new_code_cell("""from circopt.stocks import stock_plan

pub = pd.read_csv(INST / "data" / "validation_published.csv")
plan = stock_plan(sim.system)
levels = plan.stock_levels(plan.hist_inflow).sum(axis=2)
first = int(sim.system.years[0]) - plan.H

def history(year):
    out = dict.fromkeys(REGIONS, 0.0)
    for j, i in enumerate(plan.stocks):
        out[sim.system.nodes[i].index["region"]] += float(levels[j, year - first])
    return out

def model(key):
    if not key.startswith("history_"):
        return ind[key]
    what, region, year = key.split(":")
    st = history(int(year))
    return st[region] if what == "history_stock" else 100 * st[region] / sum(st.values())

pub.insert(3, "model", [model(k) for k in pub.indicator])
pub["difference_%"] = 100 * (pub.model / pub.published - 1)
pub.drop(columns=["indicator", "note"]).round(2)"""),
]
cells += [
    nbf.v4.new_markdown_cell("## Headline numbers\\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {f"simulated practice: surplus 2040, {r} (Mt/yr)": round(float(sur.loc[2040, r]), 6) for r in sur.columns}
headline["simulated practice: automotive surplus 2040, all regions (Mt/yr)"] = round(float(ind["auto_2040"]), 6)
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("regional_aluminium.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
