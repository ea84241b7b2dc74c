"""Numeric parameters: a number, a table column, a year or dimension mapping -> an array
over the model years, with every value checked (finite, bounded, sign, fraction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InstanceError
from . import checks
from .files import InstanceFiles, canonical_key, read_table
from .schema import SUM_TOL


class Params:
    """Numeric parameters of one instance: every number, table, year or dimension mapping
    becomes an array over the model years (:meth:`resolve`); tables are read once, confined."""

    def __init__(self, folder: Path, yml: str, years: np.ndarray, unit: str, dims: dict[str, list],
                 files: InstanceFiles | None = None):
        self.folder = folder
        self.files = files or InstanceFiles(folder)
        self.yml = yml
        self.years = years
        self.unit = unit
        self.dims = dims
        self._csv: dict[str, pd.DataFrame] = {}

    def where(self, key: str) -> str:
        return f"{self.yml}: {key}"

    def csv(self, rel: str, key: str) -> tuple[pd.DataFrame, str]:
        label = str(self.folder / rel) if isinstance(rel, str) else repr(rel)
        if label not in self._csv:  # confined and read once per file
            df = read_table(self.files.read_bytes(rel, self.where(key), "table file"), label,
                            comment="#", skipinitialspace=True)
            if df.columns.duplicated().any():
                raise InstanceError(label, "duplicated column names", list(df.columns[df.columns.duplicated()]))
            self._csv[label] = df
        return self._csv[label], label

    # The one entry point for numeric parameters: returns an array over the model years.
    def resolve(self, value: Any, key: str, index: dict[str, Any], *, mass: bool = False,
                nonneg: bool = True, fraction: bool = False, years: np.ndarray | None = None,
                allow_missing_years: bool = False) -> np.ndarray:
        yrs = self.years if years is None else years
        if isinstance(value, dict) and "file" not in value:
            checks.refuse_key_collisions(value, self.where(key))
        if isinstance(value, bool) or value is None:
            raise InstanceError(self.where(key), "expected a number, a table or a mapping", value)
        if isinstance(value, (int, float)):
            arr = np.full(len(yrs), float(value))
        elif isinstance(value, str):
            arr = self._from_csv({"file": value}, key, index, mass, yrs, allow_missing_years)
        elif isinstance(value, dict) and "file" in value:
            arr = self._from_csv(value, key, index, mass, yrs, allow_missing_years)
        elif isinstance(value, dict):
            sval = {str(k): v for k, v in value.items()}
            for d, v in index.items():
                if str(v) in sval and all(str(k) in map(str, self.dims.get(d, [])) for k in sval):
                    return self.resolve(sval[str(v)], f"{key}.{v}", index, mass=mass, nonneg=nonneg,
                                        fraction=fraction, years=years, allow_missing_years=allow_missing_years)
            if not value:
                raise InstanceError(self.where(key), "empty mapping", value, expected="a number or {year: value, ...}")
            if not all(k == "fill" or isinstance(canonical_key(k), (int, float)) for k in value):
                raise InstanceError(self.where(key), "mapping keys are neither values of the node's dimensions "
                                    "nor years", list(value), expected=f"keys from {index or 'no dimensions'} "
                                    "or years (with 'fill: hold | zero | interpolate' if some are left out)")
            arr = checks.year_series(value, yrs, lambda k: self.where(f"{key}.{k}" if k else key))
        else:
            raise InstanceError(self.where(key), "expected a number, a CSV path, {file: ..., column: ...} or a "
                                "mapping", value)
        if not np.all(np.isfinite(arr)):
            raise InstanceError(self.where(key), "value is NaN or infinite", _first_bad(arr, yrs, ~np.isfinite(arr)))
        if np.any(np.abs(arr) > checks.MAX_MAGNITUDE):
            raise InstanceError(self.where(key), f"value larger than {checks.MAX_MAGNITUDE:g} in magnitude",
                                _first_bad(arr, yrs, np.abs(arr) > checks.MAX_MAGNITUDE),
                                expected="a value in the instance's unit of a plausible size")
        if nonneg and np.any(arr < 0):
            raise InstanceError(self.where(key), "negative value", _first_bad(arr, yrs, arr < 0),
                                expected="a value >= 0")
        if fraction and np.any(arr > 1 + SUM_TOL):
            raise InstanceError(self.where(key), "share/fraction above 1", _first_bad(arr, yrs, arr > 1),
                                expected="a value in [0, 1]")
        return arr

    def _from_csv(self, spec: dict, key: str, index: dict, mass: bool, yrs: np.ndarray,
                  allow_missing_years: bool) -> np.ndarray:
        extra = set(spec) - {"file", "column", "unit"}
        if extra:
            raise InstanceError(self.where(key), f"unknown keys {sorted(extra)} in table reference",
                                expected="file, column, unit")
        df, label = self.csv(spec["file"], key)
        col = spec.get("column", "value")
        if col not in df.columns:
            raise InstanceError(label, f"column '{col}' missing (referenced by {key})", list(df.columns))
        sub = member_rows(df, index)
        if "unit" in sub.columns and mass:
            units = set(sub["unit"].astype(str))
            if units != {self.unit}:
                raise InstanceError(label, f"unit mismatch for {key}", sorted(units),
                                    expected=f"'{self.unit}' (the instance's unit)")
        vals = pd.to_numeric(sub[col], errors="coerce")
        if "year" in sub.columns:
            yr = checks.whole_years(sub["year"], label)
            if len(set(yr)) != len(yr):
                dup = sorted({int(y) for y in yr if list(yr).count(y) > 1})
                raise InstanceError(label, f"duplicated years for {_idx(index)}", dup[:5])
            want = set(int(y) for y in yrs)
            missing = sorted(want - set(yr))
            if missing and not allow_missing_years:
                raise InstanceError(label, f"missing years for {key}{_idx(index)}", missing[:10],
                                    expected=f"every year {int(yrs[0])}..{int(yrs[-1])}")
            extra_y = sorted(set(yr) - want)
            if extra_y and not allow_missing_years:
                raise InstanceError(label, f"years outside the model range for {key}{_idx(index)}", extra_y[:10],
                                    expected=f"years {int(yrs[0])}..{int(yrs[-1])}")
            s = pd.Series(vals.to_numpy(), index=yr)
            arr = s.reindex([int(y) for y in yrs]).to_numpy(dtype=float)
            if allow_missing_years:
                arr = np.nan_to_num(arr, nan=0.0)
        else:
            if len(sub) != 1:
                raise InstanceError(label, f"expected one row for {key}{_idx(index)} (no 'year' column)", len(sub))
            arr = np.full(len(yrs), float(vals.iloc[0]))
        if np.isnan(arr).any():
            raise InstanceError(label, f"non-numeric or empty value for {key}{_idx(index)}",
                                _first_bad(arr, yrs, np.isnan(arr)))
        return arr


def member_rows(df: pd.DataFrame, index: dict) -> pd.DataFrame:
    """The rows of a table that belong to a family member: every dimension column matches."""
    for d, v in index.items():
        if d in df.columns:
            df = df[df[d].astype(str) == str(v)]
    return df


def _idx(index: dict) -> str:
    return "" if not index else "[" + ",".join(f"{k}={v}" for k, v in index.items()) + "]"


def _first_bad(arr: np.ndarray, yrs: np.ndarray, mask: np.ndarray) -> str:
    i = int(np.argmax(mask))
    return f"{arr[i]} in year {int(yrs[i])}"

