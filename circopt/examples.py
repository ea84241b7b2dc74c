"""Where the bundled instances are, from wherever Python runs (repository root, notebooks/,
a Jupyter server started elsewhere)."""

from __future__ import annotations

from pathlib import Path

from .errors import CircoptError

#: the repository's instances folder (next to the package in a checkout or editable install)
INSTANCES = Path(__file__).resolve().parents[1] / "instances"


def instance_dir(name: str) -> Path:
    """The folder of a bundled instance (``japan_engines``, ``global_aluminium``, ``toy``): found
    next to the circopt package, so it does not depend on the current directory."""
    for base in (INSTANCES, Path.cwd() / "instances", Path.cwd().parent / "instances"):
        folder = base / name
        if (folder / "instance.yaml").is_file():
            return folder
    found = sorted(p.name for p in INSTANCES.glob("*/instance.yaml")) if INSTANCES.is_dir() else []
    raise CircoptError(f"no bundled instance '{name}' (looked in {INSTANCES}); instances: {found or 'none'} -- "
                       "install circopt from a checkout of the repository (pip install -e '.[notebooks]')")
