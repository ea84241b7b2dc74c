"""Writes notebooks/global_aluminium.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# The global aluminium cycle 2020-2050 under the EV shift

As electric cars replace engines, demand for secondary castings (the sink of mixed scrap)
falls while scrap keeps coming: a scrap surplus builds up unless scrap is sorted by alloy or
upgraded, e.g. by solid-state electrolysis (SSE: scrap to 99.9 % Al at 96 % yield).
See `instances/global_aluminium/README.md` for every parameter, its source, and how our
figures compare with the seed's 3.64 Mt of surplus in 2040. This notebook uses only circopt's
public API (results' `losses`, `flows`, `stocks` tables)."""),
    nbf.v4.new_code_cell("""import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt import plots

INST = circopt.instance_dir("global_aluminium")  # found next to the package: runs from any folder
SCENARIOS = ["baseline", "sorting", "sse", "baseline_netzero", "sse_netzero"]
results = {s: circopt.simulate(circopt.load(INST, s)) for s in SCENARIOS}
print({s: f"{r.max_relative_imbalance:.1e}" for s, r in results.items()})


def per_year(res, loss_type):
    t = res.losses[(res.losses.element == "total") & (res.losses.loss_type == loss_type)]
    return t.groupby("year")["value"].sum()


def primary(res):
    f = res.flows[(res.flows.element == "total") & (res.flows.source == "primary")]
    return f.groupby("year")["value"].sum()"""),
    nbf.v4.new_markdown_cell("## Scrap surplus per year by scenario"),
    nbf.v4.new_code_cell("""fig, ax = plt.subplots(figsize=(9, 4.5))
for s, r in results.items():
    y = per_year(r, "surplus")
    ax.plot(y.index, y.to_numpy(), label=s, lw=2)
ax.axhline(3.64, color="k", ls=":", lw=1); ax.text(2021, 3.75, "seed: 3.64 Mt in 2040 (cars)", fontsize=8)
ax.set_ylabel("scrap surplus (Mt/yr)"); ax.set_xlabel("year"); ax.legend(); ax.grid(alpha=0.3)"""),
    nbf.v4.new_code_cell("""pd.DataFrame({s: {"surplus 2040 (Mt/yr)": per_year(r, "surplus").get(2040, 0.0),
                  "primary 2040 (Mt/yr)": primary(r).get(2040, 0.0),
                  "surplus 2020-2050 (Mt)": per_year(r, "surplus").sum()}
              for s, r in results.items()}).T.round(2)"""),
    nbf.v4.new_markdown_cell("## The global cycle in 2035 (baseline, stated policies)"),
    nbf.v4.new_code_cell("""base = results["baseline"]
plots.sankey_png(base, 2035, title="Aluminium cycle 2035, baseline (Mt/yr)");"""),
    nbf.v4.new_code_cell("""plots.sankey_figure(base, 2035)"""),
    nbf.v4.new_markdown_cell("## Primary aluminium with and without sorting and SSE"),
    nbf.v4.new_code_cell("""fig, ax = plt.subplots(figsize=(9, 4.5))
for s in ("baseline", "sorting", "sse"):
    y = primary(results[s])
    ax.plot(y.index, y.to_numpy(), label=s, lw=2)
ax.set_ylabel("primary aluminium (Mt/yr)"); ax.set_xlabel("year"); ax.legend(); ax.grid(alpha=0.3)"""),
    nbf.v4.new_markdown_cell("## Headline numbers\\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {f"{s}: scrap surplus 2020-2050 (Mt)": round(float(per_year(r, "surplus").sum()), 6)
            for s, r in results.items()}
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("global_aluminium.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
