"""Fate tracing on the toy instance, worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import circopt
from circopt.cli import main
from circopt.trace import trace

from .netgen import random_instance, write_sources


@pytest.fixture(scope="module")
def fate():
    return trace(circopt.load("instances/toy"), source="production")


def _share(fate, year, kind, state, element="total"):
    t = fate.table
    return float(t[(t.year == year) & (t.kind == kind) & (t.state == state) & (t.element == element)].share.sum())


def test_pulse_in_first_life(fate):
    assert _share(fate, 2020, "in_use", "in_use/life1") == pytest.approx(1.0)
    assert _share(fate, 2021, "in_use", "in_use/life1") == pytest.approx(1.0)
    assert _share(fate, 2022, "in_use", "in_use/life2") == pytest.approx(0.3)


def test_cumulative_losses_by_type(fate):
    # 2022: landfill 0.1; remelting 0.6 -> slag 0.6*(0.9*0.05 + 0.1*0.10) = 0.033, to markets 0.567
    # 2023: second life 0.3 -> landfill 0.03; 0.27 remelted -> slag 0.01485, to markets 0.25515
    assert _share(fate, 2023, "loss", "dissipation") == pytest.approx(0.13)
    assert _share(fate, 2023, "loss", "process") == pytest.approx(0.033 + 0.01485)
    assert _share(fate, 2023, "loss", "unspecified") == pytest.approx(0.567 + 0.25515)  # the markets (loss: unspecified)
    # element view: Ni slag share = 0.10 of remelted Ni; Ni of the pulse = 0.1
    ni_process = (0.06 * 0.1 + 0.027 * 0.1) / 0.1
    assert _share(fate, 2023, "loss", "process", "Ni") == pytest.approx(ni_process)


def test_shares_sum_to_one_every_year(fate):
    s = fate.table.groupby(["year", "element"])["share"].sum()
    np.testing.assert_allclose(s.to_numpy(), 1.0, atol=1e-12)
    assert fate.share_sum_error() < 1e-12


def test_summary_indicators(fate):
    s = fate.summary.set_index(["element", "indicator"])["value"]
    # uses: the first life (1.0) and the second (0.3)
    assert s[("total", "average_number_of_uses")] == pytest.approx(1.3)
    # in use 1.0 in 2021, 0.3 in 2022: half-life = 1 + (1 - 0.5) / (1 - 0.3)
    assert s[("total", "half_life_years")] == pytest.approx(1 + 0.5 / 0.7)


def test_cli_trace(tmp_path):
    out = tmp_path / "fate"
    assert main(["trace", "instances/toy", "--source", "production", "--out", str(out)]) == 0
    f = pd.read_csv(out / "fate.csv")
    assert list(f.columns) == ["year", "element", "kind", "state", "share"]
    assert set(f.kind) == {"in_use", "loss"}
    assert (out / "fate_summary.csv").is_file()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instance())
def test_fate_shares_sum_to_one_on_random_networks(doc, tmp_path_factory):
    system = circopt.build(doc, write_sources(tmp_path_factory.mktemp("net")))
    fate = trace(system, source="src0")
    if fate.pulse and sum(fate.pulse.values()) > 0:
        assert fate.share_sum_error() < 1e-9


def test_a_trace_whose_shares_do_not_add_up_is_refused():
    from circopt.errors import CircoptError
    from circopt.trace import _check_shares

    table = pd.DataFrame({"year": [2020, 2020], "element": ["Cu", "Cu"], "kind": ["in_use", "loss"],
                          "state": ["use", "dilution"], "share": [1.5, 1.17]})
    with pytest.raises(CircoptError, match="add up to 2.67 in 2020"):
        _check_shares(circopt.load("instances/toy"), table)


def test_default_pulse_is_the_one_source_family(tmp_path):
    # no 'trace:' key; the only sources with a series are the two members of 'prod': the pulse
    # enters both, weighted by their series in the pulse year (3 : 1)
    from .test_nodes import _doc

    nodes = {
        "prod": {"kind": "source", "over": ["p"], "composition": {"A": 1.0}, "series": {"x": 3, "y": 1},
                 "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "over": ["p"], "lifetime": {"model": "fixed", "mean": 5}, "to": "gone",
                "source": "estimate"},
        "gone": {"kind": "sink", "loss": "dissipation"},
    }
    doc = {**_doc(nodes), "dimensions": {"p": ["x", "y"]}}
    fate = trace(circopt.build(doc, write_sources(tmp_path)), year=2020)
    assert fate.pulse == pytest.approx({"prod[x]": 0.75, "prod[y]": 0.25})
    assert _share(fate, 2020, "in_use", "use[x]") == pytest.approx(0.75)
