"""circopt.flowrules: each edge rule once, as coefficient arrays, read by both engines.

Hand-worked network (one tracked element A, channels A and other, three years): 100 t/yr of ore
(A 50 %) to a sorting split (refine 0.8 baseline, shares 0.5-0.9; dump the rest); a pick-up
source (pure A) following the refinery's total input at ratio 0.1; the refinery yields 0.9 to a
stock (fixed lifetime 2), the rest to slag; the stock's outflow goes to end of life.
By hand: refinery input x = 80 + 0.1 x -> x = 80 / 0.9; pick-up = 8/0.9 t; refine -> use = 80 t,
of which A = 0.9 (40 + 8/0.9) = 44 t.
"""

from __future__ import annotations

import numpy as np
import pytest

import circopt
from circopt.flowrules import KINDS, flow_rules, table_kind, table_kinds
from circopt.lp.build import build_model
from circopt.stocks import stock_plan

from .netgen import write_sources

NODES = {
    "ore": {"kind": "source", "composition": {"A": 0.5}, "series": 100, "to": "sort", "source": "estimate"},
    "sort": {"kind": "split", "routes": {"keep": "refine", "drop": "dump"}, "baseline": {"keep": 0.8, "drop": "rest"},
             "shares": {"keep": [0.5, 0.9]}, "source": "estimate"},
    "pick": {"kind": "source", "composition": {"A": 1.0}, "follows": "refine", "ratio": 0.1, "to": "refine",
             "source": "estimate"},
    "refine": {"kind": "process", "to": {"use": 0.9, "slag": "rest"}, "source": "estimate"},
    "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 2}, "to": "eol", "source": "estimate"},
    "eol": {"kind": "sink", "loss": "dissipation"},
    "dump": {"kind": "sink", "loss": "dissipation"},
    "slag": {"kind": "sink", "loss": "process"},
}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    doc = {"name": "flowrules", "unit": "t", "years": [2020, 2022], "elements": ["A"], "streams": {},
           "nodes": NODES}
    return circopt.build(doc, write_sources(tmp_path_factory.mktemp("flowrules")))


def _edge(s, a, b):
    return next(e.id for e in s.edges if s.nodes[e.source].name == a and s.nodes[e.target].name == b)


def test_kinds_and_coefficients_by_hand(system):
    s = system
    r = flow_rules(s, stock_plan(s).stocks)
    e = {k: _edge(s, *k.split(">")) for k in ("ore>sort", "sort>refine", "sort>dump", "pick>refine",
                                              "refine>use", "refine>slag", "use>eol")}
    assert [r.kind[e[k]] for k in e] == ["exogenous", "route", "route", "pickup", "tc", "tc", "stock"]
    assert sorted(np.flatnonzero(r.decision).tolist()) == sorted([e["sort>refine"], e["sort>dump"]])
    np.testing.assert_array_equal(r.tc_coef[list(r.tc_edges).index(e["refine>use"])], np.full((3, 2), 0.9))
    np.testing.assert_allclose(r.tc_coef[list(r.tc_edges).index(e["refine>slag"])], np.full((3, 2), 0.1), rtol=1e-15)
    np.testing.assert_array_equal(r.source_unit([e["ore>sort"]])[0], np.full((3, 2), 0.5))
    np.testing.assert_array_equal(r.pickup_weight()[0], np.tile([0.1, 0.0], (3, 1)))
    assert sorted(r.pickup_followed[0]) == sorted([e["sort>refine"], e["pick>refine"]])
    assert r.stock_of_edge.tolist() == [0]
    # same-year pairs: each share-of-input edge with every input of its node; coefficients by rule
    route = np.full((len(s.edges), 3), np.nan)
    route[e["sort>refine"]], route[e["sort>dump"]] = 0.7, 0.3
    coef = r.pair_coef(route, np.full((1, 3), 0.25))
    pairs = list(zip(r.pair_rows.tolist(), r.pair_cols.tolist()))
    assert coef[:, pairs.index((e["sort>refine"], e["ore>sort"]))].tolist() == [[0.7, 0.7]] * 3
    assert coef[:, pairs.index((e["refine>use"], e["pick>refine"]))].tolist() == [[0.9, 0.9]] * 3
    assert coef[:, pairs.index((e["use>eol"], e["refine>use"]))].tolist() == [[0.25, 0.25]] * 3
    assert len(pairs) == 2 * 1 + 2 * 2 + 1 * 1  # sort: 2 routes x 1 input; refine: 2 x 2; use: 1 x 1


def test_both_engines_give_the_hand_worked_flows(system):
    sim = circopt.simulate(system)
    lp = circopt.optimise(system, "losses", fix=sim)  # the LP's flow map at the simulator's decisions
    for res in (sim, lp):
        f = res.flows
        one = f[(f.year == 2021)]

        def flow(a, b, el):
            return float(one[(one.source == a) & (one.target == b) & (one.element == el)].value.sum())

        assert flow("pick", "refine", "total") == pytest.approx(8 / 0.9, rel=1e-12)
        assert flow("refine", "use", "total") == pytest.approx(80.0, rel=1e-12)
        assert flow("refine", "use", "A") == pytest.approx(44.0, rel=1e-12)
        assert res.max_relative_imbalance <= 1e-9


# ---- every rule, and what the tables call each edge ------------------------------------------
PRICED = {"energy": 0.0, "co2": 0.0, "cost": 1.0, "source": "estimate"}
EVERY_RULE = {
    "ore": {"kind": "source", "composition": {"A": 0.5}, "series": 100, "to": "sort", "source": "estimate"},
    "sort": {"kind": "split", "routes": {"keep": "refine", "drop": "dump"}, "baseline": {"keep": 0.8, "drop": "rest"},
             "source": "estimate"},
    "pick": {"kind": "source", "composition": {"A": 1.0}, "follows": "refine", "ratio": 0.1, "to": "refine",
             "source": "estimate"},
    "extra": {"kind": "source", "composition": {"A": 0.2}, "free": True, "to": "refine", **PRICED},
    "refine": {"kind": "process", "to": {"out": 0.9, "slag": "rest"}, "source": "estimate"},
    "goods": {"kind": "source", "composition": {"A": 0.05}, "series": 60, "to": "use", "source": "estimate"},
    "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 1}, "to": "mix", "source": "estimate"},
    "prim": {"kind": "source", "composition": {"A": 0.0}, "free": True, "to": "mix", **PRICED},
    "mix": {"kind": "blend", "outputs": {"alloy": {"to": "market", "demand": 100.0}}, "surplus": "excess",
            "source": "estimate"},
    "market": {"kind": "sink", "loss": "unspecified"},
    "out": {"kind": "sink", "loss": "unspecified"},
    "excess": {"kind": "sink", "loss": "surplus"},
    "dump": {"kind": "sink", "loss": "dissipation"},
    "slag": {"kind": "sink", "loss": "process"},
}
#: each edge's rule and what the decisions table and the LP's columns call it (None: not a decision)
RULE_AND_TABLE_KIND = {
    "ore>sort": ("exogenous", None), "sort>refine": ("route", "route"), "sort>dump": ("route", "route"),
    "pick>refine": ("pickup", None), "extra>refine": ("free", "supply"), "refine>out": ("tc", None),
    "refine>slag": ("tc", None), "goods>use": ("exogenous", None), "use>mix": ("stock", None),
    "prim>mix": ("free", "supply"), "mix>market": ("blend_out", "allocation"), "mix>excess": ("surplus", "leftover"),
}


@pytest.fixture(scope="module")
def every_rule(tmp_path_factory):
    doc = {"name": "every_rule", "unit": "t", "years": [2020, 2022], "elements": ["A"], "compositions": {},
           "nodes": EVERY_RULE}
    return circopt.build(doc, write_sources(tmp_path_factory.mktemp("every_rule")))


def test_table_kind_of_each_edge_comes_from_its_rule(every_rule):
    s = every_rule
    r = flow_rules(s)
    name = {e.id: f"{s.nodes[e.source].name}>{s.nodes[e.target].name}" for e in s.edges}
    assert {name[e]: (r.kind[e], r.table_kind[e]) for e in name} == RULE_AND_TABLE_KIND
    assert {rule for rule, _ in RULE_AND_TABLE_KIND.values()} == set(KINDS)  # the network has every rule
    assert [table_kind(r.kind[e]) for e in name] == r.table_kind.tolist() == list(table_kinds(s))


def test_decisions_table_and_lp_columns_follow_the_table_kind(every_rule):
    """The rows of decisions.csv and the LP's column blocks are those of the edges' table kinds: a
    route block and row per route; a supply row per free source, a supply block only for one that
    does not feed a blend (a blend's free input is its allocations, with no leftover)."""
    s = every_rule
    opt = circopt.optimise(s, "losses")
    rows = set(zip(opt.decisions.kind, opt.decisions.node, opt.decisions.decision))
    assert rows == {("route", "sort", "keep"), ("route", "sort", "drop"), ("supply", "extra", "amount"),
                    ("supply", "prim", "amount"), ("allocation", "mix", "use -> alloy"),
                    ("allocation", "mix", "prim -> alloy")}
    blocks = [n.rsplit(",", 1)[0] + "]" for n in build_model(s, "losses").col_names if n.endswith(",2020]")]
    assert blocks == ["route[sort.keep]", "route[sort.drop]", "allocation[mix.use->alloy]",
                      "allocation[mix.prim->alloy]", "leftover[mix.use]", "supply[extra]", "amount[pick]",
                      "input[refine,A]", "input[refine,other]"]
    # the round trip reads the same kinds back: imposing the optimum's table reproduces its flows
    again = circopt.simulate(s, decisions=opt.decisions)
    np.testing.assert_allclose(again.flows_array, opt.flows_array, rtol=1e-9, atol=1e-9)
    assert opt.decisions.value[opt.decisions.node == "prim"].sum() > 0  # the free input supplies
