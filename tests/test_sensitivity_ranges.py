"""Ranges on tables and categorical ranges (circopt.ranges), hand-worked on a two-product instance.

Instance: products a, b (series from data/demand.csv: a 100 t/yr, b 10 t/yr, 2020-2021), each sent
to 'eol', which sends 0.2 to landfill (dissipation) and the rest to market. Landfill over the two
years = 0.2 x sum of the series. Scenario 'high' (data/high.csv) doubles both series.
  sales factor x on a's rows:        landfill = 0.2 x 2 x (100 x + 10)
  ... on the 'high' path:            landfill = 0.2 x 2 x (200 x + 20)
  ... only in 2021:                  landfill = 0.2 x (100 + 10) + 0.2 x (100 x + 10)
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from circopt import sensitivity as S
from circopt import studies
from circopt.errors import InstanceError, InstanceErrors
from circopt.instance import load, load_document
from circopt.ranges import build_sample, choice_label
from circopt.simulate import simulate

from .netgen import write_sources

DOC = {
    "name": "tables", "unit": "t", "years": [2020, 2021], "elements": ["A"],
    "dimensions": {"product": ["a", "b"]},
    "compositions": {"prod": {"composition": {"A": 1.0}, "source": "estimate"}},
    "nodes": {
        "products": {"kind": "source", "over": ["product"], "composition": "prod",
                     "series": {"file": "data/demand.csv", "column": "value"}, "to": "eol", "source": "estimate"},
        "eol": {"kind": "process", "over": ["product"], "to": {"landfill": 0.2, "market": "rest"},
                "source": "estimate"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
        "market": {"kind": "sink", "loss": "unspecified"},
    },
}
SALES = {"keys": ["nodes.products.series"], "factor": [0.5, 1.5], "where": {"product": ["a"]}}
PATH = {"choices": ["steady", "high"]}


def _csv(rows):
    return "year,product,value\n" + "".join(f"{y},{p},{v}\n" for y, p, v in rows)


def _instance(tmp_path, ranges):
    doc = dict(DOC, ranges=ranges)
    folder = write_sources(tmp_path / "inst")
    (folder / "data").mkdir()
    (folder / "scenarios").mkdir()
    (folder / "data" / "demand.csv").write_text(_csv([(y, p, v) for y in (2020, 2021) for p, v in (("a", 100), ("b", 10))]))
    (folder / "data" / "high.csv").write_text(_csv([(y, p, v) for y in (2020, 2021) for p, v in (("a", 200), ("b", 20))]))
    (folder / "scenarios" / "steady.yaml").write_text("description: the instance as written\n")
    (folder / "scenarios" / "high.yaml").write_text(yaml.safe_dump(
        {"nodes": {"products": {"series": {"file": "data/high.csv", "column": "value"}}}}))
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def _landfill(folder, params):
    system = load(folder)
    doc, _, _ = load_document(folder)
    res = simulate(build_sample(doc, folder, system.ranges, params))
    assert res.max_relative_imbalance <= 1e-12
    L = res.losses
    return float(L[(L.node == "landfill") & (L.element == "total")].value.sum())


def test_factor_on_table_rows_scales_only_the_chosen_rows(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES})
    before = (folder / "data" / "demand.csv").read_bytes()
    assert _landfill(folder, {"sales": 1.5}) == pytest.approx(0.4 * (150 + 10))
    assert _landfill(folder, {"sales": 0.5}) == pytest.approx(0.4 * (50 + 10))
    assert (folder / "data" / "demand.csv").read_bytes() == before  # scaled in memory, never written


def test_factor_on_table_rows_of_some_years(tmp_path):
    folder = _instance(tmp_path, {"sales": dict(SALES, years=[2021, 2021])})
    assert _landfill(folder, {"sales": 1.5}) == pytest.approx(0.2 * 110 + 0.2 * 160)


def test_choice_picks_a_scenario_and_factors_act_on_the_chosen_table(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES, "path": PATH})
    rng = load(folder).ranges["path"]
    assert (rng["low"], rng["high"], rng["kind"]) == (0.0, 2.0, "choice")
    assert [choice_label(rng, x) for x in (0.0, 0.99, 1.0, 2.0)] == ["steady", "steady", "high", "high"]
    assert _landfill(folder, {"sales": 1.0, "path": 0.4}) == pytest.approx(0.4 * 110)
    assert _landfill(folder, {"sales": 1.5, "path": 1.7}) == pytest.approx(0.4 * (300 + 20))


def test_inline_choices_and_a_nominal_choice(tmp_path):
    high = {"nodes": {"products": {"series": {"file": "data/high.csv", "column": "value"}}}}
    folder = _instance(tmp_path, {"path": {"choices": {"steady": {}, "high": high}, "nominal": "high"}})
    system = load(folder)
    doc, _, _ = load_document(folder)
    assert S.nominal_values(system, doc) == {"path": 1.5}
    assert _landfill(folder, {"path": 1.5}) == pytest.approx(0.4 * 220)


def test_oat_and_sweep_over_table_and_choice_ranges(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES, "path": PATH})
    st = S.sensitivity(folder, "oat", indicators=["losses/total", "dissipation/total@2021"], executor="local",
                       progress=False)
    idx = st.indices.set_index(["indicator", "factor", "index"]).value
    # nominal: sales 1, steady -> 44; sales 0.5 -> 24, 1.5 -> 64; path high (x = 2) -> 88
    assert idx["losses/total", "sales", "low_change"] == pytest.approx(24 - 44)
    assert idx["losses/total", "sales", "high_change"] == pytest.approx(64 - 44)
    assert idx["losses/total", "path", "high_change"] == pytest.approx(88 - 44)
    assert idx["dissipation/total@2021", "path", "swing"] == pytest.approx(22)
    assert list(st.table["path:choice"]) == ["steady", "steady", "high", "steady", "steady"]  # nominal, path low/high, sales low/high
    sw = studies.sweep(folder, samples=6, seed=4, executor="inprocess", progress=False)
    t = sw.table
    path = np.where(t.path >= 1, 2.0, 1.0)
    assert np.allclose(t["losses/total"], 0.4 * path * (100 * t.sales + 10))


def test_table_and_choice_ranges_are_deterministic_across_executors(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES, "path": PATH})
    a = S.sensitivity(folder, "morris", 3, indicators=["losses/total"], executor="local", seed=7, progress=False)
    b = S.sensitivity(folder, "morris", 3, indicators=["losses/total"], executor="processes", workers=2, seed=7,
                      progress=False)
    assert a.table.drop(columns="seconds").equals(b.table.drop(columns="seconds"))
    mu = a.indices[a.indices["index"] == "mu_star"].set_index("factor").value
    assert mu["path"] > 0 and mu["sales"] > 0


@pytest.mark.parametrize("ranges, fragment", [
    ({"s": dict(SALES, where={"region": ["x"]})}, "column(s) ['region'] missing"),
    ({"s": dict(SALES, where={"product": ["c"]})}, "no row of data/demand.csv matches"),
    ({"s": dict(SALES, where={"product": "a"})}, "expected {dimension column: [values]}"),
    ({"s": dict(SALES, years=[2021])}, "expected [first year, last year]"),
    ({"s": {"keys": ["nodes.eol.to.landfill"], "factor": [0.5, 1], "where": {"product": ["a"]}}},
     "no key points at a table"),
    ({"s": {"keys": ["nodes.products.over"], "factor": [0.5, 1]}}, "a factor applies to a number or a table"),
    ({"p": {"choices": ["steady", "nowhere"]}}, "scenario 'nowhere'"),
    ({"p": {"choices": ["steady"]}}, "at least two choices"),
    ({"p": {"choices": ["steady", "high"], "nominal": "low"}}, "not one of the choices"),
    ({"p": {"choices": ["steady", "../x"]}}, "a choice is a scenario name"),
])
def test_bad_table_and_choice_ranges_are_refused_naming_the_range(tmp_path, ranges, fragment):
    folder = _instance(tmp_path, ranges)
    with pytest.raises((InstanceError, InstanceErrors)) as e:
        load(folder)
    assert "ranges." in str(e.value) and fragment in str(e.value)


def test_exclude_takes_patterns_and_comma_lists(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES, "path": PATH, "nodes.eol.to.landfill": [0.1, 0.3]})
    system = load(folder)
    assert list(S.factors(system, exclude=["nodes.*,path"])) == ["sales"]
    assert list(S.factors(system, exclude=["sal*"])) == ["nodes.eol.to.landfill", "path"]
    with pytest.raises(Exception, match="not ranges of the instance"):
        S.factors(system, exclude=["nowhere*"])


def test_indicator_of_one_year_is_refused_for_a_year_outside_the_model(tmp_path):
    folder = _instance(tmp_path, {"sales": SALES})
    with pytest.raises(Exception, match="model year"):
        S.sensitivity(folder, "oat", indicators=["dissipation/total@2030"], executor="local", progress=False)
