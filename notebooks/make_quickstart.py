"""Writes notebooks/quickstart.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# circopt quick start

Build a small circular system in Python, simulate it, optimise it, and look at the results.
Every number here is a tutorial value (`estimate`)."""),
    nbf.v4.new_code_cell("""import tempfile, pathlib
import circopt
from circopt import plots

# A folder holds the bibliography; the system itself is a plain dict (or instance.yaml).
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "sources.csv").write_text("source_id,citation\\nestimate,tutorial values\\n")

doc = {
    "name": "quickstart", "unit": "kt", "years": [2020, 2050], "elements": ["Fe", "Ni"],
    "compositions": {"steel": {"composition": {"Fe": 0.97, "Ni": 0.02}, "source": "estimate"},
                "iron": {"composition": {"Fe": 0.99}, "source": "estimate"}},
    "nodes": {
        "production": {"kind": "source", "composition": "steel", "series": {2020: 100, 2050: 140, "fill": "interpolate"}, "to": "in_use",
                       "source": "estimate"},
        "in_use": {"kind": "stock", "lives": 1, "lifetime": {"model": "weibull", "mean": 12, "sd": 4},
                   "later_lives": {"lifetime": {"model": "normal", "mean": 6, "sd": 1.5}}, "to": "eol",
                   "source": "estimate"},
        "eol": {"kind": "split", "over": ["life"],
                "routes": {"reuse": "in_use.next_life", "recycle": "remelting", "landfill": "landfill"},
                "baseline": {"reuse": {1: 0.05, 2: 0.0}, "landfill": 0.15, "recycle": "rest"},
                "shares": {"reuse": [0.0, 0.3], "landfill": [0.05, 1.0]}, "source": "estimate"},
        "remelting": {"kind": "process", "to": {"secondary": {"Fe": 0.95, "Ni": 0.9, "default": 0.9},
                                                 "slag": "rest"}, "source": "estimate"},
        "primary": {"kind": "source", "free": True, "composition": "iron", "to": "secondary", "source": "estimate",
                    "energy": 5.0, "co2": 1.9, "cost": 0.5},  # priced: no mass from nowhere
        "secondary": {"kind": "blend", "source": "estimate", "surplus": "surplus",
                      "outputs": {"steel": {"to": "market", "demand": {2020: 100, 2050: 140, "fill": "interpolate"},
                                            "window": {"Ni": [0.0, 0.015]}}},
                      # primary makes up the steel's shortfall to its demand in the baseline
                      "allocation": {"remelting": {"steel": 1.0}, "primary": {"steel": 1.0}}},
        "market": {"kind": "sink", "loss": "export"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
        "slag": {"kind": "sink", "loss": "process"},
        "surplus": {"kind": "sink", "loss": "surplus"},
    },
}
system = circopt.build(doc, folder)
print(len(system.nodes), "nodes:", [n.name for n in system.nodes])"""),
    nbf.v4.new_markdown_cell("## Simulate with the baseline shares\nEvery result carries a mass-balance audit."),
    nbf.v4.new_code_cell("""base = circopt.simulate(system)
print("max relative imbalance:", base.max_relative_imbalance)
base.cumulative_losses().pivot(index="loss_type", columns="element", values="value")"""),
    nbf.v4.new_code_cell("""plots.sankey_png(base, 2040);"""),
    nbf.v4.new_markdown_cell("## Optimise\nThe same system as an LP (Pyomo + HiGHS): choose reuse and landfill shares "
                             "and the scrap allocation to minimise losses."),
    nbf.v4.new_code_cell("""best = circopt.optimise(system, objective="losses")
print("objective:", best.objective, "audit:", best.max_relative_imbalance)
d = best.decisions
d[(d.kind == "route") & (d.year == 2040)][["node", "decision", "share", "value"]]"""),
    nbf.v4.new_code_cell("""plots.plot_series({"baseline": base, "optimised": best}, "losses", loss_type="dissipation");"""),
    nbf.v4.new_markdown_cell("## Where does one year's steel go?\nA pulse of the 2020 input, traced over 30 years."),
    nbf.v4.new_code_cell("""from circopt.trace import trace
fate = trace(system, source="production")
plots.plot_fate(fate, "Ni")
fate.summary[fate.summary.element == "total"]"""),
    nbf.v4.new_markdown_cell("## Headline numbers\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {"baseline: dissipation 2020-2050 (kt)": round(float(base.cumulative_losses().query(
                "loss_type == 'dissipation' and element == 'total'").value.sum()), 6),
            "optimum: losses 2020-2050 (kt)": round(best.objective, 6)}
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("quickstart.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
