"""Dotted paths into an instance document (``nodes.use.lifetime.mean``): read, replace, and set a
range of estimates (``System.ranges``, parsed by :mod:`circopt.ranges`) to a value."""

from __future__ import annotations

import copy
import math
from typing import Any


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
