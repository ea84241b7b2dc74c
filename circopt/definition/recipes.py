"""Compositions mixed from a recipe: ``NAME: {recipe: {file: data/recipes.csv, index: product},
of: TABLE, source: id}`` under the top-level ``compositions``.

The recipe table has one row per composition (its ``index`` column, e.g. the values of a
dimension ``product``) and one column per composition of the composition table ``TABLE``
(e.g. alloys) holding that composition's mass share (an optional ``description`` column
aside). Each row's composition is the share-weighted sum of ``TABLE``'s, element by element,
the rest ``other``: a product made of 30 % of alloy A and 70 % of alloy B carries
0.3 x_A + 0.7 x_B of each element. Shares are numbers in [0, 1] summing to 1 per row
(within :data:`~circopt.definition.schema.SUM_TOL`); an alloy left out has share 0. Every
problem names the file or key, the row, the value and what was expected, and is found when the
compositions are read, before any node is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InstanceError
from . import checks
from .compositions import CompositionTable, cited, fraction
from .schema import RECIPE_KEYS, RECIPE_TABLE_COLUMNS, RECIPE_TABLE_KEYS, SUM_TOL


def mixes(b, sdoc: Any, label: str = "compositions") -> None:
    """Mix every recipe entry of the compositions' document into ``b.tables`` (after the tables)."""
    if not isinstance(sdoc, dict) or isinstance(sdoc.get("file"), str):
        return
    for name, spec in sdoc.items():
        if not checks.bad_name(name) and isinstance(spec, dict) and "recipe" in spec:
            tab = recipe(b, spec, f"{label}.{name}", sdoc)
            if tab is not None:
                b.tables[name] = tab


def recipe(b, spec: dict, key: str, sdoc: dict) -> CompositionTable | None:
    """One recipe entry -> a composition table (one row per recipe); None on problems (in ``b``)."""
    n = len(b.errors)
    for k in spec:
        if k not in RECIPE_KEYS:
            b.err(f"{key}.{k}", "unknown key in a recipe", expected=f"one of {sorted(RECIPE_KEYS)}")
    cited(b, key, spec)
    ref = spec["recipe"]
    if not isinstance(ref, dict) or not isinstance(ref.get("file"), str):
        b.err(f"{key}.recipe", "expected a table reference {file: data/recipes.csv, index: COLUMN}", ref,
              expected="the recipe table: one row per composition, one column per composition of 'of' "
              "(mass shares summing to 1)")
        ref = {}
    for k in ref:
        if k not in RECIPE_TABLE_KEYS:
            b.err(f"{key}.recipe.{k}", "unknown key in a recipe table reference",
                  expected=f"one of {sorted(RECIPE_TABLE_KEYS)}")
    base = _base(b, spec.get("of"), f"{key}.of", sdoc)
    if base is None or len(b.errors) > n:
        return None
    index = str(ref.get("index", "name"))
    try:
        df, path = b.ctx.csv(ref["file"], f"{key}.recipe.file")
        cols = _columns(df, path, index, base, spec["of"])
    except InstanceError as e:
        b.errors.append(e)
        return None
    rows: dict[str, np.ndarray] = {}
    for i, row in enumerate(df.to_dict("records")):
        try:
            name = _row_name(path, i, index, row[index], rows)
            rows[name] = _mix(b, path, name, {c: row[c] for c in cols}, base, spec["of"])
        except InstanceError as e:
            b.errors.append(e)
    if not rows and len(b.errors) == n:
        b.errors.append(InstanceError(path, "the recipe table has no rows", expected="one row per composition"))
    return CompositionTable(index=index, rows=rows, path=path) if len(b.errors) == n else None


def _base(b, of: Any, key: str, sdoc: dict) -> CompositionTable | None:
    """The composition table a recipe mixes (None, with the problem in ``b``, if there is none)."""
    if of is None:
        b.err(key, "required key missing",
              expected="the name of a composition table {file, index, source} whose compositions the recipe mixes")
        return None
    spec = sdoc.get(of) if isinstance(of, str) else None
    if isinstance(spec, dict) and "file" in spec and "composition" not in spec:
        return b.tables.get(of)  # None: the table itself was refused, its problems are reported already
    tables = [k for k, v in sdoc.items() if isinstance(v, dict) and "file" in v and "composition" not in v]
    problem = ("unknown composition table" if spec is None else
               f"names {'a recipe' if isinstance(spec, dict) and 'recipe' in spec else 'a composition'}, "
               "not a composition table")
    b.err(key, problem, of,
          expected=f"the name of a composition table {{file, index, source}} under 'compositions': one of {tables}")
    return None


def _columns(df, path: str, index: str, base: CompositionTable, of: str) -> list[str]:
    """The share columns of the recipe table (the compositions of ``of`` it names)."""
    if index not in df.columns:
        raise InstanceError(path, f"recipe table: column '{index}' missing", list(df.columns),
                            expected=f"the index column '{index}' and one column per composition of '{of}'")
    cols = [c for c in df.columns if c != index and c not in RECIPE_TABLE_COLUMNS]
    unknown = [c for c in cols if str(c) not in base.rows]
    if unknown:
        raise InstanceError(path, f"recipe table: unknown composition{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(repr(c) for c in unknown)} (not a row of '{of}', {base.path})",
                            expected=f"'{index}', one column per composition of '{of}' {list(base.rows)}"
                            f"{''.join(f' and {c!r}' for c in RECIPE_TABLE_COLUMNS)}")
    if not cols:
        raise InstanceError(path, "recipe table: no share column", list(df.columns),
                            expected=f"one column per composition of '{of}' {list(base.rows)}")
    return cols


def _row_name(path: str, i: int, index: str, raw: Any, seen: dict) -> str:
    name = raw if isinstance(raw, str) else None if raw != raw else str(raw)  # a number: as text
    if checks.bad_name(name, value=True):
        raise checks.name_error(f"{path}: row {i + 1}, column '{index}'", "a recipe name", raw, value=True)
    if name in seen:
        raise InstanceError(path, f"recipe '{name}' is given twice", name, expected="one row per composition")
    return name


def _mix(b, path: str, name: str, cells: dict, base: CompositionTable, of: str) -> np.ndarray:
    """One recipe row -> (T, C): sum of share x composition per element, the rest 'other'."""
    shares = {}
    for col, raw in cells.items():
        shares[str(col)] = fraction(path, f"recipe '{name}': the share of {col}", raw, "a mass share in [0, 1]")
    total = sum(shares.values())
    if abs(total - 1.0) > SUM_TOL:
        raise InstanceError(path, f"recipe '{name}': the shares do not sum to 1", f"{total:.12g}",
                            expected=f"mass shares of the compositions of '{of}' summing to 1 (within {SUM_TOL:g})")
    arr = np.zeros((b.T, b.C))
    for col, v in shares.items():
        arr[:, :-1] += v * base.rows[col][:, :-1]
    arr[:, -1] = np.clip(1.0 - arr[:, :-1].sum(axis=1), 0.0, None)
    return arr
