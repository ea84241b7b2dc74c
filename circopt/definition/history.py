"""The inflow of a stock's cohorts before the first model year: from ``history`` (inflow by
year) or from ``initial_stock`` (stock by age at the end of the year before the first)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InstanceError
from ..lifetimes import survival_kernel
from ..system import Node
from . import checks
from .params import member_rows


def history(b, node: Node, spec: dict, key: str, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The node's ``history_years`` and ``history`` (inflow of cohorts before the first year,
    (H, C) with composition ``comp``), from ``history`` or from ``initial_stock``."""
    if "history" in spec:
        years, inflow = _from_history(b, node, spec["history"], key)
    else:
        years, inflow = _from_initial_stock(b, node, spec["initial_stock"], key)
    return years, inflow[:, None] * comp[None, :]


def _from_history(b, node: Node, h, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A table of inflow by year before the first model year."""
    t0 = int(b.years[0])
    ref = {"file": h} if isinstance(h, str) else h
    if not isinstance(ref, dict) or "file" not in ref:
        raise InstanceError(b.where(f"{key}.history"), "expected a CSV with year, value", h)
    df, label = b.ctx.csv(ref["file"], f"{key}.history")
    col = ref.get("column", "value")
    sub = member_rows(df, node.index)
    if "year" not in sub.columns or col not in sub.columns:
        raise InstanceError(label, "a history table needs columns 'year' and the value column", list(df.columns))
    yrs = checks.whole_years(sub["year"], label)
    if yrs.size == 0:
        raise InstanceError(label, f"no history rows for {node.name}")
    if yrs.max() >= t0:
        raise InstanceError(label, f"history years must be before the first model year {t0}",
                            int(yrs.max()))
    if len(set(yrs)) != len(yrs):
        raise InstanceError(label, f"duplicated history years for {node.name}")
    if "unit" in sub.columns and set(sub["unit"].astype(str)) != {b.ctx.unit}:
        raise InstanceError(label, "unit mismatch", sorted(set(sub["unit"].astype(str))),
                            expected=f"'{b.ctx.unit}'")
    if t0 - int(yrs.min()) > checks.MAX_YEARS:
        raise InstanceError(label, f"history reaches back more than {checks.MAX_YEARS} years", int(yrs.min()))
    full = np.arange(int(yrs.min()), t0)
    vals = pd.Series(pd.to_numeric(sub[col], errors="coerce").to_numpy(), index=yrs).reindex(full)
    missing = full[vals.isna().to_numpy()]
    if missing.size:
        raise InstanceError(label, f"missing or non-numeric history years for {node.name}", missing[:10].tolist())
    v = vals.to_numpy(float)
    if np.any(v < 0) or not np.all(np.isfinite(v)) or np.any(v > checks.MAX_MAGNITUDE):
        raise InstanceError(label, f"negative, non-finite or too large history inflow for {node.name}",
                            expected=f"values in [0, {checks.MAX_MAGNITUDE:g}]")
    return full, v


def _from_initial_stock(b, node: Node, ist, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A table of stock by age at the end of the year before the first: each age's stock is
    divided by its cohort's survival to that age, giving the cohort's inflow."""
    t0 = int(b.years[0])
    ref = {"file": ist} if isinstance(ist, str) else ist
    df, label = b.ctx.csv(ref["file"], f"{key}.initial_stock")
    col = ref.get("column", "value")
    sub = member_rows(df, node.index)
    if "age" not in sub.columns:
        raise InstanceError(label, "an initial_stock table needs columns 'age' and 'value'", list(df.columns))
    ages = checks.whole_years(sub["age"], label, "age")
    if np.any(ages < 0):
        raise InstanceError(label, "negative age", int(ages.min()))
    vals = pd.to_numeric(sub[col], errors="coerce").to_numpy(float)
    if np.any(~np.isfinite(vals)) or np.any(vals < 0) or np.any(vals > checks.MAX_MAGNITUDE):
        raise InstanceError(label, f"negative, non-numeric or too large stock for {node.name}",
                            expected=f"values in [0, {checks.MAX_MAGNITUDE:g}]")
    if ages.size == 0 or ages.max() >= checks.MAX_YEARS:
        raise InstanceError(label, f"no rows, or ages of {checks.MAX_YEARS} years or more, for {node.name}",
                            int(ages.max()) if ages.size else None)
    A = int(ages.max()) + 1
    stock = np.zeros(A)
    np.add.at(stock, ages, vals)
    sf = survival_kernel(node.lifetime, A, b.timing)
    sf = sf if sf.ndim == 1 else sf[0]
    if np.any((sf <= 0) & (stock > 0)):
        a = int(np.argmax((sf <= 0) & (stock > 0)))
        raise InstanceError(label, f"stock of age {a} that the lifetime says cannot survive ({node.name})")
    from ..stocks import cohorts_of_age_structure  # the stock engine's one conversion

    inflow = cohorts_of_age_structure(stock, sf)
    # age a at the end of year t0-1 = cohort of year t0-1-a
    return np.arange(t0 - A, t0), inflow[::-1]
