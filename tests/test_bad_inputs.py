"""The catalogue of bad inputs: each gives one clear message (file, key or node, value,
what was expected) and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import circopt
from circopt.cli import main
from circopt.errors import InstanceError

from .conftest import edit_yaml


def _fails(inst: Path, *fragments: str, tmp_path: Path, scenario: str | None = None) -> str:
    with pytest.raises(InstanceError) as ei:
        circopt.load(inst, scenario)
    msg = str(ei.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"
    out = tmp_path / "out"
    argv = ["simulate", str(inst), "--out", str(out)] + (["--scenario", scenario] if scenario else [])
    assert main(argv) == 1
    assert not out.exists()
    return msg


def _edit(inst: Path, fn):
    edit_yaml(inst / "instance.yaml", fn)


def test_malformed_yaml(toy_copy, tmp_path):
    (toy_copy / "instance.yaml").write_text("name: toy\nnodes: {a: [1, 2\n")
    _fails(toy_copy, "instance.yaml", "line", "malformed YAML", tmp_path=tmp_path)


def test_malformed_csv(toy_copy, tmp_path):
    (toy_copy / "data" / "production.csv").write_text('year,value\n2020,"100\n2021,5,6,7\n')
    _fails(toy_copy, "production.csv", tmp_path=tmp_path)


def test_unknown_node(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["eol"]["routes"].update(recycle="remeltng"))
    _fails(toy_copy, "nodes.eol.routes.recycle", "unknown node", "remeltng", tmp_path=tmp_path)


def test_missing_target_node(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"].pop("slag"))
    _fails(toy_copy, "nodes.remelting.to", "unknown node", "'slag'", tmp_path=tmp_path)


def test_unknown_element(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["compositions"]["alloy_steel"]["composition"].update(Cr=0.01))
    _fails(toy_copy, "compositions.alloy_steel.composition.Cr", "unknown element", tmp_path=tmp_path)


def test_duplicated_names(toy_copy, tmp_path):
    text = (toy_copy / "instance.yaml").read_text()
    text = text.replace("  slag:     {kind: sink, loss: process}",
                        "  slag:     {kind: sink, loss: process}\n  slag:     {kind: sink, loss: dissipation}")
    (toy_copy / "instance.yaml").write_text(text)
    # YAML itself keeps the last key silently; the loader must refuse duplicated keys
    _fails(toy_copy, "duplicate", "slag", tmp_path=tmp_path)


def test_duplicated_element(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d.update(elements=["Fe", "Ni", "Fe"]))
    _fails(toy_copy, "elements", "duplicated element", "Fe", tmp_path=tmp_path)


def test_missing_year(toy_copy, tmp_path):
    p = toy_copy / "data" / "production.csv"
    p.write_text("\n".join(ln for ln in p.read_text().splitlines() if not ln.startswith("2025")) + "\n")
    _fails(toy_copy, "production.csv", "missing years", "2025", tmp_path=tmp_path)


def test_extra_year(toy_copy, tmp_path):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text() + "2031,100,kt\n")
    _fails(toy_copy, "production.csv", "outside the model range", "2031", tmp_path=tmp_path)


@pytest.mark.parametrize("bad", ["nan", "-5", "inf"])
def test_nan_negative_infinite(toy_copy, tmp_path, bad):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace("2023,100,kt", f"2023,{bad},kt"))
    _fails(toy_copy, "nodes.production.series", "2023", tmp_path=tmp_path)


def test_share_outside_unit_interval(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["eol"]["baseline"].update(landfill=1.5))
    _fails(toy_copy, "nodes.eol.baseline.landfill", "above 1", "[0, 1]", tmp_path=tmp_path)


def test_bounds_cannot_sum_to_one(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["eol"]["shares"].update(recycle=[0.0, 0.3], reuse=[0, 0.2],
                                                                  landfill=[0.0, 0.3]))
    _fails(toy_copy, "nodes.eol.shares", "cannot sum to 1", "sum of max", tmp_path=tmp_path)


def test_baseline_shares_not_summing_to_one(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["eol"].update(baseline={"reuse": {1: 0.3, 2: 0.0}, "landfill": 0.1,
                                                                 "recycle": 0.5}))
    _fails(toy_copy, "nodes.eol.baseline", "do not sum to 1", tmp_path=tmp_path)


def test_transfer_coefficients_not_summing_to_one(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["remelting"].update(to={"secondary": {"Fe": 0.95, "Ni": 0.9, "default": 0.95},
                                                                  "slag": 0.04}))
    _fails(toy_copy, "nodes.remelting.to", "do not sum to 1", "1e-09", tmp_path=tmp_path)


@pytest.mark.parametrize("mean", [0, -3])
def test_lifetime_not_positive(toy_copy, tmp_path, mean):
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(lifetime={"model": "normal", "mean": mean, "sd": 1}))
    _fails(toy_copy, "nodes.in_use.lifetime", "mean", tmp_path=tmp_path)


def test_lifetime_mass_at_negative_age(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(lifetime={"model": "normal", "mean": 2, "sd": 3}))
    _fails(toy_copy, "nodes.in_use.lifetime", "negative", tmp_path=tmp_path)


def test_composition_above_100_percent(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["compositions"]["alloy_steel"].update(composition={"Fe": 0.95, "Ni": 0.1}))
    _fails(toy_copy, "compositions.alloy_steel.composition", "above 100 %", tmp_path=tmp_path)


def test_split_on_stream_of_unknown_composition(toy_copy, tmp_path):
    # the alloy output of the blend carries its inputs' mix; a split on it breaks the linearity rule
    def fn(d):
        d["nodes"]["secondary"]["outputs"]["alloy"]["to"] = "sorting"
        d["nodes"]["sorting"] = {"kind": "split", "routes": {"a": "alloy_market", "b": "landfill"},
                                 "baseline": {"a": 1.0}, "source": "estimate"}
    _edit(toy_copy, fn)
    _fails(toy_copy, "nodes.sorting", "split sorting", "composition depends on decisions", tmp_path=tmp_path)


def test_cycle_without_stock_has_no_solution(toy_copy, tmp_path):
    def fn(d):
        d["nodes"]["remelting"]["to"] = {"secondary": {"Fe": 0.95, "Ni": 0.9, "default": 0.95}, "loop": "rest"}
        d["nodes"]["loop"] = {"kind": "process", "to": "loop2", "source": "estimate"}
        d["nodes"]["loop2"] = {"kind": "process", "to": "loop", "source": "estimate"}
    _edit(toy_copy, fn)
    _fails(toy_copy, "the loop ['loop', 'loop2'] has no outlet", "no solution", tmp_path=tmp_path)


def test_loop_with_an_outlet_is_solved(toy_copy):
    # the same loop with a small outlet closes: 1 % of the loop's input leaves to the slag each pass
    def fn(d):
        d["nodes"]["remelting"]["to"] = {"secondary": {"Fe": 0.95, "Ni": 0.9, "default": 0.95}, "loop": "rest"}
        d["nodes"]["loop"] = {"kind": "process", "to": "loop2", "source": "estimate"}
        d["nodes"]["loop2"] = {"kind": "process", "to": {"loop": 0.99, "slag": "rest"}, "source": "estimate"}
    _edit(toy_copy, fn)
    res = circopt.simulate(circopt.load(toy_copy))
    f = res.flows
    into = f[(f.source == "remelting") & (f.target == "loop") & (f.year == 2023) & (f.element == "total")].value.sum()
    out = f[(f.source == "loop2") & (f.target == "slag") & (f.year == 2023) & (f.element == "total")].value.sum()
    assert out == pytest.approx(into)  # at steady state within the year everything entering leaves
    assert res.max_relative_imbalance <= 1e-9


def test_units_mismatched_between_files(toy_copy, tmp_path):
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace(",kt", ",t"))
    _fails(toy_copy, "production.csv", "unit mismatch", "'kt'", tmp_path=tmp_path)


def test_scenario_overriding_missing_key(toy_copy, tmp_path):
    (toy_copy / "scenarios" / "typo.yaml").write_text("nodes:\n  eol:\n    baselin: {reuse: 0.5}\n")
    _fails(toy_copy, "typo.yaml", "nodes.eol.baselin", "does not exist", tmp_path=tmp_path, scenario="typo")


def test_unknown_scenario(toy_copy, tmp_path):
    _fails(toy_copy, "unknown scenario", "more_reuse", tmp_path=tmp_path, scenario="nope")


def test_unknown_source_id(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].update(source="SMITH2099"))
    _fails(toy_copy, "nodes.in_use.source", "unknown source id", "SMITH2099", tmp_path=tmp_path)


def test_missing_source_citation(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["in_use"].pop("source"))
    _fails(toy_copy, "nodes.in_use.source", "estimate", tmp_path=tmp_path)


def test_unknown_key(toy_copy, tmp_path):
    _edit(toy_copy, lambda d: d["nodes"]["eol"].update(shraes={}))
    _fails(toy_copy, "nodes.eol.shraes", "unknown key", tmp_path=tmp_path)


def test_check_lists_every_problem(toy_copy, capsys):
    def fn(d):
        d["nodes"]["eol"]["shraes"] = {}
        d["nodes"]["in_use"]["source"] = "SMITH2099"
    _edit(toy_copy, fn)
    assert main(["check", str(toy_copy)]) == 1
    out = capsys.readouterr().out
    assert "shraes" in out and "SMITH2099" in out


def test_check_notes_a_baseline_outside_the_optimiser_bounds(toy_copy, capsys):
    _edit(toy_copy, lambda d: d["nodes"]["eol"]["baseline"].update(reuse={1: 0.6, 2: 0.0}, landfill=0.1))
    assert main(["check", str(toy_copy)]) == 0  # allowed: the simulation follows the baseline
    out = capsys.readouterr().out
    assert "eol[1]: baseline share of 'reuse' 0.6 is outside the optimiser's bounds [0, 0.5]" in out


def test_a_sink_must_say_what_kind_of_outflow_it_is(tmp_path):
    import circopt
    from circopt.errors import InstanceErrors

    from .netgen import write_sources

    doc = {"name": "t", "unit": "t", "years": [2020, 2021], "elements": ["A"],
           "compositions": {"a": {"composition": {"A": 1.0}, "source": "estimate"}},
           "nodes": {"src": {"kind": "source", "composition": "a", "series": 1, "to": "out", "source": "estimate"},
                     "out": {"kind": "sink"}}}
    with pytest.raises(InstanceErrors, match=r"nodes.out.loss.*a sink needs 'loss:'"):
        circopt.build(doc, write_sources(tmp_path))


def test_old_words_still_load_with_a_warning(tmp_path):
    import circopt

    from .netgen import write_sources

    old = {"name": "t", "unit": "t", "years": [2020, 2021], "elements": ["A"],
           "streams": {"a": {"composition": {"A": 0.5}, "source": "estimate"}},
           "nodes": {"src": {"kind": "source", "stream": "a", "series": 2, "to": "out", "source": "estimate"},
                     "out": {"kind": "sink", "loss": "other"}}}
    with pytest.warns(FutureWarning) as rec:
        s = circopt.build(old, write_sources(tmp_path))
    text = " ".join(str(w.message) for w in rec)
    assert "'streams' is deprecated, write 'compositions'" in text and "write 'composition'" in text
    assert "'loss: other' is deprecated, write 'loss: unspecified'" in text
    assert s.nodes[-1].loss == "unspecified"
    res = circopt.simulate(s)
    c = res.cumulative_losses()
    assert float(c[(c.loss_type == "unspecified") & (c.element == "A")].value.sum()) == pytest.approx(2.0)
