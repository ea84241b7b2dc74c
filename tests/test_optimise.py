"""Tests of circopt.model: the LP is the simulator's equations, optima worked out by hand.

Every expected number below is derived in the test's docstring or comments from the
instance's data, not copied from the code's output.
"""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyomo.repn import generate_standard_repn

import circopt
from circopt.errors import InfeasibleError, InstanceError, SimulationError, SolverError, UnboundedError
from circopt.model import build_model, optimise, solve

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "instances" / "toy"
_TMP = Path(tempfile.mkdtemp(prefix="circopt-test-optimise-"))
atexit.register(shutil.rmtree, _TMP, True)
(_TMP / "sources.csv").write_text("source_id,citation\nestimate,test values\n")


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(b).max()), 1e-300)
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / scale)


def build(doc: dict) -> circopt.System:
    return circopt.build(doc, _TMP)


def row(res, name: str) -> pd.Series:
    d = res.duals.set_index("constraint")
    assert name in d.index, f"{name} not among {list(d.index)[:20]}"
    return d.loc[name]


def dec(res, kind: str, node: str, decision: str) -> np.ndarray:
    d = res.decisions
    sel = d[(d.kind == kind) & (d.node == node) & (d.decision == decision)].sort_values("year")
    return sel["value"].to_numpy()


# ------------------------------------------------------------------------------------------
# small instances worked out by hand
# ------------------------------------------------------------------------------------------
def split_doc(capacity: float | None = 60.0, years=(2020, 2022)) -> dict:
    """100 t/yr arrives at a fork; route a dumps it (a dissipation loss), route b keeps it
    (export, not a loss) at a cost of 2 per t; b has a capacity of 60 t/yr."""
    fork = {"kind": "split", "routes": {"a": "dump", "b": "keep"}, "cost": {"b": 2.0}, "source": "estimate"}
    if capacity is not None:
        fork["capacity"] = {"b": capacity}
    return {
        "name": "fork", "unit": "t", "years": list(years), "elements": ["A"],
        "streams": {"s": {"composition": {"A": 0.2}, "source": "estimate"}},
        "nodes": {
            "supply": {"kind": "source", "stream": "s", "series": 100.0, "to": "fork", "source": "estimate"},
            "fork": fork,
            "dump": {"kind": "sink", "loss": "dissipation"},
            "keep": {"kind": "sink", "loss": "export"},
        },
    }


def blend_doc(window_cu: float = 0.01) -> dict:
    """Two scraps (30 t each, 4 % and 1 % Cu) and pure primary metal (free) make 100 t of an
    alloy with at most ``window_cu`` Cu; what scrap the alloy cannot take is surplus."""
    return {
        "name": "mix", "unit": "t", "years": [2020, 2020], "elements": ["Cu"],
        "streams": {"hi": {"composition": {"Cu": 0.04}, "source": "estimate"},
                    "lo": {"composition": {"Cu": 0.01}, "source": "estimate"},
                    "pure": {"composition": {"Cu": 0.0}, "source": "estimate"}},
        "nodes": {
            "s1": {"kind": "source", "stream": "hi", "series": 30.0, "to": "mix", "source": "estimate"},
            "s2": {"kind": "source", "stream": "lo", "series": 30.0, "to": "mix", "source": "estimate"},
            "prim": {"kind": "source", "free": True, "stream": "pure", "to": "mix", "source": "estimate",
                     "energy": 0.0, "co2": 0.0, "cost": 0.0},
            "mix": {"kind": "blend", "outputs": {"alloy": {"to": "market", "demand": 100.0,
                                                           "window": {"Cu": [0.0, window_cu]}}},
                    "surplus": "excess", "source": "estimate"},
            "market": {"kind": "sink", "loss": "export"},
            "excess": {"kind": "sink", "loss": "surplus"},
        },
    }


def sorting_doc() -> dict:
    """60 t/yr of scrap is either used (10 energy/t) in a blend or landfilled; primary metal
    costs 5 energy/t; the blend must deliver 100 t/yr."""
    return {
        "name": "sorting", "unit": "t", "years": [2020, 2021], "elements": ["Cu"],
        "streams": {"scrap": {"composition": {"Cu": 0.02}, "source": "estimate"},
                    "pure": {"composition": {"Cu": 0.0}, "source": "estimate"}},
        "nodes": {
            "scrap": {"kind": "source", "stream": "scrap", "series": 60.0, "to": "sort", "source": "estimate"},
            "sort": {"kind": "split", "routes": {"use": "mix", "landfill": "dump"}, "energy": {"use": 10.0},
                     "source": "estimate"},
            "prim": {"kind": "source", "free": True, "stream": "pure", "energy": 5.0, "co2": 0.0, "cost": 0.0,
                     "to": "mix", "source": "estimate"},
            "mix": {"kind": "blend", "outputs": {"alloy": {"to": "market", "demand": 100.0}}, "surplus": "excess",
                    "source": "estimate"},
            "market": {"kind": "sink", "loss": "export"},
            "dump": {"kind": "sink", "loss": "dissipation"},
            "excess": {"kind": "sink", "loss": "surplus"},
        },
    }


@pytest.mark.parametrize("where, key, value, words", [
    ("source", "balancing", True, ["balancing sources are gone", "window", "priced free sources"]),
    ("blend", "excess", "market", ["excess sink are gone", "window"]),
    ("blend", "deficit", "prim", ["balancing source are gone", "window"]),
    ("output", "nominal", {"Cu": 0.01}, ["nominal outputs are gone", "window"]),
    ("output", "filler", "prim", ["'filler' is gone", "allocation", "shortfall"]),
])
def test_free_mass_keys_are_refused(where, key, value, words):
    """No mass from nowhere: the keys that once supplied it are refused, saying what to use."""
    doc = blend_doc()
    target = {"source": doc["nodes"]["prim"], "blend": doc["nodes"]["mix"],
              "output": doc["nodes"]["mix"]["outputs"]["alloy"]}[where]
    target[key] = value
    with pytest.raises(InstanceError) as ei:
        build(doc)
    assert all(w in str(ei.value) for w in words), str(ei.value)


@pytest.mark.parametrize("missing", ["energy", "co2", "cost"])
def test_free_source_must_be_priced(missing):
    """A free source the optimiser may draw on states its energy, co2 and cost (0 explicitly)."""
    doc = blend_doc()
    del doc["nodes"]["prim"][missing]
    with pytest.raises(InstanceError, match=f"free source prim has no '{missing}'"):
        build(doc)


def test_two_route_split_with_capacity():
    """min losses = min sum_t a_t with a_t + b_t = 100 and b_t <= 60 -> b = 60, a = 40 per
    year, 120 over three years. One more t of capacity in a year saves one t of loss:
    the capacity row's dual is -1, and it binds."""
    res = optimise(build(split_doc()), "losses")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(120.0, rel=1e-9)
    assert res.objective_terms["losses"] == pytest.approx(120.0, rel=1e-9)
    np.testing.assert_allclose(dec(res, "route", "fork", "b"), [60.0] * 3, rtol=1e-9)
    np.testing.assert_allclose(dec(res, "route", "fork", "a"), [40.0] * 3, rtol=1e-9)
    np.testing.assert_allclose(res.decisions.query("kind == 'route' and decision == 'b'")["share"], 0.6, rtol=1e-9)
    cap = row(res, "capacity[fork.b,2021]")
    assert bool(cap.binding)
    assert cap.dual == pytest.approx(-1.0, rel=1e-9)
    assert cap.kind == "capacity" and cap.node == "fork" and int(cap.year) == 2021
    assert res.max_relative_imbalance <= 1e-9
    # losses table agrees: 40 t of A-bearing stream per year into 'dump', 20 % of it is A
    lo = res.losses.query("node == 'dump' and element == 'A'")["value"].to_numpy()
    np.testing.assert_allclose(lo, [8.0] * 3, rtol=1e-9)


def test_blend_window_by_hand():
    """Min primary p with x1 + x2 + p = 100, x1, x2 <= 30 and 0.04 x1 + 0.01 x2 <= 0.01 * 100.
    x2 = 30 (it takes no Cu room beyond the limit), then 0.04 x1 <= 0.7 -> x1 = 17.5,
    p = 52.5; 12.5 t of the high-Cu scrap is surplus. The window row is
    0.03 x1 + 0 x2 - 0.01 p <= 0; with p = 70 - x1 a unit more room lets x1 grow by 25,
    so its dual is -25; one more t of demand costs 3/4 t of primary (dual 0.75)."""
    res = optimise(build(blend_doc()), "primary")
    assert res.objective == pytest.approx(52.5, rel=1e-9)
    assert dec(res, "allocation", "mix", "s1 -> alloy")[0] == pytest.approx(17.5, rel=1e-9)
    assert dec(res, "allocation", "mix", "s2 -> alloy")[0] == pytest.approx(30.0, rel=1e-9)
    assert dec(res, "allocation", "mix", "prim -> alloy")[0] == pytest.approx(52.5, rel=1e-9)
    assert dec(res, "supply", "prim", "amount")[0] == pytest.approx(52.5, rel=1e-9)
    surplus = res.losses.query("node == 'excess' and element == 'total'")["value"].sum()
    assert surplus == pytest.approx(12.5, rel=1e-9)
    cu = res.flows.query("target == 'market' and element == 'Cu'")["value"].iloc[0]
    assert cu == pytest.approx(1.0, rel=1e-9)  # exactly at the 1 % window
    w = row(res, "window_max[mix.alloy,Cu,2020]")
    assert bool(w.binding) and w.dual == pytest.approx(-25.0, rel=1e-7)
    d = row(res, "demand[mix.alloy,2020]")
    assert d.dual == pytest.approx(0.75, rel=1e-7)
    assert res.max_relative_imbalance <= 1e-9


def test_fix_reports_broken_bounds():
    """A baseline that sends all scrap into the alloy melts 1.5 % Cu (1.2 + 0.3 t in 100 t),
    above the 1 % window: the fixed LP still reproduces the simulation and says so."""
    doc = blend_doc()
    doc["nodes"]["mix"]["allocation"] = {"s1": {"alloy": 1.0}, "s2": {"alloy": 1.0}, "prim": {"alloy": 1.0}}
    system = build(doc)
    sim = circopt.simulate(system)
    res = optimise(system, "primary", fix=sim)
    assert rel_err(res.flows_array, sim.flows_array) <= 1e-9
    assert res.objective == pytest.approx(40.0, rel=1e-9)
    note = " ".join(res.notes)
    assert "window_max[mix.alloy,Cu,2020]" in note and "fix=" in note
    w = row(res, "window_max[mix.alloy,Cu,2020]")
    assert w.activity == pytest.approx(0.03 * 30 - 0.01 * 40, rel=1e-9)  # sum_i (x_i - 1 %) a_i


def test_recycled_content_by_hand():
    """Energy: 10 per t of scrap used, 5 per t of primary: the optimum landfills all scrap
    (energy 2 x 100 x 5 = 1000). A recycled content of 30 % forces 30 t of scrap per year:
    2 x (30 x 10 + 70 x 5) = 1300; the row x - 0.3 (x + p) >= 0 costs 10 - 5 = 5 per unit."""
    s = build(sorting_doc())
    assert optimise(s, "energy").objective == pytest.approx(1000.0, rel=1e-9)
    res = optimise(s, "energy", constraints=[{"type": "recycled_content", "node": "mix", "output": "alloy",
                                              "min": 0.3}])
    assert res.objective == pytest.approx(1300.0, rel=1e-9)
    np.testing.assert_allclose(dec(res, "route", "sort", "use"), [30.0, 30.0], rtol=1e-9)
    r = row(res, "constraints[0].recycled_content[mix.alloy,2020]")
    assert bool(r.binding) and r.dual == pytest.approx(5.0, rel=1e-7)
    assert res.max_relative_imbalance <= 1e-9


@pytest.mark.parametrize("con, expected, binding, dual", [
    # a >= 50 in 2021 and 2022: 40 + 50 + 50
    ({"type": "share", "node": "fork", "route": "a", "min": 0.5, "years": [2021, 2022]}, 140.0,
     "constraints[0].share_min[fork.a,2021]", 1.0),
    # b <= K, K_2020 <= 20, K_t - K_{t-1} <= 15: b = 20, 35, 50 -> a = 80 + 65 + 50; one more unit of
    # initial capacity lifts all three years
    ({"type": "capacity", "node": "fork", "route": "b", "initial": 20, "growth": 15}, 195.0,
     "constraints[0].capacity_initial[fork.b,2020]", -3.0),
    # b = 0 in 2022: 40 + 40 + 100
    ({"type": "forbid", "node": "fork", "route": "b", "years": [2022, 2022]}, 180.0,
     "constraints[0].forbid[fork.b,2022]", -1.0),
    # 2 per t of b, at most 200 in total: sum b = 100, losses 300 - 100; a unit of budget buys 1/2 t
    ({"type": "budget", "max": 200.0}, 200.0, "constraints[0].budget", -0.5),
    # b <= 30 per year: 3 x 70
    ({"type": "flow", "source": "fork", "target": "keep", "max": 30.0}, 210.0,
     "constraints[0].flow_max[fork->keep,2020]", -1.0),
])
def test_user_constraints_by_hand(con, expected, binding, dual):
    res = optimise(build(split_doc()), "losses", constraints=[con])
    assert res.objective == pytest.approx(expected, rel=1e-9)
    r = row(res, binding)
    assert bool(r.binding)
    assert r.dual == pytest.approx(dual, rel=1e-7)
    assert r.origin.startswith("constraints[0] (argument constraints[0])")
    assert res.max_relative_imbalance <= 1e-9


def test_capacity_constraint_reported_in_decisions():
    res = optimise(build(split_doc()), "losses",
                   constraints=[{"type": "capacity", "node": "fork", "route": "b", "initial": 20, "growth": 15}])
    np.testing.assert_allclose(dec(res, "route", "fork", "b"), [20.0, 35.0, 50.0], rtol=1e-9)
    cap = dec(res, "capacity", "fork", "b")
    assert cap[0] == pytest.approx(20.0, rel=1e-9)
    assert np.all(cap >= dec(res, "route", "fork", "b") - 1e-9)
    assert np.all(np.diff(cap) <= 15.0 + 1e-9)


def test_epsilon_and_weights():
    """min cost subject to losses <= 150: sum b >= 150 at 2 per t -> cost 300; the
    epsilon row's dual is -2 (one more t of allowed loss saves 2)."""
    s = build(split_doc())
    res = optimise(s, "cost", epsilon={"losses": 150.0})
    assert res.objective == pytest.approx(300.0, rel=1e-9)
    assert res.objective_terms["losses"] == pytest.approx(150.0, rel=1e-9)
    assert row(res, "epsilon[losses]").dual == pytest.approx(-2.0, rel=1e-7)
    # losses + 0.1 cost: a t kept costs 0.2 and saves 1 -> b at capacity: 120 + 0.1 * 360
    res = optimise(s, ["losses", "cost"], weights={"cost": 0.1})
    assert res.objective == pytest.approx(120.0 + 36.0, rel=1e-9)
    assert res.objective_terms == pytest.approx({"losses": 120.0, "cost": 360.0}, rel=1e-9)
    # horizon: only 2020 counts, so b is only pushed to capacity where it matters
    res = optimise(s, "losses", horizon=2020)
    assert res.objective == pytest.approx(40.0, rel=1e-9)


# ------------------------------------------------------------------------------------------
# the toy instance
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", [None, "more_reuse"])
def test_fixed_lp_reproduces_simulation_toy(scenario):
    system = circopt.load(TOY, scenario)
    sim = circopt.simulate(system)
    res = optimise(system, "losses", fix=sim)
    assert res.engine == "optimise"
    assert rel_err(res.flows_array, sim.flows_array) <= 1e-9
    assert rel_err(res.stock_array, sim.stock_array) <= 1e-9
    a = res.losses.sort_values(["year", "node", "element"])["value"].to_numpy()
    b = sim.losses.sort_values(["year", "node", "element"])["value"].to_numpy()
    assert rel_err(a, b) <= 1e-9
    assert res.max_relative_imbalance <= 1e-9
    # every decision was fixed: the reported decisions are the simulation's
    m = res.decisions.merge(sim.decisions, on=["year", "node", "decision", "kind"], suffixes=("", "_sim"))
    assert len(m) == len(sim.decisions)
    assert rel_err(m["value"].to_numpy(), m["value_sim"].to_numpy()) <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("instance", ["japan_engines", "global_aluminium"])
def test_fixed_lp_reproduces_simulation_flagships(instance):
    folder = ROOT / "instances" / instance
    if not (folder / "instance.yaml").is_file():
        pytest.skip(f"{instance} is not in this checkout")
    system = circopt.load(folder)
    sim = circopt.simulate(system)
    res = optimise(system, "losses", fix=sim)
    assert rel_err(res.flows_array, sim.flows_array) <= 1e-9
    assert rel_err(res.stock_array, sim.stock_array) <= 1e-9
    assert res.max_relative_imbalance <= 1e-9
    opt = optimise(system, {"losses": 1.0, "primary": 0.01})
    assert opt.max_relative_imbalance <= 1e-9


def test_fixed_lp_accepts_a_decisions_table():
    system = circopt.load(TOY, "more_reuse")
    sim = circopt.simulate(system)
    res = optimise(system, "losses", fix=sim.decisions)
    assert rel_err(res.flows_array, sim.flows_array) <= 1e-9


def test_fixing_an_optimum_reproduces_it():
    system = circopt.load(TOY)
    opt = optimise(system, {"losses": 1.0, "primary": 0.01})
    again = optimise(system, "surplus", fix=opt)
    assert rel_err(again.flows_array, opt.flows_array) <= 1e-9
    assert again.objective_terms["surplus"] == pytest.approx(
        opt.losses.query("loss_type == 'surplus' and element == 'total'")["value"].sum(), rel=1e-9)


def test_optimising_toy_losses_beats_baseline():
    system = circopt.load(TOY)
    sim = circopt.simulate(system)
    res = optimise(system, "losses")
    types = ["dissipation", "process", "dilution"]
    base = sim.losses.query("element == 'total'").loc[lambda d: d.loss_type.isin(types), "value"].sum()
    opt = res.losses.query("element == 'total'").loc[lambda d: d.loss_type.isin(types), "value"].sum()
    assert res.objective == pytest.approx(opt, rel=1e-9)
    assert opt < base - 1.0
    assert res.max_relative_imbalance <= 1e-9
    assert res.solver["name"] == "highs" and res.solver["version"].count(".") == 2
    assert res.solve_seconds is not None and res.solve_seconds >= 0
    assert list(res.decisions.columns) == ["year", "node", "decision", "kind", "share", "value", "input",
                                           "lower", "upper"]
    # the optimum respects the instance's share bounds: reuse <= 0.5, landfill >= 0.05 of eol input
    d = res.decisions.query("kind == 'route' and input > 1e-9")
    # ... and reports them as the bounds in force (toy instance.yaml: reuse [0, 0.5] in life 1, landfill min 0.05)
    assert (d.query("decision == 'reuse' and node == 'eol[1]'")["upper"] == 0.5).all()
    assert (d.query("decision == 'landfill'")["lower"] == 0.05).all()
    assert ((d["share"] >= d["lower"] - 1e-9) & (d["share"] <= d["upper"] + 1e-9)).all()
    assert (d.query("decision == 'reuse'")["share"] <= 0.5 + 1e-9).all()
    assert (d.query("decision == 'landfill'")["share"] >= 0.05 - 1e-9).all()
    # the demand of the alloy is met exactly every year
    alloy = res.flows.query("target == 'alloy_market' and element == 'total'")["value"].to_numpy()
    np.testing.assert_allclose(alloy, 30.0, rtol=1e-9)


def test_no_product_of_variables():
    om = build_model(circopt.load(TOY), {"losses": 1.0, "primary": 0.01}, epsilon={"surplus": 1e4},
                     constraints=[{"type": "capacity", "node": "eol", "route": "recycle", "max": 80, "growth": 5}])
    m = om.model
    n = 0
    for con in m.component_data_objects(pyo.Constraint, active=True):
        repn = generate_standard_repn(con.body, compute_values=False)
        assert repn.polynomial_degree() is not None and repn.polynomial_degree() <= 1, con.name
        assert not repn.quadratic_vars and repn.nonlinear_expr is None
        n += 1
    assert n == om.n_rows
    obj = generate_standard_repn(m.obj.expr, compute_values=False)
    assert obj.polynomial_degree() <= 1
    # Pyomo's own compiler produces exactly the CSR circopt hands to HiGHS
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    info = LinearStandardFormCompiler().write(m, mixed_form=True)
    cols = np.array([v.index() for v in info.columns])
    rows = np.array([om.model.rows.index(r.constraint) if False else r.constraint.index() for r in info.rows])
    A = info.A.tocoo()
    ours = om.A.toarray()
    compiled = np.zeros_like(ours)
    compiled[rows[A.row], cols[A.col]] = A.data
    np.testing.assert_allclose(compiled[np.unique(rows)], ours[np.unique(rows)], rtol=0, atol=1e-15)


def test_hand_written_constraint():
    """A Pyomo constraint added by hand (b <= 10 in 2021) moves the optimum: 40 + 90 + 40;
    a bound on an expression built with OptModel.flow works the same (b <= 25 in 2020)."""
    om = build_model(build(split_doc()), "losses")
    om.model.extra = pyo.Constraint(expr=om.var("route[fork.b,2021]") <= 10)
    om.model.extra2 = pyo.Constraint(expr=om.flow("fork", "keep", 2020) <= 25)
    res = solve(om)
    assert res.objective == pytest.approx(40.0 + 90.0 + 75.0, rel=1e-9)
    d = row(res, "extra")
    assert bool(d.binding) and d.dual == pytest.approx(-1.0, rel=1e-7)
    assert om.var("route[fork.b,2021]").value == pytest.approx(10.0, rel=1e-9)
    # fixing and bounding variables in Pyomo is seen too: b_2022 = 5, a_2020 >= 80
    om.var("route[fork.b,2022]").fix(5.0)
    om.var("route[fork.a,2020]").setlb(80.0)
    res = solve(om)
    assert res.objective == pytest.approx(80.0 + 90.0 + 95.0, rel=1e-9)


def test_hand_written_objective():
    """Replacing the objective by hand: maximise what route b keeps in 2021 (b <= 60)."""
    om = build_model(build(split_doc()), "losses")
    om.model.obj.deactivate()
    om.model.mine = pyo.Objective(expr=om.var("route[fork.b,2021]"), sense=pyo.maximize)
    res = solve(om)
    assert res.objective == pytest.approx(60.0, rel=1e-9)
    assert dec(res, "route", "fork", "b")[1] == pytest.approx(60.0, rel=1e-9)
    assert "losses" in res.objective_terms  # the built terms are still reported
    assert res.max_relative_imbalance <= 1e-9


def test_iis_fallback_deletion_filter(monkeypatch):
    """Without HiGHS's IIS the deletion filter finds the same two share rows."""
    import highspy

    def no_iis(self):
        raise RuntimeError("no IIS in this build")

    monkeypatch.setattr(highspy.Highs, "getIis", no_iis, raising=False)
    with pytest.raises(InfeasibleError) as ei:
        optimise(TOY, "losses", scenario="infeasible")
    c = ei.value.conflict
    assert len(c) == 2
    assert c[0].startswith("share_max[eol[1].reuse,") and c[1].startswith("constraints[0].share_min[eol[1].reuse,")


def test_toy_infeasible_names_conflict():
    with pytest.raises(InfeasibleError) as ei:
        optimise(TOY, "losses", scenario="infeasible")
    e = ei.value
    # the scenario's share constraint (min 0.6) and the eol share bound (max 0.5), same year
    mins = [c for c in e.conflict if c.startswith("constraints[0].share_min[eol[1].reuse,")]
    maxs = [c for c in e.conflict if c.startswith("share_max[eol[1].reuse,")]
    assert len(mins) == 1 and len(maxs) == 1
    assert mins[0].rsplit(",", 1)[1] == maxs[0].rsplit(",", 1)[1]
    assert 2022 <= int(maxs[0].rsplit(",", 1)[1].rstrip("]")) <= 2029
    msg = str(e)
    assert "nodes.eol.shares.reuse" in msg and "constraints[0]" in msg
    assert "0.5" in msg and "0.6" in msg
    assert "Relax" in msg


def test_unbounded():
    doc = split_doc(capacity=None)
    doc["streams"]["p"] = {"composition": {"A": 1.0}, "source": "estimate"}
    doc["nodes"]["extra"] = {"kind": "source", "free": True, "stream": "p", "to": "keep", "source": "estimate",
                             "energy": 1.0, "co2": 1.0, "cost": 1.0}
    with pytest.raises(UnboundedError) as ei:
        optimise(build(doc), {"primary": -1.0})
    assert any(d.startswith("supply[extra,") for d in ei.value.direction)


def test_non_optimal_status_is_an_error():
    with pytest.raises(SolverError) as ei:
        optimise(TOY, "losses", solver_options={"presolve": "off", "simplex_iteration_limit": 0})
    assert not isinstance(ei.value, (InfeasibleError, UnboundedError))
    assert "optimal" in str(ei.value)


@pytest.mark.parametrize("con, words", [
    ({"type": "quota", "node": "eol"}, ["constraints[0]", "quota", "share"]),
    ({"type": "share", "node": "eoll", "route": "reuse", "max": 0.2}, ["constraints[0]", "eoll", "eol"]),
    ({"type": "share", "node": "eol", "route": "reus", "max": 0.2}, ["constraints[0]", "reus", "reuse"]),
    ({"type": "recycled_content", "node": "secondary", "output": "steel", "min": 0.2},
     ["constraints[0]", "steel", "alloy"]),
    ({"type": "share", "node": "remelting", "route": "x", "max": 0.2}, ["constraints[0]", "process", "split"]),
    ({"type": "share", "node": "eol", "route": "reuse", "max": 0.2, "years": [1990, 1995]}, ["years", "2020"]),
    ({"type": "share", "node": "eol", "route": "reuse", "maxi": 0.2}, ["maxi", "constraints[0]"]),
])
def test_constraint_errors_name_the_constraint(con, words):
    with pytest.raises(InstanceError) as ei:
        build_model(circopt.load(TOY), "losses", constraints=[con])
    msg = str(ei.value)
    for w in words:
        assert w in msg, (w, msg)


def test_objective_errors():
    s = circopt.load(TOY)
    with pytest.raises(InstanceError, match="unknown objective"):
        build_model(s, "lossses")
    with pytest.raises(InstanceError, match="unknown element"):
        build_model(s, "losses", elements={"Cr": 1.0})
    with pytest.raises(InstanceError, match="objective option"):
        build_model(s, "losses", horizont=2025)


# ------------------------------------------------------------------------------------------
# units: t, kt, Mt give the same optimum
# ------------------------------------------------------------------------------------------
def _toy_in_unit(folder: Path, unit: str, factor: float) -> Path:
    shutil.copytree(TOY, folder)
    doc = yaml.safe_load((folder / "instance.yaml").read_text())
    doc["unit"] = unit
    for o in doc["nodes"]["secondary"]["outputs"].values():
        o["demand"] = o["demand"] * factor
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    prod = pd.read_csv(folder / "data" / "production.csv")
    prod["value"] = prod["value"] * factor
    prod["unit"] = unit
    prod.to_csv(folder / "data" / "production.csv", index=False)
    return folder


def test_unit_invariance(tmp_path):
    """The toy in t (x1000), kt and Mt (x0.001): the same optimum, scaled, to 1e-9."""
    obj = {"losses": 1.0, "primary": 0.01}
    ref = optimise(TOY, obj)
    for unit, factor in (("t", 1e3), ("Mt", 1e-3)):
        res = optimise(_toy_in_unit(tmp_path / unit, unit, factor), obj)
        assert res.objective == pytest.approx(ref.objective * factor, rel=1e-9)
        assert rel_err(res.flows_array / factor, ref.flows_array) <= 1e-9
        assert rel_err(res.stock_array / factor, ref.stock_array) <= 1e-9
        assert res.max_relative_imbalance <= 1e-9


# ------------------------------------------------------------------------------------------
# property: on random networks the fixed LP reproduces the simulation
# ------------------------------------------------------------------------------------------
@st.composite
def networks(draw):
    T = draw(st.integers(3, 7))
    y0, y1 = 2000, 2000 + T - 1
    els = ["A", "B"][: draw(st.integers(1, 2))]
    frac = st.floats(0.0, 0.45, allow_nan=False)
    comp = {el: draw(frac) for el in els}
    lives = draw(st.integers(0, 2))
    kind = draw(st.sampled_from(["fixed", "normal", "weibull", "cohort"]))
    if kind == "fixed":
        lt = {"model": "fixed", "mean": draw(st.integers(1, 3))}
    elif kind == "normal":
        m = draw(st.floats(2.0, 5.0))
        lt = {"model": "normal", "mean": m, "sd": draw(st.floats(0.2, m / 3.2))}
    elif kind == "weibull":
        lt = {"model": "weibull", "mean": draw(st.floats(1.5, 5.0)), "sd": draw(st.floats(0.5, 2.0))}
    else:
        lt = {"model": "normal", "mean": {y0: draw(st.floats(2.0, 3.0)), y1: draw(st.floats(3.0, 5.0)),
                                          "fill": "interpolate"}, "sd": 0.5}
    routes = {"recycle": "remelt", "landfill": "dump"}
    baseline = {"landfill": draw(st.floats(0.0, 0.5)), "recycle": "rest"}
    if lives:
        routes["reuse"] = "use.next_life"
        r1 = draw(st.floats(0.0, 0.5))
        baseline["reuse"] = {i + 1: (r1 if i < lives else 0.0) for i in range(lives + 1)}
    y = {el: draw(st.floats(0.5, 1.0)) for el in els}
    to_mix = {**y, "default": draw(st.floats(0.5, 1.0))}
    # where the alloy goes: a market; a fabrication loop with home scrap (mixed compositions:
    # per-channel LP rows, a same-year loop); or a product stock (its inflow's composition is
    # decided: channel-wise convolution rows)
    after = draw(st.sampled_from(["market", "fab", "use2"]))
    alloy = {"to": after, "demand": draw(st.floats(5.0, 80.0))}
    mix = {"kind": "blend", "source": "estimate", "outputs": {"alloy": alloy},
           "allocation": {"remelt": {"alloy": draw(st.floats(0.2, 1.0))}, "prim": {"alloy": 1.0}},
           "surplus": "excess"}
    nodes = {
        "src": {"kind": "source", "composition": comp, "series": {y0: draw(st.floats(10, 100)),
                                                                   y1: draw(st.floats(10, 100)),
                                                                   "fill": "interpolate"},
                "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": lt, "to": "eol", "source": "estimate",
                **({"lives": lives, "later_lives": {"lifetime": {"model": "fixed", "mean": draw(st.integers(1, 2))}}}
                   if lives else {})},
        "eol": {"kind": "split", "routes": routes, "baseline": baseline, "source": "estimate",
                **({"over": ["life"]} if lives else {})},
        "remelt": {"kind": "process", "to": {"mix": to_mix, "slag": "rest"}, "source": "estimate"},
        "prim": {"kind": "source", "free": True, "composition": {els[0]: 0.01}, "to": "mix", "source": "estimate",
                 "energy": 10.0, "co2": 2.0, "cost": 2.0},
        "mix": mix,
        "market": {"kind": "sink", "loss": "export"},
        "dump": {"kind": "sink", "loss": "dissipation"},
        "slag": {"kind": "sink", "loss": "process"},
        "excess": {"kind": "sink", "loss": "surplus"},
    }
    if after == "fab":
        nodes["fab"] = {"kind": "process", "source": "estimate",
                        "to": {"market": {els[0]: draw(st.floats(0.5, 0.8)), "default": 0.7},
                               "home": 0.2, "slag2": "rest"}}
        nodes["home"] = {"kind": "process", "to": {"fab": draw(st.floats(0.3, 0.95)), "slag2": "rest"},
                         "source": "estimate"}
        nodes["slag2"] = {"kind": "sink", "loss": "process"}
    elif after == "use2":
        nodes["use2"] = {"kind": "stock", "lifetime": {"model": "fixed", "mean": draw(st.integers(1, 3))},
                         "to": "market", "source": "estimate"}
    if draw(st.booleans()):  # new parts in proportion to what reaches end of life (a following source)
        nodes["parts"] = {"kind": "source", "composition": comp, "follows": "eol[life=1]" if lives else "eol",
                          "ratio": draw(st.floats(0.0, 0.5)), "to": "remelt", "source": "estimate"}
    if draw(st.booleans()):  # a stock-driven stock: constants computed by the simulator
        nodes["src2"] = {"kind": "source", "composition": comp, "to": "fleet", "source": "estimate"}
        nodes["fleet"] = {"kind": "stock", "lifetime": {"model": "fixed", "mean": 2}, "to": "scrap2",
                          # (a growth of ~1e-9 would leave a stock change of round-off size, which the
                          # audit, relative to throughput, magnifies: keep growth 0 or visible)
                          "stock": {y0: 10.0, y1: 10.0 + draw(st.just(0.0) | st.floats(1.0, 30.0)),
                                    "fill": "interpolate"},
                          "source": "estimate"}
        nodes["scrap2"] = {"kind": "sink", "loss": "dissipation"}
    streams = {}
    if not lives and draw(st.booleans()):  # cohorts from before the first year
        hist = [draw(st.floats(0.0, 50.0)) for _ in range(3)]
        name = f"hist_{abs(hash(tuple(hist)))}.csv"
        pd.DataFrame({"year": [y0 - 3, y0 - 2, y0 - 1], "value": hist, "unit": "t"}).to_csv(_TMP / name, index=False)
        streams["h"] = {"composition": comp, "source": "estimate"}
        nodes["use"].update({"history": name, "history_stream": "h"})
    return {"name": "random", "unit": "t", "years": [y0, y1], "elements": els, "streams": streams,
            "timing": draw(st.sampled_from(["end", "middle"])), "nodes": nodes}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_fixed_lp_reproduces_simulation_random(doc):
    try:
        system = build(copy.deepcopy(doc))
        sim = circopt.simulate(system)
    except (InstanceError, SimulationError):
        assume(False)
        return
    res = optimise(system, {"losses": 1.0, "surplus": 0.5}, fix=sim)
    assert rel_err(res.flows_array, sim.flows_array) <= 1e-9
    if res.stock_array.size:
        assert rel_err(res.stock_array, sim.stock_array) <= 1e-9
    assert res.max_relative_imbalance <= 1e-9
    # and the free optimum closes its balances too
    opt = optimise(system, {"losses": 1.0, "primary": 0.1})
    assert opt.max_relative_imbalance <= 1e-9
