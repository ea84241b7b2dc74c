"""Tests of the generic analyses: binding bounds and their worth (circopt.bounds), terms computed
from flows (circopt.terms), lexicographic optimisation, user indicators, allocation constraints,
the uniqueness report. Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
import atexit
from pathlib import Path

import numpy as np
import pytest

import circopt
from circopt.model import optimise

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "instances" / "toy"
_TMP = Path(tempfile.mkdtemp(prefix="circopt-test-analyses-"))
atexit.register(shutil.rmtree, _TMP, True)
(_TMP / "sources.csv").write_text("source_id,citation\nestimate,test values\n")


def build(doc: dict) -> circopt.System:
    return circopt.build(copy.deepcopy(doc), _TMP)


def fork_doc(share_b=(0.0, 0.5)) -> dict:
    """100 t/yr (20 % A) arrives at a fork in 2020-2022; route a dumps it (a dissipation loss),
    route b keeps it (export, not a loss, cost 2/t) with a share of at most 0.5."""
    return {
        "name": "fork", "unit": "t", "years": [2020, 2022], "elements": ["A"],
        "streams": {"s": {"composition": {"A": 0.2}, "source": "estimate"}},
        "nodes": {
            "supply": {"kind": "source", "stream": "s", "series": 100.0, "to": "fork", "source": "estimate"},
            "fork": {"kind": "split", "routes": {"a": "dump", "b": "keep"}, "cost": {"b": 2.0},
                     "shares": {"b": list(share_b)}, "source": "estimate"},
            "dump": {"kind": "sink", "loss": "dissipation"},
            "keep": {"kind": "sink", "loss": "export"},
        },
        "levers": {"keeping": {"description": "keep more", "baseline": [{"type": "share", "node": "fork",
                                                                         "route": "b", "max": 0.5}]}},
    }


# ------------------------------------------------------------------------------------------
# binding bounds
# ------------------------------------------------------------------------------------------
def test_binding_share_bound_by_hand():
    """Minimising losses sends the most allowed to b: 50 t/yr kept, 50 t/yr dumped. One more
    0.01 of share moves 1 t/yr (0.01 x 100 t) from the dump to b: -1 t of loss per year, -3 over
    the three years; the share_min of b (0) does not bind."""
    res = optimise(build(fork_doc()), "losses")
    b = circopt.binding(res).set_index("family")
    row = b.loc["share_max[fork.b]"]
    assert row.binding_rows == 3 and row.rows == 3
    assert row.objective_change == pytest.approx(-3.0, rel=1e-9)
    assert row.lever == "keeping"
    lv = circopt.binding_levers(res, b.reset_index()).set_index("lever")
    assert lv.loc["keeping", "status"] == "at bound"
    assert lv.loc["keeping", "objective_change"] == pytest.approx(-3.0, rel=1e-9)


def test_binding_lever_inside_its_bounds():
    """Minimising cost keeps nothing (b costs 2/t): b sits at 0 (its column's bound, no row); the
    max share (the lever's bound) does not bind, so the lever sits strictly inside its bounds."""
    res = optimise(build(fork_doc()), "cost")
    b = circopt.binding(res).set_index("family")
    assert b.loc["share_max[fork.b]", "binding_rows"] == 0
    assert b.loc["share_max[fork.b]", "objective_change"] == 0.0
    assert res.objective == pytest.approx(0.0, abs=1e-9)
    lv = circopt.binding_levers(res).set_index("lever")
    assert lv.loc["keeping", "status"] == "inside"


def _with_share_lo(system, node: str, label: str, delta: float):
    edges = [dataclasses.replace(e, lo=e.lo + delta) if (system.nodes[e.source].name == node and e.label == label)
             else e for e in system.edges]
    return dataclasses.replace(system, edges=edges)


def test_binding_worth_matches_finite_difference_toy():
    """The toy's losses optimum: the worth of the landfill minimum share of first-life end of life
    (per +0.01 in every year) against two solves with that bound moved by +0.001."""
    s = circopt.load(TOY)
    res = optimise(s, "losses")
    b = circopt.binding(res).set_index("family")
    worth = b.loc["share_min[eol[1].landfill]", "objective_change"]
    assert abs(worth) > 0.1
    moved = optimise(_with_share_lo(s, "eol[1]", "landfill", 0.001), "losses")
    assert (moved.objective - res.objective) * 10 == pytest.approx(worth, rel=1e-6)


def test_binding_csv_and_cli(tmp_path, capsys):
    from circopt.cli import main

    out = tmp_path / "o"
    assert main(["optimise", str(TOY), "--out", str(out)]) == 0
    assert (out / "binding.csv").exists()
    text = capsys.readouterr().out
    assert "share_min[eol[1].landfill]" in text
    assert main(["explain", str(out), "--top", "1"]) == 0
    assert "top 1 binding" in capsys.readouterr().out
