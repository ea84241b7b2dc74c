"""Scenario names the file system refuses are an unknown scenario, not an OSError
(found by tests/test_fuzz.py::test_paths_are_confined: a 300-character 'extends')."""

from __future__ import annotations

import pytest
import yaml

import circopt
from circopt.errors import InstanceError


@pytest.mark.parametrize("via_extends", [False, True])
def test_a_scenario_name_too_long_for_the_file_system_is_unknown(toy_copy, via_extends):
    name = "x" * 300  # longer than a file name may be (255 bytes)
    if via_extends:
        (toy_copy / "scenarios" / "fz.yaml").write_text(yaml.safe_dump({"extends": name}))
    with pytest.raises(InstanceError) as ei:
        circopt.load(toy_copy, "fz" if via_extends else name)
    assert "unknown scenario" in str(ei.value) and "scenarios" in ei.value.where
