"""Hand-worked numbers for node features beyond the toy: free inputs making up demands, sources
that follow a node's input, history and initial stocks, stock-driven stocks."""

from __future__ import annotations

import numpy as np
import pytest

import circopt
from circopt.errors import InstanceError

from .netgen import write_sources


def _doc(nodes, years=(2020, 2021), elements=("A", "B"), streams=None):
    return {"name": "t", "unit": "t", "years": list(years), "elements": list(elements),
            "compositions": streams or {}, "nodes": nodes}


def _flow(res, a, b, year, el="total"):
    f = res.flows
    return float(f[(f.source == a) & (f.target == b) & (f.year == year) & (f.element == el)].value.iloc[0])


def test_free_inputs_make_up_their_shares_of_a_shortfall(tmp_path):
    # 10 t of scrap (A 0.5) offers 60 % to p (demand 20): 6 t taken, 4 t surplus; the 14 t
    # shortfall is made up 25 % by f1 (pure A, 3.5 t) and 75 % by f2 (pure B, 10.5 t)
    priced = {"energy": 1.0, "co2": 1.0, "cost": 1.0, "source": "estimate", "free": True, "to": "mix"}
    nodes = {
        "scrap": {"kind": "source", "composition": {"A": 0.5}, "series": 10, "to": "mix", "source": "estimate"},
        "f1": {"kind": "source", "composition": {"A": 1.0}, **priced},
        "f2": {"kind": "source", "composition": {"B": 1.0}, **priced},
        "mix": {"kind": "blend", "source": "estimate", "surplus": "spare",
                "outputs": {"p": {"to": "market", "demand": 20}},
                "allocation": {"scrap": {"p": 0.6}, "f1": {"p": 0.25}, "f2": {"p": 0.75}}},
        "market": {"kind": "sink", "loss": "export"},
        "spare": {"kind": "sink", "loss": "surplus"},
    }
    res = circopt.simulate(circopt.build(_doc(nodes), write_sources(tmp_path)))
    assert _flow(res, "f1", "mix", 2020) == pytest.approx(3.5)
    assert _flow(res, "f2", "mix", 2021) == pytest.approx(10.5)
    assert _flow(res, "mix", "market", 2020) == pytest.approx(20)
    assert _flow(res, "mix", "market", 2020, "A") == pytest.approx(3 + 3.5)
    assert _flow(res, "mix", "market", 2020, "B") == pytest.approx(10.5)
    assert _flow(res, "mix", "spare", 2020) == pytest.approx(4)
    assert res.max_relative_imbalance <= 1e-9
    d = res.decisions
    assert d[(d.decision == "f2 -> p") & (d.year == 2020)].value.iloc[0] == pytest.approx(10.5)
    # make-up shares of one output above 1 are refused
    nodes["mix"]["allocation"]["f1"] = {"p": 0.5}
    with pytest.raises(InstanceError, match="more than the whole shortfall"):
        circopt.build(_doc(nodes), write_sources(tmp_path))


def test_following_source_closes_its_own_loop(tmp_path):
    # new parts = 0.2 x the input of 'fab', and they enter 'fab': f = 0.2 (10 + f) -> f = 2.5
    nodes = {
        "old": {"kind": "source", "composition": {"A": 1.0}, "series": 10, "to": "fab", "source": "estimate"},
        "parts": {"kind": "source", "composition": {"B": 1.0}, "follows": "fab", "ratio": 0.2, "to": "fab",
                  "source": "estimate"},
        "fab": {"kind": "process", "to": "market", "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
    }
    res = circopt.simulate(circopt.build(_doc(nodes), write_sources(tmp_path)))
    assert _flow(res, "parts", "fab", 2020) == pytest.approx(2.5)
    assert _flow(res, "fab", "market", 2020, "B") == pytest.approx(2.5)
    assert _flow(res, "fab", "market", 2020) == pytest.approx(12.5)
    assert res.max_relative_imbalance <= 1e-9


def _pickup_blend_nodes():
    # 10 t of scrap (A 10 %) is shredded; Fe-like pick-up B = 2 % of the shredder's total input
    # enters the shredder; a blend makes 20 t of alloy with A in [7, 8] % and B <= 0.5 % from the
    # shredded scrap, priced primary (energy 15/t) and a priced pure-A addition (energy 5/t)
    return {
        "scrap": {"kind": "source", "composition": {"A": 0.1}, "series": 10, "to": "shred", "source": "estimate"},
        "pickup": {"kind": "source", "composition": {"B": 1.0}, "follows": "shred", "ratio": 0.02, "to": "shred",
                   "source": "estimate"},
        "shred": {"kind": "process", "to": "melt", "source": "estimate"},
        "primary": {"kind": "source", "composition": {}, "free": True, "to": "melt", "energy": 15.0,
                    "co2": 0.0, "cost": 0.0, "source": "estimate"},
        "add_a": {"kind": "source", "composition": {"A": 1.0}, "free": True, "to": "melt", "energy": 5.0,
                  "co2": 0.0, "cost": 0.0, "source": "estimate"},
        "melt": {"kind": "blend", "source": "estimate", "surplus": "surplus",
                 "outputs": {"alloy": {"to": "market", "demand": 20.0, "window": {"A": [0.07, 0.08], "B": [0, 0.005]}}},
                 "allocation": {"shred": {"alloy": 1.0}}},
        "market": {"kind": "sink", "loss": "export"},
        "surplus": {"kind": "sink", "loss": "surplus"},
    }


def test_pickup_following_its_node_keeps_the_composition_known(tmp_path):
    # pick-up f = 0.02 (10 + f) -> f = 0.2 / 0.98; the shredded stream (10.204 t) is 2 % B and
    # 1 / 10.204 A, known at load although two streams of different composition mix
    system = circopt.build(_doc(_pickup_blend_nodes()), write_sources(tmp_path))
    e = next(e for e in system.edges if system.nodes[e.source].name == "shred")
    assert system.comp_known[e.id]
    np.testing.assert_allclose(system.edge_comp[e.id][0], [0.98 * 0.1, 0.02, 0.98 * 0.9], rtol=1e-12)


def test_blend_with_pickup_and_priced_addition(tmp_path):
    # B <= 0.5 % of 20 t = 0.1 t of B -> at most 0.1 / 0.02 = 5 t of shredded scrap (A 0.49 t);
    # A is cheaper as addition (5) than primary (15) per t, so A sits at its 8 % top: 1.6 - 0.49 = 1.11 t
    # added; primary 20 - 5 - 1.11 = 13.89 t; surplus 10.2041 - 5 = 5.2041 t; energy 15 x 13.89 + 5 x 1.11
    system = circopt.build(_doc(_pickup_blend_nodes()), write_sources(tmp_path))
    res = circopt.optimise(system, "energy")
    f = 0.2 / 0.98
    assert _flow(res, "pickup", "shred", 2020) == pytest.approx(f, rel=1e-9)
    assert _flow(res, "shred", "melt", 2020) == pytest.approx(10 + f, rel=1e-9)
    assert _flow(res, "melt", "surplus", 2020) == pytest.approx(10 + f - 5.0, rel=1e-7)
    assert _flow(res, "add_a", "melt", 2020) == pytest.approx(1.6 - 5.0 * 0.098, rel=1e-7)
    assert _flow(res, "primary", "melt", 2020) == pytest.approx(20 - 5.0 - 1.11, rel=1e-7)
    assert res.objective == pytest.approx(2 * (15 * 13.89 + 5 * 1.11), rel=1e-7)
    assert res.max_relative_imbalance <= 1e-9


def test_pickup_following_a_decided_input_round_trips(tmp_path):
    # the shredder's input mixes two scraps in decided proportions: its composition is unknown,
    # but the pick-up (2 % of the total input) stays linear; simulating the optimum's decisions
    # reproduces its flows
    from circopt.simulate import shares_from_decisions
    nodes = {
        "s1": {"kind": "source", "composition": {"A": 0.1}, "series": 10, "to": "route", "source": "estimate"},
        "s2": {"kind": "source", "composition": {"A": 0.3}, "series": 5, "to": "shred", "source": "estimate"},
        "route": {"kind": "split", "routes": {"go": "shred", "no": "land"}, "baseline": {"go": 0.5, "no": "rest"},
                  "shares": {"go": [0.0, 0.6]}, "source": "estimate"},
        "pickup": {"kind": "source", "composition": {"B": 1.0}, "follows": "shred", "ratio": 0.02, "to": "shred",
                   "source": "estimate"},
        "shred": {"kind": "process", "to": "market", "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
        "land": {"kind": "sink", "loss": "dissipation"},
    }
    system = circopt.build(_doc(nodes), write_sources(tmp_path))
    res = circopt.optimise(system, "losses")
    # 6 t of s1 go (share cap 0.6) + 5 t of s2 = 11 t; pick-up 0.02 x 11 / 0.98
    assert _flow(res, "pickup", "shred", 2020) == pytest.approx(0.22 / 0.98, rel=1e-9)
    sim = circopt.simulate(system, shares=shares_from_decisions(system, res.decisions))
    m = res.flows.merge(sim.flows, on=["year", "source", "target", "element"])
    np.testing.assert_allclose(m.value_x, m.value_y, rtol=1e-9, atol=1e-12)


def test_pickup_ratios_at_one_are_refused(tmp_path):
    nodes = _pickup_blend_nodes()
    nodes["pickup"]["ratio"] = 1.0
    with pytest.raises(circopt.errors.InstanceErrors, match="input has no solution"):
        circopt.build(_doc(nodes), write_sources(tmp_path))


def test_history_cohorts_leave_in_model_years(tmp_path):
    folder = write_sources(tmp_path)
    (folder / "hist.csv").write_text("year,value\n2017,6\n2018,0\n2019,4\n")
    nodes = {
        "prod": {"kind": "source", "composition": {"A": 1.0}, "series": 1, "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 3}, "history": "hist.csv",
                "history_stream": "pure", "to": "eol", "source": "estimate"},
        "eol": {"kind": "sink", "loss": "dissipation"},
    }
    doc = _doc(nodes, years=(2020, 2022), streams={"pure": {"composition": {"A": 1.0}, "source": "estimate"}})
    res = circopt.simulate(circopt.build(doc, folder))
    # fixed 3 years: the 2017 cohort leaves in 2020, 2019 in 2022, 2020 in 2023 (after the horizon)
    assert _flow(res, "use", "eol", 2020) == pytest.approx(6)
    assert _flow(res, "use", "eol", 2021) == pytest.approx(0)
    assert _flow(res, "use", "eol", 2022) == pytest.approx(4)
    st = res.stocks
    assert float(st[(st.year == 2020) & (st.element == "total")].value.iloc[0]) == pytest.approx(4 + 1)
    assert res.max_relative_imbalance <= 1e-9


def test_initial_stock_by_age(tmp_path):
    folder = write_sources(tmp_path)
    # at the end of 2019: 5 t of age 0 (entered 2019) and 3 t of age 1 (entered 2018); fixed 2 years
    (folder / "init.csv").write_text("age,value\n0,5\n1,3\n")
    nodes = {
        "prod": {"kind": "source", "composition": {"A": 1.0}, "series": 0, "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 2}, "initial_stock": "init.csv",
                "history_stream": "pure", "to": "eol", "source": "estimate"},
        "eol": {"kind": "sink", "loss": "dissipation"},
    }
    doc = _doc(nodes, years=(2020, 2022), streams={"pure": {"composition": {"A": 1.0}, "source": "estimate"}})
    res = circopt.simulate(circopt.build(doc, folder))
    assert _flow(res, "use", "eol", 2020) == pytest.approx(3)  # the 2018 cohort
    assert _flow(res, "use", "eol", 2021) == pytest.approx(5)  # the 2019 cohort
    assert res.max_relative_imbalance <= 1e-9


def test_stock_driven_stock_sets_its_source(tmp_path):
    folder = write_sources(tmp_path)
    nodes = {
        "prod": {"kind": "source", "composition": {"A": 1.0}, "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 2}, "stock": {2020: 10, 2023: 16, "fill": "interpolate"},
                "to": "eol", "source": "estimate"},
        "eol": {"kind": "sink", "loss": "dissipation"},
    }
    res = circopt.simulate(circopt.build(_doc(nodes, years=(2020, 2023)), folder))
    # stock 10, 12, 14, 16; fixed 2 years: inflow 10, 2, 10-? : i0=10; i1=12-10=2; i2=14-(2)=12; i3=16-12=4
    for year, want in zip(range(2020, 2024), [10, 2, 12, 4]):
        assert _flow(res, "prod", "use", year) == pytest.approx(want)
    st = res.stocks
    np.testing.assert_allclose(st[st.element == "total"].value.to_numpy(), [10, 12, 14, 16])
    assert res.max_relative_imbalance <= 1e-9 and not res.notes


def test_stock_driven_falling_stock_error_and_clip(tmp_path):
    folder = write_sources(tmp_path)
    nodes = {
        "prod": {"kind": "source", "composition": {"A": 1.0}, "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 5}, "stock": {2020: 10, 2021: 2},
                "to": "eol", "source": "estimate"},
        "eol": {"kind": "sink", "loss": "dissipation"},
    }
    with pytest.raises(circopt.SimulationError, match="negative_inflow"):
        circopt.simulate(circopt.build(_doc(nodes), folder))
    nodes["use"]["negative_inflow"] = "clip"
    res = circopt.simulate(circopt.build(_doc(nodes), folder))
    assert _flow(res, "prod", "use", 2021) == 0.0
    assert any("clipped" in n for n in res.notes)


def test_balancing_source_is_refused(tmp_path):
    nodes = {"bal": {"kind": "source", "balancing": True, "stream": "x", "to": "s", "source": "estimate"},
             "s": {"kind": "sink", "loss": "dissipation"}}
    with pytest.raises(InstanceError, match="balancing sources are gone"):
        circopt.build(_doc(nodes), write_sources(tmp_path))


def _reman_chain(lose: str) -> dict:
    """10 t of A into a one-life stock; at end of life a split (over life) sends half to
    remanufacturing at life 1 and none at life 2, the rest to ``lose``; remanufacturing returns 80 %
    to the next life."""
    return {
        "prod": {"kind": "source", "composition": {"A": 1.0}, "series": {2020: 10, "fill": "zero"}, "to": "use",
                 "source": "estimate"},
        "use": {"kind": "stock", "lives": 1, "lifetime": {"model": "fixed", "mean": 1}, "to": "eol",
                "source": "estimate"},
        "eol": {"kind": "split", "over": ["life"], "routes": {"reman": "reman", "lose": lose},
                "baseline": {"reman": {1: 0.5, 2: 0.0}, "lose": "rest"}, "source": "estimate"},
        "reman": {"kind": "process", "over": ["life"], "to": {"use.next_life": 0.8, "dump": "rest"},
                  "source": "estimate"},
        "dump": {"kind": "sink", "loss": "dissipation"},
    }


def test_process_past_last_life_is_dropped_when_unreached(tmp_path):
    # remanufacturing as a process over life: at the last life nothing reaches it
    nodes = _reman_chain(lose="dump")
    doc = {"name": "t", "unit": "t", "years": [2020, 2023], "elements": ["A"], "nodes": nodes}
    # reman[2] would send past the last life; the route into it has share 0 there, so both go
    system = circopt.build(doc, write_sources(tmp_path))
    assert "reman[2]" not in [n.name for n in system.nodes]
    res = circopt.simulate(system)
    assert _flow(res, "reman[1]", "use[2]", 2021) == pytest.approx(10 * 0.5 * 0.8)
    assert res.max_relative_imbalance <= 1e-9
    # a positive share into it at the last life is refused, naming the node
    nodes["eol"]["baseline"]["reman"] = {1: 0.5, 2: 0.1}
    with pytest.raises(InstanceError, match=r"reman\[2\] sends .* past the last life"):
        circopt.build(doc, write_sources(tmp_path))


def test_blend_streams_keep_their_ids_when_a_route_past_the_last_life_is_dropped(tmp_path):
    # the dropped route eol[2] -> reman[2] comes before the blend's streams: their ids move down
    nodes = {**_reman_chain(lose="mix"),
             "mix": {"kind": "blend", "outputs": {"out": {"to": "dump"}}, "surplus": "waste",
                     "allocation": {"eol": {"out": 1.0}}, "source": "estimate"},
             "waste": {"kind": "sink", "loss": "process"}}
    doc = {"name": "t", "unit": "t", "years": [2020, 2023], "elements": ["A"], "nodes": nodes}
    system = circopt.build(doc, write_sources(tmp_path))
    (bl,) = system.blends
    assert system.edge_name(bl.outputs[0].edge) == "mix -> dump"
    assert system.edge_name(bl.surplus_edge) == "mix -> waste"
    res = circopt.simulate(system)
    # eol[1] in 2021 sends half of 10 t to the blend, which passes it all to its output
    assert _flow(res, "mix", "dump", 2021) == pytest.approx(5.0)
    assert res.max_relative_imbalance <= 1e-9


def test_history_only_stock_and_per_member_history_stream(tmp_path):
    # a stock that only empties (no inflow) passes its history's composition on, so a split
    # may act on its outflow; each member takes its own history stream
    folder = write_sources(tmp_path)
    (folder / "hist.csv").write_text("year,product,value\n2019,a,4\n2019,b,6\n")
    nodes = {
        "legacy": {"kind": "stock", "over": ["product"], "lifetime": {"model": "fixed", "mean": 1},
                   "history": "hist.csv", "history_stream": {"a": "sa", "b": "sb"}, "to": "sort",
                   "source": "estimate"},
        "sort": {"kind": "split", "over": ["product"], "routes": {"keep": "kept", "drop": "dropped"},
                 "baseline": {"keep": 0.25, "drop": "rest"}, "source": "estimate"},
        "kept": {"kind": "sink", "loss": "export"},
        "dropped": {"kind": "sink", "loss": "dissipation"},
    }
    doc = {"name": "t", "unit": "t", "years": [2020, 2021], "elements": ["A"], "dimensions": {"product": ["a", "b"]},
           "streams": {"sa": {"composition": {"A": 1.0}, "source": "estimate"},
                       "sb": {"composition": {"A": 0.5}, "source": "estimate"}},
           "nodes": nodes}
    system = circopt.build(doc, folder)
    res = circopt.simulate(system)
    assert _flow(res, "sort[a]", "kept", 2020, "A") == pytest.approx(0.25 * 4)
    assert _flow(res, "sort[b]", "kept", 2020, "A") == pytest.approx(0.25 * 6 * 0.5)
    assert res.max_relative_imbalance <= 1e-9


def test_audit_catches_a_wrong_flow():
    # the audit is a real check: nudge one flow of a correct result and it reports it
    res = circopt.simulate(circopt.load("instances/toy"))
    assert res.max_relative_imbalance <= 1e-9
    F = res.flows_array.copy()
    s = res.system
    e = next(ed.id for ed in s.edges if s.nodes[ed.source].name == "remelting" and s.nodes[ed.target].name == "slag")
    F[5, e, 1] *= 1 + 1e-6
    from circopt.result import Result

    bad = Result.from_flows(s, F, None, engine="test", stock_parts=(res.stock_array, res._conv_outflow))  # unchanged stocks
    audit = bad._compute_audit()
    worst = audit.sort_values("relative").iloc[-1]
    assert worst.node == "remelting" and worst.year == 2025 and worst.element == "Ni"
    assert worst.relative > 1e-9
