"""Compositions mixed from a recipe (``compositions: {NAME: {recipe: {file, index}, of: TABLE}}``)
and named composition tables picked member by member: hand-worked numbers on a small instance,
the same System as the compositions written inline, and clear errors before any node is built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import circopt
from circopt.errors import InstanceError

# two alloys (Si, Cu; the rest 'other') and two products: car = 0.3 A + 0.7 B, can = A only
ALLOYS = "alloy,Si,Cu,description\nA,0.10,0,a cast alloy\nB,0.02,0.04,a wrought alloy\n"
RECIPES = "product,A,B\ncar,0.3,0.7\ncan,1.0,0\n"
CAR = [0.3 * 0.10 + 0.7 * 0.02, 0.7 * 0.04, 1 - 0.044 - 0.028]  # Si 0.044, Cu 0.028, other 0.928
CAN = [0.10, 0.0, 0.90]


def _doc() -> dict:
    return {
        "name": "recipes", "unit": "t", "years": [2020, 2022], "elements": ["Si", "Cu"],
        "dimensions": {"region": ["X", "Y"], "product": ["car", "can"], "alloy": ["A", "B"]},
        "compositions": {
            "alloy_typical": {"file": "data/alloys.csv", "index": "alloy", "source": "HANDBOOK"},
            "product_mix": {"recipe": {"file": "data/recipes.csv", "index": "product"}, "of": "alloy_typical",
                            "source": ["HANDBOOK", "estimate"]},
        },
        "nodes": {
            "products": {"kind": "source", "over": ["region", "product"], "composition": "product_mix",
                         "series": 10.0, "to": "use", "source": "estimate"},
            "use": {"kind": "stock", "over": ["region", "product"], "lifetime": {"model": "fixed", "mean": 2},
                    "history": "data/history.csv", "history_composition": "product_mix", "to": "scrap",
                    "source": "estimate"},
            "ingots": {"kind": "source", "over": ["alloy"], "composition": "alloy_typical", "series": 1.0,
                       "to": "scrap", "source": "estimate"},
            "scrap": {"kind": "sink", "loss": "unspecified"},
        },
    }


def _write(folder: Path, doc: dict | None = None, alloys: str = ALLOYS, recipes: str | None = RECIPES) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "sources.csv").write_text("source_id,citation\nHANDBOOK,an alloy handbook\n")
    (folder / "data" / "alloys.csv").write_text(alloys)
    if recipes is not None:
        (folder / "data" / "recipes.csv").write_text(recipes)
    (folder / "data" / "history.csv").write_text("year,value\n2018,4\n2019,6\n")
    (folder / "instance.yaml").write_text(yaml.safe_dump(doc or _doc(), sort_keys=False))
    return folder


def _comp(system, name: str) -> np.ndarray:
    return system.nodes[system.node_id(name)].composition


def test_a_recipe_mixes_the_alloys_compositions_by_hand(tmp_path):
    s = circopt.load(_write(tmp_path))
    for region in ("X", "Y"):  # the member's product picks its row, whatever its region
        assert _comp(s, f"products[{region},car]") == pytest.approx(np.tile(CAR, (3, 1)), abs=1e-15)
        assert _comp(s, f"products[{region},can]") == pytest.approx(np.tile(CAN, (3, 1)), abs=1e-15)
    hist = s.nodes[s.node_id("use[X,car]")].history  # inflow 4 t and 6 t at the car's composition
    assert hist == pytest.approx(np.array([[4.0], [6.0]]) * np.array(CAR), abs=1e-14)
    # a named table picked directly by a family over its dimension
    assert _comp(s, "ingots[A]")[0] == pytest.approx([0.10, 0.0, 0.90], abs=1e-15)
    assert _comp(s, "ingots[B]")[0] == pytest.approx([0.02, 0.04, 0.94], abs=1e-15)


def test_a_recipe_gives_the_system_of_the_same_compositions_written_inline(tmp_path):
    mixed = circopt.load(_write(tmp_path / "mixed"))
    doc = _doc()
    doc["compositions"] = {
        "car": {"composition": {"Si": 0.044, "Cu": 0.028}, "source": "estimate"},
        "can": {"composition": {"Si": 0.10}, "source": "estimate"},
        "A": {"composition": {"Si": 0.10}, "source": "estimate"},
        "B": {"composition": {"Si": 0.02, "Cu": 0.04}, "source": "estimate"},
    }
    doc["nodes"]["products"] = {**doc["nodes"]["products"], "composition": {
        "Si": {"car": 0.044, "can": 0.10}, "Cu": {"car": 0.028, "can": 0.0}}}
    doc["nodes"]["use"]["history_composition"] = {"car": "car", "can": "can"}
    doc["nodes"]["ingots"] = {**doc["nodes"]["ingots"], "composition": {
        "Si": {"A": 0.10, "B": 0.02}, "Cu": {"A": 0.0, "B": 0.04}}}
    inline = circopt.load(_write(tmp_path / "inline", doc))
    worst = 0.0
    for a, b in zip(mixed.nodes, inline.nodes):
        assert a.name == b.name
        for field in ("composition", "history"):
            x, y = getattr(a, field), getattr(b, field)
            assert (x is None) == (y is None), (a.name, field)
            if x is not None:
                worst = max(worst, float(np.abs(x - y).max()))
    assert worst <= 1e-15
    ra, rb = circopt.simulate(mixed), circopt.simulate(inline)
    assert np.abs(ra.flows.value.values - rb.flows.value.values).max() <= 1e-12


def test_shares_within_the_tolerance_and_left_out_alloys_are_accepted(tmp_path):
    s = circopt.load(_write(tmp_path, recipes="product,B,A\ncar,0.7000000004,0.3\ncan,0,1\n"))
    assert _comp(s, "products[X,car]")[0, 0] == pytest.approx(0.044, abs=1e-10)
    s = circopt.load(_write(tmp_path, recipes="product,A\ncar,1\ncan,1\n"))  # B left out: share 0
    assert _comp(s, "products[X,car]")[0] == pytest.approx(CAN, abs=1e-15)



def _assert_refused(folder, fragments: list[str]) -> None:
    """Loading ``folder`` raises an InstanceError whose message holds every fragment."""
    with pytest.raises(InstanceError) as ei:
        circopt.load(folder)
    msg = str(ei.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"

@pytest.mark.parametrize("recipes, fragments", [
    ("product,A,B\ncar,0.3,0.6\ncan,1,0\n",
     ["recipes.csv", "recipe 'car': the shares do not sum to 1", "got '0.9'", "summing to 1 (within 1e-09)"]),
    ("product,A,B\ncar,0.3,0.7000001\ncan,1,0\n", ["recipe 'car'", "do not sum to 1", "1.0000001"]),
    ("product,A,C\ncar,0.3,0.7\ncan,1,0\n",
     ["recipes.csv", "unknown composition 'C'", "not a row of 'alloy_typical'", "alloys.csv", "['A', 'B']"]),
    ("name,A,B\ncar,0.3,0.7\n", ["recipes.csv", "column 'product' missing", "['name', 'A', 'B']"]),
    ("product,A,B\ncar,0.3,seven\ncan,1,0\n", ["recipe 'car': the share of B is not a number", "seven"]),
    ("product,A,B\ncar,1.3,-0.3\ncan,1,0\n", ["recipe 'car': the share of A is outside [0, 1]", "1.3"]),
    ("product,A,B\ncar,0.3,0.7\ncar,1,0\n", ["recipe 'car' is given twice"]),
    ("product\ncar\n", ["recipe table: no share column"]),
])
def test_bad_recipes_are_refused_with_the_file_row_value_and_what_was_expected(tmp_path, recipes, fragments):
    _assert_refused(_write(tmp_path, recipes=recipes), fragments)


def _edited(fn) -> dict:
    doc = _doc()
    fn(doc)
    return doc


@pytest.mark.parametrize("edit, fragments", [
    (lambda d: d["compositions"]["product_mix"].__setitem__("of", "alloys"),
     ["compositions.product_mix.of", "unknown composition table", "alloys", "['alloy_typical']"]),
    (lambda d: d["compositions"]["product_mix"].pop("of"),
     ["compositions.product_mix.of", "required key missing", "the name of a composition table"]),
    (lambda d: d["compositions"].__setitem__("pure", {"composition": {"Si": 1.0}, "source": "estimate"})
     or d["compositions"]["product_mix"].__setitem__("of", "pure"),
     ["compositions.product_mix.of", "names a composition, not a composition table", "pure"]),
    (lambda d: d["compositions"].__setitem__("mix2", {"recipe": {"file": "data/recipes.csv", "index": "product"},
                                                       "of": "product_mix", "source": "estimate"}),
     ["compositions.mix2.of", "names a recipe, not a composition table"]),
    (lambda d: d["compositions"]["product_mix"].pop("source"),
     ["compositions.product_mix.source", "every composition cites a source"]),
    (lambda d: d["compositions"]["product_mix"].__setitem__("source", "handbook"),
     ["compositions.product_mix.source", "unknown source id", "handbook"]),
    (lambda d: d["compositions"]["product_mix"].__setitem__("shares", 1),
     ["compositions.product_mix.shares", "unknown key in a recipe", "['description', 'of', 'recipe', 'source']"]),
    (lambda d: d["compositions"]["product_mix"]["recipe"].__setitem__("sheet", 1),
     ["compositions.product_mix.recipe.sheet", "unknown key in a recipe table reference"]),
    (lambda d: d["compositions"]["product_mix"].__setitem__("recipe", "data/recipes.csv"),
     ["compositions.product_mix.recipe", "expected a table reference {file: data/recipes.csv"]),
    (lambda d: d["compositions"]["product_mix"]["recipe"].__setitem__("file", "data/missing.csv"),
     ["compositions.product_mix.recipe.file", "missing.csv"]),
])
def test_bad_recipe_entries_are_refused_with_the_key(tmp_path, edit, fragments):
    _assert_refused(_write(tmp_path, _edited(edit)), fragments)


def test_a_missing_recipe_file_is_named(tmp_path):
    with pytest.raises(InstanceError) as ei:
        circopt.load(_write(tmp_path, recipes=None))
    assert "compositions.product_mix.recipe.file" in str(ei.value) and "recipes.csv" in str(ei.value)


def test_recipe_problems_are_found_before_any_node_is_built(tmp_path):
    doc = _edited(lambda d: d["nodes"]["products"].__setitem__("colour", "red"))
    with pytest.raises(InstanceError) as ei:
        circopt.load(_write(tmp_path, doc, recipes="product,A,B\ncar,0.5,0.6\ncan,1,0\n"))
    msg = str(ei.value)
    assert "recipe 'car': the shares do not sum to 1" in msg and "1.1" in msg
    assert "colour" not in msg  # the nodes were not read: the compositions' problems come first


@pytest.mark.parametrize("edit, fragments", [
    (lambda d: d["nodes"]["products"].__setitem__("over", ["region"]),
     ["nodes.products.composition", "composition table 'product_mix' has one row per product",
      "not over 'product'"]),
    (lambda d: d["dimensions"]["product"].append("bike"),
     ["nodes.products.composition", "has no row for product 'bike'", "a row 'bike' in its column 'product'"]),
    (lambda d: d["nodes"]["use"].__setitem__("history_composition", "alloy_typical"),
     ["nodes.use.history_composition", "composition table 'alloy_typical' has one row per alloy"]),
    (lambda d: d["nodes"]["products"].__setitem__("composition", "product_mixx"),
     ["nodes.products.composition", "unknown composition", "product_mixx", "['alloy_typical', 'product_mix']"]),
])
def test_a_node_naming_a_composition_table_needs_its_dimension_and_row(tmp_path, edit, fragments):
    _assert_refused(_write(tmp_path, _edited(edit)), fragments)


def test_a_named_table_accepts_a_list_of_sources_and_checks_its_rows(tmp_path):
    doc = _edited(lambda d: d["compositions"]["alloy_typical"].__setitem__("source", ["HANDBOOK", "estimate"]))
    s = circopt.load(_write(tmp_path, doc))
    assert _comp(s, "ingots[B]")[0, 1] == pytest.approx(0.04, abs=1e-15)
    with pytest.raises(InstanceError) as ei:
        circopt.load(_write(tmp_path, doc, alloys="alloy,Si,Cu\nA,0.10,0\nB,0.98,0.04\n"))
    assert "alloys.csv" in str(ei.value) and "composition 'B' above 100 %" in str(ei.value)
