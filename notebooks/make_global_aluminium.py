"""Writes notebooks/global_aluminium.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# The global aluminium cycle 2020-2050 under the EV shift, at alloy level

As electric cars replace engines, demand for secondary castings (the outlet of shredded scrap)
falls while scrap keeps coming. Is the scrap unusable (a surplus), and do alloy sorting or
solid-state electrolysis (SSE: scrap to 99.9 % Al at 96 % yield) have to enter?

The instance melts 22 registered alloys from scrap classes that carry Fe and Cu picked up in
shredding, primary P1020 and priced additions (no free mass). Every parameter, its source and its
range: `instances/global_aluminium/README.md`, which also lists the `circopt` commands behind each of
its tables (three EV paths, lexicographic runs, the SSE break-even). Every number below is one of the
instance's declared `indicators:` or a circopt result; nothing is computed outside circopt."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt import indicators, studies

INST = str(circopt.instance_dir("global_aluminium"))  # found next to the package: runs from any folder
paths = {"STEPS": "baseline", "APS": "baseline_pledges", "NZE": "baseline_netzero"}
sims = studies.compare(INST, list(paths.values()))   # today's practice, simulated on each EV path
table = sims.table.set_index("indicator")[list(paths.values())].set_axis(list(paths), axis=1)
print("audit", f"{max(r.max_relative_imbalance for r in sims.runs.values()):.1e}")
table.loc[[f"indicator:{k}" for k in ("car_scrap_2040", "car_need_2040", "car_surplus_2040",
                                      "vehicle_surplus_2040", "surplus_2040", "surplus_2050")]].round(2)"""),
    nbf.v4.new_markdown_cell("""## The seed's automotive surplus (simulated practice)
`car_surplus_2040`: end-of-life car scrap that only secondary castings take, minus the
secondary-casting alloy new cars need (BILLY2023's closed balance; the seed: 3.64 Mt in 2040);
`vehicle_surplus_2040` adds LCVs and light trucks; `surplus_*` is the whole system's.
Same table: `circopt compare instances/global_aluminium --scenarios baseline,baseline_pledges,baseline_netzero --out OUT`."""),
    nbf.v4.new_markdown_cell("""## The minimum surplus: which remedies it needs (STEPS)
`practice` acceptance: wrought cast houses refuse shredded classes (`scenarios/practice.yaml`).
Without sorting and SSE (`practice_noremedies`) a surplus remains; with both it vanishes."""),
    nbf.v4.new_code_cell("""none = circopt.optimise(INST, "surplus", scenario="practice_noremedies")
best = circopt.optimise(INST, "surplus", scenario="practice", then=["cost"])


def surplus_by_year(res):
    f = res.flows
    return f[(f.target == "scrap_surplus") & (f.element == "total")].groupby("year").value.sum()


sim = sims.runs["baseline"]
fig, ax = plt.subplots(figsize=(9, 4.5))
for res, label in ((sim, "simulated practice (whole system)"),
                   (none, "optimum, practice acceptance, no sorting, no SSE"),
                   (best, "optimum with XRF sorting and SSE (surplus, then cost)")):
    s = surplus_by_year(res)
    ax.plot(s.index, s.values, label=label, lw=2)
ax.axhline(3.64, color="k", ls=":", lw=1); ax.text(2021, 3.8, "seed: 3.64 Mt in 2040 (cars)", fontsize=8)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.legend(); ax.grid(alpha=0.3)
pd.DataFrame({"no remedies": indicators.values(none), "sorting and SSE, then cost": indicators.values(best)}).round(2)"""),
    nbf.v4.new_markdown_cell("""## What binds when the surplus remains, and what it is worth
The binding bounds of the surplus optimum without sorting and SSE and the change of the
cumulative surplus per step of each (`circopt explain`)."""),
    nbf.v4.new_code_cell("""circopt.binding(none).head(12)[["family", "binding_rows", "first_binding", "last_binding",
                                 "objective_change", "per"]]"""),
    nbf.v4.new_markdown_cell("""## With sorting and SSE: what the cost optimum chooses and what binds"""),
    nbf.v4.new_code_cell("""f = best.flows
routes = (f[(f.source.str.startswith("sort[")) & (f.element == "total")]
          .assign(route=lambda d: d.target.str.split("[").str[0]).groupby(["year", "route"]).value.sum().unstack())
ax = routes.plot.area(figsize=(9, 4.5), lw=0)
ax.set_ylabel("shredded scrap by route (Mt/yr)"); ax.grid(alpha=0.3)
circopt.binding(best).head(8)[["family", "binding_rows", "objective_change", "per"]]"""),
]
cells += [
    nbf.v4.new_markdown_cell("## Headline numbers\\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {
    "simulated practice: seed-definition car surplus 2040, STEPS (Mt)": round(float(table.at["indicator:car_surplus_2040", "STEPS"]), 6),
    "simulated practice: seed-definition car surplus 2040, NZE (Mt)": round(float(table.at["indicator:car_surplus_2040", "NZE"]), 6),
    "optimum, practice, no sorting/SSE: surplus 2040 (Mt)": round(indicators.values(none)["surplus_2040"], 6),
    "optimum, with sorting and SSE: surplus 2040 (Mt)": round(indicators.values(best)["surplus_2040"], 6) + 0.0,
}
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("global_aluminium.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
