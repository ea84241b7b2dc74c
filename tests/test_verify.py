"""Solutions are verified on the unscaled model before they are called optimal; non-finite or
astronomically large values are refused with a clear error."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import circopt
from circopt.cli import main
from circopt.errors import SimulationError
from circopt.lp.verify import REL_TOL, UNRELIABLE, verify
from circopt.model import NumericalWarning, optimise

TOY = Path(__file__).resolve().parents[1] / "instances" / "toy"


def _toy_with(tmp_path: Path, value: str) -> Path:
    folder = tmp_path / "toy"
    shutil.copytree(TOY, folder)
    p = folder / "data" / "production.csv"
    p.write_text(p.read_text().replace("2024,100,kt", f"2024,{value},kt"))
    return folder


def test_toy_optimum_is_verified():
    res = optimise(str(TOY), {"losses": 1, "primary": 0.01})
    v = res.extra["verification"]
    assert res.status == "optimal" and v["ok"]
    assert v["max_row_violation"] <= 1e-9 and v["max_bound_violation"] <= 1e-9 and v["objective_gap"] <= 1e-9
    # the objective is the weighted sum of its terms
    assert res.objective == pytest.approx(res.objective_terms["losses"] + 0.01 * res.objective_terms["primary"],
                                          rel=1e-12)


def test_outlier_year_is_numerically_unreliable(tmp_path):
    """One year's production 3e8 times the others: within HiGHS's tolerances after scaling the
    alloy demand of 30 kt is met by nothing in every year. The check on the unscaled model
    says so and names the demand rows; the status is never 'optimal'."""
    folder = _toy_with(tmp_path, "3e10")
    with pytest.warns(NumericalWarning, match="demand"):
        res = optimise(str(folder), "losses")
    assert res.status == UNRELIABLE
    v = res.extra["verification"]
    assert not v["ok"] and v["max_row_violation"] == pytest.approx(1.0)
    assert any(w.startswith("demand[secondary.alloy,") and "against bound 30" in w for w in v["worst"])
    assert UNRELIABLE in res.notes[-1]
    # CLI: results written (to inspect), a warning, exit status 3; summary.json says it
    out = tmp_path / "out"
    assert main(["optimise", str(folder), "--out", str(out)]) == 3
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == UNRELIABLE and s["verification"]["ok"] is False


def _toy_system_with(value: float):
    """The toy with one year's production set past the loader (which refuses > 1e15 itself):
    the engines' own guard against values double precision cannot carry."""
    system = circopt.load(str(TOY))
    i = system.node_id("production")
    series = system.nodes[i].series.copy()
    series[4] = value
    nodes = list(system.nodes)
    nodes[i] = dataclasses.replace(nodes[i], series=series)
    return dataclasses.replace(system, nodes=nodes)


def test_values_beyond_double_precision_are_refused(tmp_path, capsys):
    with pytest.raises(SimulationError, match=r"production -> in_use\[1\] in 2024 .* beyond 1e\+300"):
        circopt.simulate(_toy_system_with(1.7e308))
    with pytest.raises(SimulationError, match="beyond 1e"):
        optimise(_toy_system_with(1.7e308), "losses")
    # from the command line the loader already refuses such a value; nothing is written
    folder = _toy_with(tmp_path, "1.7e308")
    assert main(["optimise", str(folder), "--out", str(tmp_path / "o")]) != 0
    assert "1.7e+308" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_value_near_the_limit_is_not_called_optimal():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        res = optimise(_toy_system_with(1e299), "losses")
    assert res.status == UNRELIABLE


def test_verify_by_hand():
    """x1 + x2 = 10 met by 9.99 (relative 1e-3), x1 <= 4 met; x2 >= 0 broken by 1e-3."""
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0]]))
    x = np.array([4.0, 5.99])
    v = verify(A, np.array([10.0, -np.inf]), np.array([10.0, 4.0]), np.zeros(2), np.full(2, np.inf), x,
               lambda i: f"r{i}", lambda j: f"x{j}")
    assert not v.ok and v.max_row == pytest.approx(0.01 / 10) and v.max_col == 0.0
    assert v.worst == ["r0: 9.99 against bound 10"]
    ok = verify(A, np.array([10.0, -np.inf]), np.array([10.0, 4.0]), np.zeros(2), np.full(2, np.inf),
                np.array([4.0, 6.0 * (1 + REL_TOL / 10)]), lambda i: f"r{i}", lambda j: f"x{j}")
    assert ok.ok
    neg = verify(A[:1], np.array([0.0]), np.array([0.0]), np.zeros(2), np.full(2, np.inf), np.array([1.0, -1.0]),
                 lambda i: f"r{i}", lambda j: f"x{j}")
    assert not neg.ok and neg.worst == ["column x1: -1 outside [0, inf]"]


@pytest.mark.parametrize("objective", ["energy", "co2", "cost", "primary", "losses"])
def test_objective_equals_its_terms_recomputed_from_the_flows(objective):
    """Each objective from the flows table alone (toy prices: remelting 0.5 energy per kt of
    input; primary alloy 10 energy, 2.0 co2, 2.0 cost per kt; pure iron 8, 1.8, 1.0)."""
    res = optimise(str(TOY), objective)
    f = res.flows[res.flows.element == "total"]
    by_source = f.groupby("source")["value"].sum()
    into = f.groupby("target")["value"].sum()
    pa, pi = by_source["primary_alloy"], by_source["primary_iron"]
    expected = {
        "energy": 0.5 * into["remelting"] + 10.0 * pa + 8.0 * pi,
        "co2": 2.0 * pa + 1.8 * pi,
        "cost": 2.0 * pa + 1.0 * pi,
        "primary": pa + pi,
        "losses": into[["landfill", "slag"]].sum(),  # dissipation + process (no dilution sink)
    }[objective]
    assert res.objective == pytest.approx(expected, rel=1e-9)
    assert res.objective_terms[objective] == pytest.approx(expected, rel=1e-9)
