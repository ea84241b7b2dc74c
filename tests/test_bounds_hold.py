"""Every declared bound holds at the optimum -- checked from the Result's tables (flows and
decisions, as written to flows.csv / decisions.csv), never from the LP: split share bounds,
route capacities, free-source maxima, blend demands and every composition window, minima
below 0.1 % included. Dropping the LP rows of such a small minimum makes the check fail."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import circopt
from circopt.errors import InstanceError, SimulationError, SolverError
from circopt.model import _RK, DROP_REL, build_model, optimise, solve

from .netgen import random_instance, write_sources

TOL = 1e-7  # relative to the largest flow: the verification's tolerance


def _flow_tables(res):
    """(year, source, target) -> {element: value} from the flows table."""
    f = res.flows
    tot = f[f.element == "total"].set_index(["year", "source", "target"])["value"]
    return f, tot


def bound_violations(res) -> list[str]:
    """What the Result's tables say about every bound the instance declares."""
    s = res.system
    f, tot = _flow_tables(res)
    scale = max(float(tot.abs().max()), 1e-300)
    tol = TOL * scale
    years = [int(y) for y in s.years]
    out = []

    def flow(a: str, b: str, y: int) -> float:
        return float(tot.get((y, a, b), 0.0))

    for n_id, nd in enumerate(s.nodes):
        if nd.kind == "split":
            outs = [s.edges[e] for e in s.out_edges(n_id)]
            for t, y in enumerate(years):
                inflow = sum(flow(s.nodes[s.edges[e].source].name, nd.name, y) for e in s.in_edges(n_id))
                for ed in outs:
                    v = flow(nd.name, s.nodes[ed.target].name, y)
                    lo = ed.lo[t] if ed.lo is not None else 0.0
                    hi = ed.hi[t] if ed.hi is not None else 1.0
                    if v < lo * inflow - tol or v > hi * inflow + tol:
                        out.append(f"share {nd.name}.{ed.label} {y}: {v:.9g} of {inflow:.9g} outside [{lo}, {hi}]")
                    if ed.capacity is not None and np.isfinite(ed.capacity[t]) and v > ed.capacity[t] + tol:
                        out.append(f"capacity {nd.name}.{ed.label} {y}: {v:.9g} > {ed.capacity[t]:.9g}")
        if nd.kind == "source" and nd.free and nd.max_series is not None:
            for t, y in enumerate(years):
                v = sum(flow(nd.name, s.nodes[s.edges[e].target].name, y) for e in s.out_edges(n_id))
                if v > nd.max_series[t] + tol:
                    out.append(f"max of free source {nd.name} {y}: {v:.9g} > {nd.max_series[t]:.9g}")
    for bl in s.blends:
        bname = s.nodes[bl.node].name
        for o in bl.outputs:
            target = s.nodes[s.edges[o.edge].target].name
            sel = f[(f.source == bname) & (f.target == target)]
            by = sel.pivot_table(index="year", columns="element", values="value", aggfunc="sum")
            for t, y in enumerate(years):
                total = float(by.loc[y, "total"]) if y in by.index else 0.0
                if o.demand is not None and abs(total - o.demand[t]) > tol:
                    out.append(f"demand {bname}.{o.name} {y}: {total:.9g} != {o.demand[t]:.9g}")
                for c, el in enumerate(s.elements):
                    m = float(by.loc[y, el]) if y in by.index else 0.0
                    lo, hi = o.window_lo[t, c], o.window_hi[t, c]
                    if m < lo * total - tol or m > hi * total + tol:
                        out.append(f"window {bname}.{o.name}.{el} {y}: {m:.9g} of {total:.9g} outside [{lo}, {hi}]")
    if res.decisions is not None:  # user capacities: route flows at most the capacity column
        d = res.decisions
        cap = d[d.kind == "capacity"].set_index(["year", "node", "decision"])["value"]
        routes = d[d.kind == "route"].set_index(["year", "node", "decision"])["value"]
        for (y, node, label), k in cap.items():
            members = [n.name for n in s.nodes if n.kind == "split" and (n.name == node or n.family == node)]
            used = sum(float(routes.get((y, m, label), 0.0)) for m in members)
            if used > k + tol:
                out.append(f"user capacity {node}.{label} {y}: {used:.9g} > {k:.9g}")
    return out


def small_minimum_doc() -> dict:
    """Scrap without Cu and priced primary with 1 % Cu make 100 t of an alloy that needs at
    least 0.05 % Cu: the cheapest blend takes exactly 5 t of primary (0.05 t Cu)."""
    priced = {"energy": 10.0, "co2": 2.0, "cost": 3.0}
    return {
        "name": "min", "unit": "t", "years": [2020, 2021], "elements": ["Cu", "Fe"],
        "nodes": {
            "scrap": {"kind": "source", "composition": {"Cu": 0.0, "Fe": 0.0005}, "series": 200.0, "to": "mix",
                      "source": "estimate"},
            "prim": {"kind": "source", "free": True, "composition": {"Cu": 0.01}, "to": "mix",
                     "source": "estimate", **priced},
            "mix": {"kind": "blend", "source": "estimate", "surplus": "spare",
                    "outputs": {"alloy": {"to": "market", "demand": 100.0,
                                          "window": {"Cu": [0.0005, 0.02], "Fe": [0.0, 0.0009]}}}},
            "market": {"kind": "sink", "loss": "export"},
            "spare": {"kind": "sink", "loss": "surplus"},
        },
    }


def test_small_minimum_holds_and_dropping_its_row_is_caught(tmp_path):
    system = circopt.build(small_minimum_doc(), write_sources(tmp_path))
    res = optimise(system, "cost")
    assert bound_violations(res) == []
    assert res.objective == pytest.approx(2 * 5.0 * 3.0, rel=1e-9)  # 5 t of primary a year
    cu = res.flows.query("target == 'market' and element == 'Cu'")["value"].to_numpy()
    np.testing.assert_allclose(cu, 0.05, rtol=1e-9)
    # the LP keeps the small minimum's row whole: nothing of it falls under DROP_REL
    om = build_model(system, "cost")
    rows = np.flatnonzero(om.row_kind == _RK["window_min"])
    assert len(rows) == system.T
    for r in rows:
        vals = np.abs(om.A[r].data)
        assert len(vals) == 2 and vals.min() > DROP_REL * vals.max()
    # without those rows the optimum takes no primary, and the tables show the broken window
    om.row_lb[rows] = -np.inf
    dropped = solve(om)
    broken = bound_violations(dropped)
    assert len(broken) == system.T and all(b.startswith("window mix.alloy.Cu") for b in broken)


@st.composite
def bounded_networks(draw):
    """Random networks with share bounds, a capacity, and blend windows whose minima are often
    below 0.1 %."""
    doc = draw(random_instance())
    eol = doc["nodes"]["eol"]
    eol["shares"] = {"lose": [round(draw(st.floats(0.0, 0.2)), 4), round(draw(st.floats(0.3, 1.0)), 4)]}
    if draw(st.booleans()):
        eol["capacity"] = {"recycle": round(draw(st.floats(5.0, 100.0)), 3)}
    mix = doc["nodes"]["out"]
    if mix.get("kind") == "blend":
        lo = draw(st.sampled_from([0.0001, 0.0005, 0.00099, 0.002, 0.05]))
        mix["outputs"]["p"]["window"] = {"A": [lo, 1.0], "B": [0.0, round(draw(st.floats(0.3, 1.0)), 4)]}
    return doc


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bounded_networks(), st.sampled_from(["losses", "primary", "cost", "energy"]))
def test_every_declared_bound_holds_at_the_optimum(tmp_path_factory, doc, objective):
    folder = write_sources(tmp_path_factory.mktemp("bounds"))
    try:
        system = circopt.build(copy.deepcopy(doc), folder)
        res = optimise(system, {objective: 1.0, "surplus": 0.01})
    except (InstanceError, SimulationError, SolverError):
        assume(False)
        return
    assert res.status == "optimal"
    assert bound_violations(res) == []
