"""Case A, system view (instances/japan_engine_system): the replacement-engine market as a blend,
displacement of new engines, the optimum's binding rows, and plausibility of the headline figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import circopt
from circopt.simulate import shares_from_decisions, simulate

ROOT = Path(__file__).resolve().parents[1]
INST = ROOT / "instances" / "japan_engine_system"
ENGINES_PER_KT = 1e6 / 52.43  # engines per kt of engine ferrous mass

# a market served by reused engines (after inspection) and new ones; a new engine needs 0.5 kt of
# extra primary steel per kt (fabrication scrap, half of it lost)
TINY = """
name: tiny_market
unit: kt
years: [2020, 2021]
elements: [Ni]
compositions:
  engine: {composition: {Ni: 0.01}, source: estimate}
nodes:
  old_engines: {kind: source, composition: engine, series: 4.0, to: elv, source: estimate}
  elv:
    kind: split
    routes: {reuse: inspection, recycle: scrap}
    baseline: {reuse: 0.25, recycle: rest}
    shares: {reuse: [0.0, 0.75]}
    cost: {reuse: 1.0}
    source: estimate
  inspection: {kind: process, to: {market: 0.8, scrap: rest}, source: estimate}
  new_engines: {kind: source, free: true, composition: engine, cost: 10.0, energy: 0, co2: 0, to: market,
                source: estimate}
  fab_scrap_in: {kind: source, follows: new_engines, ratio: 0.5, composition: engine, to: fab, source: estimate}
  fab: {kind: process, to: {scrap: 0.5, fab_loss: rest}, source: estimate}
  market:
    kind: blend
    outputs: {replacement: {to: in_use, demand: 5.0}}
    allocation: {inspection: {replacement: 1.0}, new_engines: {replacement: 1.0}}
    surplus: unsold
    source: estimate
  in_use: {kind: sink, loss: unspecified}
  scrap: {kind: sink, loss: unspecified}
  fab_loss: {kind: sink, loss: process}
  unsold: {kind: sink, loss: dissipation}
"""


def _flow(res, src, tgt, element="total", year=2020):
    f = res.flows
    sel = (f["source"] == src) & (f["target"] == tgt) & (f["element"] == element) & (f["year"] == year)
    return float(f.loc[sel, "value"].sum())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_market")
    (folder / "instance.yaml").write_text(TINY)
    (folder / "sources.csv").write_text("source_id,citation\n")
    return circopt.load(folder)


def test_market_and_displacement_by_hand(tiny):
    res = circopt.optimise(tiny, "cost")
    # by hand: reuse at its bound 0.75 x 4 = 3 kt; 0.8 x 3 = 2.4 kt pass inspection and serve the
    # market; new engines fill 5 - 2.4 = 2.6 kt; their fabrication needs 0.5 x 2.6 = 1.3 kt more
    # primary steel, half of which (0.65 kt) is lost; cost 3 x 1 + 2.6 x 10 = 29
    assert _flow(res, "elv", "inspection") == pytest.approx(3.0, rel=1e-9)
    assert _flow(res, "inspection", "market") == pytest.approx(2.4, rel=1e-9)
    assert _flow(res, "new_engines", "market") == pytest.approx(2.6, rel=1e-9)
    assert _flow(res, "fab_scrap_in", "fab") == pytest.approx(1.3, rel=1e-9)
    assert _flow(res, "fab", "fab_loss") == pytest.approx(0.65, rel=1e-9)
    assert _flow(res, "new_engines", "market", "Ni") == pytest.approx(0.026, rel=1e-9)  # primary Ni
    assert res.objective == pytest.approx(2 * 29.0, rel=1e-9)                           # two years
    # displaced primary: without reuse the market takes 5 kt of new engines (+2.5 kt fabrication)
    none = circopt.optimise(tiny, "cost", constraints=[{"type": "forbid", "node": "elv", "route": "reuse"}])
    displaced = _flow(none, "new_engines", "market") - _flow(res, "new_engines", "market")
    assert displaced == pytest.approx(2.4, rel=1e-9)
    assert _flow(none, "fab_scrap_in", "fab") - _flow(res, "fab_scrap_in", "fab") == pytest.approx(1.2, rel=1e-9)
    # worth of the rows: one more kt of demand costs a new engine (10); one more unit of reuse share
    # of 4 kt saves 0.8 x 4 new engines (32) and costs 4 x 1 reuse: net 28 per unit share = 0.28 per 0.01
    d = res.duals.set_index("constraint")
    assert abs(d.loc["demand[market.replacement,2020]", "dual"]) == pytest.approx(10.0, rel=1e-6)
    assert abs(d.loc["share_max[elv.reuse,2020]", "dual"]) * 4.0 == pytest.approx(28.0, rel=1e-6)
    # the decision table shows the bound in force
    dec = res.decisions.query("node == 'elv' and decision == 'reuse' and year == 2020").iloc[0]
    assert dec["share"] == pytest.approx(dec["upper"]) and dec["upper"] == 0.75


def test_market_round_trip_and_surplus(tiny):
    res = circopt.optimise(tiny, "cost")
    # the round trip: simulating the optimum's decisions (a source that follows a free source too)
    again = simulate(tiny, shares=shares_from_decisions(tiny, res.decisions))
    np.testing.assert_allclose(again.flows_array, res.flows_array, rtol=0, atol=1e-9)
    # baseline simulation: reuse 0.25 x 4 = 1 kt, 0.8 kt reused, new engines make up the 4.2 kt shortfall
    sim = simulate(tiny)
    assert _flow(sim, "new_engines", "market") == pytest.approx(4.2, rel=1e-12)
    assert _flow(sim, "fab_scrap_in", "fab") == pytest.approx(2.1, rel=1e-12)
    assert sim.max_relative_imbalance <= 1e-9


# ---------------------------------------------------------------- the instance -------------------
@pytest.fixture(scope="module")
def system():
    return circopt.load(INST)


@pytest.fixture(scope="module")
def base(system):
    return circopt.optimise(system, "losses")


@pytest.mark.parametrize("scenario,table", [(None, "replacement_demand.csv"),
                                            ("fast_bev", "replacement_demand_fast_bev.csv")])
def test_demand_is_the_failure_flow(scenario, table):
    """The market's demand (data/replacement_demand*.csv) equals the engines that fail in the parc
    (run prepare_data.py again after changing the failure share)."""
    sim = simulate(circopt.load(INST, scenario))
    f = sim.flows
    failed = f[(f["source"] == "engine_exit[1]") & (f["target"] == "failed_engines") & (f["element"] == "total")]
    demand = pd.read_csv(INST / "data" / table, comment="#")
    np.testing.assert_allclose(failed["value"].values, demand["value"].values, rtol=0, atol=1e-5)
    served = f[(f["source"] == "market") & (f["target"] == "engines[2]") & (f["element"] == "total")]
    np.testing.assert_allclose(served["value"].values, demand["value"].values, rtol=0, atol=1e-5)


def test_plausible_headline_figures(system, base):
    demand = pd.read_csv(INST / "data" / "replacement_demand.csv", comment="#").set_index("year")["value"]
    # replacement market 0.3-1 % of the parc (DATA_STEEL_CU.md): 0.2-0.75 M engines a year in 2020
    assert 0.2e6 <= demand[2020] * ENGINES_PER_KT <= 0.75e6
    # the BEV shift shrinks it (BILLY2023 SP: fewer engines in new cars)
    assert demand[2050] < demand[2020]
    # cost of the optimum 2020-2050: 1,500-3,500 bn JPY (≈ 50-110 bn JPY a year for replacement engines,
    # dismantling and recycling; JAPRA's recycled-parts sales alone are 53-76 bn JPY a year)
    cost = circopt.optimise(system, {"cost": 1.0, "losses": 0.0}, fix=base).objective_terms["cost"]
    assert 1500 <= cost <= 3500
    # and it is below today's practice (3,107 bn JPY): reused and rebuilt engines replace new ones
    today = circopt.optimise(system, {"cost": 1.0, "losses": 0.0}, fix=simulate(system)).objective_terms["cost"]
    assert cost < today
    assert base.max_relative_imbalance <= 1e-9


def test_optimum_is_not_all_levers_at_bound(base):
    d = base.decisions.query("kind == 'route' and input > 1e-6")
    inside = d[(d["share"] > d["lower"] + 1e-6) & (d["share"] < d["upper"] - 1e-6)]
    reman = inside.query("node == 'core_pool' and decision == 'reman'")
    assert len(reman) >= 20, "rebuilding should sit strictly inside its share bounds in most years"
    duals = base.duals.set_index("constraint")
    # early years: the rebuild capacity (its initial level and bounded growth) stops it
    assert duals.loc["constraints[0].capacity_growth[core_pool.reman,2021]", "binding"]
    assert duals.loc["constraints[0].capacity_growth[core_pool.reman,2021]", "dual"] < 0
    # later: the market (every replacement engine is reused or rebuilt, no new ones)
    assert 2030 in set(reman["year"])
    assert duals.loc["demand[market.replacement,2030]", "binding"]
    new = base.decisions.query("node == 'new_engines' and year == 2030")["value"].iloc[0]
    assert new == pytest.approx(0.0, abs=1e-9)


def test_export_does_not_depend_on_the_decisions(system, base):
    """Used-car exports are the same in the least-cost and least-loss optima: the optimiser cannot
    lower losses by sending engines abroad (every replacement engine goes into the same parc)."""
    cheap = circopt.optimise(system, "cost")
    ex = [r.losses.query("node == 'exported_cars' and element == 'total'") for r in (base, cheap)]
    assert set(ex[0]["kind"]) == {"exported"}          # an export node: neither in use nor lost
    ex = [e["value"].sum() for e in ex]
    assert ex[0] == pytest.approx(ex[1], rel=1e-9) and ex[0] > 0


def test_export_is_counted_by_default_and_changes_no_decision(system, base):
    """The domestic view counts the exported cars' engines as lost; leaving them out of the
    objective shifts it by that constant and leaves every decision as it was."""
    alone = circopt.optimise(system, {"losses": {"weight": 1.0, "loss_types": ["dissipation", "process",
                                                                                 "dilution"]}})
    exported = base.losses.query("node == 'exported_cars' and element == 'total'")["value"].sum()
    assert base.objective == pytest.approx(alone.objective + exported, rel=1e-9)
    key = ["year", "node", "decision"]
    a = base.decisions.set_index(key)["value"]
    b = alone.decisions.set_index(key)["value"].reindex(a.index)
    assert float((a - b).abs().max()) <= 1e-6 * max(1.0, float(a.abs().max()))


def test_default_objective_gains_nothing_from_more_export(system, base):
    """A higher used-car export share (the top of its range, 36 %) makes the default objective
    worse, not better: export is lost to Japan."""
    from circopt.instance import build, load_document, set_dotted

    doc, folder, _ = load_document(INST)
    more = circopt.optimise(build(set_dotted(doc, "nodes.car_end.to.exported_cars", 0.36), folder), "losses")
    assert more.extra["boundary"]["objective_counts_exported"] is True
    # 0.0605 more of every end-of-use car leaves: hundreds of kt more, not fewer
    assert more.objective > base.objective + 100.0


def test_lever_costs_follow_the_cost_data_and_ration_a_budget(system):
    """Each lever's outlay is (ambitious - today's share) x the split's input 2020-2050 under
    today's shares x the route's unit cost; combine then buys reuse and ELV cores first."""
    from circopt import studies

    lv = studies.levers(system)
    sim = simulate(system)
    t = sim.flows.query("element == 'total'")
    into = {n: float(t[t["target"] == n]["value"].sum()) for n in ("elv_engines", "core_pool", "alloy_sorting")}
    by_hand = {"reuse": 0.02 * into["elv_engines"] * 0.572, "elv_cores": 0.08 * into["elv_engines"] * 0.191,
               "rebuild": 0.45 * into["core_pool"] * 4.768, "part_sorting": 0.40 * into["alloy_sorting"] * 0.0572}
    for name, value in by_hand.items():
        assert lv[name].cost == pytest.approx(value, rel=2e-3), name
    st = studies.combine(system, budget=130.0, objective={"losses": 1.0, "cost": 1e-6}, budgets=[50.0, 130.0, 300.0])
    chosen = dict(zip(st.table["budget"], st.table["levers"]))
    assert chosen[50.0] == "(none)"
    assert set(chosen[130.0].split("+")) == {"reuse", "elv_cores"}
    assert set(chosen[300.0].split("+")) == {"reuse", "elv_cores", "part_sorting"}
    # the rebuild lever (1,304 bn JPY) adds nothing once ELV cores are bought
    every = circopt.optimise(system, {"losses": 1.0, "cost": 1e-6},
                             constraints=studies.lever_constraints(lv, list(lv)))
    at300 = st.table.set_index("budget").loc[300.0, "objective"]
    assert at300 == pytest.approx(every.objective, abs=1e-3)


def test_budget_frontier_rations_sorting(system):
    """Between the least cost and the least losses, money buys alloy-part sorting only."""
    points = []
    for eps in (2100.0, 2180.0, 2260.0):
        r = circopt.optimise(system, "losses", epsilon={"cost": eps})
        sort = r.decisions.query("node == 'alloy_sorting' and decision == 'dismantle'")["value"].sum()
        points.append((r.objective, sort, r.duals.set_index("constraint").loc["epsilon[cost]", "dual"]))
    losses, sort, worth = zip(*points)
    assert losses[0] > losses[1] > losses[2]
    assert sort[0] < sort[1] < sort[2]
    # a straight frontier: every bn JPY buys the same loss reduction (the same lever in every year)
    assert worth[0] == pytest.approx(worth[1], rel=1e-6) and worth[0] != 0

def test_market_of_identical_products_feeds_a_split(tmp_path):
    """A blend whose inputs all carry one composition has that composition: a split may follow it
    (the linearity rule holds), and a state node with an all-zero input edge keeps its composition."""
    doc = TINY.replace("outputs: {replacement: {to: in_use, demand: 5.0}}",
                       "outputs: {replacement: {to: installed, demand: 5.0}}")
    # an all-zero edge into 'installed', declared first (so it is the node's first input)
    doc = doc.replace("  old_engines:", "  aux: {kind: process, to: {installed: 0.0, scrap: rest}, source: estimate}\n"
                      "  aux_in: {kind: source, composition: engine, series: 1.0, to: aux, source: estimate}\n  old_engines:")
    doc = doc.replace("  in_use: {kind: sink, loss: unspecified}\n", """  in_use: {kind: sink, loss: unspecified}
  installed: {kind: process, to: later, source: estimate}
  later:
    kind: split
    routes: {keep: in_use, scrap: scrap}
    baseline: {keep: 0.5, scrap: rest}
    shares: {keep: [0.0, 0.6]}
    cost: {keep: 0.1}
    source: estimate
""")
    (tmp_path / "instance.yaml").write_text(doc)
    (tmp_path / "sources.csv").write_text("source_id,citation\n")
    system = circopt.load(tmp_path)
    assert system.comp_known[[e.id for e in system.edges if e.rule == "blend_out"]].all()
    res = circopt.optimise(system, "losses")
    assert res.max_relative_imbalance <= 1e-9
    # by hand: 5 kt installed, the split keeps at most 0.6 x 5 = 3 kt; Ni follows the engines (1 %)
    assert _flow(res, "later", "in_use") == pytest.approx(3.0, rel=1e-9)
    assert _flow(res, "later", "in_use", "Ni") == pytest.approx(0.03, rel=1e-9)
    again = simulate(system, shares=shares_from_decisions(system, res.decisions))
    np.testing.assert_allclose(again.flows_array, res.flows_array, rtol=0, atol=1e-9)


def test_budget_stops_sorting_at_todays_reuse_and_rebuild(system):
    """With reuse, rebuilding and ELV cores held at today's shares, the 3,300 bn JPY budget is spent
    and part sorting sits strictly inside its bounds, stopped by the budget row."""
    from circopt import studies

    cons = studies.lever_constraints(studies.levers(system), ["part_sorting"])
    res = circopt.optimise(system, {"losses": 1.0, "cost": 1e-6}, constraints=cons)
    budget = res.duals.query("kind == 'budget'").iloc[0]
    assert budget["binding"] and budget["dual"] < 0
    sort = res.decisions.query("node == 'alloy_sorting' and decision == 'dismantle'")
    mean = sort["value"].sum() / sort["input"].sum()
    assert 0.01 < mean < 0.49
    # the budget's worth equals part sorting's loss reduction per bn JPY (the only lever it buys)
    free = circopt.optimise(system, "losses", epsilon={"cost": 2200.0})
    # (the 1e-6 cost weight of this run shifts it by 1e-6)
    assert budget["dual"] == pytest.approx(free.duals.set_index("constraint").loc["epsilon[cost]", "dual"], abs=2e-6)


def test_round_trip_of_the_optimum_through_its_table(system, base, tmp_path):
    """decisions.csv (with its lower/upper columns and the rebuild capacities) imposed on the
    simulator reproduces the optimum's flows."""
    path = tmp_path / "decisions.csv"
    base.decisions.to_csv(path, index=False)
    again = simulate(system, decisions=path)
    scale = float(np.abs(base.flows_array).max())
    assert float(np.abs(again.flows_array - base.flows_array).max()) <= 1e-9 * scale
    assert {"lower", "upper"} <= set(base.decisions.columns)
