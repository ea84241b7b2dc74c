"""Writes notebooks/global_aluminium.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# The global aluminium cycle 2020-2050 under the EV shift

As electric cars replace engines, demand for secondary castings (the sink of mixed scrap)
falls while scrap keeps coming: a scrap surplus builds up unless scrap is sorted by alloy or
upgraded, e.g. by solid-state electrolysis (SSE: scrap to 99.9 % Al at 96 % yield).
See `instances/global_aluminium/README.md` for every parameter, its source, and how our
figures compare with the seed's 3.64 Mt of surplus in 2040."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt import plots

from circopt.instance import helper_module

INST = circopt.instance_dir("global_aluminium")  # found next to the package: runs from any folder
metrics = helper_module(INST, "metrics")  # the instance folder's own indicators
SCENARIOS = ["baseline", "baseline_pledges", "baseline_netzero", "sorting", "sse"]
results = {s: circopt.simulate(circopt.load(INST, s)) for s in SCENARIOS}
ind = {s: metrics.indicators(r) for s, r in results.items()}
print({s: f"{r.max_relative_imbalance:.1e}" for s, r in results.items()})"""),
    nbf.v4.new_markdown_cell("## Scrap surplus per year by scenario"),
    nbf.v4.new_code_cell("""fig, ax = plt.subplots(figsize=(9, 4.5))
for s, t in ind.items():
    ax.plot(t.index if "year" not in t else t["year"], t["surplus"], label=s, lw=2)
ax.axhline(3.64, color="k", ls=":", lw=1); ax.text(2021, 3.75, "seed: 3.64 Mt in 2040 (cars)", fontsize=8)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.legend(); ax.grid(alpha=0.3)"""),
    nbf.v4.new_code_cell("""cols = ["demand", "primary", "post_consumer_scrap", "surplus", "automotive_surplus", "energy"]
pd.concat({s: t.loc[t.index.isin([2020, 2030, 2040, 2050]) if "year" not in t else t.year.isin([2020, 2030, 2040, 2050]),
                    [c for c in cols if c in t.columns]] for s, t in ind.items()}, names=["scenario"]).round(2)"""),
    nbf.v4.new_markdown_cell("## The global cycle in 2020 and 2040 (baseline, stated policies)"),
    nbf.v4.new_code_cell("""base = results["baseline"]
# the pre-2020 cohorts sit in their own 'legacy_*' stocks: draw them with the products in use
in_use = {n.family: "use" for n in base.system.nodes if n.family.startswith("legacy_")}
for year in (2020, 2040):
    plots.sankey_png(base, year, grouping=in_use, title=f"Aluminium cycle {year}, baseline (Mt/yr); "
                     "green: recycled metal returning to the cast house")"""),
    nbf.v4.new_code_cell("""plots.sankey_figure(base, 2040, grouping=in_use)"""),
    nbf.v4.new_markdown_cell("## Primary demand and energy with and without SSE"),
    nbf.v4.new_code_cell("""fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
for s in ("baseline", "sorting", "sse"):
    t = ind[s]
    x = t.index if "year" not in t else t["year"]
    axes[0].plot(x, t["primary"], label=s, lw=2)
    axes[1].plot(x, t["energy"], label=s, lw=2)
axes[0].set_ylabel("primary aluminium (Mt/yr)"); axes[1].set_ylabel("energy (instance units/yr)")
for a in axes: a.legend(); a.grid(alpha=0.3)"""),
    nbf.v4.new_markdown_cell("""## The optimised deployment path
Sorting share and SSE capacity per year that minimise the surplus, then primary input, under the
capacity-growth limits of the instance."""),
    nbf.v4.new_code_cell("""system = circopt.load(INST, "baseline")
try:
    best = circopt.optimise(system, objective={"surplus": 1.0, "primary": 1e-3})
    opt_ind = metrics.indicators(best)
    print("audit", f"{best.max_relative_imbalance:.1e}")
    show = ["surplus", "primary", "sorted", "sse_feed", "energy"]
    display(pd.concat({"baseline": ind["baseline"], "optimised": opt_ind}, axis=1)
            .loc[[2030, 2040, 2050], (slice(None), show)].round(2))
except circopt.CircoptError as e:
    print("optimisation not available:", e)"""),
    nbf.v4.new_markdown_cell("## Headline numbers\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
def cumulative(res, loss_type):
    c = res.cumulative_losses()
    return float(c[(c.element == "total") & (c.loss_type == loss_type)].value.sum())

headline = {f"{s}: scrap surplus 2020-2050 (Mt)": round(cumulative(r, "surplus"), 6) for s, r in results.items()}
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("global_aluminium.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
