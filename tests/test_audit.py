"""The mass-balance audit (circopt/audit.py): the largest relative imbalance found block of years
by block equals the audit table's, and a flow changed by hand shows where it breaks the balance."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import circopt
from circopt.result import Result

audit = importlib.import_module("circopt.audit")


@pytest.mark.parametrize("instance", ["instances/toy", "instances/japan_engines"])
@pytest.mark.parametrize("block", [1, 7, 2**16])
def test_max_relative_by_blocks_is_the_tables_max(instance, block, monkeypatch):
    res = circopt.simulate(instance)
    s = res.system
    F = res.flows_array.copy()
    t, e = s.T // 2, int(np.argmax(F[s.T // 2].sum(axis=1)))  # the largest flow of a middle year
    c = int(np.argmax(F[t, e]))
    F[t, e, c] *= 1 + 1e-6
    bad = Result.from_flows(s, F, None, engine="test", stock_parts=(res.stock_array, res._conv_outflow))
    table = bad._compute_audit()
    monkeypatch.setattr(audit, "BLOCK_VALUES", block * len(table["node"].unique()) * s.C)
    worst = audit.max_relative(s, F, res._conv_outflow, False)
    assert worst == pytest.approx(float(table["relative"].max()), rel=1e-12)
    assert bad.max_relative_imbalance == pytest.approx(worst, rel=1e-12)  # as the Result was built
    assert worst > 1e-9  # the change is seen ...
    row = table.loc[table["relative"].idxmax()]
    assert int(row.year) == int(s.years[t])  # ... in its year
    assert row.node in (s.nodes[s.edges[e].source].name, s.nodes[s.edges[e].target].name)
    # the unchanged simulation balances
    assert audit.max_relative(s, res.flows_array, res._conv_outflow, False) <= 1e-12


def test_max_relative_of_round_off_everywhere_is_the_tables_max():
    """Round-off on every flow (as an optimiser leaves it): the blocks take the full path."""
    res = circopt.simulate("instances/japan_engines")
    s = res.system
    rng = np.random.default_rng(0)
    F = res.flows_array * (1 + 1e-13 * rng.standard_normal(res.flows_array.shape))
    bad = Result.from_flows(s, F, None, engine="test", stock_parts=(res.stock_array, res._conv_outflow))
    table = bad._compute_audit()
    assert (table["imbalance"] != 0).mean() > 0.25  # not the sparse path
    worst = audit.max_relative(s, F, res._conv_outflow, False)
    assert worst == pytest.approx(float(table["relative"].max()), rel=1e-12)
    assert 1e-14 < worst < 1e-11
