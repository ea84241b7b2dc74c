"""Scenarios: named overrides of an instance document, applied on load.

A scenario file ``scenarios/NAME.yaml`` overrides existing keys at top level, adds new ones
under ``add:``, replaces dotted keys under ``replace:`` and may ``extends:`` another scenario
(applied first). Files are read inside the instance folder only (:mod:`.files`).
"""

from __future__ import annotations

import copy
from pathlib import Path

from ..errors import InstanceError, excerpt
from . import checks
from .files import InstanceFiles, canonical_key


def _deep_merge_checked(base: dict, over: dict, path: str, where: str, *, must_exist: bool) -> None:
    for key, val in over.items():
        if key not in base and canonical_key(key) in base:  # '2020' overrides 2020
            key = canonical_key(key)
        kp = f"{path}.{key}" if path else str(key)
        if must_exist and key not in base:
            raise InstanceError(where, f"scenario overrides '{kp}', which does not exist in the instance",
                                expected="an existing key (use 'add:' for new keys)")
        if not must_exist and key in base and not (isinstance(val, dict) and isinstance(base[key], dict)):
            raise InstanceError(where, f"scenario adds '{kp}', which already exists",
                                expected="a new key (override existing keys at top level)")
        if isinstance(val, dict) and isinstance(base.get(key), dict):
            _deep_merge_checked(base[key], val, kp, where, must_exist=must_exist)
        else:
            base[key] = copy.deepcopy(val)


def apply_scenario(doc: dict, scen: dict, where: str) -> dict:
    """Apply a scenario document (``override`` at top level, ``add:``, ``replace:``)."""
    doc = copy.deepcopy(doc)
    if not isinstance(scen, dict):
        raise InstanceError(where, "a scenario file must be a mapping", type(scen).__name__)
    for key, val in scen.items():
        if key in ("description", "extends"):
            continue
        if key == "add":
            _deep_merge_checked(doc, val or {}, "", where, must_exist=False)
        elif key == "replace":
            for dotted, new in (val or {}).items():
                parts = str(dotted).split(".")
                tgt = doc
                for i, p in enumerate(parts):
                    if isinstance(tgt, dict) and p not in tgt:
                        p = canonical_key(p)  # 'nodes.eol.baseline.reuse.1' reaches the key 1
                    if not isinstance(tgt, dict) or p not in tgt:
                        raise InstanceError(where, f"scenario replaces {excerpt(dotted)}, which does not exist")
                    if i == len(parts) - 1:
                        tgt[p] = copy.deepcopy(new)
                    tgt = tgt[p]
        else:
            _deep_merge_checked(doc, {key: val}, "", where, must_exist=True)
    return doc


def scenario_names(path: str | Path) -> list[str]:
    d = Path(path) / "scenarios"
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_document(path: str | Path, scenario: str | None = None,
                  files: InstanceFiles | None = None) -> tuple[dict, Path, str]:
    """Read ``instance.yaml`` and apply a scenario. Returns (document, folder, content hash).

    Scenario files are read inside the folder only (``files`` records what was read)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    yml = folder / "instance.yaml"
    if not yml.is_file():
        raise InstanceError(str(folder), "no instance.yaml in this folder", expected="an instance folder")
    files = files or InstanceFiles(folder)
    doc = files.read_yaml("instance.yaml", str(yml), "instance.yaml")
    if not isinstance(doc, dict):
        raise InstanceError(str(yml), "the instance must be a YAML mapping", type(doc).__name__)
    if scenario:
        chain, name, where = [], scenario, "--scenario"
        while name:
            if checks.bad_name(name):
                raise InstanceError(where, "a scenario is named by its file in scenarios/ (without .yaml)",
                                    excerpt(name), expected=checks.NAME_RULE)
            sp = folder / "scenarios" / f"{name}.yaml"
            if not _is_file(sp):
                raise InstanceError(str(folder / "scenarios"), f"unknown scenario '{name}'",
                                    expected=f"one of {scenario_names(folder)}")
            sd = files.read_yaml(f"scenarios/{name}.yaml", where, "scenario file")
            chain.append((sd, str(sp)))
            name = sd.get("extends") if isinstance(sd, dict) else None
            where = f"{sp}: extends"
            if len(chain) > 20:
                raise InstanceError(str(sp), "scenario 'extends' chain is circular")
        for sd, sp in reversed(chain):
            doc = apply_scenario(doc, sd, sp)
    return doc, folder, files.content_hash()


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False for a name the file system refuses (e.g. too long)."""
    try:
        return path.is_file()
    except OSError:
        return False
