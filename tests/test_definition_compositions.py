"""Named compositions read from a table (``compositions: {file: data/x.csv, index: name}``):
the same System as the compositions written inline, and clear errors for bad tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import circopt
from circopt.errors import InstanceError

from .conftest import edit_yaml

TABLE = "name,Fe,Ni,source,description\nalloy_steel,0.9,0.1,estimate,stainless-like\npure_iron,1.0,0,estimate,\n"


def _use_table(inst: Path, text: str, ref: dict | None = None) -> None:
    (inst / "data" / "compositions.csv").write_text(text)
    edit_yaml(inst / "instance.yaml",
              lambda d: d.__setitem__("compositions", ref or {"file": "data/compositions.csv", "index": "name"}))


def test_a_table_gives_the_system_of_the_inline_compositions(toy_copy):
    inline = circopt.load(toy_copy)
    _use_table(toy_copy, TABLE)
    tabled = circopt.load(toy_copy)
    prod = tabled.nodes[tabled.node_id("production")]
    assert np.array_equal(prod.composition, np.tile([0.9, 0.1, 0.0], (10, 1)))  # Fe, Ni, other: every year
    for a, b in zip(inline.nodes, tabled.nodes):
        for field in ("composition", "history"):
            x, y = getattr(a, field), getattr(b, field)
            assert (x is None and y is None) or np.array_equal(x, y), (a.name, field)
    ra, rb = circopt.simulate(inline), circopt.simulate(tabled)
    assert np.array_equal(ra.flows, rb.flows)
    assert tabled.content_hash != inline.content_hash  # the table is part of what was read


def test_a_named_index_column_and_one_source_for_every_row(toy_copy):
    _use_table(toy_copy, "alloy,Ni,Fe\nalloy_steel,0.2,0.7\npure_iron,0,1\n",
               {"file": "data/compositions.csv", "index": "alloy", "source": "estimate"})
    s = circopt.load(toy_copy)
    comp = s.nodes[s.node_id("production")].composition
    assert comp[0] == pytest.approx([0.7, 0.2, 0.1], abs=1e-15)  # columns by name; the rest is 'other'


@pytest.mark.parametrize("text, fragments", [
    ("name,Fe,source\nalloy_steel,0.9,estimate\npure_iron,1,estimate\n", ["compositions.csv", "column 'Ni' missing"]),
    ("alloy,Fe,Ni,source\nalloy_steel,0.9,0.1,estimate\n", ["compositions.csv", "column 'name' missing"]),
    ("name,Fe,Ni\nalloy_steel,0.9,0.1\n", ["column 'source' missing"]),
    ("name,Fe,Ni,source,Cr\nalloy_steel,0.9,0.1,estimate,0\n", ["unknown column 'Cr'"]),
    ("name,Fe,Ni,source\nalloy_steel,0.9,ten,estimate\npure_iron,1,0,estimate\n",
     ["compositions.csv", "composition 'alloy_steel'", "mass fraction of Ni is not a number", "ten"]),
    ("name,Fe,Ni,source\nalloy_steel,0.9,,estimate\npure_iron,1,0,estimate\n",
     ["composition 'alloy_steel'", "mass fraction of Ni is not a number"]),
    ("name,Fe,Ni,source\nalloy_steel,0.95,0.1,estimate\npure_iron,1,0,estimate\n",
     ["compositions.csv", "composition 'alloy_steel' above 100 %", "1.05"]),
    ("name,Fe,Ni,source\nalloy_steel,1.1,-0.1,estimate\npure_iron,1,0,estimate\n", ["outside [0, 1]"]),
    ("name,Fe,Ni,source\nalloy_steel,0.9,0.1,estimate\nalloy_steel,1,0,estimate\n", ["given twice"]),
    ("name,Fe,Ni,source\nalloy_steel,0.9,0.1,handbook\npure_iron,1,0,estimate\n",
     ["unknown source id for composition 'alloy_steel'", "handbook"]),
    ("name,Fe,Ni,source\nalloy steel,0.9,0.1,estimate\n", ["a composition name", "alloy steel"]),
])
def test_bad_tables_are_refused_with_the_file_and_what_was_expected(toy_copy, text, fragments):
    _use_table(toy_copy, text)
    with pytest.raises(InstanceError) as ei:
        circopt.load(toy_copy)
    msg = str(ei.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"


def test_a_table_reference_has_known_keys_and_stays_inside_the_folder(toy_copy):
    _use_table(toy_copy, TABLE, {"file": "data/compositions.csv", "index": "name", "sheet": 1})
    with pytest.raises(InstanceError, match="compositions.sheet"):
        circopt.load(toy_copy)
    (toy_copy.parent / "outside.csv").write_text(TABLE)
    _use_table(toy_copy, TABLE, {"file": "../outside.csv"})
    with pytest.raises(InstanceError) as ei:
        circopt.load(toy_copy)
    assert "compositions.file" in str(ei.value) and "name,Fe" not in str(ei.value)  # no file contents quoted
