"""Fuzzing: random valid instances simulate with closed audits; random invalid ones fail
with a circopt error (an InstanceError or SimulationError naming the problem), never with
a traceback from inside numpy, pandas or Pyomo."""

from __future__ import annotations

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circopt
from circopt.errors import CircoptError
from circopt.instance import load_document

from .netgen import random_instance, write_sources

BAD_VALUES = [None, "text", [], {}, [1, 2, 3], -1, -0.5, 1.5, 2, 0, math.nan, math.inf, -math.inf, True,
              {"file": "missing.csv"}, {"nope": 1}, "data/missing.csv", 1e300, {2000: "x"}, [0.5], [[0.1, 0.2]],
              # issue 11: paths out of the folder, huge numbers, years and keys, fills, unsafe names
              "/etc/passwd", "../../etc/passwd", {"file": "/proc/self/environ"}, {"file": "../x.csv"}, 1.7e308,
              10 ** 400, {2000: 1.0}, {2000.5: 1.0, "fill": "zero"}, {2000: 1.0, "2000": 2.0, "fill": "hold"},
              {2000: 1.0, "fill": "sideways"}, "=cmd", "a,b", "@x"]


def _paths(doc, prefix=()):
    """Every path to a value in the document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def _delete(doc, path):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if isinstance(cur, dict):
        del cur[path[-1]]
    else:
        cur.pop(path[-1])


TOY_DOC, TOY_DIR, _ = load_document("instances/toy")


@st.composite
def mutated_instance(draw, base=None):
    doc = draw(random_instance()) if base is None else base
    doc = copy.deepcopy(doc)
    paths = list(_paths(doc))
    n = draw(st.integers(1, 3))
    for _ in range(n):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "delete", "rename"]))
        try:
            if action == "set":
                _set(doc, path, copy.deepcopy(draw(st.sampled_from(BAD_VALUES))))
            elif action == "delete":
                _delete(doc, path)
            else:
                _set(doc, path, draw(st.sampled_from(["use", "eol", "proc", "ghost", "use.next_life", "eol[9]"])))
        except (KeyError, IndexError, TypeError):
            pass
    return doc


def _check(doc, folder):
    try:
        system = circopt.build(doc, folder)
        res = circopt.simulate(system)
    except CircoptError as e:
        assert str(e)  # a message naming the problem
        return
    assert res.max_relative_imbalance <= 1e-9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(doc=mutated_instance())
def test_invalid_instances_fail_cleanly(doc, tmp_path_factory):
    _check(doc, write_sources(tmp_path_factory.mktemp("fz")))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(doc=mutated_instance(base=TOY_DOC))
def test_invalid_toy_variants_fail_cleanly(doc):
    _check(doc, TOY_DIR)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instance())
def test_valid_instances_simulate_with_closed_audit(doc, tmp_path_factory):
    res = circopt.simulate(circopt.build(doc, write_sources(tmp_path_factory.mktemp("ok"))))
    assert res.max_relative_imbalance <= 1e-9


# ---------------------------------------------------------------------------------------
# paths: whatever a file key names, nothing outside the instance folder is ever read
# ---------------------------------------------------------------------------------------
SEGMENTS = ["..", ".", "data", "production.csv", "sources.csv", "scenarios", "more_reuse.yaml", "outside.csv",
            "link.csv", "linkdir", "", "~", "/", "\\", "C:", "%2e%2e", "\x00", "..\\..", " ", "*", "x" * 300]


@st.composite
def path_strings(draw):
    parts = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6))
    sep = draw(st.sampled_from(["/", "\\", "//"]))
    lead = draw(st.sampled_from(["", "/", "./", "../", "~/", "/proc/self/"]))
    return lead + sep.join(parts)


def _recording_reads(monkeypatch) -> list:
    """Record every path opened through pathlib or pandas while loading."""
    import pathlib

    import pandas as pd

    seen: list = []
    for name in ("read_bytes", "read_text"):
        orig = getattr(pathlib.Path, name)

        def wrapped(self, *a, _orig=orig, **kw):
            seen.append(pathlib.Path(self))
            return _orig(self, *a, **kw)
        monkeypatch.setattr(pathlib.Path, name, wrapped)
    orig_csv = pd.read_csv

    def read_csv(src, *a, **kw):
        if isinstance(src, (str, pathlib.Path)):
            seen.append(pathlib.Path(src))
        return orig_csv(src, *a, **kw)
    monkeypatch.setattr(pd, "read_csv", read_csv)
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(path=path_strings(), where=st.sampled_from(["file", "sources", "extends", "history"]))
def test_paths_are_confined(path, where, tmp_path_factory, monkeypatch):
    import os
    import shutil

    import yaml

    from circopt.errors import InstanceError

    root = tmp_path_factory.mktemp("paths")
    inst = root / "toy"
    shutil.copytree(TOY_DIR, inst)
    (root / "outside.csv").write_text("year,value,unit\n" + "".join(f"{y},777,kt\n" for y in range(2020, 2030)))
    os.symlink(root / "outside.csv", inst / "link.csv")
    os.symlink(root, inst / "linkdir")
    doc = yaml.safe_load((inst / "instance.yaml").read_text())
    scenario = None
    if where == "file":
        doc["nodes"]["production"]["series"] = {"file": path}
    elif where == "sources":
        doc["sources"] = path
    elif where == "history":
        doc["nodes"]["in_use"].update(history=path, history_stream="alloy_steel")
    else:
        (inst / "scenarios" / "fz.yaml").write_text(yaml.safe_dump({"extends": path}))
        scenario = "fz"
    (inst / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    seen = _recording_reads(monkeypatch)
    base = inst.resolve()
    try:
        system = circopt.load(inst, scenario)
    except InstanceError as e:
        assert len(str(e)) < 2000 and "777" not in str(e)
    else:
        assert 777 not in (system.nodes[0].series if system.nodes[0].series is not None else [])
    finally:
        monkeypatch.undo()
    outside = [p for p in seen if base not in p.resolve().parents]
    assert not outside, f"read outside the instance folder: {outside}"
