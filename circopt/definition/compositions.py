"""The sources table and named compositions (a mix of elements per year, the rest 'other')."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InstanceError
from . import checks
from .files import read_table
from .schema import STREAM_KEYS, SUM_TOL


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
    out = {}
    if not isinstance(sdoc, dict):
        b.err(label, "expected a mapping name -> {composition, source}", sdoc)
        return out
    for name, spec in sdoc.items():
        key = f"{label}.{name}"
        if checks.bad_name(name):
            b.errors.append(checks.name_error(b.where(key), "a composition name", name))
            continue
        if not isinstance(spec, dict) or "composition" not in spec:
            b.err(key, "expected {composition: {element: fraction}, source: id}", spec)
            continue
        for k in spec:
            if k not in STREAM_KEYS:
                b.err(f"{key}.{k}", "unknown key", expected=f"one of {sorted(STREAM_KEYS)}")
        if "source" not in spec:
            b.err(f"{key}.source", "every composition cites a source id or says 'estimate'")
        else:
            check_source(b, f"{key}.source", spec["source"])
        try:
            out[name] = composition(b, spec["composition"], f"{key}.composition", {})
        except InstanceError as e:
            b.errors.append(e)
    return out


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
