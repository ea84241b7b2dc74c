"""Tests of the generic analyses: binding bounds and their worth (circopt.bounds), terms computed
from flows (circopt.terms), lexicographic optimisation, user indicators, allocation constraints,
the uniqueness report. Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
import atexit
from pathlib import Path

import numpy as np
import pytest

import circopt
from circopt.model import optimise

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "instances" / "toy"
_TMP = Path(tempfile.mkdtemp(prefix="circopt-test-analyses-"))
atexit.register(shutil.rmtree, _TMP, True)
(_TMP / "sources.csv").write_text("source_id,citation\nestimate,test values\n")


def build(doc: dict) -> circopt.System:
    return circopt.build(copy.deepcopy(doc), _TMP)


def fork_doc(share_b=(0.0, 0.5)) -> dict:
    """100 t/yr (20 % A) arrives at a fork in 2020-2022; route a dumps it (a dissipation loss),
    route b keeps it (export, not a loss, cost 2/t) with a share of at most 0.5."""
    return {
        "name": "fork", "unit": "t", "years": [2020, 2022], "elements": ["A"],
        "streams": {"s": {"composition": {"A": 0.2}, "source": "estimate"}},
        "nodes": {
            "supply": {"kind": "source", "stream": "s", "series": 100.0, "to": "fork", "source": "estimate"},
            "fork": {"kind": "split", "routes": {"a": "dump", "b": "keep"}, "cost": {"b": 2.0},
                     "shares": {"b": list(share_b)}, "baseline": {"b": 0.3, "a": "rest"}, "source": "estimate"},
            "dump": {"kind": "sink", "loss": "dissipation"},
            "keep": {"kind": "sink", "loss": "export"},
        },
        "levers": {"keeping": {"description": "keep more", "baseline": [{"type": "share", "node": "fork",
                                                                         "route": "b", "max": 0.5}]}},
    }


# ------------------------------------------------------------------------------------------
# binding bounds
# ------------------------------------------------------------------------------------------
def test_binding_share_bound_by_hand():
    """Minimising losses sends the most allowed to b: 50 t/yr kept, 50 t/yr dumped. One more
    0.01 of share moves 1 t/yr (0.01 x 100 t) from the dump to b: -1 t of loss per year, -3 over
    the three years; the share_min of b (0) does not bind."""
    res = optimise(build(fork_doc()), "losses")
    b = circopt.binding(res).set_index("family")
    row = b.loc["share_max[fork.b]"]
    assert row.binding_rows == 3 and row.rows == 3
    assert row.objective_change == pytest.approx(-3.0, rel=1e-9)
    assert row.lever == "keeping"
    lv = circopt.binding_levers(res, b.reset_index()).set_index("lever")
    assert lv.loc["keeping", "status"] == "at bound"
    assert lv.loc["keeping", "objective_change"] == pytest.approx(-3.0, rel=1e-9)


def test_binding_lever_inside_its_bounds():
    """Minimising cost keeps nothing (b costs 2/t): b sits at 0 (its column's bound, no row); the
    max share (the lever's bound) does not bind, so the lever sits strictly inside its bounds."""
    res = optimise(build(fork_doc()), "cost")
    b = circopt.binding(res).set_index("family")
    assert b.loc["share_max[fork.b]", "binding_rows"] == 0
    assert b.loc["share_max[fork.b]", "objective_change"] == 0.0
    assert res.objective == pytest.approx(0.0, abs=1e-9)
    lv = circopt.binding_levers(res).set_index("lever")
    assert lv.loc["keeping", "status"] == "inside"


def _with_share_lo(system, node: str, label: str, delta: float):
    edges = [dataclasses.replace(e, lo=e.lo + delta) if (system.nodes[e.source].name == node and e.label == label)
             else e for e in system.edges]
    return dataclasses.replace(system, edges=edges)


def test_binding_worth_matches_finite_difference_toy():
    """The toy's losses optimum: the worth of the landfill minimum share of first-life end of life
    (per +0.01 in every year) against two solves with that bound moved by +0.001."""
    s = circopt.load(TOY)
    res = optimise(s, "losses")
    b = circopt.binding(res).set_index("family")
    worth = b.loc["share_min[eol[1].landfill]", "objective_change"]
    assert abs(worth) > 0.1
    moved = optimise(_with_share_lo(s, "eol[1]", "landfill", 0.001), "losses")
    assert (moved.objective - res.objective) * 10 == pytest.approx(worth, rel=1e-6)


def test_binding_csv_and_cli(tmp_path, capsys):
    from circopt.cli import main

    out = tmp_path / "o"
    assert main(["optimise", str(TOY), "--out", str(out)]) == 0
    assert (out / "binding.csv").exists()
    text = capsys.readouterr().out
    assert "share_min[eol[1].landfill]" in text
    assert main(["explain", str(out), "--top", "1"]) == 0
    assert "top 1 binding" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# terms recomputed from flows
# ------------------------------------------------------------------------------------------
OBJECTIVE_MIXES = ["losses", "surplus", "primary", "energy", "co2", "cost",
                   {"losses": 1.0, "primary": 0.01, "energy": 0.001}]


def _check_terms(res, objective, **options):
    from circopt import terms
    from circopt.model import _parse_objective

    parsed = _parse_objective(objective, None, options)
    again = terms.objective_value(res, parsed)
    assert again == pytest.approx(res.objective, rel=1e-9, abs=1e-9 * max(1.0, abs(res.objective)))
    for name, v in res.objective_terms.items():
        assert terms.value(res, name, parsed[name][1] if name in parsed else options) == pytest.approx(
            v, rel=1e-9, abs=1e-12 * max(1.0, abs(v)))


@pytest.mark.parametrize("objective", OBJECTIVE_MIXES)
def test_objective_equals_terms_from_flows_toy(objective):
    res = optimise(circopt.load(TOY), objective)
    _check_terms(res, objective)


def test_terms_by_hand_fork():
    """The fork's losses optimum: 50 t/yr dumped (losses 150 over 3 years), 50 t/yr kept at 2/t
    (cost 300); a simulation reports the same terms from its own flows."""
    from circopt import terms

    res = optimise(build(fork_doc()), "losses")
    v = terms.values(res)
    assert v["losses"] == pytest.approx(150.0, rel=1e-12)
    assert v["cost"] == pytest.approx(300.0, rel=1e-12)
    assert v["primary"] == 0.0 and v["energy"] == 0.0
    sim = circopt.simulate(build(fork_doc()))
    summ = sim.summary()
    assert set(summ["terms"]) == set(terms.TERMS)
    # the baseline keeps 30 % of 100 t/yr: cost 3 x 2 x 30 = 180, losses 3 x 70 = 210
    assert summ["terms"]["cost"] == pytest.approx(180.0, rel=1e-12)
    assert summ["terms"]["losses"] == pytest.approx(210.0, rel=1e-12)


def test_capacity_cost_counted_from_the_result():
    """A capacity of route b costs 0.5 per t of capacity per year; minimising losses builds 50 t/yr
    (the share cap): cost = 3 x (2 x 50 + 0.5 x 50) = 375."""
    from circopt import terms

    con = [{"type": "capacity", "node": "fork", "route": "b", "max": 80.0, "cost": 0.5}]
    res = optimise(build(fork_doc()), {"losses": 1.0, "cost": 1e-3}, constraints=con)
    assert terms.value(res, "cost") == pytest.approx(375.0, rel=1e-9)
    assert res.objective_terms["cost"] == pytest.approx(375.0, rel=1e-9)


def test_free_sources_reported_priced_toy():
    """The toy's two free sources declare energy and cost but no CO2; what they supply is their
    outflow, per element and year."""
    res = optimise(circopt.load(TOY), "energy")
    fs = res.summary()["free_sources"]
    assert set(fs) == {"primary_alloy", "primary_iron"}
    assert fs["primary_alloy"]["priced"] == {"energy": True, "co2": False, "cost": True}
    out = res.flows.query("source == 'primary_iron' and element == 'total'").groupby("year").value.sum()
    assert np.allclose(fs["primary_iron"]["supplied"]["total"], out.to_numpy(), rtol=1e-12)
    assert np.allclose(np.add(fs["primary_iron"]["supplied"]["Fe"], fs["primary_iron"]["supplied"]["Ni"]),
                       out.to_numpy(), rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("instance,objective", [("japan_engines", "losses"),
                                                ("japan_engines", {"losses": 1.0, "energy": 1e-3}),
                                                ("global_aluminium", "energy"),
                                                ("global_aluminium", {"surplus": 1.0, "cost": 1e-3})])
def test_objective_equals_terms_from_flows_flagships(instance, objective):
    res = optimise(circopt.load(ROOT / "instances" / instance), objective)
    _check_terms(res, objective)


def test_objective_equals_terms_from_flows_random():
    from hypothesis import HealthCheck, assume, given, settings

    from circopt.errors import InstanceError, SimulationError
    from tests.test_optimise import build as build_random
    from tests.test_optimise import networks

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(networks(), st_objective())
    def check(doc, objective):
        doc = copy.deepcopy(doc)
        for nd in doc["nodes"].values():  # price what the network has: free sources and processes
            if nd.get("free"):
                nd.update(energy=3.0, cost=2.0, co2=0.2)
            elif nd.get("kind") == "process":
                nd.update(energy=0.5, co2=0.05)
        try:
            system = build_random(doc)
        except (InstanceError, SimulationError):
            assume(False)
            return
        res = optimise(system, objective)
        _check_terms(res, objective)

    check()


def st_objective():
    from hypothesis import strategies as st

    return st.dictionaries(st.sampled_from(["losses", "surplus", "primary", "energy", "co2", "cost"]),
                           st.floats(0.01, 10.0), min_size=1, max_size=4)


# ------------------------------------------------------------------------------------------
# lexicographic optimisation and --epsilon
# ------------------------------------------------------------------------------------------
def tie_doc() -> dict:
    """100 t/yr (2020-2021) arrives at a fork with three routes: a dumps it (a loss), b keeps it at a
    cost of 2/t, c keeps it at 1/t. Minimising losses has a tie (any b + c = 100); cost then
    chooses c: losses 0, cost 2 x 100 x 1 = 200."""
    return {
        "name": "tie", "unit": "t", "years": [2020, 2021], "elements": ["A"],
        "streams": {"s": {"composition": {"A": 0.5}, "source": "estimate"}},
        "nodes": {
            "supply": {"kind": "source", "stream": "s", "series": 100.0, "to": "fork", "source": "estimate"},
            "fork": {"kind": "split", "routes": {"a": "dump", "b": "keep", "c": "keep2"},
                     "cost": {"b": 2.0, "c": 1.0}, "baseline": {"a": 0.2, "b": 0.4, "c": "rest"},
                     "source": "estimate"},
            "dump": {"kind": "sink", "loss": "dissipation"},
            "keep": {"kind": "sink", "loss": "export"},
            "keep2": {"kind": "sink", "loss": "export"},
        },
        "levers": {"keep_b": {"description": "route b", "baseline": [{"type": "share", "node": "fork",
                                                                      "route": "b", "max": 1.0}]}},
    }


def test_lexicographic_by_hand():
    res = optimise(build(tie_doc()), "losses", then=["cost"], slack=0.0)
    assert res.objective_terms["losses"] == pytest.approx(0.0, abs=1e-9)
    assert res.objective == pytest.approx(200.0, rel=1e-9)
    st = res.extra["lexicographic"]["stages"]
    assert [s["objective"] for s in st] == ["losses", "cost"]
    assert st[0]["held_at"] == pytest.approx(0.0, abs=1e-9)


def test_lexicographic_equals_two_manual_solves_toy():
    """losses, then energy, on the toy: the same as minimising energy with the losses held at
    its optimum + 1e-6 x max(|optimum|, 1) by hand."""
    s = circopt.load(TOY)
    first = optimise(s, "losses")
    bound = first.objective + 1e-6 * max(abs(first.objective), 1.0)
    manual = optimise(s, "energy", epsilon={"losses": bound})
    lexi = optimise(s, "losses", then=["energy"])
    assert lexi.objective == pytest.approx(manual.objective, rel=1e-9)
    assert lexi.objective_terms["losses"] <= bound * (1 + 1e-9)
    assert lexi.extra["lexicographic"]["stages"][0]["term_value"] == pytest.approx(first.objective, rel=1e-9)


def test_lexicographic_refuses_a_held_sum():
    from circopt.errors import InstanceError

    with pytest.raises(InstanceError, match="one objective term"):
        optimise(build(tie_doc()), {"losses": 1.0, "cost": 1.0}, then=["energy"])


def test_cli_then_and_epsilon(tmp_path, capsys):
    import json

    from circopt.cli import main

    out = tmp_path / "o"
    assert main(["optimise", str(TOY), "--objective", "losses", "--then", "energy", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stage 1: losses" in text and "stage 2: energy" in text
    summ = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summ["lexicographic"]["stages"]] == [1, 2]
    # --epsilon: energy held below the energy optimum + 10 while minimising losses
    e_opt = optimise(circopt.load(TOY), "energy").objective
    assert main(["optimise", str(TOY), "--epsilon", f"energy={e_opt + 10}", "--out", str(out)]) == 0
    summ = json.loads((out / "summary.json").read_text())
    assert summ["terms"]["energy"] <= e_opt + 10 + 1e-6
    assert summ["lp"]["epsilon"] == {"energy": pytest.approx(e_opt + 10)}
    assert main(["optimise", str(TOY), "--epsilon", "energy", "--out", str(out)]) == 1
