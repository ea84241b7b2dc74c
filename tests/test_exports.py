"""Exports: CSV and Parquet of every table, an IAMC table that round-trips, atomic writes."""

from __future__ import annotations

import pandas as pd
import pytest

import circopt
import circopt.result as result_mod
from circopt.cli import main


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
