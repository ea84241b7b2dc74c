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
              {"file": "missing.csv"}, {"nope": 1}, "data/missing.csv", 1e300, {2000: "x"}, [0.5], [[0.1, 0.2]]]


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
