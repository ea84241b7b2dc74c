"""A System and its records are frozen once the loader hands them down: a variant is a new
System (``dataclasses.replace``) with its own caches of derived views."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

import circopt
from circopt import indicators
from circopt.model import optimise
from circopt.stocks import stock_plan

TOY = Path("instances/toy")


@pytest.fixture(scope="module")
def toy() -> circopt.System:
    return circopt.load(str(TOY))


def test_assigning_a_field_of_a_system_or_its_records_raises(toy):
    with pytest.raises(dataclasses.FrozenInstanceError, match="'name'"):
        toy.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.notes = ["a note"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.comp_known = None
    node = toy.nodes[toy.node_id("production")]
    with pytest.raises(dataclasses.FrozenInstanceError, match="'series'"):
        node.series = node.series * 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="'coef'"):
        toy.edges[0].coef = None
    blend = toy.blends[0]
    with pytest.raises(dataclasses.FrozenInstanceError, match="'allocation'"):
        blend.allocation = np.zeros(0)
    with pytest.raises(dataclasses.FrozenInstanceError, match="'demand'"):
        blend.outputs[0].demand = None
    # the sequences of records are tuples: no record is swapped in place either
    with pytest.raises(TypeError):
        toy.nodes[0] = node
    assert isinstance(toy.edges, tuple) and isinstance(toy.blends, tuple) and isinstance(blend.outputs, tuple)
    assert toy.name == "toy" and node.series is toy.nodes[toy.node_id("production")].series


def test_lists_given_are_kept_as_tuples(toy):
    s = dataclasses.replace(toy, nodes=list(toy.nodes), edges=list(toy.edges), blends=list(toy.blends))
    assert isinstance(s.nodes, tuple) and isinstance(s.edges, tuple) and isinstance(s.blends, tuple)
    assert [n.name for n in s.nodes] == [n.name for n in toy.nodes]
    assert s.in_edges(s.node_id("secondary")) == toy.in_edges(toy.node_id("secondary"))


def test_cached_builds_a_view_once(toy):
    s = dataclasses.replace(toy)
    calls = []
    first = s.cached("probe", lambda: calls.append(1) or {"n": len(calls)})
    assert s.cached("probe", lambda: calls.append(1) or {"n": len(calls)}) is first
    assert calls == [1] and first == {"n": 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s._cache = {}


def test_stock_plan_is_cached_and_not_shared_with_a_replaced_system(toy):
    plan = stock_plan(toy)
    assert stock_plan(toy) is plan
    same = dataclasses.replace(toy)
    assert stock_plan(same) is not plan
    np.testing.assert_array_equal(stock_plan(same).hist_inflow, plan.hist_inflow)
    for p, q in zip(stock_plan(same).pdf, plan.pdf):
        np.testing.assert_array_equal(p, q)
    # a longer first life gives another kernel: a plan carried over would be stale
    i = toy.node_id("in_use[1]")
    nodes = list(toy.nodes)
    nodes[i] = dataclasses.replace(nodes[i], lifetime=dataclasses.replace(nodes[i].lifetime, mean=3.0))
    other = dataclasses.replace(toy, nodes=nodes)
    k = plan.stocks.index(i)
    assert stock_plan(other).stocks == plan.stocks
    assert np.argmax(stock_plan(other).pdf[k]) == np.argmax(plan.pdf[k]) + 1


def test_indicators_are_cached_per_system():
    doc = yaml.safe_load((TOY / "instance.yaml").read_text())
    doc["indicators"] = [{"name": "landfilled", "kind": "loss", "node": "landfill", "unit": "kt"}]
    s = circopt.build(doc, TOY)
    declared = indicators.declared(s)
    assert indicators.declared(s) is declared and list(declared) == ["landfilled"]
    copy = dataclasses.replace(s)
    assert indicators.declared(copy) is not declared and list(indicators.declared(copy)) == ["landfilled"]


def test_a_replaced_system_simulates_and_optimises_alike(toy):
    copy = dataclasses.replace(toy)
    a, b = circopt.simulate(toy), circopt.simulate(copy)
    np.testing.assert_array_equal(a.flows_array, b.flows_array)
    np.testing.assert_array_equal(a.stock_array, b.stock_array)
    oa, ob = optimise(toy, "losses"), optimise(copy, "losses")
    assert oa.objective == pytest.approx(ob.objective, rel=1e-12)
    assert oa.objective_terms == pytest.approx(ob.objective_terms, rel=1e-9)
    np.testing.assert_allclose(oa.flows_array, ob.flows_array, rtol=1e-9, atol=1e-9)


def test_a_variant_by_replace_changes_results_and_leaves_the_original(toy):
    base = circopt.simulate(toy).flows_array.copy()
    i = toy.node_id("production")
    nodes = list(toy.nodes)
    nodes[i] = dataclasses.replace(nodes[i], series=nodes[i].series * 2)
    doubled = circopt.simulate(dataclasses.replace(toy, nodes=nodes))
    e = toy.out_edges(i)[0]
    np.testing.assert_allclose(doubled.flows_array[:, e], 2 * base[:, e])
    np.testing.assert_array_equal(circopt.simulate(toy).flows_array, base)


def test_arrays_of_a_loaded_system_cannot_be_written_in_place(toy):
    """What the engines derive once per System (here the simulator's source constants) cannot go
    stale: the loader's arrays are read-only, and a variant with a new array simulates anew."""
    node = toy.nodes[toy.node_id("production")]
    with pytest.raises(ValueError, match="read-only"):
        node.series[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        toy.years[0] = 1900
    with pytest.raises(ValueError, match="read-only"):
        toy.blends[0].allocation[0] = 0.0
    base = circopt.simulate(toy)
    nodes = list(toy.nodes)
    i = toy.node_id("production")
    nodes[i] = dataclasses.replace(node, series=node.series * 2)
    twice = circopt.simulate(dataclasses.replace(toy, nodes=nodes))
    e = toy.out_edges(i)[0]
    np.testing.assert_allclose(twice.flows_array[:, e], 2 * base.flows_array[:, e], rtol=1e-12)
    assert circopt.simulate(toy).flows_array[:, e].sum() == pytest.approx(base.flows_array[:, e].sum(), rel=1e-15)
