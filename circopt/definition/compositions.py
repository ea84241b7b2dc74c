"""The sources table and named compositions (a mix of elements per year, the rest 'other').

Named compositions are written inline (``compositions: {name: {composition: {...}, source: id}}``)
or read from a table (``compositions: {file: data/x.csv, index: name}``): one row per
composition, one column per tracked element (mass fractions), a ``source`` column (or one
``source:`` for every row) and an optional ``description`` column.

Beside inline ones, ``compositions:`` may also name *composition tables*, whose rows a node
family picks by its value of the table's index dimension: a table read from a file
(``alloy_typical: {file: data/alloys.csv, index: alloy, source: id}``) or one mixed from a
recipe of another table's compositions (``product_mix: {recipe: {file: data/recipes.csv,
index: product}, of: alloy_typical, source: id}``, :mod:`.recipes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InstanceError
from . import checks
from .files import read_table
from .schema import COMPOSITION_TABLE_COLUMNS, COMPOSITION_TABLE_KEYS, STREAM_KEYS, SUM_TOL


@dataclass
class CompositionTable:
    """Named compositions, one per row, that a node family picks by its value of ``index``."""

    index: str  # the index column: a dimension for the tables that nodes name
    rows: dict[str, np.ndarray]  # row name -> (T, C) mass fractions
    path: str  # the file it was read from (messages)


def sources(b, rel: str) -> dict[str, str]:
    p = b.folder / str(rel)
    try:
        df = read_table(b.files.read_bytes(rel, f"{b.yml}: sources", "sources table"), str(p))
    except InstanceError as e:
        b.errors.append(e)
        return {}
    if "source_id" not in df.columns:
        b.errors.append(InstanceError(str(p), "column 'source_id' missing", list(df.columns)))
        return {}
    if df["source_id"].duplicated().any():
        b.errors.append(InstanceError(str(p), "duplicated source_id",
                                         list(df["source_id"][df["source_id"].duplicated()])))
    cit = df["citation"] if "citation" in df.columns else df["source_id"]
    return {str(k): str(v) for k, v in zip(df["source_id"], cit)}


def check_source(b, key: str, sid: Any):
    ids = sid if isinstance(sid, list) else [sid]
    for s in ids:
        if s != "estimate" and str(s) not in b.sources:
            b.err(key, "unknown source id", s, expected="an id from the sources table or 'estimate'")


def streams(b, sdoc: dict, label: str = "compositions") -> dict[str, np.ndarray]:
    """The named compositions (T, C), inline or from a table; named composition tables go to
    ``b.tables`` (recipes are mixed after, :func:`.recipes.mixes`); problems are collected in ``b``."""
    if isinstance(sdoc, dict) and isinstance(sdoc.get("file"), str):
        return table(b, sdoc, label)
    out = {}
    if not isinstance(sdoc, dict):
        b.err(label, "expected a mapping name -> {composition, source}", sdoc)
        return out
    for name, spec in sdoc.items():
        key = f"{label}.{name}"
        if checks.bad_name(name):
            b.errors.append(checks.name_error(b.where(key), "a composition name", name))
        elif isinstance(spec, dict) and "file" in spec and "composition" not in spec:
            tab = named_table(b, spec, key)
            if tab is not None:
                b.tables[name] = tab
        elif not (isinstance(spec, dict) and "recipe" in spec):  # recipes: once every table is read
            comp = _inline(b, spec, key)
            if comp is not None:
                out[name] = comp
    return out


def _inline(b, spec: Any, key: str) -> np.ndarray | None:
    """One composition written inline; None on problems (collected in ``b``)."""
    if not isinstance(spec, dict) or "composition" not in spec:
        b.err(key, "expected {composition: {element: fraction}, source: id}", spec,
              expected="a composition written inline, a table {file, index, source} or a recipe "
              "{recipe: {file, index}, of: TABLE, source}")
        return None
    for k in spec:
        if k not in STREAM_KEYS:
            b.err(f"{key}.{k}", "unknown key", expected=f"one of {sorted(STREAM_KEYS)}")
    cited(b, key, spec)
    try:
        return composition(b, spec["composition"], f"{key}.composition", {})
    except InstanceError as e:
        b.errors.append(e)
        return None


def named(b, name: Any, index: dict, key: str) -> np.ndarray:
    """The (T, C) composition a node names at ``key``: a named composition, or the row of a
    composition table for the node's value of the table's index dimension."""
    if isinstance(name, str) and name in b.streams:
        return b.streams[name]
    tab = b.tables.get(name) if isinstance(name, str) else None
    if tab is None:
        raise InstanceError(b.where(key), "unknown composition", name,
                            expected=f"one of {[*b.streams, *b.tables]} (top-level 'compositions')")
    if tab.index not in index:
        raise InstanceError(b.where(key), f"composition table '{name}' has one row per {tab.index}, and "
                            f"this node is not over '{tab.index}'", name,
                            expected=f"a node over '{tab.index}', or a table indexed by one of the node's "
                            f"dimensions {list(index)}")
    value = str(index[tab.index])
    if value not in tab.rows:
        raise InstanceError(b.where(key), f"composition table '{name}' ({tab.path}) has no row for "
                            f"{tab.index} '{value}'", value, expected=f"a row '{value}' in its column '{tab.index}'")
    return tab.rows[value]


def composition(b, comp: Any, key: str, index: dict) -> np.ndarray:
    if not isinstance(comp, dict):
        raise InstanceError(b.where(key), "expected a mapping element -> mass fraction", comp)
    arr = np.zeros((b.T, b.C))
    for el, v in comp.items():
        if el not in b.elements:
            raise InstanceError(b.where(f"{key}.{el}"), "unknown element", el,
                                expected=f"one of {b.elements}")
        arr[:, b.elements.index(el)] = b.ctx.resolve(v, f"{key}.{el}", index, fraction=True)
    s = arr[:, :-1].sum(axis=1)
    if np.any(s > 1 + SUM_TOL):
        raise InstanceError(b.where(key), "composition above 100 %", f"{s.max():.6g}",
                            expected="element fractions summing to at most 1")
    arr[:, -1] = np.clip(1.0 - s, 0.0, None)
    return arr


def table(b, ref: dict, label: str = "compositions") -> dict[str, np.ndarray]:
    """Named compositions from a CSV table (read inside the instance folder only)."""
    return _table_rows(b, ref, label, value_names=False)[0]


def named_table(b, ref: dict, key: str) -> CompositionTable | None:
    """A composition table under a name (its rows are values of the index dimension); None on problems."""
    n = len(b.errors)
    rows, path = _table_rows(b, ref, key, value_names=True)
    if len(b.errors) > n or path is None:
        return None
    return CompositionTable(index=str(ref.get("index", "name")), rows=rows, path=path)


def _table_rows(b, ref: dict, label: str, *, value_names: bool) -> tuple[dict[str, np.ndarray], str | None]:
    for k in ref:
        if k not in COMPOSITION_TABLE_KEYS:
            b.err(f"{label}.{k}", "unknown key in a composition table reference",
                  expected=f"one of {sorted(COMPOSITION_TABLE_KEYS)}")
    if "source" in ref:
        check_source(b, f"{label}.source", ref["source"])
    index = ref.get("index", "name")
    try:
        df, path = b.ctx.csv(ref.get("file"), f"{label}.file")
        df = _table_columns(b, df, path, index, with_source="source" not in ref)
    except InstanceError as e:
        b.errors.append(e)
        return {}, None
    out: dict[str, np.ndarray] = {}
    for i, row in enumerate(df.to_dict("records")):
        name = row[index]
        try:
            if checks.bad_name(name, value=value_names):
                raise checks.name_error(f"{path}: row {i + 1}, column '{index}'", "a composition name", name,
                                        value=value_names)
            if name in out:
                raise InstanceError(path, f"composition '{name}' is given twice", name,
                                    expected="one row per composition")
            if "source" not in ref:  # one source for every row: checked above
                _row_source(b, path, name, row.get("source"))
            out[str(name)] = _row_composition(b, path, name, row)
        except InstanceError as e:
            b.errors.append(e)
    if not out and not b.errors:
        b.errors.append(InstanceError(path, "the composition table has no rows",
                                      expected="one row per composition"))
    return out, path


def _table_columns(b, df, path: str, index: str, *, with_source: bool):
    """The table with its index column read as text; missing or unknown columns refused."""
    need = [index, *b.elements] + (["source"] if with_source else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InstanceError(path, f"composition table: column{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(repr(c) for c in missing)} missing", list(df.columns),
                            expected=f"columns {need} (one row per composition, one column per element)")
    extra = [c for c in df.columns if c not in {index, *b.elements, *COMPOSITION_TABLE_COLUMNS}]
    if extra:
        raise InstanceError(path, f"composition table: unknown column{'s' if len(extra) > 1 else ''} "
                            f"{', '.join(repr(c) for c in extra)}",
                            expected=f"'{index}', one column per tracked element {b.elements}, "
                            f"{' and '.join(repr(c) for c in COMPOSITION_TABLE_COLUMNS)}")
    df = df.copy()
    df[index] = [v if isinstance(v, str) else None if v != v else str(v) for v in df[index]]
    return df


def _row_source(b, path: str, name: str, sid: Any) -> None:
    if sid is None or (isinstance(sid, float) and sid != sid) or str(sid).strip() == "":
        raise InstanceError(path, f"composition '{name}' cites no source",
                            expected="a source id from the sources table or 'estimate'")
    if sid != "estimate" and str(sid) not in b.sources:
        raise InstanceError(path, f"unknown source id for composition '{name}'", sid,
                            expected="an id from the sources table or 'estimate'")


def _row_composition(b, path: str, name: str, row: dict) -> np.ndarray:
    """One row -> (T, C) mass fractions: each in [0, 1], summing to at most 1 (the rest 'other')."""
    vals = np.zeros(len(b.elements))
    for k, el in enumerate(b.elements):
        raw = row[el]
        vals[k] = fraction(path, f"composition '{name}': the mass fraction of {el}", raw, "a number in [0, 1]")
    s = float(vals.sum())
    if s > 1 + SUM_TOL:
        raise InstanceError(path, f"composition '{name}' above 100 %", f"{s:.6g}",
                            expected="element fractions summing to at most 1 (the rest is 'other')")
    arr = np.zeros((b.T, b.C))
    arr[:, :-1] = vals[None, :]
    arr[:, -1] = max(1.0 - s, 0.0)
    return arr


def cited(b, key: str, spec: dict) -> None:
    """A composition entry's ``source``: required, and a known id (or 'estimate')."""
    if "source" not in spec:
        b.err(f"{key}.source", "every composition cites a source id or says 'estimate'")
    else:
        check_source(b, f"{key}.source", spec["source"])


def fraction(path: str, what: str, raw: Any, expected: str) -> float:
    """A table cell holding a mass fraction or share in [0, 1] (within SUM_TOL above): its value, or
    an :class:`InstanceError` naming ``what`` (``expected``: e.g. "a number in [0, 1]")."""
    v = number(raw)
    if not np.isfinite(v):
        raise InstanceError(path, f"{what} is not a number", raw, expected=f"{expected} (write 0 for none)")
    if not 0.0 <= v <= 1.0 + SUM_TOL:
        raise InstanceError(path, f"{what} is outside [0, 1]", raw, expected=expected)
    return v


def number(raw: Any) -> float:
    """A table cell as a float; NaN for text that is not a number, empty cells and booleans."""
    if isinstance(raw, bool):
        return np.nan
    if isinstance(raw, (int, float, np.integer, np.floating)):
        return float(raw)
    try:
        return float(str(raw).strip())
    except ValueError:
        return np.nan
