"""Tests of the generic analyses: binding bounds and their worth (circopt.bounds), terms computed
from flows (circopt.terms), lexicographic optimisation, user indicators, allocation constraints,
the uniqueness report. Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import atexit
import copy
import dataclasses
import shutil
import tempfile
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
    assert row.binding_rows == 3 and row.rows == 3 and row.priced_rows == 3
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
    import json

    import pandas as pd

    per_year = pd.read_csv(out / "terms.csv")
    summ = json.loads((out / "summary.json").read_text())
    assert len(per_year) == 10
    for name in ("losses", "energy", "cost"):
        assert per_year[name].sum() == pytest.approx(summ["terms"][name], rel=1e-9)
    assert summ["terms"]["losses"] == pytest.approx(summ["objective"], rel=1e-9)
    text = capsys.readouterr().out
    assert "share_min[eol[1].landfill]" in text
    assert main(["explain", str(out), "--top", "1"]) == 0
    assert "top 1 binding" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# terms recomputed from flows
# ------------------------------------------------------------------------------------------
_ALU = ()  # global_aluminium rebuilt on real alloys: no expected failures left
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


def test_term_series_by_year_toy():
    """Energy per year of the toy's simulation: remelting's 0.5 per kt of input plus the free
    sources' 10 and 8 per kt supplied, each year, from the flow table; the series sums to the term."""
    from circopt import terms

    sim = circopt.simulate(circopt.load(TOY))
    f = sim.flows[sim.flows.element == "total"]
    by = lambda q: f.query(q).groupby("year").value.sum().reindex(sim.system.years, fill_value=0.0).to_numpy()
    want = 0.5 * by("target == 'remelting'") + 10 * by("source == 'primary_alloy'") + 8 * by("source == 'primary_iron'")
    got = terms.series(sim, "energy")
    assert np.allclose(got, want, rtol=1e-12)
    assert got.sum() == pytest.approx(terms.value(sim, "energy"), rel=1e-12)


def test_capacity_cost_counted_from_the_result():
    """A capacity of route b costs 0.5 per t of capacity per year; minimising losses builds 50 t/yr
    (the share cap): cost = 3 x (2 x 50 + 0.5 x 50) = 375."""
    from circopt import terms

    con = [{"type": "capacity", "node": "fork", "route": "b", "max": 80.0, "cost": 0.5}]
    res = optimise(build(fork_doc()), {"losses": 1.0, "cost": 1e-3}, constraints=con)
    assert terms.value(res, "cost") == pytest.approx(375.0, rel=1e-9)
    assert res.objective_terms["cost"] == pytest.approx(375.0, rel=1e-9)


def test_free_sources_reported_priced_toy():
    """The toy's two free sources declare energy, CO2 and cost (primary_alloy: 10, 2.0, 2.0 per kt);
    what they supply is their outflow, per element and year."""
    res = optimise(circopt.load(TOY), "energy")
    fs = res.summary()["free_sources"]
    assert set(fs) == {"primary_alloy", "primary_iron"}
    assert fs["primary_alloy"]["priced"] == {"energy": True, "co2": True, "cost": True}
    assert fs["primary_alloy"]["per_unit"] == {"energy": 10.0, "co2": 2.0, "cost": 2.0}
    out = res.flows.query("source == 'primary_iron' and element == 'total'").groupby("year").value.sum()
    assert np.allclose(fs["primary_iron"]["supplied"]["total"], out.to_numpy(), rtol=1e-12)
    assert np.allclose(np.add(fs["primary_iron"]["supplied"]["Fe"], fs["primary_iron"]["supplied"]["Ni"]),
                       out.to_numpy(), rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("instance,objective", [
    ("japan_engines", "losses"), ("japan_engines", {"losses": 1.0, "energy": 1e-3}),
    *[pytest.param("global_aluminium", o, marks=_ALU) for o in ("energy", {"surplus": 1.0, "cost": 1e-3})]])
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
            res = optimise(system, objective)
        except (InstanceError, SimulationError):  # (a random network the engines refuse)
            assume(False)
            return
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


# ------------------------------------------------------------------------------------------
# user-declared indicators
# ------------------------------------------------------------------------------------------
def fork_with_indicators() -> dict:
    doc = fork_doc()
    doc["indicators"] = [
        {"name": "kept", "kind": "flow", "source": "fork", "target": "keep", "unit": "t",
         "description": "what route b keeps"},
        {"name": "dumped_A", "kind": "loss", "node": "dump", "weights": {"A": 1.0}, "years": [2021, 2022]},
    ]
    return doc


def test_indicators_by_hand():
    """Losses optimum: b keeps 50 t/yr -> kept = 150 t over three years; the dump receives 50 t/yr
    of which 20 % is A -> dumped_A over 2021-2022 = 2 x 10 = 20."""
    res = optimise(build(fork_with_indicators()), "losses")
    ind = res.summary()["indicators"]
    assert ind["kept"] == pytest.approx(150.0, rel=1e-12)
    assert ind["dumped_A"] == pytest.approx(20.0, rel=1e-12)


def test_indicator_as_objective_and_constraint():
    """Maximising 'kept' (weight -1) keeps 50 t/yr (the share cap): -150. Minimising losses with
    kept <= 90 keeps 90 over three years: losses 300 - 90 = 210."""
    s = build(fork_with_indicators())
    res = optimise(s, {"indicator:kept": -1.0})
    assert res.objective == pytest.approx(-150.0, rel=1e-9)
    res = optimise(s, "losses", constraints=[{"type": "indicator", "indicator": "kept", "max": 90.0}])
    assert res.objective == pytest.approx(210.0, rel=1e-9)
    b = circopt.binding(res).set_index("family")
    # one more t of 'kept' allowed is one t less lost
    assert b.loc["constraints[0].indicator_max[kept]", "objective_change"] == pytest.approx(-1.0, rel=1e-9)


def test_stock_indicator_matches_stock_table_toy():
    """A stock indicator (Ni in the in-use stock at the end of 2025-2027, both lives) equals the
    Result's stock table, for a simulation and an optimum (its LP weights are the same)."""
    doc = dict(__import__("yaml").safe_load((TOY / "instance.yaml").read_text()))
    doc["indicators"] = [{"name": "ni_in_use", "kind": "stock", "node": "in_use", "weights": {"Ni": 1.0},
                          "years": [2025, 2027]}]
    s = circopt.build(doc, TOY)
    for res in (circopt.simulate(s), optimise(s, "losses")):
        st = res.stocks
        want = st[(st.element == "Ni") & st.year.between(2025, 2027)].value.sum()
        assert res.summary()["indicators"]["ni_in_use"] == pytest.approx(want, rel=1e-9)
    opt = optimise(s, {"indicator:ni_in_use": -1.0})
    assert -opt.objective == pytest.approx(opt.summary()["indicators"]["ni_in_use"], rel=1e-9)


@pytest.mark.parametrize("bad,words", [
    ({"name": "x", "kind": "volume"}, "unknown indicator kind"),
    ({"name": "x", "kind": "flow"}, "needs 'source'"),
    ({"name": "x", "kind": "flow", "source": "nowhere"}, "unknown node"),
    ({"name": "x", "kind": "stock", "node": "fork"}, "selects no stock"),
    ({"name": "x", "kind": "loss", "node": "dump", "weights": {"Zn": 1}}, "weights"),
    ({"name": "x", "kind": "flow", "source": "fork", "colour": "red"}, "unknown key"),
])
def test_indicator_errors_name_the_key(bad, words):
    from circopt.errors import InstanceError, InstanceErrors

    doc = fork_doc()
    doc["indicators"] = [bad]
    with pytest.raises((InstanceError, InstanceErrors)) as e:
        build(doc)
    assert words in str(e.value) and "indicators[0]" in str(e.value)


def test_unknown_indicator_in_objective_and_constraint():
    from circopt.errors import InstanceError

    s = build(fork_with_indicators())
    with pytest.raises(InstanceError, match="unknown indicator"):
        optimise(s, "indicator:nope")
    with pytest.raises(InstanceError, match="unknown indicator"):
        optimise(s, "losses", constraints=[{"type": "indicator", "indicator": "nope", "max": 1}])


# ------------------------------------------------------------------------------------------
# constraints on a blend's allocations
# ------------------------------------------------------------------------------------------
def blend_doc() -> dict:
    """Two scraps (30 t each, 4 % and 1 % Cu) and pure primary metal (free) make 100 t of an alloy
    with at most 1 % Cu; unused scrap is surplus (test_optimise's hand-worked blend)."""
    from tests.test_optimise import blend_doc as doc

    return doc(window_cu=0.01)


@pytest.mark.parametrize("con,primary", [
    # no constraint: 30 t of 1 % scrap (0.3 t Cu), then 0.7 / 0.04 = 17.5 t of 4 % scrap: primary 52.5
    (None, 52.5),
    # at most 10 t of the 1 % scrap: 0.1 t Cu, then 0.9 / 0.04 = 22.5 t of 4 % scrap: primary 67.5
    ({"type": "allocation", "node": "mix", "input": "s2", "output": "alloy", "max": 10.0}, 67.5),
    # the 1 % scrap forbidden: 1 / 0.04 = 25 t of 4 % scrap: primary 75
    ({"type": "allocation", "node": "mix", "input": "s2", "output": "alloy", "max": 0.0}, 75.0),
    # primary at least 60 % of the alloy: 60 t (40 t of scrap fit: 0.3 + 10 x 0.04 = 0.7 t Cu <= 1)
    ({"type": "allocation", "node": "mix", "input": "prim", "output": "alloy", "min": 0.6, "share": True}, 60.0),
    # the 4 % scrap at most 10 % of the alloy: 10 t (0.4 t Cu) + 30 t of 1 % (0.3 t): primary 60
    ({"type": "allocation", "node": "mix", "input": "s1", "output": "alloy", "max": 0.1, "share": True}, 60.0),
])
def test_allocation_constraint_by_hand(con, primary):
    res = optimise(build(blend_doc()), "primary", constraints=[con] if con else None)
    assert res.objective == pytest.approx(primary, rel=1e-9)
    assert res.max_relative_imbalance <= 1e-9


def test_allocation_constraint_worth_by_hand():
    """With at most 10 t of the 1 % scrap, one more t of it brings 0.01 t Cu, so the 4 % scrap
    shrinks by 0.01 / 0.04 = 0.25 t and primary by 1 - 0.25 = 0.75 t: the bound is worth -0.75 per t."""
    con = {"type": "allocation", "node": "mix", "input": "s2", "output": "alloy", "max": 10.0}
    res = optimise(build(blend_doc()), "primary", constraints=[con])
    b = circopt.binding(res).set_index("family")
    fam = "constraints[0].allocation_max[mix.s2->alloy]"
    assert b.loc[fam, "binding_rows"] == 1
    assert b.loc[fam, "objective_change"] == pytest.approx(-0.75, rel=1e-9)


@pytest.mark.parametrize("con,words", [
    ({"type": "allocation", "node": "mix", "input": "s9", "output": "alloy", "max": 0}, "no input"),
    ({"type": "allocation", "node": "mix", "input": "s1", "output": "bar", "max": 0}, "unknown output"),
    ({"type": "allocation", "node": "mix", "input": "s1", "output": "alloy"}, "needs 'min' or 'max'"),
    ({"type": "allocation", "node": "mix", "input": "s1", "output": "alloy", "max": 2, "share": True}, "out of range"),
    ({"type": "allocation", "node": "market", "input": "s1", "output": "alloy", "max": 0}, "blend"),
])
def test_allocation_constraint_errors(con, words):
    from circopt.errors import InstanceError

    with pytest.raises(InstanceError) as e:
        optimise(build(blend_doc()), "primary", constraints=[con])
    assert words in str(e.value)


def test_indicator_keys_documented():
    import re

    from circopt.indicators import INDICATOR_KEYS

    text = (ROOT / "docs" / "instance-format.md").read_text().split("## Indicators", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M)) == INDICATOR_KEYS


# ------------------------------------------------------------------------------------------
# uniqueness report
# ------------------------------------------------------------------------------------------
def test_uniqueness_tie_by_hand():
    """Minimising losses on the three-route fork: any split of 100 t/yr between b and c is
    optimal, so route b (the lever) ranges over 0 .. 200 t (two years); cost as the second stage
    picks c (cheaper) and b is then pinned at 0."""
    res = optimise(build(tie_doc()), "losses", uniqueness=True)
    rep = res.extra["uniqueness"]
    assert rep["unique"] is False
    (lv,) = rep["levers"]
    assert lv["lever"] == "keep_b" and lv["min"] == pytest.approx(0.0, abs=1e-9)
    assert lv["max"] == pytest.approx(200.0, rel=1e-9)
    res = optimise(build(tie_doc()), "losses", then=["cost"], uniqueness=True)
    rep = res.extra["uniqueness"]
    assert rep["unique"] is True
    assert rep["levers"][0]["max"] == pytest.approx(0.0, abs=1e-9)


def test_uniqueness_unique_by_hand():
    """The two-route fork minimising losses: b at its cap (50 t/yr) is the only optimum."""
    res = optimise(build(fork_doc()), "losses", uniqueness=True)
    rep = res.extra["uniqueness"]
    assert rep["unique"] is True
    assert rep["levers"][0]["at_optimum"] == pytest.approx(150.0, rel=1e-9)
    assert rep["levers"][0]["range"] == pytest.approx(0.0, abs=1e-9)


def test_uniqueness_without_levers_uses_route_families(tmp_path, capsys):
    """The toy declares no levers: one line per split route family, in summary.json and printed."""
    import json

    from circopt.cli import main

    out = tmp_path / "o"
    assert main(["optimise", str(TOY), "--uniqueness", "--out", str(out)]) == 0
    rep = json.loads((out / "summary.json").read_text())["uniqueness"]
    assert {r["lever"] for r in rep["levers"]} == {"eol.reuse", "eol.recycle", "eol.landfill"}
    assert "uniqueness:" in capsys.readouterr().out


def test_binding_user_rows_scaled_and_owned():
    """A user share bound (row constraints[0].share_max[fork.b]) at 0.4 under the instance's 0.5:
    b keeps 40 t/yr; 0.01 more keeps 1 t/yr more: -3 over three years; the lever naming the same
    route owns the row."""
    doc = fork_doc()
    doc["constraints"] = [{"type": "share", "node": "fork", "route": "b", "max": 0.4}]
    res = optimise(build(doc), "losses")
    b = circopt.binding(res).set_index("family")
    row = b.loc["constraints[0].share_max[fork.b]"]
    # 0.01 more of the share keeps 1 t/yr more: -3 over three years
    assert row.objective_change == pytest.approx(-3.0, rel=1e-9)
    assert row.lever == "keeping"


def test_binding_recycled_content_scaled_by_output():
    """blend_doc maximising primary (weight -1) with recycled content at least 30 % of the 100 t
    alloy: primary 70 at the floor. One more 0.01 of the floor is 1 t more scrap (0.01 x 100 t of
    output) and 1 t less primary: the objective (-primary) rises by 1."""
    con = [{"type": "recycled_content", "node": "mix", "output": "alloy", "min": 0.3}]
    res = optimise(build(blend_doc()), {"primary": -1.0}, constraints=con)
    assert -res.objective == pytest.approx(70.0, rel=1e-9)
    b = circopt.binding(res).set_index("family")
    row = b.loc["constraints[0].recycled_content[mix.alloy]"]
    assert row.binding_rows == 1
    assert row.objective_change == pytest.approx(1.0, rel=1e-9)


def test_cli_indicator_objective(tmp_path, capsys):
    """--objective indicator:NAME and --then indicator:NAME on a copy of the toy with an indicator
    (what is landfilled); the summary reports it and it equals the landfill's inflow."""
    import json

    import yaml

    from circopt.cli import main

    inst = tmp_path / "toy"
    shutil.copytree(TOY, inst)
    doc = yaml.safe_load((inst / "instance.yaml").read_text())
    doc["indicators"] = [{"name": "landfilled", "kind": "loss", "node": "landfill", "unit": "kt"}]
    (inst / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "o"
    assert main(["optimise", str(inst), "--objective", "indicator:landfilled", "--then", "energy",
                 "--out", str(out)]) == 0
    summ = json.loads((out / "summary.json").read_text())
    flows = __import__("pandas").read_csv(out / "flows.csv")
    landfill = flows[(flows.target == "landfill") & (flows.element == "total")].value.sum()
    assert summ["indicators"]["landfilled"] == pytest.approx(landfill, rel=1e-9)
    assert summ["lexicographic"]["stages"][0]["term"] == "indicator:landfilled"
    assert main(["optimise", str(inst), "--objective", "indicator:nope", "--out", str(out)]) == 1
    assert "unknown indicator" in capsys.readouterr().err
