"""Bad inputs of issue 11 (inputs confined, bounded YAML, years and keys, names, numbers, study
settings, stock-driven stocks): each named case fails at load with its expected message,
``circopt check`` exits 1 listing it, ``simulate`` writes nothing, and no message quotes a file
outside the instance folder."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import circopt
from circopt.cli import main
from circopt.errors import CircoptWarning, InstanceError

from .conftest import edit_yaml
from .netgen import write_sources

SECRET = "TOP-SECRET-7f3a9"


@pytest.fixture
def secret(tmp_path) -> Path:
    """A readable file beside (outside) the instance folder that no message may ever quote."""
    p = tmp_path / "secret.csv"
    p.write_text(f"source_id,citation\n{SECRET},{SECRET}\nyear,value\n")
    return p


def _edit(inst: Path, fn):
    edit_yaml(inst / "instance.yaml", fn)


def _scenario(inst: Path, name: str, text: str):
    (inst / "scenarios" / f"{name}.yaml").write_text(text)


def _fails(inst: Path, *fragments: str, tmp_path: Path, scenario: str | None = None, capsys=None) -> str:
    with pytest.raises(InstanceError) as ei:
        circopt.load(inst, scenario)
    msg = str(ei.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"
    assert SECRET not in msg
    out = tmp_path / "out"
    argv = ["simulate", str(inst), "--out", str(out)] + (["--scenario", scenario] if scenario else [])
    assert main(argv) == 1
    assert not out.exists()
    check = ["check", str(inst)] + (["--scenario", scenario] if scenario else [])
    assert main(check) == 1
    if capsys is not None:
        text = capsys.readouterr()
        assert SECRET not in text.out + text.err
        assert fragments[0] in text.out
    return msg


# ---------------------------------------------------------------------------------------
# inputs confined to the instance folder
# ---------------------------------------------------------------------------------------
def test_file_absolute_path(toy_copy, tmp_path, secret, capsys):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={"file": str(secret)}))
    _fails(toy_copy, "nodes.production.series", "not relative to the instance folder", tmp_path=tmp_path,
           capsys=capsys)


def test_file_dotdot_escape(toy_copy, tmp_path, secret):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series="../secret.csv"))
    _fails(toy_copy, "nodes.production.series", "leads outside the instance folder", "'../secret.csv'",
           tmp_path=tmp_path)


def test_file_dotdot_inside_is_fine(toy_copy):
    # '..' that stays inside the folder is an ordinary relative path
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series="data/../data/production.csv"))
    assert circopt.load(toy_copy).nodes[0].series[0] == 100.0


def test_file_symlink_pointing_out(toy_copy, tmp_path, secret):
    os.symlink(secret, toy_copy / "data" / "link.csv")
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series="data/link.csv"))
    _fails(toy_copy, "nodes.production.series", "leads outside the instance folder", tmp_path=tmp_path)


def test_file_is_a_directory(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={"file": "data"}))
    _fails(toy_copy, "nodes.production.series", "not a regular file", tmp_path=tmp_path)


def test_file_not_a_string(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={"file": 5}))
    _fails(toy_copy, "nodes.production.series", "expected a file path", tmp_path=tmp_path)


def test_sources_proc_environ(toy_copy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIRCOPT_TEST_SECRET", SECRET)
    _edit(toy_copy, lambda d: d.update(sources="/proc/self/environ"))
    _fails(toy_copy, "sources", "not relative to the instance folder", tmp_path=tmp_path, capsys=capsys)


def test_sources_dotdot(toy_copy, tmp_path, secret, capsys):
    _edit(toy_copy, lambda d: d.update(sources="../secret.csv"))
    _fails(toy_copy, "sources", "leads outside the instance folder", tmp_path=tmp_path, capsys=capsys)


def test_sources_symlink_pointing_out(toy_copy, tmp_path, secret):
    (toy_copy / "sources.csv").unlink()
    os.symlink(secret, toy_copy / "sources.csv")
    _fails(toy_copy, "sources", "leads outside the instance folder", tmp_path=tmp_path)


def test_history_file_outside(toy_copy, tmp_path, secret):
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(history=str(secret), history_stream="alloy_steel"))
    _fails(toy_copy, "nodes.in_use.history", "not relative", tmp_path=tmp_path)


def test_extends_dotdot(toy_copy, tmp_path, secret):
    (tmp_path / "evil.yaml").write_text(f"description: {SECRET}\n")
    _scenario(toy_copy, "bad", "extends: ../../evil\n")
    _fails(toy_copy, "bad.yaml: extends", "scenario is named by its file", tmp_path=tmp_path, scenario="bad")


def test_extends_absolute(toy_copy, tmp_path):
    _scenario(toy_copy, "bad", "extends: /etc/passwd\n")
    _fails(toy_copy, "bad.yaml: extends", "'/etc/passwd'", tmp_path=tmp_path, scenario="bad")


def test_scenario_symlink_pointing_out(toy_copy, tmp_path):
    (tmp_path / "evil.yaml").write_text(f"description: {SECRET}\n")
    os.symlink(tmp_path / "evil.yaml", toy_copy / "scenarios" / "evil.yaml")
    _fails(toy_copy, "leads outside the instance folder", tmp_path=tmp_path, scenario="evil")


def test_scenario_name_with_path(toy_copy, tmp_path):
    _fails(toy_copy, "--scenario", "scenario is named by its file", tmp_path=tmp_path, scenario="../toy/x")


def test_hash_covers_every_file_read(toy_copy):
    # a table with another suffix is read: the hash changes when it changes
    (toy_copy / "data" / "production.txt").write_text((toy_copy / "data" / "production.csv").read_text())
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series="data/production.txt"))
    h0 = circopt.load(toy_copy).content_hash
    p = toy_copy / "data" / "production.txt"
    p.write_text(p.read_text().replace("2023,100", "2023,101"))
    assert circopt.load(toy_copy).content_hash != h0


def test_hash_of_shipped_toy_is_unchanged_by_reading_it():
    # every file of the toy is a .yaml/.csv inside the folder: the hash is today's folder hash
    import hashlib

    folder = Path("instances/toy")
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".yaml", ".yml", ".csv") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    assert circopt.load(folder).content_hash == h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# YAML bounded
# ---------------------------------------------------------------------------------------
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]) + "\n"


def test_yaml_alias_bomb_fails_fast(toy_copy, tmp_path):
    (toy_copy / "instance.yaml").write_text(BOMB)
    t0 = time.perf_counter()
    _fails(toy_copy, "instance.yaml", "expands to more than", tmp_path=tmp_path)
    assert time.perf_counter() - t0 < 10  # three loads (Python, simulate, check): each in milliseconds


def test_yaml_alias_bomb_in_scenario(toy_copy, tmp_path):
    _scenario(toy_copy, "bomb", BOMB)
    _fails(toy_copy, "bomb.yaml", "expands to more than", tmp_path=tmp_path, scenario="bomb")


def test_yaml_recursive_alias(toy_copy, tmp_path):
    (toy_copy / "instance.yaml").write_text("a: &a [1, *a]\n")
    _fails(toy_copy, "instance.yaml", "refers to itself", tmp_path=tmp_path)


def test_yaml_too_large(toy_copy, tmp_path):
    (toy_copy / "instance.yaml").write_text("# " + "x" * 2_100_000 + "\nname: toy\n")
    _fails(toy_copy, "instance.yaml", "larger than", tmp_path=tmp_path)


def test_yaml_few_aliases_are_fine(toy_copy):
    text = (toy_copy / "instance.yaml").read_text().replace(
        "  alloy_steel: {composition: {Fe: 0.9, Ni: 0.1}, source: estimate}",
        "  alloy_steel: {composition: &c {Fe: 0.9, Ni: 0.1}, source: estimate}\n"
        "  alloy_copy: {composition: *c, source: estimate}")
    (toy_copy / "instance.yaml").write_text(text)
    assert circopt.load(toy_copy).nodes[0].composition[0, 1] == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------
# non-finite and magnitude
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fragment", [("1.7e308", "larger than 1e+15"), (".nan", "NaN or infinite"),
                                            ("-.inf", "NaN or infinite"), ("1" + "0" * 400, "larger than")])
def test_number_not_finite_or_huge_in_yaml(toy_copy, tmp_path, text, fragment):
    t = (toy_copy / "instance.yaml").read_text().replace("    series: data/production.csv ",
                                                         f"    series: {text} ")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "nodes.production.series", fragment, tmp_path=tmp_path)


def test_number_huge_in_csv(toy_copy, tmp_path):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace("2023,100,kt", "2023,1e300,kt"))
    _fails(toy_copy, "nodes.production.series", "larger than 1e+15", "2023", tmp_path=tmp_path)


def test_number_infinite_in_lever_cost(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text() + (
        "levers:\n  reuse:\n    cost: .inf\n    ambitious: [{type: share, node: eol, route: reuse, max: 0.5}]\n")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "levers.reuse.cost", "NaN or infinite", tmp_path=tmp_path)


def test_magnitude_range_warns_with_the_ratio(toy_copy, capsys):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace("2023,100,kt", "2023,3e10,kt"))
    with pytest.warns(CircoptWarning, match=r"ratio of 1e\+09"):
        circopt.load(toy_copy)
    assert main(["check", str(toy_copy)]) == 0
    assert "note: the masses entering the optimiser span a ratio of 1e+09" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["toy", "japan_engines", "global_aluminium"])
def test_shipped_instances_have_no_magnitude_note(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CircoptWarning)
        try:
            system = circopt.load(f"instances/{name}")
        except InstanceError as e:  # global_aluminium is being rebuilt without nominal outputs (issue 11 core)
            pytest.xfail(f"{name} does not load on this branch: {str(e)[:80]}")
        assert system.notes == []


# ---------------------------------------------------------------------------------------
# years, keys, fills
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("years", [[True, 2029], [2020.5, 2029], ["2020", 2029]])
def test_years_not_whole_numbers(toy_copy, tmp_path, years):
    _edit(toy_copy, lambda d: d.update(years=years))
    _fails(toy_copy, "years", "whole numbers", tmp_path=tmp_path)


@pytest.mark.parametrize("key, fragment", [(2025.7, "a year must be a whole number (got 2025.7)"),
                                           (True, "a year must be a whole number (got True)"),
                                           ("2025.7", "neither values of the node's dimensions nor years")])
def test_year_key_not_whole(toy_copy, tmp_path, key, fragment):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2020: 100, key: 50, "fill": "hold"}))
    _fails(toy_copy, "nodes.production.series", fragment, tmp_path=tmp_path)


def test_year_column_with_fraction(toy_copy, tmp_path):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace("2023,100,kt", "2023.5,100,kt"))
    _fails(toy_copy, "production.csv", "column 'year'", "not a whole number", "2023.5", tmp_path=tmp_path)


def test_duplicate_keys_int_and_text_in_yaml(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text().replace("baseline: {reuse: {1: 0.3, 2: 0.0}",
                                                         "baseline: {reuse: {1: 0.3, '1': 0.5, 2: 0.0}")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "duplicate key '1'", "1 and '1' are the same key", tmp_path=tmp_path)


def test_duplicate_year_keys_in_yaml(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text().replace("    series: data/production.csv ",
                                                         "    series: {2020: 100, '2020': 500, fill: hold} ")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "duplicate key '2020'", tmp_path=tmp_path)


def test_duplicate_year_keys_in_a_document(toy_copy, tmp_path):
    doc, folder, _ = circopt.instance.load_document(toy_copy)
    doc["nodes"]["production"]["series"] = {2020: 100, "2020": 500, "fill": "hold"}
    with pytest.raises(InstanceError, match="given twice"):
        circopt.build(doc, folder)


def test_scenario_key_spelled_as_text_overrides_the_number(toy_copy):
    _scenario(toy_copy, "text_keys", "nodes:\n  eol:\n    baseline: {reuse: {'1': 0.5}, landfill: 0.05}\n")
    s = circopt.load(toy_copy, "text_keys")
    e = next(e for e in s.edges if e.label == "reuse" and s.nodes[e.source].name == "eol[1]")
    assert e.coef[0] == 0.5


def test_series_leaving_years_unspecified(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2020: 100.0}))
    _fails(toy_copy, "nodes.production.series", "leaves 9 model year(s) unspecified", "fill: hold | zero",
           tmp_path=tmp_path)


def test_unknown_fill(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2020: 100.0, "fill": "linear"}))
    _fails(toy_copy, "nodes.production.series.fill", "unknown fill", "'linear'", tmp_path=tmp_path)


def test_fill_hold_before_the_first_year(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2022: 100.0, "fill": "hold"}))
    _fails(toy_copy, "nodes.production.series.fill", "no value to hold before 2022", tmp_path=tmp_path)


@pytest.mark.parametrize("fill, expected", [
    ("zero", [0, 0, 10, 0, 0, 0, 0, 30, 0, 0]),
    ("hold", [5, 5, 10, 10, 10, 10, 10, 30, 30, 30]),
    ("interpolate", [5 + 5 / 3, 5 + 10 / 3, 10, 14, 18, 22, 26, 30, 30, 30]),
])
def test_fill_modes_by_hand(toy_copy, fill, expected):
    # points 2019: 5 (before the model), 2022: 10, 2027: 30; model years 2020..2029
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2019: 5.0, 2022: 10.0, 2027: 30.0,
                                                                      "fill": fill}))
    s = circopt.load(toy_copy)
    assert s.nodes[s.node_id("production")].series.tolist() == pytest.approx(expected)


def test_one_year_pulse_is_explicit(toy_copy):
    _edit(toy_copy, lambda d: d["nodes"]["production"].update(series={2021: 1.0, "fill": "zero"}))
    res = circopt.simulate(circopt.load(toy_copy))
    f = res.flows
    into = f[(f.source == "production") & (f.element == "total")].groupby("year").value.sum()
    assert into.loc[2021] == 1.0 and into.drop(2021).abs().max() == 0.0
    assert res.max_relative_imbalance <= 1e-9


# ---------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a,b", "=cmd", "+1", "@x", "-x", "tab\there", "a]b", "x=y", "a b"])
def test_dimension_value_outside_safe_set(toy_copy, tmp_path, value):
    def fn(d):
        d["dimensions"] = {"grade": ["ok", value]}
    _edit(toy_copy, fn)
    _fails(toy_copy, "dimensions.grade", "a dimension value uses characters outside the safe set",
           tmp_path=tmp_path)


def test_element_name_formula(toy_copy, tmp_path):
    def fn(d):
        d["elements"] = ["Fe", "=HYPERLINK(1)"]
    _edit(toy_copy, fn)
    _fails(toy_copy, "elements", "an element name", tmp_path=tmp_path)


def test_stream_name_control_character(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["compositions"].update({"bad\x07": {"composition": {"Fe": 1.0}, "source": "estimate"}}))
    _fails(toy_copy, "a composition name", "'bad\\x07'", tmp_path=tmp_path)


def test_route_name_formula(toy_copy, tmp_path):
    def fn(d):
        r = d["nodes"]["eol"]["routes"]
        r["@landfill"] = r.pop("landfill")
        d["nodes"]["eol"]["baseline"]["@landfill"] = d["nodes"]["eol"]["baseline"].pop("landfill")
        d["nodes"]["eol"]["shares"]["@landfill"] = d["nodes"]["eol"]["shares"].pop("landfill")
    _edit(toy_copy, fn)
    _fails(toy_copy, "nodes.eol.routes.@landfill", "a route name", tmp_path=tmp_path)


def test_blend_output_name_formula(toy_copy, tmp_path):
    def fn(d):
        o = d["nodes"]["secondary"]["outputs"]
        o["+alloy"] = o.pop("alloy")
        d["nodes"]["secondary"]["allocation"] = {"remelting": {"+alloy": 1.0}}
    _edit(toy_copy, fn)
    _fails(toy_copy, "nodes.secondary.outputs.+alloy", "a blend output name", tmp_path=tmp_path)


def test_node_name_formula(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"].update({"=cmd": {"kind": "sink", "loss": "dissipation"}}))
    _fails(toy_copy, "nodes.=cmd", "a node name", tmp_path=tmp_path)


def test_lever_name_formula(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text() + (
        "levers:\n  '=reuse':\n    ambitious: [{type: share, node: eol, route: reuse, max: 0.5}]\n")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "levers.=reuse", "a lever name", tmp_path=tmp_path)


# ---------------------------------------------------------------------------------------
# check is complete: settings a later step reads
# ---------------------------------------------------------------------------------------
def test_invalid_user_constraint(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(constraints=[{"type": "share", "node": "eol", "route": "reus", "max": 0.2}]))
    _fails(toy_copy, "constraints[0]", "unknown route of split eol", "'reus'", tmp_path=tmp_path)


def test_invalid_user_constraint_in_scenario(toy_copy, tmp_path):
    _scenario(toy_copy, "bad", "add:\n  constraints:\n    - {type: flow, source: nowhere, target: landfill, max: 1}\n")
    _fails(toy_copy, "constraints[0]", "unknown node", "'nowhere'", tmp_path=tmp_path, scenario="bad")


def test_invalid_lever_key(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text() + (
        "levers:\n  reuse:\n    costs: 1\n    ambitious: [{type: share, node: eol, route: reuse, max: 0.5}]\n")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "levers.reuse", "unknown keys ['costs']", tmp_path=tmp_path)


def test_lever_with_invalid_constraint(toy_copy, tmp_path):
    t = (toy_copy / "instance.yaml").read_text() + (
        "levers:\n  reuse:\n    ambitious: [{type: share, node: eoll, route: reuse, max: 0.5}]\n")
    (toy_copy / "instance.yaml").write_text(t)
    _fails(toy_copy, "levers.reuse.ambitious[0]", "unknown node", "'eoll'", tmp_path=tmp_path)


def test_trace_source_unknown(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(trace={"source": "prodution"}))
    _fails(toy_copy, "trace.source", "'prodution'", tmp_path=tmp_path)


def test_trace_year_outside(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(trace={"source": "production", "year": 2035}))
    _fails(toy_copy, "trace.year", "not a model year", tmp_path=tmp_path)


def test_trace_year_fraction(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(trace={"source": "production", "year": 2021.5}))
    _fails(toy_copy, "trace.year", "whole number", tmp_path=tmp_path)


# ---------------------------------------------------------------------------------------
# stock-driven stocks
# ---------------------------------------------------------------------------------------
def _stock_driven_doc(source_extra: dict, stock: object, initial: str | None = None) -> dict:
    use = {"kind": "stock", "lifetime": {"model": "fixed", "mean": 50}, "stock": stock, "to": "eol",
           "source": "estimate"}
    if initial:
        use.update(initial_stock=initial, history_stream="s")
    return {"name": "sd", "unit": "t", "years": [2020, 2024], "elements": ["A"],
            "streams": {"s": {"composition": {"A": 1.0}, "source": "estimate"}},
            "nodes": {"prod": {"kind": "source", "stream": "s", "to": "use", "source": "estimate", **source_extra},
                      "use": use, "eol": {"kind": "sink", "loss": "dissipation"}}}


def test_stock_driven_source_with_series(tmp_path):
    doc = _stock_driven_doc({"series": 5.0}, 10.0)
    with pytest.raises(InstanceError, match="feeds the stock-driven stock use.*cannot also have a series"):
        circopt.build(doc, write_sources(tmp_path))


def test_stock_driven_round_off_is_not_a_negative_inflow(tmp_path):
    # initial stock 0.1 + 0.2 (= 0.30000000000000004 in doubles) held at a flat 0.3: inflow 0
    folder = write_sources(tmp_path)
    (folder / "init.csv").write_text("age,value\n0,0.1\n1,0.2\n")
    res = circopt.simulate(circopt.build(_stock_driven_doc({}, 0.3, "init.csv"), folder))
    f = res.flows
    assert f[(f.source == "prod") & (f.element == "total")].value.abs().max() == 0.0
    assert res.max_relative_imbalance <= 1e-9
    # the direct function answers the same
    from circopt.lifetimes import make_lifetime, stock_driven

    sf = stock_driven(np.full(5, 0.3), make_lifetime({"model": "fixed", "mean": 50}, where="test"), initial_stock=np.array([0.1, 0.2]))
    assert np.all(sf.inflow == 0.0)


def test_stock_driven_real_negative_inflow_still_refused(tmp_path):
    folder = write_sources(tmp_path)
    (folder / "init.csv").write_text("age,value\n0,0.1\n1,0.2\n")
    with pytest.raises(circopt.errors.SimulationError, match="falls faster than its cohorts leave"):
        circopt.simulate(circopt.build(_stock_driven_doc({}, 0.2999, "init.csv"), folder))


# ---------------------------------------------------------------------------------------
# sizes: a document cannot ask for an unbounded time axis or expansion
# ---------------------------------------------------------------------------------------
def test_years_span_too_long(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(years=[-1_000_000_000, 1_000_000_000]))
    _fails(toy_copy, "years", "more than 1000 model years", tmp_path=tmp_path)


def test_history_reaching_back_too_far(toy_copy, tmp_path):
    (toy_copy / "data" / "hist.csv").write_text("year,value\n-5000000,1.0\n2019,1.0\n")
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(history="data/hist.csv", history_stream="alloy_steel"))
    _fails(toy_copy, "hist.csv", "history reaches back more than 1000 years", tmp_path=tmp_path)


def test_initial_stock_age_too_large(toy_copy, tmp_path):
    (toy_copy / "data" / "init.csv").write_text("age,value\n0,1.0\n100000000,1.0\n")
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(initial_stock="data/init.csv",
                                                          history_stream="alloy_steel"))
    _fails(toy_copy, "init.csv", "ages of 1000 years or more", tmp_path=tmp_path)


def test_family_expansion_too_large(toy_copy, tmp_path):
    def fn(d):
        d["dimensions"] = {f"d{i}": [f"v{j}" for j in range(10)] for i in range(6)}
        d["nodes"]["landfill"]["over"] = [f"d{i}" for i in range(6)]
    _edit(toy_copy, fn)
    _fails(toy_copy, "nodes.landfill.over", "expands into 1,000,000 members", tmp_path=tmp_path)


def test_scenario_replace_reaches_a_number_key(toy_copy):
    _scenario(toy_copy, "rep", "replace:\n  nodes.eol.baseline.reuse.1: 0.4\n")
    s = circopt.load(toy_copy, "rep")
    e = next(e for e in s.edges if e.label == "reuse" and s.nodes[e.source].name == "eol[1]")
    assert e.coef[0] == 0.4


def test_indicator_name_formula(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(indicators=[{"name": "@landfilled", "kind": "loss", "node": "landfill",
                                                    "unit": "kt"}]))
    _fails(toy_copy, "indicators[0].name", "an indicator name", tmp_path=tmp_path)


def test_constraint_argument_too_large():
    from circopt.model import optimise

    with pytest.raises(InstanceError, match=r"max: larger than 1e\+15 in magnitude \(got 1e\+300\)"):
        optimise(circopt.load("instances/toy"), constraints=[{"type": "flow", "source": "eol", "target": "landfill",
                                                              "max": 1e300}])


def test_check_runs_the_simulation(tmp_path, capsys):
    # a stock-driven stock falling faster than its cohorts leave: loading is fine, simulate refuses
    import yaml

    folder = write_sources(tmp_path / "inst")
    doc = _stock_driven_doc({}, {2020: 10.0, 2021: 2.0, "fill": "hold"})
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc))
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "ERR base instance: simulate refuses: stock-driven stock use falls faster than its cohorts leave" in out


def test_check_notes_an_instance_for_optimisation_only(toy_copy, capsys):
    def drop_baseline(d):
        d["nodes"]["eol"].pop("baseline")
        # ranges over the removed baseline would (rightly) be refused as pointing at a missing key
        d["ranges"] = {k: v for k, v in (d.get("ranges") or {}).items() if not k.startswith("nodes.eol.baseline")}
    _edit(toy_copy, drop_baseline)
    assert main(["check", str(toy_copy), "--scenario", "infeasible"]) == 0
    assert "note: not simulated: split(s) eol have no 'baseline' shares (optimisation only)" in capsys.readouterr().out
