"""The instance schema: the keys the loader accepts, their canonical spellings, the
top-level header.

``TOP_KEYS`` / ``NODE_KEYS`` / ``BLEND_OUTPUT_KEYS`` / ``STREAM_KEYS`` are what the loader
accepts; ``docs/instance-format.md`` documents each of them (``tests/test_docs.py`` keeps the
two in step). ``DEPRECATED`` maps old spellings to the new ones (accepted with a
FutureWarning); ``REMOVED_KEYS`` are refused with what to write instead.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import InstanceError
from ..system import OTHER
from . import checks

#: tolerance on sums that must be 1 (transfer coefficients, shares, compositions)
SUM_TOL = 1e-9

TOP_KEYS = {
    "name": "str, required",
    "description": "str",
    "unit": "str, required: mass unit of every flow and stock (t, kt, Mt, kg)",
    "years": "[first, last], required: inclusive model years",
    "elements": "list of str, required: tracked elements",
    "timing": "end | middle: lifetime timing convention (default end, ODYM-exact)",
    "dimensions": "mapping dim -> list of values",
    "compositions": "mapping name -> {composition, source} | {file, index, source} (a composition table) | "
                    "{recipe: {file, index}, of: TABLE, source} (mixed from a table); or one {file, index}: "
                    "named compositions",
    "streams": "deprecated name of 'compositions'",
    "nodes": "mapping name -> node, required",
    "sources": "path of the sources table (default sources.csv)",
    "constraints": "list of user constraints for the optimiser",
    "levers": "mapping name -> lever",
    "indicators": "list of user-declared indicators (circopt.indicators)",
    "ranges": "mapping dotted key -> [low, high] for estimates",
    "trace": "default pulse for fate tracing",
}

COMMON_KEYS = {"kind", "over", "source", "sources", "description"}
NODE_KEYS = {
    "source": COMMON_KEYS | {"to", "series", "stream", "composition", "free", "max", "cost", "energy", "co2",
                             "follows", "ratio"},
    "process": COMMON_KEYS | {"to", "energy", "co2", "cost"},
    "stock": COMMON_KEYS
    | {"to", "lifetime", "lives", "later_lives", "history", "history_composition", "history_stream", "initial_stock",
       "stock",
       "negative_inflow"},
    "split": COMMON_KEYS | {"routes", "shares", "baseline", "capacity", "energy", "co2", "cost"},
    "blend": COMMON_KEYS | {"outputs", "allocation", "surplus"},
    "sink": COMMON_KEYS | {"loss"},
    "export": COMMON_KEYS | {"abroad"},
}
BLEND_OUTPUT_KEYS = {"to", "demand", "window"}
#: keys of earlier versions that supplied mass from nowhere (no mass from nowhere: a melt's
#: composition is what its priced inputs bring); each is refused with what to use instead
_NO_FREE_MASS = ("a blend output's composition is what its inputs bring: give the output a composition "
                 "'window' and feed the blend priced free sources (primary metal, pure or master-alloy "
                 "additions, each with energy, co2 and cost)")
REMOVED_KEYS = {
    ("source", "balancing"): "balancing sources are gone (they supplied mass for free); " + _NO_FREE_MASS,
    ("blend", "excess"): "nominal outputs and their excess sink are gone; " + _NO_FREE_MASS,
    ("blend", "deficit"): "nominal outputs and their balancing source are gone; " + _NO_FREE_MASS,
    ("output", "nominal"): "nominal outputs are gone (elements were booked from one to another); " + _NO_FREE_MASS,
    ("output", "filler"): "'filler' is gone: a free input's baseline 'allocation' ({free source: {output: "
                          "share}}) is the share of the output's shortfall to its demand that it makes up in "
                          "simulation",
}
#: a free source's amount is a decision, so each objective that counts these must see it
PRICES = ("energy", "co2", "cost")
STREAM_KEYS = {"composition", "source", "description"}
#: keys of a composition table reference (``compositions: {file: data/x.csv, index: name}``)
COMPOSITION_TABLE_KEYS = {"file", "index", "source"}
#: columns of a composition table besides the index and one per tracked element
COMPOSITION_TABLE_COLUMNS = ("source", "description")
#: keys of a composition mixed from a recipe (``compositions: {NAME: {recipe: {file, index}, of: TABLE,
#: source: id}}``: one composition per row of the recipe table, the share-weighted sum of TABLE's)
RECIPE_KEYS = {"recipe", "of", "source", "description"}
#: keys of its recipe table reference; columns of the recipe table besides the index and the shares
RECIPE_TABLE_KEYS = {"file", "index"}
RECIPE_TABLE_COLUMNS = ("description",)
#: old spelling -> new, accepted with a FutureWarning (the words now mean one thing each: a
#: "composition" is a named mix of elements, a "stream" was both that and an edge; "other" is
#: the rest-of-mass channel, no longer also a loss type)
DEPRECATED = {"streams": "compositions", "stream": "composition", "history_stream": "history_composition",
              "loss: other": "loss: unspecified"}
UNITS = {"kg": 1e-3, "t": 1.0, "kt": 1e3, "Mt": 1e6, "Gt": 1e9}

REF = re.compile(r"^(?P<name>[A-Za-z_][\w\-]*)(?:\[(?P<idx>[^\]]*)\])?(?P<next>\.next_life)?$")



def node_key_problems(kind: str, spec: dict) -> list[tuple[str, str, str | None]]:
    """(key, problem, expected) for each key of a ``kind`` node that is removed or unknown."""
    out = []
    for k in spec:
        if (kind, k) in REMOVED_KEYS:
            out.append((k, REMOVED_KEYS[(kind, k)], None))
        elif k not in NODE_KEYS[kind]:
            out.append((k, f"unknown key for a {kind} node", f"one of {sorted(NODE_KEYS[kind])}"))
    return out


def header(b, d: Any) -> tuple:
    """The top-level keys: unit, years, elements, timing, nodes (every problem listed)."""
    if not isinstance(d, dict):
        raise InstanceError(b.yml, "the instance must be a mapping")
    for k in d:
        if k not in TOP_KEYS:
            b.err(str(k), "unknown top-level key", expected=f"one of {sorted(TOP_KEYS)}")
    for k in ("name", "unit", "years", "elements", "nodes"):
        if k not in d:
            b.err(k, "required key missing")
    for where, problem, value in checks.number_problems(d):
        b.err(where, problem, value, expected=f"a finite number of magnitude <= {checks.MAX_MAGNITUDE:g}")
    b.fail_if_errors()
    unit = str(d["unit"])
    if unit not in UNITS:
        b.err("unit", "unknown unit", unit, expected=f"one of {list(UNITS)}")
    yrs = d["years"]
    if (not isinstance(yrs, list) or len(yrs) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in yrs) or yrs[1] < yrs[0]):
        b.err("years", "expected [first, last], whole numbers with first <= last", yrs)
        b.fail_if_errors()
    if yrs[1] - yrs[0] >= checks.MAX_YEARS:
        b.err("years", f"more than {checks.MAX_YEARS} model years", yrs)
        b.fail_if_errors()
    years = np.arange(yrs[0], yrs[1] + 1)
    elements = d["elements"]
    if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
        b.err("elements", "expected a list of element names", elements)
    elif len(set(elements)) != len(elements):
        b.err("elements", "duplicated element", [e for e in elements if elements.count(e) > 1][0])
    elif OTHER in elements or "total" in elements:
        b.err("elements", "'other' and 'total' are reserved names", elements)
    else:
        for e in elements:
            if checks.bad_name(e):
                b.errors.append(checks.name_error(f"{b.yml}: elements", "an element name", e))
    timing = d.get("timing", "end")
    if timing not in ("end", "middle"):
        b.err("timing", "unknown timing convention", timing, expected="'end' or 'middle'")
    nodes_doc = d["nodes"]
    if not isinstance(nodes_doc, dict) or not nodes_doc:
        b.err("nodes", "expected a non-empty mapping of node name -> node", nodes_doc)
    b.fail_if_errors()
    return unit, years, elements, timing, nodes_doc

