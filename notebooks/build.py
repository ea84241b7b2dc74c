"""Regenerate the notebooks WITH their outputs (figures, tables, headline numbers).

    python notebooks/build.py              # every notebook
    python notebooks/build.py quickstart   # one

Each notebook's source is ``make_NAME.py`` (reviewable code); it is executed here in a
Jupyter kernel from this folder, as a reader would run it, and written back with its
outputs. The last cell of each prints its headline numbers, which tests/test_notebooks.py
re-computes and compares. Needs the ``notebooks`` extra: ``pip install -e '.[notebooks]'``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("quickstart", "japan_engines", "japan_engine_system", "global_aluminium", "regional_aluminium")


def source(name: str):
    """The notebook (without outputs) that make_NAME.py describes."""
    return runpy.run_path(str(HERE / f"make_{name}.py"), run_name="circopt_notebook_source")["nb"]


def execute(nb, cwd: Path = HERE, timeout: int = 900):
    """Run a notebook in a fresh kernel started in ``cwd`` (figures inline, as in Jupyter)."""
    from nbclient import NotebookClient

    saved = os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"the notebook failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    return nb


def headline(nb) -> dict[str, float]:
    """The numbers printed by the cell tagged 'headline'."""
    for c in nb.cells:
        if "headline" in c.get("metadata", {}).get("tags", []):
            text = "".join(o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") == "stream")
            return json.loads(text)
    raise KeyError("no cell tagged 'headline'")


def build(name: str) -> Path:
    import nbformat

    nb = execute(source(name))
    out = HERE / f"{name}.ipynb"
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    failed = []
    for name in sys.argv[1:] or NAMES:
        try:
            path = build(name)
        except Exception as e:  # noqa: BLE001 - report every notebook, then fail
            failed.append(name)
            print(f"{name}: not regenerated ({type(e).__name__}: {str(e)[:300]})", file=sys.stderr)
            continue
        print(f"wrote {path.relative_to(HERE.parent)}: {json.dumps(headline(__import__('nbformat').read(path, 4)))}")
    sys.exit(1 if failed else 0)
