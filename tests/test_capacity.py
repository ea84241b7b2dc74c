"""A capacity shared by the members of a split family (e.g. one SSE capacity for every scrap
type), with a growth limit, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import circopt

from .netgen import write_sources

DOC = {
    "name": "cap", "unit": "t", "years": [2020, 2023], "elements": ["A"],
    "dimensions": {"kind": ["a", "b"]},
    "nodes": {
        "scrap": {"kind": "source", "over": ["kind"], "composition": {"A": 1.0}, "series": 10, "to": "route",
                  "source": "estimate"},
        "route": {"kind": "split", "over": ["kind"], "routes": {"upgrade": "market", "dump": "landfill"},
                  "baseline": {"upgrade": 0.0, "dump": "rest"}, "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
    },
}


@pytest.mark.parametrize("shared, expected", [
    # shared: the two members together within K = 4, 7, 10, 13 -> capped by their 20 t: 4, 7, 10, 13
    (True, [4, 7, 10, 13]),
    # per member: each member's own K = 4, 7, 10 (10 t each) -> 8, 14, 20, 20
    (False, [8, 14, 20, 20]),
])
def test_shared_capacity_with_growth(tmp_path, shared, expected):
    system = circopt.build(DOC, write_sources(tmp_path))
    con = {"type": "capacity", "node": "route", "route": "upgrade", "initial": 4, "growth": 3, "shared": shared}
    res = circopt.optimise(system, objective="losses", constraints=[con])
    f = res.flows
    up = f[(f.target == "market") & (f.element == "total")].groupby("year")["value"].sum()
    np.testing.assert_allclose(up.to_numpy(), expected, atol=1e-7)
    d = res.decisions
    cap = d[d.kind == "capacity"]
    if shared:
        assert set(cap.node) == {"route"}  # one capacity, under the family's name
        np.testing.assert_allclose(cap.sort_values("year").value.to_numpy(), [4, 7, 10, 13], atol=1e-7)
        names = res.duals.constraint
        assert names.str.contains(r"constraints\[0\]\.capacity_growth\[route\.upgrade,2021\]").any()
    else:
        assert set(cap.node) == {"route[a]", "route[b]"}
    assert res.max_relative_imbalance <= 1e-9


def test_shared_must_be_boolean(tmp_path):
    system = circopt.build(DOC, write_sources(tmp_path))
    con = {"type": "capacity", "node": "route", "route": "upgrade", "max": 4, "shared": "yes"}
    with pytest.raises(circopt.InstanceError, match="shared"):
        circopt.optimise(system, constraints=[con])


def test_initial_capacity_holds_in_the_first_year_of_the_window(tmp_path):
    # capacity may only be used from 2022: K[2022] <= 4, then +3 a year -> 4, 7 in 2022-2023
    system = circopt.build(DOC, write_sources(tmp_path))
    con = {"type": "capacity", "node": "route", "route": "upgrade", "initial": 4, "growth": 3, "shared": True,
           "years": [2022, 2023]}
    forbid = {"type": "forbid", "node": "route", "route": "upgrade", "years": [2020, 2021]}
    res = circopt.optimise(system, objective="losses", constraints=[forbid, con])
    f = res.flows
    up = f[(f.target == "market") & (f.element == "total")].groupby("year")["value"].sum()
    np.testing.assert_allclose(up.to_numpy(), [0, 0, 4, 7], atol=1e-7)
