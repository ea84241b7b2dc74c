"""Writes notebooks/regional_aluminium.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# Case B by region: where the scrap arises, where it can be melted

Five regions (China, Europe, North America, Japan + Korea, rest of the world), each with its own
demand, EV path, stocks and cast house; scrap can be shipped between them (a decision with its
transport loss, energy, CO2 and cost; China's imports capped). Every parameter, its source and its
range: `instances/regional_aluminium/README.md`. The optimisation tables (three EV paths, with and
without trade) come from `python instances/regional_aluminium/regional_analysis.py` and are read
here from `results/`; the cells below recompute the simulated practice (STEPS / BILLY2023 SP)."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt.instance import helper_module

INST = str(circopt.instance_dir("regional_aluminium"))  # found next to the package: runs from any folder
ra = helper_module(INST, "regional_analysis")   # the instance's own analysis helpers
sim = circopt.simulate(INST)                     # today's practice, 2020 scrap exports, STEPS / SP
print("audit", f"{sim.max_relative_imbalance:.1e}")
sur = pd.DataFrame(ra.surplus_by_region(sim), index=sim.system.years.astype(int))
sur.loc[[2020, 2030, 2040, 2050]].round(2)"""),
    nbf.v4.new_markdown_cell("""## Where the surplus arises (simulated practice)
Scrap that no alloy takes under today's offer rules (shredded classes to secondary castings, cans to
can body, building scrap to extrusion billet), Mt/yr by region."""),
    nbf.v4.new_code_cell("""fig, ax = plt.subplots(figsize=(9, 4.5))
sur.plot.area(ax=ax, lw=0)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.grid(alpha=0.3); ax.set_title("simulated practice, STEPS / SP")
auto = pd.DataFrame({r: {"car scrap 2040": v[0][20], "A380 need 2040": v[1][20], "automotive surplus 2040": v[2][20]}
                     for r, v in ra.automotive(sim).items()}).T
auto.round(2)"""),
    nbf.v4.new_markdown_cell("""## 2020 against independent statistics"""),
    nbf.v4.new_code_cell("""pd.read_csv(f"{INST}/results/validation.csv").round(2)"""),
    nbf.v4.new_markdown_cell("""## The lexicographic optimum (surplus, then primary): surplus by region, with and without trade"""),
    nbf.v4.new_code_cell("""s = pd.read_csv(f"{INST}/results/surplus.csv")
s.pivot_table(index=["path", "run"], columns="region", values="2020-2050", aggfunc="sum").round(1)"""),
    nbf.v4.new_markdown_cell("""## Scrap shipments at the optimum and where sorting or SSE enters"""),
    nbf.v4.new_code_cell("""t = pd.read_csv(f"{INST}/results/trade.csv")
display(t[t.path == "STEPS/SP"].round(2))
x = pd.read_csv(f"{INST}/results/sorting.csv")
x[x["2020-2050"] > 1e-3].round(2)"""),
]
cells += [
    nbf.v4.new_markdown_cell("## Headline numbers\\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {f"simulated practice: surplus 2040, {r} (Mt/yr)": round(float(sur.loc[2040, r]), 6) for r in sur.columns}
headline["simulated practice: automotive surplus 2040, all regions (Mt/yr)"] = round(float(auto["automotive surplus 2040"].sum()), 6)
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("regional_aluminium.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
