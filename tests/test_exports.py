"""Exports: CSV and Parquet of every table, an IAMC table that round-trips, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import circopt
import circopt.result as result_mod
from circopt.cli import main

from .edge_instances import EDGES, write_edge


@pytest.fixture(scope="module")
def res():
    return circopt.simulate(circopt.load("instances/toy"))


def test_iamc_round_trips_through_pandas(res, tmp_path):
    t = res.iamc()
    assert list(t.columns) == ["model", "scenario", "region", "variable", "unit", "year", "value"]
    res.to_dir(tmp_path / "out", formats=("csv", "parquet"))
    back = pd.read_csv(tmp_path / "out" / "iamc.csv")
    pd.testing.assert_frame_equal(back, t, check_exact=True)
    pq = pd.read_parquet(tmp_path / "out" / "iamc.parquet")
    pd.testing.assert_frame_equal(pq, t, check_exact=True)
    # the flow variable holds the same number as the flows table
    v = t[(t.variable == "Flow|eol[1]|landfill|total") & (t.year == 2024)].value.iloc[0]
    assert v == pytest.approx(10)
    lo = t[(t.variable == "Loss|surplus|total") & (t.year == 2022)].value.iloc[0]
    assert lo == pytest.approx(26.7)


def test_every_table_in_csv_and_parquet(res, tmp_path):
    res.to_dir(tmp_path / "o", formats=("csv", "parquet"))
    for name, df in res.tables().items():
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "o" / f"{name}.parquet"), df)
        assert len(pd.read_csv(tmp_path / "o" / f"{name}.csv")) == len(df)


def test_interrupted_write_leaves_old_results(res, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert main(["simulate", "instances/toy", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real = pd.DataFrame.to_csv

    def boom(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("interrupted mid-write")
        return real(self, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        circopt.simulate(circopt.load("instances/toy", "more_reuse")).to_dir(out)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # old results intact, no mix
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]  # temp folder removed
    assert result_mod.write_atomic  # the writer used by every command


# ---- edge instances through every command and every export (see tests/edge_instances.py) -------------
#: hand-worked cumulative losses (dissipation + process + dilution, total mass) of the optimum for
#: the objective 'losses': nothing 10 t/yr x 3 years of slag; no_stock landfill at its 0.2 minimum
#: plus 5 % slag of the 80 t recycled = 24 t/yr x 4 years; single_year one such year; stock_one_year
#: nothing leaves the stock in its only year
EDGE_LOSSES = {"nothing": 30.0, "no_stock": 96.0, "single_year": 24.0, "stock_one_year": 0.0}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_instance_through_every_command_and_export(name, tmp_path):
    inst = write_edge(name, tmp_path)
    assert main(["check", str(inst)]) == 0
    for verb in ("simulate", "optimise"):
        out = tmp_path / verb
        assert main([verb, str(inst), "--out", str(out), "--parquet"]) == 0
        for table in ("flows", "stocks", "losses", "audit", "iamc", "decisions"):
            csv = pd.read_csv(out / f"{table}.csv")
            pq = pd.read_parquet(out / f"{table}.parquet")
            assert len(csv) == len(pq), table
        s = json.loads((out / "summary.json").read_text())
        assert s["audit_ok"] is True
        iamc = pd.read_csv(out / "iamc.csv")
        has_stock = name == "stock_one_year"
        assert iamc.variable.str.startswith("Stock|").any() == has_stock
        assert set(iamc.year) == set(range(EDGES[name]["years"][0], EDGES[name]["years"][1] + 1))
    s = json.loads((tmp_path / "optimise" / "summary.json").read_text())
    assert s["objective"] == pytest.approx(EDGE_LOSSES[name], abs=1e-7)
    assert s["status"] == ("nothing to decide" if name == "nothing" else "optimal")
    assert main(["trace", str(inst), "--out", str(tmp_path / "trace")]) == 0
    fate = pd.read_csv(tmp_path / "trace" / "fate.csv")
    assert fate.groupby(["year", "element"])["share"].sum().sub(1.0).abs().max() < 1e-9
    assert main(["compare", str(inst), "--scenarios", "base", "--objective", "losses",
                 "--out", str(tmp_path / "compare")]) == 0


def test_nothing_to_decide_optimises_to_the_simulation():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        system = circopt.load(write_edge("nothing", Path(d)))
        sim, opt = circopt.simulate(system), circopt.optimise(system)
    assert opt.status == "nothing to decide" and opt.engine == "optimise"
    assert np.array_equal(opt.flows_array, sim.flows_array)
    slag = opt.losses[(opt.losses.node == "slag") & (opt.losses.element == "total")]
    assert slag.value.tolist() == pytest.approx([10.0, 10.0, 10.0])


@pytest.mark.parametrize("name", ["nothing", "single_year"])
def test_edge_instance_report(name, tmp_path):
    inst = write_edge(name, tmp_path)
    assert main(["report", str(inst), "--objective", "losses", "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "circopt-output" in page[:1024] and "Mass-balance audit" in page


@pytest.mark.parametrize("name", ["nothing", "no_stock", "single_year"])
def test_edge_instance_sweep(name, tmp_path):
    inst = write_edge(name, tmp_path)
    assert main(["sweep", str(inst), "--samples", "3", "--executor", "inprocess",
                 "--out", str(tmp_path / "sw")]) == 0
    t = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert len(t) == 3 and (t["max_relative_imbalance"] <= 1e-9).all()
