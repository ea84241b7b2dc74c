"""The round trip, both ways: simulate(optimise(x).decisions) reproduces the optimum, and
optimise(fix=simulate(x).decisions) reproduces the simulation -- flows, stocks and losses to
1e-9 of the largest value -- on the toy, the Japanese engines and random networks, from
Python and from the command line. Decisions the simulator cannot reproduce are refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings

import circopt
from circopt.cli import main
from circopt.decisions import Decisions, DecisionsError
from circopt.errors import InstanceError, SimulationError
from circopt.model import optimise
from circopt.trace import trace

from .netgen import random_instance, write_sources

ROOT = Path(__file__).resolve().parents[1]
TOY = str(ROOT / "instances" / "toy")
OBJECTIVES = [{"losses": 1, "primary": 0.01}, "losses", "primary", "energy", "cost", {"surplus": 1, "co2": 0.1}]


def rel(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    """Largest difference relative to the largest value of b (or ``floor``, if larger)."""
    scale = max(float(np.abs(b).max()) if b.size else 0.0, floor, 1e-300)
    return float(np.abs(a - b).max()) / scale if a.size else 0.0


def losses_of(res) -> np.ndarray:
    return res.losses.sort_values(["year", "node", "element"])["value"].to_numpy()


def assert_same_run(a, b, tol=1e-9):
    assert rel(a.flows_array, b.flows_array) <= tol
    assert rel(a.stock_array, b.stock_array) <= tol
    # on the largest value of the system: losses that are round-off (e.g. 1e-12 of flows of 0.8,
    # everything reused) are not compared on their own scale
    assert rel(losses_of(a), losses_of(b), floor=float(np.abs(b.flows_array).max(initial=0.0))) <= tol
    assert a.max_relative_imbalance <= 1e-9


@pytest.fixture(scope="module")
def toy():
    return circopt.load(TOY)


@pytest.mark.parametrize("objective", OBJECTIVES, ids=str)
def test_simulating_the_optimum_reproduces_it_toy(toy, objective):
    opt = optimise(toy, objective)
    for given_as in (opt, opt.decisions, opt.decision_record):
        assert_same_run(circopt.simulate(toy, decisions=given_as), opt)


def test_round_trip_of_the_issue_case(toy):
    """{losses: 1, primary: 0.01}: the optimum sends primary alloy to the carbon steel too,
    which the baseline blend rule cannot express -- given decisions reproduce it exactly."""
    opt = optimise(toy, {"losses": 1, "primary": 0.01})
    sim = circopt.simulate(toy, decisions=opt)
    f_opt = opt.flows.query("source == 'primary_alloy' and element == 'total'")["value"].to_numpy()
    f_sim = sim.flows.query("source == 'primary_alloy' and element == 'total'")["value"].to_numpy()
    np.testing.assert_allclose(f_sim, f_opt, rtol=1e-9, atol=1e-9 * opt.flows_array.max())
    # and the simulated decisions table holds the optimum's allocations, free inputs included
    cols = ["year", "node", "decision", "kind"]
    m = opt.decisions.merge(sim.decisions, on=cols, suffixes=("", "_sim"))
    assert len(m) == len(opt.decisions)
    np.testing.assert_allclose(m.value_sim, m.value, rtol=0, atol=1e-9 * opt.flows_array.max())


def test_route_flows_a_tolerance_below_zero_give_shares_in_the_unit_interval(toy):
    """An optimum's route flow may sit a solver tolerance below 0; at a nearly empty split that
    must not read as a share outside [0, 1] (a pulse traced through it would then go negative).
    Here one route of a split carries -1e-8 t and the other 3e-8 t in 2022: shares 0 and 1."""
    rec = optimise(toy, "losses").decision_record
    p = next(n for n in range(len(toy.nodes)) if len(toy.out_edges(n)) > 1
             and all(e in rec.route for e in toy.out_edges(n)))
    outs = [e for e in toy.out_edges(p) if e in rec.route]
    rec = copy.deepcopy(rec)
    for e in outs:
        rec.route[e][2] = 0.0
    rec.route[outs[0]][2], rec.route[outs[1]][2] = -1e-8, 3e-8
    sh = rec.shares(toy).route
    assert sh[outs[0], 2] == 0.0 and sh[outs[1], 2] == pytest.approx(1.0)
    assert np.nanmin(sh) >= 0.0 and np.nanmax(sh) <= 1.0 + 1e-12


def test_blend_allocations_a_tolerance_off_make_no_mass(toy):
    """The LP meets 'blend input = sum of its allocations' to an absolute tolerance: on a nearly
    empty input, allocations of 1e-8 and 0.5e-8 t of an input of 1e-8 t must not become fractions
    1 and 0.5 (the simulation would make half the input from nothing): they become 2/3 and 1/3."""
    rec = copy.deepcopy(optimise(toy, "losses").decision_record)
    b, bl = next((b, bl) for b, bl in enumerate(toy.blends) if len(bl.outputs) >= 2)
    i = next(i for i, e in enumerate(bl.inputs) if not toy.nodes[toy.edges[e].source].free)
    rec.blend_input[b][i][2] = 1e-8
    rec.allocation[b][i][:, 2] = 0.0
    rec.allocation[b][i][0, 2], rec.allocation[b][i][1, 2] = 1e-8, 0.5e-8
    a = rec.shares(toy).allocation[b][i]
    assert a[0, 2] == pytest.approx(2 / 3) and a[1, 2] == pytest.approx(1 / 3)
    assert (a.sum(axis=0) <= 1 + 1e-12).all()


@pytest.mark.parametrize("scenario", [None, "more_reuse"])
def test_fixing_the_simulation_reproduces_it_toy(scenario):
    system = circopt.load(TOY, scenario)
    sim = circopt.simulate(system)
    assert_same_run(optimise(system, "losses", fix=sim.decisions), sim)
    # and a second trip through the simulator lands on the same run again
    assert_same_run(circopt.simulate(system, decisions=sim), sim)


def test_cli_simulate_with_decisions(tmp_path, capsys):
    opt_dir, sim_dir, sim2_dir = tmp_path / "opt", tmp_path / "sim", tmp_path / "sim2"
    assert main(["optimise", TOY, "--objective", "losses=1,primary=0.01", "--out", str(opt_dir)]) == 0
    assert main(["simulate", TOY, "--decisions", str(opt_dir), "--out", str(sim_dir)]) == 0
    assert main(["simulate", TOY, "--decisions", str(opt_dir / "decisions.csv"), "--out", str(sim2_dir)]) == 0
    f_opt = pd.read_csv(opt_dir / "flows.csv")
    for d in (sim_dir, sim2_dir):
        f_sim = pd.read_csv(d / "flows.csv")
        assert list(f_sim[["year", "source", "target", "element"]].itertuples(index=False)) == \
            list(f_opt[["year", "source", "target", "element"]].itertuples(index=False))
        assert rel(f_sim.value.to_numpy(), f_opt.value.to_numpy()) <= 1e-9
        st_o, st_s = pd.read_csv(opt_dir / "stocks.csv"), pd.read_csv(d / "stocks.csv")
        assert rel(st_s.value.to_numpy(), st_o.value.to_numpy()) <= 1e-9
        assert json.loads((d / "summary.json").read_text())["max_relative_imbalance"] <= 1e-9


def test_cli_decisions_carry_a_scenario_and_bad_ones_are_refused(tmp_path, capsys):
    # more_reuse only changes the baseline shares: its decisions make the base instance run it
    out = tmp_path / "reuse"
    assert main(["simulate", TOY, "--scenario", "more_reuse", "--out", str(out)]) == 0
    assert main(["simulate", TOY, "--decisions", str(out), "--out", str(tmp_path / "x")]) == 0
    a, b = pd.read_csv(out / "flows.csv"), pd.read_csv(tmp_path / "x" / "flows.csv")
    assert rel(b.value.to_numpy(), a.value.to_numpy()) <= 1e-9
    # a hand-edited table whose masses break the balances is refused, nothing written
    t = pd.read_csv(out / "decisions.csv")
    t.loc[(t.node == "eol[1]") & (t.decision == "landfill") & (t.year == 2024), "value"] += 7.0
    t.to_csv(tmp_path / "edited.csv", index=False)
    capsys.readouterr()
    assert main(["simulate", TOY, "--decisions", str(tmp_path / "edited.csv"), "--out", str(tmp_path / "y")]) != 0
    err = capsys.readouterr().err
    assert "does not reproduce" in err and "route eol[1]" in err and "2024" in err and not (tmp_path / "y").exists()
    assert main(["simulate", TOY, "--decisions", str(tmp_path / "nowhere"), "--out", str(tmp_path / "z")]) != 0
    assert "no decisions table" in capsys.readouterr().err


def test_incomplete_or_foreign_decisions_are_refused(toy):
    table = optimise(toy, "losses").decisions
    with pytest.raises(DecisionsError, match="missing"):
        circopt.simulate(toy, decisions=table[~((table.kind == "route") & (table.year == 2025))])
    bad = table.copy()
    bad.loc[bad.index[0], "node"] = "no_such_split"
    with pytest.raises(DecisionsError, match="does not have"):
        circopt.simulate(toy, decisions=bad)
    bad = table.copy()
    bad.loc[bad.index[0], "value"] = np.nan
    with pytest.raises(DecisionsError, match="finite"):
        circopt.simulate(toy, decisions=bad)
    # masses that do not satisfy the balances are refused, not approximated
    bad = table.copy()
    sel = (bad.kind == "route") & (bad.decision == "recycle") & (bad.year == 2025)
    bad.loc[sel, "value"] *= 1.5
    with pytest.raises(DecisionsError, match="does not reproduce"):
        circopt.simulate(toy, decisions=bad)
    with pytest.raises(InstanceError):
        optimise(toy, "losses", fix=bad.drop(columns=["value"]))


def test_trace_follows_the_optimum(toy):
    """The pulse takes each split's route shares and each blend input's allocation fractions
    of the optimum, year by year."""
    objective = {"losses": 1, "primary": 0.01}
    opt = optimise(toy, objective)
    fate = trace(toy, source="production", objective=objective)
    assert fate.share_sum_error() <= 1e-12
    d_opt, d_pulse = opt.decisions, fate.result.decisions
    for kind in ("route", "allocation"):
        a = d_opt[(d_opt.kind == kind) & (d_opt.input > 1e-9)]
        b = d_pulse[(d_pulse.kind == kind) & (d_pulse.input > 1e-12)]
        m = a.merge(b, on=["year", "node", "decision", "kind"], suffixes=("", "_pulse"))
        assert len(m) > 0
        np.testing.assert_allclose(m.share_pulse, m.share, rtol=1e-9, atol=1e-12)
    # free inputs add nothing to a traced pulse
    assert d_pulse[d_pulse.decision.str.startswith("primary_")].value.abs().max() == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["losses", "primary"])
def test_round_trip_japan_engines(objective):
    system = circopt.load(str(ROOT / "instances" / "japan_engines"))
    opt = optimise(system, objective)
    assert_same_run(circopt.simulate(system, decisions=opt), opt)
    assert_same_run(circopt.simulate(system, decisions=opt.decisions), opt)
    sim = circopt.simulate(system)
    assert_same_run(optimise(system, objective, fix=sim), sim)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_instance())
def test_round_trip_random_networks(tmp_path_factory, doc):
    """Both directions on random networks (blends with two priced free sources and several
    outputs, one with a window; lives; same-year loops)."""
    folder = write_sources(tmp_path_factory.mktemp("rt"))
    try:
        system = circopt.build(copy.deepcopy(doc), folder)
        sim = circopt.simulate(system)
    except (InstanceError, SimulationError):
        assume(False)
        return
    assert_same_run(optimise(system, "losses", fix=sim), sim)
    try:
        opt = optimise(system, {"losses": 1.0, "primary": 0.01, "energy": 0.001})
    except circopt.SolverError:  # an infeasible window: nothing to trip over
        assume(False)
        return
    assert_same_run(circopt.simulate(system, decisions=opt), opt)
    assert_same_run(circopt.simulate(system, decisions=opt.decisions), opt)


def test_record_round_trips_through_its_table(toy):
    rec = optimise(toy, "primary").decision_record
    back = Decisions.from_table(toy, rec.to_table(toy))
    for e, v in rec.route.items():
        np.testing.assert_array_equal(back.route[e], v)
    for b, v in rec.allocation.items():
        np.testing.assert_array_equal(back.allocation[b], v)
        np.testing.assert_array_equal(back.blend_input[b], rec.blend_input[b])
    # leftovers: what the surplus outlet receives
    sur = optimise(toy, "primary").flows.query("target == 'surplus' and element == 'total'")["value"].to_numpy()
    np.testing.assert_allclose(back.leftover(0).sum(axis=0), sur, rtol=1e-9, atol=1e-9)


def test_free_source_outside_a_blend_round_trips(tmp_path):
    """A free source feeding a process (not a blend) has no baseline rule, so the baseline
    simulation refuses it; given the optimum's decisions its amount is imposed exactly."""
    nodes = {
        "supply": {"kind": "source", "composition": {"A": 0.2}, "series": 100.0, "to": "fork", "source": "estimate"},
        "extra": {"kind": "source", "free": True, "composition": {"A": 1.0}, "to": "fab", "source": "estimate",
                  "energy": 1.0, "co2": 0.5, "cost": 2.0},
        "fork": {"kind": "split", "routes": {"a": "dump", "b": "fab"}, "baseline": {"a": 0.5, "b": "rest"},
                 "source": "estimate"},
        "fab": {"kind": "process", "to": {"keep": 0.9, "dump": "rest"}, "source": "estimate"},
        "dump": {"kind": "sink", "loss": "dissipation"},
        "keep": {"kind": "sink", "loss": "export"},
    }
    doc = {"name": "free", "unit": "t", "years": [2020, 2022], "elements": ["A"], "nodes": nodes}
    system = circopt.build(doc, write_sources(tmp_path))
    with pytest.raises(SimulationError, match="free source extra feeds fab"):
        circopt.simulate(system)
    opt = optimise(system, "losses", constraints=[{"type": "flow", "source": "fab", "target": "keep", "min": 95.0}])
    # all 100 t go to fab (90 kept), and 5.56 t of 'extra' make up the rest: 0.9 (100 + x) = 95
    np.testing.assert_allclose(opt.decisions.query("kind == 'supply'")["value"], 95 / 0.9 - 100, rtol=1e-9)
    assert_same_run(circopt.simulate(system, decisions=opt), opt)
