"""Every notebook runs from its own folder (as in Jupyter), is stored with its outputs, and
re-executing it reproduces the headline numbers stored in it."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))


def _build():
    spec = importlib.util.spec_from_file_location("notebooks_build", HERE / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_reproduces_its_stored_headline(path):
    build = _build()
    stored = nbformat.read(path, as_version=4)
    # committed with outputs: a reader of the repository sees the figures
    kinds = {o.get("output_type") for c in stored.cells if c.cell_type == "code" for o in c.get("outputs", [])}
    assert "display_data" in kinds or "execute_result" in kinds
    assert any("image/png" in o.get("data", {}) for c in stored.cells if c.cell_type == "code"
               for o in c.get("outputs", []))
    want = build.headline(stored)
    # the stored notebook is the one its make_*.py describes (sources in step)
    src = build.source(path.stem)
    assert [c.source for c in src.cells] == [c.source for c in stored.cells]
    # re-run from the notebook's own folder
    nb = build.execute(copy.deepcopy(src), cwd=path.parent)
    got = build.headline(nb)
    assert set(got) == set(want) and want
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-9), f"{path.name}: {k} (run python notebooks/build.py)"


def test_instance_dir_does_not_depend_on_the_current_folder(tmp_path, monkeypatch):
    import circopt

    monkeypatch.chdir(tmp_path)
    assert (circopt.instance_dir("japan_engines") / "instance.yaml").is_file()
    with pytest.raises(circopt.CircoptError, match="no bundled instance 'nope'"):
        circopt.instance_dir("nope")
