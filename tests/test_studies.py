"""Studies on small instances whose answers are worked out by hand.

One year, 100 t of end-of-life product: reuse (no loss), recycling (10 % slag) or landfill.
Losses = landfill + slag. Lever 'collect' lowers the compulsory landfill share from 0.5 to
0.2; lever 'reuse' allows reuse up to 0.3 (baseline: none).

  baseline      landfill 50, recycle 50 -> slag 5            losses 55
  collect       landfill 20, recycle 80 -> slag 8            losses 28  (improvement 27)
  reuse         landfill 50, reuse 30, recycle 20 -> slag 2  losses 52  (improvement 3)
  both          landfill 20, reuse 30, recycle 50 -> slag 5  losses 25  (improvement 30)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import circopt
from circopt import studies

from .netgen import write_sources

DOC = {
    "name": "levers", "unit": "t", "years": [2020, 2020], "elements": ["A"],
    "streams": {"prod": {"composition": {"A": 1.0}, "source": "estimate"}},
    "nodes": {
        "eol_products": {"kind": "source", "stream": "prod", "series": 100, "to": "eol", "source": "estimate"},
        "eol": {"kind": "split", "routes": {"reuse": "reused", "recycle": "remelt", "landfill": "landfill"},
                "baseline": {"reuse": 0.0, "landfill": 0.5, "recycle": "rest"},
                "energy": {"recycle": 1.0}, "source": "estimate"},
        "remelt": {"kind": "process", "to": {"market": 0.9, "slag": "rest"}, "source": "estimate"},
        "reused": {"kind": "sink", "loss": "export"},
        "market": {"kind": "sink", "loss": "export"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
        "slag": {"kind": "sink", "loss": "process"},
    },
    "levers": {
        "collect": {"description": "collection", "cost": 5.0,
                    "baseline": [{"type": "share", "node": "eol", "route": "landfill", "min": 0.5}],
                    "ambitious": [{"type": "share", "node": "eol", "route": "landfill", "min": 0.2}]},
        "reuse": {"description": "reuse", "cost": 1.0,
                  "baseline": [{"type": "share", "node": "eol", "route": "reuse", "max": 0.0}],
                  "ambitious": [{"type": "share", "node": "eol", "route": "reuse", "max": 0.3}]},
    },
    "ranges": {"nodes.remelt.to.market": [0.8, 0.95]},
}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    return circopt.build(DOC, write_sources(tmp_path_factory.mktemp("lv")))


def test_prioritise_ranking_and_greedy_order(system):
    st = studies.prioritise(system, objective="losses")
    t = st.table
    base = t[t.run == "baseline"].iloc[0]
    assert base.objective == pytest.approx(55)
    alone = t[t.run == "alone"].set_index("lever")
    assert alone.loc["collect", "improvement"] == pytest.approx(27)
    assert alone.loc["reuse", "improvement"] == pytest.approx(3)
    assert alone.loc["collect", "rank"] == 1 and alone.loc["reuse", "rank"] == 2
    assert t[t.run == "all"].iloc[0].objective == pytest.approx(25)
    greedy = t[t.run == "greedy"].sort_values("step")
    assert list(greedy.lever) == ["collect", "reuse"]
    assert list(greedy.marginal) == pytest.approx([27, 3])
    assert alone.loc["collect", "d_losses/A"] == pytest.approx(-27)
    sp = st.tables["shadow_prices"].set_index("lever")
    # at the baseline both lever bounds bind; duals are per t of route flow: a tonne less
    # landfill is recycled (saves 1 - 0.1 slag = 0.9 t); a tonne reused instead of recycled
    # saves its 0.1 t of slag
    assert sp.loc["collect", "binding_rows"] == 1 and sp.loc["collect", "sum_abs_dual"] == pytest.approx(0.9)
    assert sp.loc["reuse", "binding_rows"] == 1 and sp.loc["reuse", "sum_abs_dual"] == pytest.approx(0.1)


def test_prioritise_does_not_rank_levers_without_effect(system):
    # energy = recycled flow, least at 0 with or without either lever (landfill or reuse take it
    # all): neither lever changes the optimum, so neither is ranked and a note says so
    st = studies.prioritise(system, objective="energy")
    alone = st.table[st.table.run == "alone"].set_index("lever")
    assert list(alone.improvement) == pytest.approx([0, 0], abs=1e-6)
    assert alone["rank"].isna().all() and not alone.measurable.any()
    assert "collect, reuse" in st.meta["notes"][0]


def test_pareto_points_on_the_hand_worked_line(system):
    # no reuse, no lever applied: landfill + recycled = 100, losses L = landfill + 0.1 recycled
    # and energy E = recycled (1 per t), so the front is L = 100 - 0.9 E for E in [0, 100]
    no_reuse = [{"type": "share", "node": "eol", "route": "reuse", "max": 0.0}]
    st = studies.pareto(system, ("losses", "energy"), points=5, constraints=no_reuse)
    t = st.table
    assert list(t.energy) == pytest.approx([100, 75, 50, 25, 0], abs=1e-6)
    assert list(t.losses) == pytest.approx([100 - 0.9 * e for e in (100, 75, 50, 25, 0)], abs=1e-6)


def test_pareto_without_trade_off_is_one_point_and_says_so(system):
    # energy = recycled flow; least energy (0) leaves landfill + reuse = 100 open, and among those
    # optima losses (= landfill) are least, 0, with everything reused: one decision set minimises
    # both, so the front is the single point (0, 0), not five copies of it
    st = studies.pareto(system, ("energy", "losses"), points=5)
    t = st.table
    assert len(t) == 1
    assert t.energy.iloc[0] == pytest.approx(0, abs=1e-6) and t.losses.iloc[0] == pytest.approx(0, abs=1e-6)
    assert any("no trade-off" in n for n in st.meta["notes"])


def test_compare_scenarios_side_by_side():
    st = studies.compare("instances/toy", [None, "more_reuse"])
    t = st.table.set_index("indicator")
    base = circopt.simulate(circopt.load("instances/toy"))
    more = circopt.simulate(circopt.load("instances/toy", "more_reuse"))
    d = base.cumulative_losses()
    assert t.loc["dissipation/total", "base"] == pytest.approx(d[(d.loss_type == "dissipation") & (d.element == "total")].value.sum())
    m = more.cumulative_losses()
    diff = m[(m.loss_type == "dissipation") & (m.element == "total")].value.sum() - t.loc["dissipation/total", "base"]
    assert t.loc["dissipation/total", "diff_more_reuse"] == pytest.approx(diff)


def test_sweep_same_numbers_with_every_executor(tmp_path):
    folder = write_sources(tmp_path / "inst")
    import yaml

    (folder / "instance.yaml").write_text(yaml.safe_dump(DOC))
    a = studies.sweep(folder, samples=6, seed=7, executor="inprocess", progress=False).table
    b = studies.sweep(folder, samples=6, seed=7, executor="processes", workers=2, progress=False).table
    pd.testing.assert_frame_equal(a, b)
    # market yield drawn in [0.8, 0.95]; slag = 50 * (1 - yield) in simulation
    assert a["nodes.remelt.to.market"].between(0.8, 0.95).all()
    np.testing.assert_allclose(a["process/total"], 50 * (1 - a["nodes.remelt.to.market"]), rtol=1e-12)


def test_sweep_dask_matches_processes(tmp_path):
    # a local Dask cluster (2 worker processes) started by the study itself
    folder = write_sources(tmp_path / "inst")
    import yaml

    (folder / "instance.yaml").write_text(yaml.safe_dump(DOC))
    a = studies.sweep(folder, samples=4, seed=3, executor="inprocess", progress=False).table
    c = studies.sweep(folder, samples=4, seed=3, executor="dask", progress=False).table
    pd.testing.assert_frame_equal(a, c)


def test_combine_picks_the_best_set_within_each_budget(system, tmp_path):
    # costs: collect 5, reuse 1. Budget 1 -> reuse (52); 5 -> collect (28); 6 -> both (25)
    st = studies.combine(system, budget=6, objective="losses")
    t = st.table.set_index("budget")
    assert t.loc[0.0, "levers"] == "(none)" and t.loc[0.0, "objective"] == pytest.approx(55)
    assert t.loc[1.0, "levers"] == "reuse" and t.loc[1.0, "objective"] == pytest.approx(52)
    assert t.loc[5.0, "levers"] == "collect" and t.loc[5.0, "objective"] == pytest.approx(28)
    assert t.loc[6.0, "levers"] == "collect+reuse" and t.loc[6.0, "objective"] == pytest.approx(25)
    np.testing.assert_allclose(t.milp_objective, t.objective, rtol=1e-6)
    assert st.meta["best"] == "collect+reuse"
    st.to_dir(tmp_path / "c")
    assert (tmp_path / "c" / "combine.csv").is_file() and (tmp_path / "c" / "combine.png").stat().st_size > 1000


def test_whatif_reuse_equals_rebuild(system):
    # the re-used model (interpolated constraint rows, warm re-solves) gives the rebuilt model's
    # numbers at every point; losses fall as reuse is allowed: 55 - 0.1 * 100 * max (hand-worked,
    # landfill held at 0.5 by the 'collect' lever's baseline; reuse replaces recycling's 10 % slag)
    con = {"type": "share", "node": "eol", "route": "reuse"}
    base = [{"type": "share", "node": "eol", "route": "landfill", "min": 0.5}]
    vals = [0.0, 0.1, 0.2, 0.3, 0.4]
    warm = studies.whatif(system, con, "max", vals, constraints=base).table
    cold = studies.whatif(system, con, "max", vals, reuse=False, constraints=base).table
    np.testing.assert_allclose(warm.objective, cold.objective, rtol=1e-9)
    np.testing.assert_allclose(warm.objective, [55 - 10 * v for v in vals], rtol=1e-9)
    assert warm.max_relative_imbalance.max() <= 1e-9


def test_progress_bar_stays_out_of_pipes(capsys):
    # stderr captured by pytest is not a terminal: carriage-return bars would only garble a log
    bar = studies._Progress(3, "sweep", True)
    bar.step()
    bar.done()
    assert capsys.readouterr().err == ""
