"""Indicators over several index members (a list, or weights per member), ``kind: sum`` indicators, and
allocation constraints over lists of inputs and outputs (issue 14: case B's tables as declared
indicators and scenarios instead of instance-folder code)."""

from __future__ import annotations

import pytest

from circopt import simulate
from circopt.errors import InstanceError, InstanceErrors

from .test_analyses import build


def two_member_doc(indicators: list) -> dict:
    """100 t/yr from each of supply[a] and supply[b] (2020-2022) into one sink."""
    return {
        "name": "members", "unit": "t", "years": [2020, 2022], "elements": ["A"],
        "dimensions": {"p": ["a", "b"]},
        "compositions": {"s": {"composition": {"A": 0.2}, "source": "estimate"}},
        "nodes": {
            "supply": {"kind": "source", "over": ["p"], "composition": "s", "series": 100.0, "to": "sink",
                       "source": "estimate"},
            "sink": {"kind": "sink", "loss": "dissipation"},
        },
        "indicators": indicators,
    }


def test_member_list_weights_and_sum_by_hand():
    # a only: 3 x 100 = 300; a x 2 + b x 0.5: 3 x (200 + 50) = 750; their sum 750 - 2 x 300 = 150;
    # A in b's flow in 2021: 0.2 x 100 = 20
    inds = [
        {"name": "only_a", "kind": "flow", "source": "supply", "index": {"p": ["a"]}},
        {"name": "weighted", "kind": "flow", "source": "supply", "target": "sink", "index": {"p": {"a": 2, "b": 0.5}}},
        {"name": "balance", "kind": "sum", "terms": {"weighted": 1, "only_a": -2}},
        {"name": "b_A_2021", "kind": "loss", "node": "sink", "weights": {"A": 1}, "years": 2021},
    ]
    res = simulate(build(two_member_doc(inds)))
    got = res.summary()["indicators"]
    assert got["only_a"] == pytest.approx(300.0, rel=1e-12)
    assert got["weighted"] == pytest.approx(750.0, rel=1e-12)
    assert got["balance"] == pytest.approx(150.0, rel=1e-12)
    assert got["b_A_2021"] == pytest.approx(40.0, rel=1e-12)  # the sink takes both members: 2 x 20


@pytest.mark.parametrize("bad,words", [
    ({"name": "x", "kind": "sum", "terms": {"nope": 1}}, "unknown indicator"),
    ({"name": "x", "kind": "sum", "terms": {}}, "at least one"),
    ({"name": "x", "kind": "sum", "terms": {"only_a": "two"}}, "finite number"),
    ({"name": "x", "kind": "sum", "terms": {"only_a": 1}, "source": "supply"}, "only terms"),
    ({"name": "x", "kind": "flow", "source": "supply", "index": {"p": ["c"]}}, "unknown member"),
    ({"name": "x", "kind": "flow", "source": "supply", "index": {"p": {"a": "much"}}}, "finite numbers"),
])
def test_member_and_sum_errors_name_the_key(bad, words):
    inds = [{"name": "only_a", "kind": "flow", "source": "supply", "index": {"p": "a"}}, bad]
    with pytest.raises((InstanceError, InstanceErrors)) as e:
        build(two_member_doc(inds))
    assert words in str(e.value) and "indicators[1]" in str(e.value)
