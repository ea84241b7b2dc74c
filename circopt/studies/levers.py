"""Levers declared in an instance (``levers:``), validated, and the constraints of a configuration."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CircoptError, InstanceError

if TYPE_CHECKING:
    from ..system import System

LEVER_KEYS = {"description", "cost", "baseline", "ambitious", "source"}


@dataclass
class Lever:
    name: str
    description: str
    cost: float
    baseline: list[dict]
    ambitious: list[dict]


def levers(system: System) -> dict[str, Lever]:
    """The instance's levers, validated (unknown keys, missing settings, negative cost)."""
    out = {}
    where = f"{system.path or system.name}/instance.yaml: levers"
    for name, spec in (system.levers or {}).items():
        if not isinstance(spec, dict):
            raise InstanceError(f"{where}.{name}", "expected {description, cost, baseline, ambitious}", spec)
        bad = set(spec) - LEVER_KEYS
        if bad:
            raise InstanceError(f"{where}.{name}", f"unknown keys {sorted(bad)}", expected=f"{sorted(LEVER_KEYS)}")
        for k in ("baseline", "ambitious"):
            v = spec.get(k, [])
            if not isinstance(v, list) or not all(isinstance(c, dict) and "type" in c for c in v):
                raise InstanceError(f"{where}.{name}.{k}", "expected a list of constraints ({type: ...})", v)
        if not spec.get("ambitious") and not spec.get("baseline"):
            raise InstanceError(f"{where}.{name}", "a lever needs a baseline or an ambitious setting (an empty "
                                "one means: the instance's own bounds)")
        cost = spec.get("cost", 0.0)
        if not isinstance(cost, (int, float)) or isinstance(cost, bool) or not math.isfinite(cost) or cost < 0:
            raise InstanceError(f"{where}.{name}.cost", "expected a number >= 0", cost)
        out[name] = Lever(name, str(spec.get("description", "")), float(cost),
                          copy.deepcopy(spec.get("baseline", [])), copy.deepcopy(spec.get("ambitious", [])))
    return out


def lever_constraints(lv: dict[str, Lever], adopted: Iterable[str]) -> list[dict]:
    """Constraints of a configuration: ambitious for adopted levers, baseline for the others."""
    adopted = set(adopted)
    unknown = adopted - set(lv)
    if unknown:
        raise CircoptError(f"unknown lever(s) {sorted(unknown)}; levers: {sorted(lv)}")
    cons = []
    for name, L in lv.items():
        for c in (L.ambitious if name in adopted else L.baseline):
            cons.append({**c, "description": f"lever {name} ({'ambitious' if name in adopted else 'baseline'})"})
    return cons
