"""The instance-format reference and the loader stay in step: every documented key is
accepted, every accepted key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from circopt.definition.schema import COMPOSITION_TABLE_KEYS, RECIPE_KEYS
from circopt.instance import BLEND_OUTPUT_KEYS, COMMON_KEYS, NODE_KEYS, STREAM_KEYS, TOP_KEYS

DOC = Path(__file__).resolve().parents[1] / "docs" / "instance-format.md"


def _sections() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## ") or line.startswith("Blend output keys"):
            current = line.lstrip("# ").strip().rstrip(":")
            out.setdefault(current, set())
        m = re.match(r"^\| `([a-z_0-9]+)` \|", line)
        if m and current:
            out[current].add(m.group(1))
    return out


SECTIONS = _sections()


def test_top_level_keys():
    assert SECTIONS["Top-level keys"] == set(TOP_KEYS)


def test_stream_keys():
    assert SECTIONS["Compositions"] == STREAM_KEYS


def test_composition_table_keys():
    assert SECTIONS["Composition tables"] == COMPOSITION_TABLE_KEYS


def test_recipe_keys():
    assert SECTIONS["Composition recipes"] == RECIPE_KEYS


def test_common_node_keys():
    assert SECTIONS["Keys of every node"] == COMMON_KEYS


@pytest.mark.parametrize("kind", sorted(NODE_KEYS))
def test_node_kind_keys(kind):
    documented = SECTIONS[f"Node kind: {kind}"] | COMMON_KEYS
    assert documented == NODE_KEYS[kind]


def test_blend_output_keys():
    assert SECTIONS["Blend output keys"] == BLEND_OUTPUT_KEYS


def test_cli_reference_is_generated_from_the_cli(monkeypatch):
    import importlib.util

    monkeypatch.setenv("COLUMNS", "100")
    spec = importlib.util.spec_from_file_location("gen_cli", DOC.parent / "gen_cli.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (DOC.parent / "cli.md").read_text() == mod.render(), "run: COLUMNS=100 python docs/gen_cli.py"
