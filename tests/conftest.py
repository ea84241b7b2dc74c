"""Shared test helpers: copy an instance to a temporary folder and edit it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"


def copy_instance(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(INSTANCES / name, target)
    return target


def edit_yaml(path: Path, fn) -> None:
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture
def toy_copy(tmp_path) -> Path:
    return copy_instance("toy", tmp_path)
