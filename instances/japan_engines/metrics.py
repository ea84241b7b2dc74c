"""Headline indicators of the japan_engines instance (used by report.py, sensitivity.py and
tests/test_japan_engines.py).

All indicators are shares of the initial mass of each element in the engines produced in
the first year (the output of ``engine_production``), accumulated from the first year up to
and including ``HORIZON`` (2070 = 50 years after the 2020 production year; the pulse enters
use at the end of 2020, timing 'end').
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HORIZON = 2070
LOSS_TYPES = ("dissipation", "process", "dilution")  # the three loss types of the seed study
ELEMENTS = ("Fe", "Ni", "Cr", "Co", "total")


def _k(arr: np.ndarray) -> np.ndarray:
    """(..., C) channels -> (..., K) tracked elements + total."""
    return np.concatenate([arr[..., :-1], arr.sum(axis=-1, keepdims=True)], axis=-1)


def indicators(res, horizon: int = HORIZON, source: str = "engine_production") -> pd.DataFrame:
    """One row per element: cumulative losses by type, their sum ('losses', the three loss
    types), 'export', material 'in_use' at the end of ``horizon``, and 'new_parts' (mass
    added by remanufacturing's following sources), all as shares of the initial mass."""
    s = res.system
    F = res.flows_array  # (T, E, C)
    th = int(np.where(s.years == horizon)[0][0])
    src = s.node_id(source)
    initial = _k(F[:, s.out_edges(src), :].sum(axis=(0, 1)))
    cols: dict[str, np.ndarray] = {}
    for lt in (*LOSS_TYPES, "export"):
        edges = [e for i, n in enumerate(s.nodes) if n.kind == "sink" and n.loss == lt for e in s.in_edges(i)]
        cols[lt] = _k(F[: th + 1, edges, :].sum(axis=(0, 1))) if edges else np.zeros(len(initial))
    cols["losses"] = sum(cols[lt] for lt in LOSS_TYPES)
    cols["in_use"] = _k(res.stock_array[:, th, :].sum(axis=0))
    follow = [e for i, n in enumerate(s.nodes) if n.kind == "source" and "follows" in n.meta for e in s.out_edges(i)]
    cols["new_parts"] = _k(F[: th + 1, follow, :].sum(axis=(0, 1))) if follow else np.zeros(len(initial))
    df = pd.DataFrame({k: v / initial for k, v in cols.items()}, index=list(ELEMENTS))
    df.index.name = "element"
    return df


def in_use_by_product(res, horizon: int = HORIZON, source: str = "engine_production") -> pd.DataFrame:
    """Material in use at the end of ``horizon`` by stock family member (engines by life,
    products by category, grades summed), as shares of the initial mass."""
    s = res.system
    F = res.flows_array
    th = int(np.where(s.years == horizon)[0][0])
    initial = _k(F[:, s.out_edges(s.node_id(source)), :].sum(axis=(0, 1)))
    names, lives = res._stock_labels()
    rows = {}
    for k, (name, life) in enumerate(zip(names, lives)):
        label = f"engines (life {life})" if name == "engines" else name.split("[")[1].split(",")[0]
        rows[label] = rows.get(label, 0) + _k(res.stock_array[k, th, :])
    return pd.DataFrame({k: v / initial for k, v in rows.items()}, index=list(ELEMENTS)).T
