"""Value-level rules of the instance format, shared by the loader and ``circopt check``.

* **years** are whole numbers (``2025.7`` and ``true`` are refused), a year written as ``'2020'``
  is the year 2020, and two spellings of one year are a duplicate;
* a **series by year** gives every model year or says how the others are filled
  (``fill: hold | zero | interpolate``);
* **names** (nodes, streams, elements, dimensions and their values, routes, outputs, levers)
  use a safe character set, so that no two nodes print alike and no CSV cell starts a formula;
* **numbers** are finite and at most :data:`MAX_MAGNITUDE` in size; the spread of the masses
  that enter the LP is reported when double precision and the solver's tolerances cannot
  resolve it (:data:`MAX_RANGE`);
* **study settings** (user constraints, levers, the trace pulse) are validated at load, so that
  ``check`` refuses whatever a later step would.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import numpy as np

from ..errors import InstanceError, InstanceErrors, excerpt
from .files import canonical_key

#: the largest magnitude of any number in an instance (masses in the instance's unit, costs,
#: factors); far above any real quantity, far below where sums and products overflow a double
MAX_MAGNITUDE = 1e15
#: largest/smallest nonzero mass entering the LP beyond which a note warns: against HiGHS's
#: feasibility tolerance (1e-9 on the scaled model, circopt's setting) a value this much smaller
#: than the largest keeps fewer than three significant digits (at 1e9 it is lost entirely)
MAX_RANGE = 1e6
FILL_MODES = ("hold", "zero", "interpolate")
#: the longest time axis accepted: model years, and history / initial-stock ages before them
MAX_YEARS = 1000
#: the most members a node family may expand into (product of its dimensions' sizes)
MAX_MEMBERS = 100_000

#: names of nodes, streams, elements, dimensions, routes, outputs, levers: a letter or '_' first,
#: then letters, digits, '_' and '-'
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
#: dimension values may also start with a digit (e.g. a life 1, 2, 3)
VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
NAME_RULE = "letters, digits, '_' and '-', starting with a letter or '_'"
VALUE_RULE = "letters, digits, '_' and '-', starting with a letter, a digit or '_'"


def bad_name(name: Any, *, value: bool = False) -> bool:
    """True if ``name`` breaks the safe character set (a dimension value may start with a digit)."""
    if isinstance(name, bool):
        return True
    if isinstance(name, int) and value:
        return name < 0
    return not isinstance(name, str) or not (VALUE if value else NAME).match(name)


def require_name(name: Any, where: str, what: str) -> None:
    """Raise :func:`name_error` if ``name`` breaks the safe character set."""
    if bad_name(name):
        raise name_error(where, what, name)


def name_error(where: str, what: str, name: Any, *, value: bool = False) -> InstanceError:
    return InstanceError(where, f"{what} uses characters outside the safe set", excerpt(name),
                         expected=VALUE_RULE if value else NAME_RULE)


# ---------------------------------------------------------------------------------------
# years and series by year
# ---------------------------------------------------------------------------------------
def year_of(value: Any, where: str) -> int:
    """A year: a whole number (``2020`` or ``'2020'``); fractions, booleans, text are refused."""
    k = canonical_key(value)
    if isinstance(k, bool) or not isinstance(k, int):
        raise InstanceError(where, "a year must be a whole number", excerpt(value), expected="e.g. 2020")
    return k


def year_series(value: dict, yrs: np.ndarray, where) -> np.ndarray:
    """A series written as ``{year: value, ..., fill: MODE}`` over the years ``yrs``.

    Every year of ``yrs`` must be given unless ``fill`` says how the others are found:
    ``hold`` (the latest given year before it; a year before the first given one is an
    error), ``zero`` (0) or ``interpolate`` (linear between given years, the first/last value
    outside them). ``where(key)`` names a key in messages."""
    fill = value.get("fill")
    if fill is not None and fill not in FILL_MODES:
        raise InstanceError(where("fill"), "unknown fill", excerpt(fill), expected=" | ".join(FILL_MODES))
    pts: dict[int, float] = {}
    for k, v in value.items():
        if k == "fill":
            continue
        y = year_of(k, where(""))
        if y in pts:
            raise InstanceError(where(""), f"year {y} is given twice (as {excerpt(k)} and as another spelling)")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InstanceError(where(str(k)), "expected a number", excerpt(v))
        pts[y] = float(v)
    if not pts:
        raise InstanceError(where(""), "no year given", excerpt(value), expected="{year: value, ...}")
    xs = np.array(sorted(pts), dtype=float)
    ys = np.array([pts[int(x)] for x in xs])
    given = np.isin(yrs, xs)
    if given.all():
        return ys[np.searchsorted(xs, yrs)]
    missing = [int(y) for y in yrs[~given]]
    if fill is None:
        raise InstanceError(where(""), f"the series leaves {len(missing)} model year(s) unspecified "
                            f"({_years_text(missing)})", expected="every model year, or 'fill: hold | zero | "
                            "interpolate' to say how the others are found")
    if fill == "interpolate":
        return np.interp(yrs.astype(float), xs, ys)
    if fill == "zero":
        return np.where(given, ys[np.clip(np.searchsorted(xs, yrs), 0, len(xs) - 1)], 0.0)
    before = yrs < xs[0]
    if before.any():
        raise InstanceError(where("fill"), f"'fill: hold' has no value to hold before {int(xs[0])}",
                            expected=f"a value for {int(yrs[before][0])} or earlier")
    return ys[np.searchsorted(xs, yrs, side="right") - 1]


def _years_text(years: list[int]) -> str:
    return ", ".join(map(str, years[:5])) + (", ..." if len(years) > 5 else "")


def refuse_key_collisions(value: dict, where: str) -> None:
    """Two keys of one mapping that differ only in spelling (``1`` and ``'1'``) are a duplicate."""
    seen: dict = {}
    for k in value:
        ck = canonical_key(k)
        if ck in seen and seen[ck] is not k and seen[ck] != k:
            raise InstanceError(where, f"key {excerpt(k)} is given twice (also as {excerpt(seen[ck])})",
                                expected="each key once (1 and '1' are the same key)")
        seen[ck] = k


def whole_years(values, label: str, column: str = "year") -> np.ndarray:
    """A table's year (or age) column as ints; fractions and text are refused."""
    import pandas as pd

    num = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(num) | (num != np.round(num))
    if bad.any():
        raise InstanceError(label, f"column '{column}' holds a value that is not a whole number",
                            excerpt(list(values)[int(np.argmax(bad))]))
    return num.astype(int)


# ---------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------
def number_problems(doc: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """Every number in a document that is not finite or larger than :data:`MAX_MAGNITUDE`
    (key path, problem, value)."""
    out = []
    stack = [(path, doc)]
    while stack:
        p, v = stack.pop()
        if isinstance(v, dict):
            stack.extend((f"{p}.{k}" if p else str(k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((f"{p}[{i}]", x) for i, x in enumerate(v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                out.append((p, "value is NaN or infinite", v))
            elif abs(v) > MAX_MAGNITUDE:
                out.append((p, f"value larger than {MAX_MAGNITUDE:g} in magnitude", v))
    return sorted(out)


def magnitude_note(system) -> str | None:
    """A warning when the masses that enter the LP (series, bounds, stocks, demands, capacities,
    histories) span more than :data:`MAX_RANGE` (largest / smallest nonzero)."""
    vals = []
    for n in system.nodes:
        for arr in (n.series, n.max_series, n.target_stock):
            if arr is not None:
                vals.append(np.abs(np.asarray(arr, float)).ravel())
    for e in system.edges:
        if e.capacity is not None:
            vals.append(np.abs(e.capacity[np.isfinite(e.capacity)]))
    for b in system.blends:
        for o in b.outputs:
            if o.demand is not None:
                vals.append(np.abs(o.demand))
    v = np.concatenate(vals) if vals else np.zeros(0)
    v = v[v > 0]
    if not v.size:
        return None
    ratio = float(v.max() / v.min())
    if ratio <= MAX_RANGE:
        return None
    return (f"the masses entering the optimiser span a ratio of {ratio:.3g} (largest {v.max():.6g}, smallest "
            f"nonzero {v.min():.6g} {system.unit}), more than {MAX_RANGE:g}: with the solver's tolerances "
            "(feasibility 1e-9 on the scaled model) the smallest keep fewer than three significant digits and may "
            "come out as 0; check the units or drop negligible values")


# ---------------------------------------------------------------------------------------
# study settings
# ---------------------------------------------------------------------------------------
def study_settings(system, yml: str, folder=None, scenario: str | None = None) -> list[InstanceError]:
    """Problems in the settings that later steps read: user constraints, levers (and the
    constraints of their settings), the trace pulse, names of levers, ranges and indicators.
    ``folder`` and ``scenario`` name the files in messages as the optimiser will."""
    from ..lp.user_rows import validate_constraints
    from ..studies import levers

    errors: list[InstanceError] = []
    if folder is not None:
        system = dataclasses.replace(system, path=str(folder), scenario=scenario)

    def collect(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except InstanceErrors as e:
            errors.extend(e.errors)
        except InstanceError as e:
            errors.append(e)
        return None

    collect(validate_constraints, system, None)
    for name in system.levers or {}:
        if bad_name(name):
            errors.append(name_error(f"{yml}: levers.{name}", "a lever name", name))
    lv = collect(levers, system)
    for name, lever in (lv or {}).items():
        for setting in ("baseline", "ambitious"):
            cons = getattr(lever, setting)
            if cons:
                collect(validate_constraints, _without_constraints(system), cons,
                        where=f"{yml}: levers.{name}.{setting}")
    for name, spec in (system.raw.get("ranges") or {}).items():
        if isinstance(spec, dict) and bad_name(name):
            errors.append(name_error(f"{yml}: ranges.{name}", "a named range", name))
    indicators = system.raw.get("indicators")
    for k, doc in enumerate(indicators if isinstance(indicators, list) else []):
        if isinstance(doc, dict) and isinstance(doc.get("name"), str) and bad_name(doc["name"]):
            errors.append(name_error(f"{yml}: indicators[{k}].name", "an indicator name", doc["name"]))
    errors.extend(_trace_settings(system, yml))
    return errors


def _without_constraints(system):
    return dataclasses.replace(system, constraints=[])


def _trace_settings(system, yml: str) -> list[InstanceError]:
    cfg = system.raw.get("trace")
    if cfg is None:
        return []
    if not isinstance(cfg, dict) or set(cfg) - {"source", "year", "description"}:
        return [InstanceError(f"{yml}: trace", "expected {source: NODE, year: YEAR}", excerpt(cfg))]
    out = []
    if "year" in cfg:
        try:
            y = year_of(cfg["year"], f"{yml}: trace.year")
            if y not in set(int(x) for x in system.years):
                out.append(InstanceError(f"{yml}: trace.year", "not a model year", y,
                                         expected=f"{int(system.years[0])}..{int(system.years[-1])}"))
        except InstanceError as e:
            out.append(e)
    if "source" in cfg:
        from ..errors import CircoptError
        from ..trace import pulse_sources

        try:
            pulse_sources(system, cfg["source"] if isinstance(cfg["source"], str) else None)
            if not isinstance(cfg["source"], str):
                raise CircoptError("expected a node name")
        except CircoptError as e:
            out.append(InstanceError(f"{yml}: trace.source", str(e), excerpt(cfg["source"])))
    return out
