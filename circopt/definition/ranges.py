"""Ranges of estimates (sensitivity, Monte Carlo) and dotted paths into an instance document."""

from __future__ import annotations

import copy
import math
from typing import Any


def ranges(b, rdoc: dict) -> dict[str, dict]:
    """``dotted.key: [low, high]`` for one number, or ``name: {keys: [...], factor: [low, high]}``
    to scale several numbers together (one assumption written in several places)."""
    if not isinstance(rdoc, dict):
        b.err("ranges", "expected a mapping", rdoc)
        return {}
    out: dict[str, dict] = {}
    for name, spec in rdoc.items():
        if isinstance(spec, dict):
            keys, lohi, kind = spec.get("keys"), spec.get("factor"), "factor"
            if set(spec) - {"keys", "factor", "description"} or not isinstance(keys, list) or not keys:
                b.err(f"ranges.{name}", "expected {keys: [dotted keys], factor: [low, high]}", spec)
                continue
        else:
            keys, lohi, kind = [name], spec, "value"
        if not isinstance(lohi, list) or len(lohi) != 2 or not all(is_number(x) for x in lohi):
            b.err(f"ranges.{name}", "expected [low, high]", lohi)
            continue
        if lohi[0] > lohi[1]:
            b.err(f"ranges.{name}", "low above high", lohi)
            continue
        ok = True
        for dotted in keys:
            try:
                cur = get_dotted(b.doc, str(dotted))
            except KeyError:
                b.err(f"ranges.{name}", "the key does not exist in the instance", dotted)
                ok = False
                continue
            if not is_number(cur):
                b.err(f"ranges.{name}", f"a range applies to a number in the instance ({dotted})", cur)
                ok = False
        if ok:
            out[str(name)] = {"keys": [str(k) for k in keys], "kind": kind,
                                        "low": float(lohi[0]), "high": float(lohi[1])}
    return out


def _step(cur: Any, p: str):
    """One step of a dotted path: a mapping key (also as an integer, e.g. a life or a year) or a list index."""
    if isinstance(cur, dict):
        if p in cur:
            return p
        try:
            if int(p) in cur:
                return int(p)
        except ValueError:
            pass
    elif isinstance(cur, list):
        try:
            if 0 <= int(p) < len(cur):
                return int(p)
        except ValueError:
            pass
    raise KeyError(p)


def get_dotted(doc: dict, dotted: str) -> Any:
    cur = doc
    for p in dotted.split("."):
        cur = cur[_step(cur, p)]
    return cur


def set_dotted(doc: dict, dotted: str, value: Any) -> dict:
    """Copy of ``doc`` with the value at ``dotted`` replaced (used by sensitivity studies)."""
    doc = copy.deepcopy(doc)
    parts = dotted.split(".")
    cur = doc
    for p in parts[:-1]:
        cur = cur[_step(cur, p)]
    cur[_step(cur, parts[-1])] = value
    return doc


def apply_range(doc: dict, rng: dict, x: float) -> dict:
    """Copy of ``doc`` with a range entry (from ``System.ranges``) set to ``x``: the value itself
    for a one-key range, or every key scaled by the factor ``x``."""
    for k in rng["keys"]:
        doc = set_dotted(doc, k, x if rng["kind"] == "value" else get_dotted(doc, k) * x)
    return doc


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
