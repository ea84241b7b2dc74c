"""Indicators over several index members (a list, or weights per member), ``kind: sum`` indicators, and
allocation constraints over lists of inputs and outputs (issue 14: case B's tables as declared
indicators and scenarios instead of instance-folder code)."""

from __future__ import annotations

import pytest

from circopt import optimise, simulate
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


def test_allocation_constraint_over_lists_by_hand():
    # tests.test_optimise's blend: scraps s1 (4 % Cu) and s2 (1 % Cu), 30 t each, primary pure, 100 t of
    # alloy with Cu <= 1 %. Both scraps together at most 10 t into the alloy: primary 90 t.
    from tests.test_optimise import blend_doc

    con = {"type": "allocation", "node": "mix", "input": ["s1", "s2"], "output": ["alloy"], "max": 10.0}
    res = optimise(build(blend_doc()), "primary", constraints=[con])
    assert res.objective == pytest.approx(90.0, rel=1e-9)
    with pytest.raises(InstanceError, match="no input"):
        optimise(build(blend_doc()), "primary", constraints=[{**con, "input": ["s1", "s9"]}])
    with pytest.raises(InstanceError, match="unknown output"):
        optimise(build(blend_doc()), "primary", constraints=[{**con, "output": ["alloy", "bar"]}])


def test_compare_then_runs_the_lexicographic_optimum(tmp_path):
    # compare --objective losses --then energy: each scenario's energy is that of the lexicographic
    # optimum (not of the losses optimum alone, whose energy is higher or equal)
    import pandas as pd

    import circopt
    from circopt.cli import main

    toy = circopt.instance_dir("toy")
    lex = optimise(circopt.load(toy), "losses", then=["energy"])
    out = tmp_path / "c"
    assert main(["compare", str(toy), "--scenarios", "base", "--objective", "losses", "--then", "energy",
                 "--out", str(out)]) == 0
    t = pd.read_csv(out / "compare.csv").set_index("indicator")
    assert t.at["energy/total", "base"] == pytest.approx(lex.summary()["terms"]["energy"], rel=1e-7)
    assert main(["compare", str(toy), "--scenarios", "base", "--then", "energy", "--out", str(out)]) == 1


def test_allocation_list_rows_are_named_by_their_inputs():
    # one more t allowed into the alloy from s1 + s2 saves one t of primary: worth -1 per t
    import circopt
    from tests.test_optimise import blend_doc

    con = {"type": "allocation", "node": "mix", "input": ["s1", "s2"], "output": ["alloy"], "max": 10.0}
    res = optimise(build(blend_doc()), "primary", constraints=[con])
    b = circopt.binding(res).set_index("family")
    fam = "constraints[0].allocation_max[mix.s1+s2->alloy]"
    assert b.loc[fam, "objective_change"] == pytest.approx(-1.0, rel=1e-9)
