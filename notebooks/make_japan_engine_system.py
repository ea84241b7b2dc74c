"""Writes notebooks/japan_engine_system.ipynb (kept as code so the notebook's source is reviewable)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell("""# Japan's engine system 2020-2050: markets, capacity and money

The system view of case A (`instances/japan_engine_system`): every cohort of the Japanese car parc,
the engines that fail while their car lives on, and the replacement-engine market that new, reused
and rebuilt engines serve. Mass in kt of engine ferrous mass (1 kt = 19,073 engines), money in bn JPY.
The README documents every number; this notebook tells the story of the optimum: what the optimiser
does, which row stops each lever, what each row is worth, the budget frontier and the levers per yen."""),
    nbf.v4.new_code_cell("""import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import circopt
from circopt import studies, terms

INST = circopt.instance_dir("japan_engine_system")  # found next to the package: runs from any folder
system = circopt.load(INST)
today = circopt.simulate(system)
best = circopt.optimise(system, "losses", then=["cost"])      # least losses, then least cost
cheap = circopt.optimise(system, "cost")                      # least cost
runs = {"today's shares": today, "least losses, then cost": best, "least cost": cheap}
pd.DataFrame({k: terms.values(r) for k, r in runs.items()}).T.round(1)"""),
    nbf.v4.new_markdown_cell("""## The replacement-engine market
Demand = the engines that fail in the parc (7 % of exits). Today's shares buy many new engines; the
optimum fills the market with reused and rebuilt engines as fast as rebuild capacity can grow, and
buys no new engine after 2024: every reused or rebuilt engine displaces a new one."""),
    nbf.v4.new_code_cell("""def market(res):
    f = res.flows[(res.flows.element == "total") & (res.flows.target == "market")]
    return f.pivot_table(index="year", columns="source", values="value").rename(
        columns={"inspection": "reused", "rebuilt_engines": "rebuilt", "new_engines": "new"})[["reused", "rebuilt", "new"]]

fig, axes = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
for ax, (name, res) in zip(axes, [("today's shares", today), ("optimum", best)]):
    m = market(res)
    ax.stackplot(m.index, m.T.values, labels=m.columns)
    ax.set_title(name); ax.set_xlabel("year"); ax.set_ylabel("kt of engines per year")
axes[0].legend(loc="lower left")
fig.tight_layout()
displaced = terms.value(today, "primary") - terms.value(best, "primary")
print(f"new engines displaced 2020-2050: {displaced:.1f} kt = {displaced * 1e6 / 52.43 / 1e6:.2f} M engines")"""),
    nbf.v4.new_markdown_cell("""## Which levers are at a bound, which are inside, and what stops them
`decisions` carries the bounds in force (`lower`, `upper`) next to each share."""),
    nbf.v4.new_code_cell("""d = best.decisions.query("kind == 'route' and decision in ['reuse', 'core', 'reman', 'dismantle']")
d = d.assign(where=np.select([d.share <= d.lower + 1e-6, d.share >= d.upper - 1e-6], ["at lower", "at upper"], "inside"))
d.query("year in [2020, 2022, 2025, 2030, 2050]")[["year", "node", "decision", "share", "lower", "upper", "where"]]"""),
    nbf.v4.new_code_cell("""# the worth of each binding row, in kt of losses (base objective) and in bn JPY (losses held)
losses_only = circopt.optimise(system, "losses")
cols = ["family", "lever", "binding_rows", "first_binding", "last_binding", "objective_change", "per"]
print("in kt of losses 2020-2050:")
display(circopt.binding(losses_only)[cols])
print("in bn JPY, losses held at their minimum:")
circopt.binding(best)[cols]"""),
    nbf.v4.new_code_cell("""sh = best.decisions.query("node == 'core_pool' and decision == 'reman' and kind == 'route'").set_index("year")
cap = best.decisions.query("kind == 'capacity'").set_index("year")["value"]
dem = market(best).sum(axis=1)
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(sh.index, sh["value"], label="cores rebuilt")
ax.plot(cap.index, cap, "--", label="rebuild capacity")
ax.plot(dem.index, dem, ":", label="replacement demand")
ax.plot(dem.index, market(best)["reused"], label="reused")
ax.set_ylabel("kt per year"); ax.legend(); ax.set_title("rebuilding: capacity-bound to 2024, market-bound after")"""),
    nbf.v4.new_markdown_cell("""## The budget frontier
Losses count the exported cars' engines (2,674 kt, the same in every run: the domestic view).
Below the least cost (≈2,084 bn JPY) nothing serves the market; above the cost of the least-loss
optimum (≈2,262 bn JPY) money buys nothing more. In between, the budget row binds and part sorting
is the lever it rations: the frontier is straight (one lever, the same price in every year)."""),
    nbf.v4.new_code_cell("""lo, hi = terms.value(cheap, "cost"), terms.value(best, "cost")
rows = []
for budget in np.linspace(lo, hi + 40, 7):
    r = circopt.optimise(system, "losses", epsilon={"cost": float(budget)}, then=["cost"])
    dec = r.decisions
    sort = dec.query("node == 'alloy_sorting' and decision == 'dismantle'")
    rows.append({"budget": budget, "cost": terms.value(r, "cost"), "losses": terms.value(r, "losses"),
                 "Cr losses": terms.value(r, "losses", {"elements": {"Cr": 1}}),
                 "sorted share (mean)": (sort.value.sum() / sort.input.sum()),
                 "rebuilt kt": dec.query("node == 'core_pool' and decision == 'reman' and kind == 'route'").value.sum()})
front = pd.DataFrame(rows)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(front.cost, front.losses, "o-")
ax.set_xlabel("cost 2020-2050 [bn JPY]"); ax.set_ylabel("losses 2020-2050 [kt]")
front.round(3)"""),
    nbf.v4.new_markdown_cell("""## Levers per unit of money
Each lever alone from today's bounds (`circopt prioritise`): reuse, rebuilding and buying ELV cores
save money *and* losses, so only the market, capacity and quality rows limit them; part sorting is
the one lever that costs money (≈11 bn JPY per kt of losses avoided, almost all Cr, Ni, Co)."""),
    nbf.v4.new_code_cell("""st = studies.prioritise(system, {"losses": 1.0, "cost": 1e-6})
st.table.query("run in ['alone', 'all']")[["run", "lever", "d_losses/total", "d_losses/Cr", "d_cost/total",
                                           "d_losses_per_d_cost"]].round(3)"""),
    nbf.v4.new_markdown_cell("""## Which levers first, under a programme budget
Each lever has a cost in `instance.yaml` (`levers:`): the gross outlay of the activity it adds
(its extra route mass under today's shares x the route's unit cost), before the savings on new
engines. `circopt combine` picks the best set of levers whose outlays fit a budget (MILP), at every
distinct sum of lever costs: the active set changes three times, and buying ELV engines as cores
(73 bn JPY) does what raising the rebuildable share does (1,304 bn JPY)."""),
    nbf.v4.new_code_cell("""lv = studies.levers(system)
print({k: v.cost for k, v in lv.items()})
comb = studies.combine(system, budget=1600.0, objective={"losses": 1.0, "cost": 1e-6})
t = comb.table[["budget", "levers", "cost", "objective", "improvement"]]
fig, ax = plt.subplots(figsize=(7, 4))
ax.step(t.budget, t.improvement, where="post")
ax.set_xscale("symlog", linthresh=50); ax.set_xlabel("programme budget [bn JPY]"); ax.set_ylabel("losses avoided [kt]")
t.drop_duplicates("levers").round(2)"""),
    nbf.v4.new_markdown_cell("## Headline numbers\nChecked by the tests: re-running this notebook must reproduce them."),
    nbf.v4.new_code_cell("""import json
headline = {"least losses, then least cost: losses (kt)": round(best.objective_terms.get("losses", best.objective), 6),
            "least cost: cost": round(cheap.objective, 6),
            "combine, budget 1600: losses avoided (kt)": round(float(comb.table.improvement.iloc[-1]), 6)}
print(json.dumps(headline, indent=1))""", metadata={"tags": ["headline"]}),
]

nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
OUT = Path(__file__).with_name("japan_engine_system.ipynb")

if __name__ == "__main__":
    nbf.write(nb, OUT)  # without outputs; `python notebooks/build.py` writes it with its outputs
