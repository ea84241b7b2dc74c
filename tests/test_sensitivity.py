"""Global sensitivity (circopt.sensitivity): statistics on hand-analysable functions, the instance of
tests/test_studies.py (one year, 100 t end of life), failed runs, determinism across executors, CLI.

Hand-worked numbers used below (instance DOC of test_studies, simulated):
  recycle = 50 t, slag = 50 (1 - y) with y the remelting yield -> process losses linear in y, slope -50;
  energy = 50 t recycled x e (energy per t recycled) -> linear in e, slope 50, independent of y.
Optimised with landfill >= 0.2 and reuse <= 0.3 (levers 'collect' and 'reuse'): landfill 20,
reuse 30, recycle 50 -> losses 20 + 50 (1 - y); one tonne less landfill saves y (it is recycled),
one tonne more reuse saves 1 - y: the lever ranking is collect > reuse for y > 0.5, reuse > collect
for y < 0.5.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from circopt import sensitivity as S
from circopt.cli import main

from .netgen import write_sources
from .test_studies import DOC

YIELD, ENERGY = "nodes.remelt.to.market", "nodes.eol.energy.recycle"


def _instance(tmp_path, ranges: dict, changes=None):
    doc = copy.deepcopy(DOC)
    doc["ranges"] = ranges
    if changes:
        changes(doc)
    folder = write_sources(tmp_path / "inst")
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc))
    return folder


class _Sys:  # what design() reads of a System
    name = "f"

    def __init__(self, ranges):
        self.ranges = {k: {"keys": [k], "kind": "value", "low": lo, "high": hi} for k, (lo, hi) in ranges.items()}


def _table(des, f):
    X = des.X
    t = pd.DataFrame(X, columns=des.names)
    t.insert(0, "run", range(len(t)))
    t["status"], t["y"] = "ok", f(*(X[:, des.names.index(n)] for n in des.names))
    return t


def test_sobol_indices_of_a_linear_function():
    # y = a + 2 b, a and b uniform on [0, 1]: Var = (1 + 4) / 12 -> S1 = ST = 1/5 and 4/5; c unused -> 0
    sysm = _Sys({"a": (0, 1), "b": (0, 1), "c": (0, 1)})
    des = S.design(sysm, {"a": 0.5, "b": 0.5, "c": 0.5}, "sobol", 1024, seed=3)
    assert len(des.X) == 1024 * (3 + 2)
    idx = S.analyse(des, _table(des, lambda a, b, c: a + 2 * b), ["y"]).set_index(["factor", "index"]).value
    assert idx["a", "S1"] == pytest.approx(0.2, abs=0.03) and idx["a", "ST"] == pytest.approx(0.2, abs=0.03)
    assert idx["b", "S1"] == pytest.approx(0.8, abs=0.03) and idx["b", "ST"] == pytest.approx(0.8, abs=0.03)
    assert idx["c", "S1"] == 0.0 and idx["c", "ST"] == 0.0


def test_morris_effects_of_a_linear_function_and_groups():
    # y = 3 a - b on a in [0, 2], b in [10, 20]: every elementary effect of a = 3 x its range 2 = 6,
    # of b = -1 x 10; mu* = |effect|, sigma 0. Grouping b with c: the group's mu* is b's.
    sysm = _Sys({"a": (0, 2), "b": (10, 20), "c": (0, 1)})
    des = S.design(sysm, {"a": 1, "b": 15, "c": 0.5}, "morris", 6, seed=1)
    idx = S.analyse(des, _table(des, lambda a, b, c: 3 * a - b), ["y"]).set_index(["factor", "index"]).value
    assert idx["a", "mu_star"] == pytest.approx(6) and idx["a", "sigma"] == pytest.approx(0, abs=1e-9)
    assert idx["b", "mu_star"] == pytest.approx(10) and idx["b", "mu"] == pytest.approx(-10)
    assert idx["c", "mu_star"] == pytest.approx(0, abs=1e-12)
    des = S.design(sysm, {"a": 1, "b": 15, "c": 0.5}, "morris", 6, seed=1, groups={"bc": ["b", "c"]})
    assert des.factors == {"bc": ["b", "c"], "a": ["a"]}
    idx = S.analyse(des, _table(des, lambda a, b, c: 3 * a - b), ["y"]).set_index(["factor", "index"]).value
    assert idx["bc", "mu_star"] == pytest.approx(10) and idx["a", "mu_star"] == pytest.approx(6)


def test_sobol_on_an_instance_linear_in_one_range_independent_of_another(tmp_path):
    folder = _instance(tmp_path, {YIELD: [0.8, 0.95], ENERGY: [0.5, 2.0]})
    st = S.sensitivity(folder, "sobol", 32, indicators=["process/total", "energy"], executor="local", progress=False)
    t = st.table
    ok = t[t.run >= 0]
    assert (ok.status == "ok").all() and len(ok) == 32 * 4
    np.testing.assert_allclose(ok["process/total"], 50 * (1 - ok[YIELD]), rtol=1e-12)
    np.testing.assert_allclose(ok["energy"], 50 * ok[ENERGY], rtol=1e-12)
    assert (pd.to_numeric(t.max_relative_imbalance) <= 1e-9).all()
    idx = st.indices.set_index(["indicator", "factor", "index"]).value
    assert idx["process/total", ENERGY, "ST"] == 0.0 and idx["energy", YIELD, "ST"] == 0.0
    assert idx["process/total", YIELD, "S1"] == pytest.approx(1, abs=0.15)
    assert idx["energy", ENERGY, "ST"] == pytest.approx(1, abs=0.15)
    # the nominal run is the instance as written (yield 0.9, energy 1)
    nom = t[t.run == -1].iloc[0]
    assert nom[YIELD] == 0.9 and nom["process/total"] == pytest.approx(5)


def test_same_indices_whatever_the_executor(tmp_path):
    folder = _instance(tmp_path, {YIELD: [0.8, 0.95], ENERGY: [0.5, 2.0]})
    a = S.sensitivity(folder, "sobol", 8, executor="local", seed=5, progress=False)
    b = S.sensitivity(folder, "sobol", 8, executor="processes", workers=2, seed=5, progress=False)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    pd.testing.assert_frame_equal(a.table.drop(columns="seconds"), b.table.drop(columns="seconds"))
    assert a.indices.value.notna().all() and len(a.indices) == 2 * 2 * len(a.meta["indicators"])


def test_dask_local_cluster_gives_the_same_indices(tmp_path):
    # the scale-out path: a local Dask cluster (2 worker processes) started by the study
    folder = _instance(tmp_path, {YIELD: [0.8, 0.95], ENERGY: [0.5, 2.0]})
    a = S.sensitivity(folder, "sobol", 4, executor="local", seed=2, progress=False)
    c = S.sensitivity(folder, "sobol", 4, executor="dask", workers=2, seed=2, progress=False)
    pd.testing.assert_frame_equal(a.indices, c.indices)
    assert (c.table.status == "ok").all()


def test_failed_runs_are_reported_and_sobol_refuses(tmp_path):
    # a landfill share above 1 is invalid: every run drawing it above 1 fails
    folder = _instance(tmp_path, {YIELD: [0.8, 0.95], "nodes.eol.baseline.landfill": [0.5, 1.5]})
    st = S.sensitivity(folder, "sobol", 8, executor="local", progress=False)
    runs = st.table[st.table.run >= 0]
    bad = runs["nodes.eol.baseline.landfill"] > 1
    assert bad.any() and (runs.status[bad] == "invalid input").all() and (runs.status[~bad] == "ok").all()
    assert len(runs) == 8 * 4  # nothing dropped
    assert st.refused and f"{int(bad.sum())} of {len(runs)} runs failed" in st.refused
    assert "share/fraction above 1" in st.refused and not len(st.indices)
    fa = st.robustness[st.robustness.kind == "failed association"].set_index("factor").value
    assert fa["nodes.eol.baseline.landfill"] == pytest.approx(1.0)  # every run in the upper half fails, none below
    assert "most associated with nodes.eol.baseline.landfill (+1.00)" in st.text
    f = S.failures(runs)
    assert int(f.runs.sum()) == int(bad.sum()) and len(f) == 1  # one kind of error
    out = st.to_dir(tmp_path / "out")
    assert json.loads((out / "summary.json").read_text())["failed_runs"] == int(bad.sum())
    # the range kept at its nominal value (0.5 as written): every run passes, indices computed
    ex = S.sensitivity(folder, "sobol", 8, executor="local", exclude=["nodes.eol.baseline.landfill"], progress=False)
    assert not ex.refused and (ex.table.status == "ok").all() and "nodes.eol.baseline.landfill" not in ex.table
    assert set(ex.indices.factor) == {YIELD}
    # OAT keeps going: the failed end is reported in the indices' note
    o = S.sensitivity(folder, "oat", executor="local", progress=False)
    row = o.indices[(o.indices.indicator == "losses/total") & (o.indices["index"] == "high_change")
                    & (o.indices.factor == "nodes.eol.baseline.landfill")].iloc[0]
    assert np.isnan(row.value) and row.note == "high: invalid input"


def _levers_doc(doc):
    doc["nodes"]["remelt"]["to"]["market"] = 0.6
    doc["nodes"]["eol"]["shares"] = {"reuse": [0.0, 0.3], "landfill": [0.2, 1.0]}


def test_robustness_of_the_lever_ranking(tmp_path):
    folder = _instance(tmp_path, {YIELD: [0.3, 0.7], ENERGY: [0.5, 2.0]}, _levers_doc)
    st = S.sensitivity(folder, "morris", 4, objective="losses", indicators=["objective", "decision:eol.reuse"],
                       executor="local", progress=False)
    t = st.table
    ok = t[t.run >= 0]
    np.testing.assert_allclose(ok.objective, 20 + 50 * (1 - ok[YIELD]), rtol=1e-9)
    np.testing.assert_allclose(ok["decision:eol.reuse"], 30, rtol=1e-9)  # reuse at its bound 0.3 x 100 t
    mu = st.indices.set_index(["indicator", "factor", "index"]).value
    assert mu["objective", YIELD, "mu_star"] == pytest.approx(50 * 0.4)  # slope 50 x range 0.4
    nom = t[t.run == -1].iloc[0]
    assert S.lever_ranking(nom, ["collect", "reuse"]) == "collect > reuse"  # y = 0.6
    assert abs(nom["lever_change:collect"]) == pytest.approx(0.6) and abs(nom["lever_change:reuse"]) == pytest.approx(0.4)
    rob = st.robustness
    share = rob[(rob.kind == "lever ranking") & (rob.subject == "changed share")].value.iloc[0]
    assert share == pytest.approx(float((ok[YIELD] < 0.5).mean()))
    assoc = rob[(rob.kind == "lever ranking association")].set_index("factor").value
    assert assoc[YIELD] < 0 and assoc[ENERGY] == pytest.approx(
        (ok[YIELD] < 0.5)[ok[ENERGY] >= 1.25].mean() - (ok[YIELD] < 0.5)[ok[ENERGY] < 1.25].mean())
    assert "differs in" in st.text
    o = S.sensitivity(folder, "oat", objective="losses", executor="local", progress=False)
    oa = o.robustness[o.robustness.kind == "lever ranking association"].set_index("factor")
    assert oa.loc[YIELD, "detail"] == "lever ranking at low" and oa.loc[ENERGY, "value"] == 0


def test_cli_end_to_end_on_the_toy(tmp_path, capsys):
    out = tmp_path / "sens"
    rc = main(["sensitivity", "instances/toy", "--method", "morris", "--samples", "2", "--executor", "local",
               "--indicators", "losses/Ni,losses/Fe", "--group", "yields=nodes.remelting.to.secondary.Fe,"
               "nodes.remelting.to.secondary.Ni", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "failed runs 0" in printed and "losses/Ni" in printed
    idx = pd.read_csv(out / "indices.csv")
    samples = pd.read_csv(out / "samples.csv")
    assert (samples.status == "ok").all() and (samples.max_relative_imbalance <= 1e-9).all()
    assert len(samples) == 1 + 2 * (6 + 1)  # nominal + r (factors + 1): 7 ranges, 2 grouped
    # in simulation the Ni losses depend on the yields (and the shares), never on costs or energy
    ni = idx[(idx.indicator == "losses/Ni") & (idx["index"] == "mu_star")].set_index("factor").value
    assert ni["yields"] > 0 and ni["nodes.primary_alloy.cost"] == 0 and ni["nodes.remelting.energy"] == 0
    for name in ("sensitivity.png", "robustness.csv", "robustness.txt", "failures.csv", "summary.json"):
        assert (out / name).exists()
    html = S.sensitivity_section(out)
    assert html.startswith("<section>") and "data:image/png;base64" in html and "yields" in html


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    rc = main(["sensitivity", "instances/toy", "--method", "oat", "--group", "g=nope", "--out", str(tmp_path / "o")])
    assert rc == 1 and "not ranges of the instance" in capsys.readouterr().err
    rc = main(["sensitivity", "instances/toy", "--method", "oat", "--exclude", "nope", "--out", str(tmp_path / "o")])
    assert rc == 1 and "exclude: ['nope'] not ranges of the instance" in capsys.readouterr().err
    rc = main(["sensitivity", "instances/toy", "--method", "oat", "--indicators", "nope", "--executor", "local",
               "--out", str(tmp_path / "o")])
    assert rc == 1 and "unknown indicator(s) ['nope']" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------
# the flagships' ranges: every range at its low and its high end builds and balances
# ---------------------------------------------------------------------------------------
def _flagship_oat(name: str, objective=None) -> tuple[S.Design, pd.DataFrame]:
    from pathlib import Path

    from circopt.instance import load, load_document

    path = Path(__file__).resolve().parents[1] / "instances" / name
    system = load(path)
    des = S.design(system, load_document(path)[0], "oat")
    return des, S.evaluate(path, des, objective=objective, executor="inprocess", progress=False)


def test_japan_engine_system_ranges_build_and_balance_at_both_ends():
    """Simulated, one range at a time: no failed run, every run audited. The export share acts on
    what leaves the parc, which it does not change: engines in exported cars scale by 0.36 / 0.2995."""
    des, table = _flagship_oat("japan_engine_system")
    assert len(table) == 1 + 2 * len(des.factors)
    assert list(table.status.unique()) == ["ok"], S.failures(table).to_dict("records")
    assert table.max_relative_imbalance.max() <= 1e-9
    nom = table[table.run == -1].iloc[0]
    high = table[table.design == "high:nodes.car_end.to.exported_cars"].iloc[0]
    assert high["exported/total"] / nom["exported/total"] == pytest.approx(0.36 / 0.2995, rel=1e-9)


@pytest.mark.slow
def test_japan_engines_ranges_build_and_balance_at_both_ends():
    """Simulated, one range at a time: no run refused (the composition stays <= 100 % with Cr and Cu
    at their tops), every run audited; Ni at its top brings 0.000929 / 0.000497864 times the Ni."""
    des, table = _flagship_oat("japan_engines")
    assert list(table.status.unique()) == ["ok"], S.failures(table).to_dict("records")
    assert table.max_relative_imbalance.max() <= 1e-9
    nom = table[table.run == -1].iloc[0]
    high = table[table.design == "high:compositions.engine.composition.Ni"].iloc[0]
    assert high["losses/Ni"] / nom["losses/Ni"] == pytest.approx(0.000929 / 0.000497864, rel=1e-6)


def test_japan_engines_composition_ranges_fit_together():
    """Ni, Cr, Co and Cu at the tops of their ranges together: the engine still builds, and the rest
    of its mass ('other': C, Si, Mn of the cast iron) keeps 1 - 0.693557 - 0.240939 - 0.000929
    - 0.0111 - 0.000557 - 0.0427 = 0.010218 (0.55 kg of 53.83 kg)."""
    from pathlib import Path

    from circopt.instance import apply_range, build, load, load_document

    path = Path(__file__).resolve().parents[1] / "instances" / "japan_engines"
    system = load(path)
    doc, folder, _ = load_document(path)
    for el in ("Ni", "Cr", "Co", "Cu"):
        rng = system.ranges[f"compositions.engine.composition.{el}"]
        doc = apply_range(doc, rng, rng["high"])
    top = build(doc, folder)
    src = top.nodes[[n.name for n in top.nodes].index("engine_production")]
    assert src.composition[0, -1] == pytest.approx(0.010218, abs=1e-9)
