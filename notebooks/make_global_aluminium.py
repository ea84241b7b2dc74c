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
range: `instances/global_aluminium/README.md`. The full tables (three EV paths, lexicographic runs,
the SSE break-even) come from `python instances/global_aluminium/alloy_analysis.py` and are read
here from `results/`; the cells below recompute the STEPS case."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt.instance import helper_module

INST = "instances/global_aluminium"
aa = helper_module(INST, "alloy_analysis")   # the instance's own analysis helpers
sim = circopt.simulate(INST)                  # today's practice, STEPS
base = aa.yearly(sim)
print("audit", f"{sim.max_relative_imbalance:.1e}")
base.loc[[2020, 2030, 2040, 2050], ["primary", "surplus", "deox", "auto_scrap", "auto_need", "auto_surplus",
                                    "auto_lcv_surplus", "energy"]].round(2)"""),
    nbf.v4.new_markdown_cell("""## The seed's automotive surplus (simulated practice, three EV paths)
End-of-life car scrap that only secondary castings take, minus the secondary-casting alloy new cars
need (BILLY2023's closed balance; the seed: 3.64 Mt in 2040)."""),
    nbf.v4.new_code_cell("""seed = pd.read_csv(f"{INST}/results/seed_surplus.csv")
seed.round(2)"""),
    nbf.v4.new_markdown_cell("""## The minimum surplus: which remedies it needs
`open`: any scrap into any alloy within its registered limits (dilution with primary);
`practice`: wrought cast houses refuse shredded classes."""),
    nbf.v4.new_code_cell("""s = aa.load("STEPS")
none = aa.yearly(aa.run(s, "surplus", "practice", [aa.NO_XRF, aa.NO_SSE]))
best = aa.run(s, "surplus", "practice")
both = aa.yearly(best)
fig, ax = plt.subplots(figsize=(9, 4.5))
ax.plot(base.index, base.surplus, label="simulated practice (whole system)", lw=2)
ax.plot(none.index, none.surplus, label="optimum, practice acceptance, no sorting, no SSE", lw=2)
ax.plot(both.index, both.surplus, label="optimum, with XRF sorting and SSE", lw=2)
ax.axhline(3.64, color="k", ls=":", lw=1); ax.text(2021, 3.8, "seed: 3.64 Mt in 2040 (cars)", fontsize=8)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.legend(); ax.grid(alpha=0.3)
pd.read_csv(f"{INST}/results/remedies.csv").round(2)"""),
    nbf.v4.new_markdown_cell("""## What binds when the surplus remains, and what it is worth
Without sorting and SSE (practice acceptance), the binding bounds of the surplus optimum and the
change of the cumulative surplus per step of each bound."""),
    nbf.v4.new_code_cell("""r = aa.run(s, "surplus", "practice", [aa.NO_XRF, aa.NO_SSE])
circopt.binding(r).head(10)[["family", "binding_rows", "first_binding", "last_binding", "objective_change", "per"]]"""),
    nbf.v4.new_markdown_cell("""## Lexicographic runs: surplus first, then cost, energy or primary
(2040 values and cumulative 2020-2050; all three EV paths; practice acceptance)"""),
    nbf.v4.new_code_cell("""lex = pd.read_csv(f"{INST}/results/lexicographic.csv")
cols = ["path", "run", "surplus", "mixed", "demag", "twitch", "xrf", "sse", "deox", "primary", "energy", "cost"]
lex[lex.year == 2040][cols].round(2)"""),
    nbf.v4.new_code_cell("""fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
st = lex[lex.path == "STEPS"]
for run, g in st.groupby("run", sort=False):
    axes[0].plot(g.year, g.xrf, label=run, lw=2)
    axes[1].plot(g.year, g.sse, label=run, lw=2)
axes[0].set_ylabel("XRF/LIBS-sorted scrap (Mt/yr)"); axes[1].set_ylabel("SSE feed (Mt/yr)")
for a in axes: a.legend(fontsize=8); a.grid(alpha=0.3)"""),
    nbf.v4.new_markdown_cell("""## When would SSE enter? (STEPS, surplus then cost / energy, SSE price swept)"""),
    nbf.v4.new_code_cell("""sse = pd.read_csv(f"{INST}/results/sse_breakeven.csv")
sse.round(3)"""),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
nbf.write(nb, Path(__file__).with_name("global_aluminium.ipynb"))
