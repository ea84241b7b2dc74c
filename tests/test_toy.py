"""The tutorial instance, worked out by hand (see instances/toy/instance.yaml).

Fixed lifetimes with the 'end' timing: a first life of 2 years means a cohort of year c
leaves in year c+2; a reuse life of 1 year, in year c+1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import circopt
from circopt.cli import main

TOY = "instances/toy"


@pytest.fixture(scope="module")
def res():
    return circopt.simulate(circopt.load(TOY))


def flow(res, src, tgt, year, element="total"):
    f = res.flows
    sel = f[(f.source == src) & (f.target == tgt) & (f.year == year) & (f.element == element)]
    assert len(sel) == 1
    return float(sel.value.iloc[0])


def stock(res, node, life, year, element="total"):
    s = res.stocks
    sel = s[(s.node == node) & (s.life == life) & (s.year == year) & (s.element == element)]
    assert len(sel) == 1
    return float(sel.value.iloc[0])


def test_first_life_stock_and_outflow(res):
    # 100 kt/yr enter; each cohort stays exactly 2 years
    assert stock(res, "in_use", 1, 2020) == pytest.approx(100)
    assert stock(res, "in_use", 1, 2021) == pytest.approx(200)
    assert stock(res, "in_use", 1, 2025) == pytest.approx(200)
    assert flow(res, "in_use[1]", "eol[1]", 2021) == pytest.approx(0)
    assert flow(res, "in_use[1]", "eol[1]", 2022) == pytest.approx(100)


def test_end_of_life_split_and_second_life(res):
    # eol[1]: reuse 0.3, landfill 0.1, recycle = rest = 0.6
    assert flow(res, "eol[1]", "in_use[2]", 2022) == pytest.approx(30)
    assert flow(res, "eol[1]", "landfill", 2022) == pytest.approx(10)
    assert flow(res, "eol[1]", "remelting", 2022) == pytest.approx(60)
    # second life lasts one year; the last life cannot be reused: landfill 0.1, recycle 0.9
    assert stock(res, "in_use", 2, 2022) == pytest.approx(30)
    assert flow(res, "in_use[2]", "eol[2]", 2023) == pytest.approx(30)
    assert flow(res, "eol[2]", "landfill", 2023) == pytest.approx(3)
    assert flow(res, "eol[2]", "remelting", 2023) == pytest.approx(27)
    # no route from the last life back into use
    assert not ((res.flows.source == "eol[2]") & (res.flows.target.str.startswith("in_use"))).any()


def test_remelting_element_yields(res):
    # 2022: 60 kt of (Fe 0.9, Ni 0.1): Fe 54 * 0.95, Ni 6 * 0.90
    assert flow(res, "remelting", "secondary", 2022, "Fe") == pytest.approx(54 * 0.95)
    assert flow(res, "remelting", "secondary", 2022, "Ni") == pytest.approx(6 * 0.90)
    assert flow(res, "remelting", "slag", 2022, "Ni") == pytest.approx(0.6)
    # 2023: 60 + 27 = 87 kt
    assert flow(res, "remelting", "secondary", 2023) == pytest.approx(87 * 0.9 * 0.95 + 87 * 0.1 * 0.9)


def test_blend_takes_up_to_demand_and_fillers_make_up(res):
    # before any scrap the alloy demand (30) comes from primary alloy, carbon (50) from iron
    assert flow(res, "primary_alloy", "secondary", 2020) == pytest.approx(30)
    assert flow(res, "primary_iron", "secondary", 2020) == pytest.approx(50)
    # 2022: 56.7 kt secondary offered to the alloy (demand 30): 30 taken, 26.7 surplus
    assert flow(res, "secondary", "alloy_market", 2022) == pytest.approx(30)
    assert flow(res, "secondary", "surplus", 2022) == pytest.approx(56.7 - 30)
    assert flow(res, "primary_alloy", "secondary", 2022) == pytest.approx(0, abs=1e-12)
    # the alloy carries the secondary metal's composition: Ni 5.4 of 56.7
    assert flow(res, "secondary", "alloy_market", 2022, "Ni") == pytest.approx(30 * 5.4 / 56.7)
    assert flow(res, "secondary", "carbon_market", 2022) == pytest.approx(50)


def test_losses_table_and_audit(res):
    lo = res.losses
    sl = lo[(lo.node == "slag") & (lo.year == 2023) & (lo.element == "total")].value.iloc[0]
    assert sl == pytest.approx(87 * 0.9 * 0.05 + 87 * 0.1 * 0.10)
    assert set(lo.loss_type) == {"unspecified", "dissipation", "process", "surplus"}  # markets: an outlet, not a loss
    assert res.max_relative_imbalance <= 1e-9
    # the audit covers every non-sink node, element and total, every year
    n_nodes = sum(1 for n in res.system.nodes if n.kind != "sink")
    assert len(res.audit) == n_nodes * 3 * 10


def test_decisions_table(res):
    d = res.decisions
    row = d[(d.node == "eol[1]") & (d.decision == "reuse") & (d.year == 2024)].iloc[0]
    assert row.share == pytest.approx(0.3) and row.value == pytest.approx(30)
    al = d[(d.kind == "allocation") & (d.decision == "remelting -> alloy") & (d.year == 2022)].iloc[0]
    assert al.value == pytest.approx(30) and al.share == pytest.approx(30 / 56.7)


def test_scenario_applied_on_load():
    r = circopt.simulate(circopt.load(TOY, "more_reuse"))
    assert flow(r, "eol[1]", "in_use[2]", 2022) == pytest.approx(50)
    assert flow(r, "eol[1]", "landfill", 2022) == pytest.approx(5)
    assert flow(r, "eol[1]", "remelting", 2022) == pytest.approx(45)


def test_cli_check_and_simulate(tmp_path, capsys):
    assert main(["check", TOY]) == 0
    out = tmp_path / "out"
    assert main(["simulate", TOY, "--out", str(out)]) == 0
    for name in ("flows.csv", "stocks.csv", "losses.csv", "decisions.csv", "audit.csv", "summary.json"):
        assert (out / name).is_file()
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "ok" and s["max_relative_imbalance"] <= 1e-9
    assert s["years"] == [2020, 2029] and s["elements"] == ["Fe", "Ni"]
    import pandas as pd

    f = pd.read_csv(out / "flows.csv")
    assert list(f.columns[:5]) == ["year", "source", "target", "element", "value"]
    assert list(pd.read_csv(out / "stocks.csv").columns) == ["year", "node", "life", "element", "value"]
    assert list(pd.read_csv(out / "losses.csv").columns) == ["year", "node", "kind", "loss_type", "element", "value"]
    # total is the sum of the tracked elements and the rest; here Fe + Ni is all the mass
    tot = f[f.element == "total"].value.to_numpy()
    fe = f[f.element == "Fe"].value.to_numpy()
    ni = f[f.element == "Ni"].value.to_numpy()
    np.testing.assert_allclose(tot, fe + ni, rtol=1e-12, atol=1e-12)


def test_outputs_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["simulate", TOY, "--out", str(a)]) == 0
    assert main(["simulate", TOY, "--out", str(b)]) == 0
    for name in ("flows.csv", "stocks.csv", "losses.csv", "decisions.csv", "audit.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_filler_decisions(res):
    d = res.decisions
    al = d[(d.decision == "primary_alloy -> alloy") & (d.year == 2020)].iloc[0]
    assert al.value == pytest.approx(30) and al.share == pytest.approx(1.0)
    assert d[(d.decision == "primary_alloy -> carbon") & (d.year == 2020)].iloc[0].value == 0.0
    assert d[(d.decision == "primary_iron -> carbon") & (d.year == 2025)].iloc[0].value == pytest.approx(50)
    # in a traced pulse fillers supply nothing, and the table says so
    from circopt.trace import trace

    fd = trace(res.system, source="production").result.decisions
    assert fd[fd.decision.str.startswith("primary_")].value.abs().max() == 0.0
