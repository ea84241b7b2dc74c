"""Ranges of an instance's estimates (``ranges:``): what a sensitivity study or a Monte Carlo sweep varies.

Four forms, each one *factor* of a study::

    ranges:
      nodes.primary.energy: [12.3, 15.0]                 # one number: its value in [low, high]
      car_life:                                          # one assumption written in several places:
        keys: [nodes.use.lifetime.mean, nodes.use.lifetime.sd]   # every key scaled by a factor in [low, high]
        factor: [0.89, 1.09]
        where: {product: [ICEV, BEV]}                    # table keys: only these rows (optional)
        years: [2025, 2050]                              # table keys: only these years (optional)
      ev_path:                                           # a categorical factor: one of several documents
        choices: [baseline, baseline_pledges, baseline_netzero]   # scenario names (scenarios/NAME.yaml) ...
        nominal: baseline                                # the choice of the nominal run (default: the first)
      offers:
        choices: {practice: {}, wide: {replace: {...}}}  # ... or label -> inline scenario document

A ``keys`` entry points at a number (scaled) or at a table reference -- ``{file: F, column: C}`` or a CSV
path -- whose column is scaled in the rows that match ``where`` (every listed dimension column has one
of the listed values) and ``years``; the file itself is never written: the scaled table is handed to
the loader in memory (:class:`ScaledFiles`). A table is scaled for every key of the instance that reads
that column of it. Choices are applied first, so a factor on a table scales the table the chosen
scenario names (e.g. car sales on whichever EV path is drawn).

A choice is sampled as a discrete uniform factor: its range is ``[0, n]`` for ``n`` choices and the value
``x`` picks choice ``min(floor(x), n - 1)`` (SALib, Monte Carlo and OAT all draw in ``[0, n]``; OAT's
low and high ends are the first and the last choice). The nominal run uses ``nominal`` (value its
index + 0.5).
"""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .definition.files import InstanceFiles, read_table
from .errors import InstanceError

__all__ = ["KINDS", "ScaledFiles", "apply", "build_sample", "choice_index", "choice_label", "nominal_value",
           "parse_ranges"]

KINDS = ("value", "factor", "choice")
FACTOR_KEYS = {"keys", "factor", "where", "years", "description"}
CHOICE_KEYS = {"choices", "nominal", "description"}


# ---------------------------------------------------------------------------------------
# parsing (the loader's hook)
# ---------------------------------------------------------------------------------------
def parse_ranges(rdoc: Any, doc: dict, files: InstanceFiles, system, err) -> None:
    """Validate ``ranges:`` and store each in ``system.ranges[name]``; ``err(key, problem, value)``
    collects the problems (the loader reports them all at once)."""
    if not isinstance(rdoc, dict):
        err("ranges", "expected a mapping", rdoc)
        return
    for name, spec in rdoc.items():
        key = f"ranges.{name}"
        if isinstance(spec, dict) and "choices" in spec:
            r = _parse_choice(key, spec, files, err)
        elif isinstance(spec, dict):
            r = _parse_factor(key, spec, doc, files, err)
        else:
            lohi = _bounds(key, spec, err)
            r = None
            if lohi and _number_at(key, doc, str(name), err):
                r = {"keys": [str(name)], "kind": "value", "low": lohi[0], "high": lohi[1]}
        if r:
            system.ranges[str(name)] = r


def _bounds(key: str, lohi: Any, err) -> tuple[float, float] | None:
    if not isinstance(lohi, list) or len(lohi) != 2 or not all(_is_number(x) for x in lohi):
        err(key, "expected [low, high]", lohi)
        return None
    if lohi[0] > lohi[1]:
        err(key, "low above high", lohi)
        return None
    return float(lohi[0]), float(lohi[1])


def _number_at(key: str, doc: dict, dotted: str, err) -> bool:
    from .instance import get_dotted

    try:
        cur = get_dotted(doc, dotted)
    except KeyError:
        err(key, "the key does not exist in the instance", dotted)
        return False
    if not _is_number(cur):
        err(key, f"a range applies to a number in the instance ({dotted})", cur)
        return False
    return True


def _parse_factor(key: str, spec: dict, doc: dict, files: InstanceFiles, err) -> dict | None:
    from .instance import get_dotted

    keys = spec.get("keys")
    if set(spec) - FACTOR_KEYS or not isinstance(keys, list) or not keys or "factor" not in spec:
        err(key, "expected {keys: [dotted keys], factor: [low, high], where?: {dimension: [values]}, "
                 "years?: [first, last]} or {choices: [...]}", spec)
        return None
    lohi = _bounds(key, spec["factor"], err)
    where = _where(key, spec.get("where"), err)
    years = _years(key, spec.get("years"), err)
    if lohi is None or where is None or years is None:
        return None
    ok, tables = True, 0
    for dotted in map(str, keys):
        try:
            cur = get_dotted(doc, dotted)
        except KeyError:
            err(key, "the key does not exist in the instance", dotted)
            ok = False
            continue
        ref = table_ref(cur)
        if ref is not None:
            tables += 1
            ok &= _check_table(key, dotted, ref, where, years, files, err)
        elif not _is_number(cur):
            err(key, f"a factor applies to a number or a table reference {{file, column}} ({dotted})", cur)
            ok = False
    if ok and (where or years) and not tables:
        err(key, "'where' and 'years' select rows of tables; no key points at a table", spec.get("where") or years)
        ok = False
    if not ok:
        return None
    return {"keys": [str(k) for k in keys], "kind": "factor", "low": lohi[0], "high": lohi[1], "where": where,
            "years": years}


def _where(key: str, where: Any, err) -> dict | None:
    if where is None:
        return {}
    if not isinstance(where, dict) or not where or not all(
            isinstance(v, list) and v and all(isinstance(x, (str, int)) for x in v) for v in where.values()):
        err(f"{key}.where", "expected {dimension column: [values]}", where)
        return None
    return {str(k): [str(x) for x in v] for k, v in where.items()}


def _years(key: str, years: Any, err) -> list | None:
    if years is None:
        return []
    if (not isinstance(years, list) or len(years) != 2 or not all(isinstance(y, int) and not isinstance(y, bool)
                                                                   for y in years) or years[0] > years[1]):
        err(f"{key}.years", "expected [first year, last year]", years)
        return None
    return [int(years[0]), int(years[1])]


def table_ref(value: Any) -> dict | None:
    """``{file, column}`` of a table reference (a CSV path alone reads its ``value`` column), else None."""
    if isinstance(value, str) and value.lower().endswith(".csv"):
        return {"file": value, "column": "value"}
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        return {"file": value["file"], "column": str(value.get("column", "value"))}
    return None


def _read(files: InstanceFiles, rel: str, where: str) -> pd.DataFrame:
    return read_table(files.read_bytes(rel, where, "table file"), str(files.folder / rel), comment="#",
                      skipinitialspace=True)


def _check_table(key: str, dotted: str, ref: dict, where: dict, years: list, files: InstanceFiles, err) -> bool:
    try:
        df = _read(files, ref["file"], f"{key}: {dotted}")
    except InstanceError as e:
        err(key, f"the table of {dotted} cannot be read ({e.problem})", ref["file"])
        return False
    missing = [c for c in [ref["column"], *where, *(["year"] if years else [])] if c not in df.columns]
    if missing:
        err(key, f"column(s) {missing} missing in {ref['file']} (read by {dotted})", list(df.columns)[:12])
        return False
    if not _rows(df, where, years).any():
        err(key, f"no row of {ref['file']} matches where {where} and years {years or 'all'}", dotted)
        return False
    return True


def _rows(df: pd.DataFrame, where: dict, years: list) -> np.ndarray:
    mask = np.ones(len(df), bool)
    for col, vals in where.items():
        mask &= df[col].astype(str).isin(vals).to_numpy()
    if years:
        y = pd.to_numeric(df["year"], errors="coerce").to_numpy()
        mask &= (y >= years[0]) & (y <= years[1])
    return mask


def _parse_choice(key: str, spec: dict, files: InstanceFiles, err) -> dict | None:
    ch = spec["choices"]
    if set(spec) - CHOICE_KEYS:
        err(key, f"unknown keys {sorted(set(spec) - CHOICE_KEYS)}", expected="choices, nominal, description")
        return None
    if isinstance(ch, list):
        ch = {str(c): str(c) for c in ch}
    if not isinstance(ch, dict) or len(ch) < 2:
        err(f"{key}.choices", "expected at least two choices: [scenario names] or {label: scenario name or "
                              "scenario document}", ch)
        return None
    labels, docs = [str(k) for k in ch], []
    for label, c in ch.items():
        chain = _chain(f"{key}.choices.{label}", c, files, err)
        if chain is None:
            return None
        docs.append(chain)
    nominal = str(spec.get("nominal", labels[0]))
    if nominal not in labels:
        err(f"{key}.nominal", "not one of the choices", nominal, expected=", ".join(labels))
        return None
    return {"keys": [], "kind": "choice", "choices": labels, "documents": docs, "nominal": labels.index(nominal),
            "low": 0.0, "high": float(len(labels))}


def _chain(key: str, c: Any, files: InstanceFiles, err) -> list | None:
    """The scenario documents to apply for a choice, in order (an inline document, or a scenario file
    with its ``extends`` chain)."""
    from .definition import checks

    if isinstance(c, dict):
        return [(c, key)]
    chain, name = [], c
    while name:
        if not isinstance(name, str) or checks.bad_name(name):
            err(key, "a choice is a scenario name (scenarios/NAME.yaml) or an inline scenario document", name)
            return None
        try:
            sd = files.read_yaml(f"scenarios/{name}.yaml", key, "scenario file")
        except InstanceError as e:
            err(key, f"scenario '{name}': {e.problem}", name)
            return None
        chain.append((sd, str(files.folder / "scenarios" / f"{name}.yaml")))
        name = sd.get("extends") if isinstance(sd, dict) else None
        if len(chain) > 20:
            err(key, "scenario 'extends' chain is circular", c)
            return None
    return chain[::-1]


# ---------------------------------------------------------------------------------------
# applying a parameter set
# ---------------------------------------------------------------------------------------
def choice_index(rng: dict, x: float) -> int:
    """The choice a value in ``[0, n]`` picks: ``min(floor(x), n - 1)``."""
    return int(min(max(math.floor(x), 0), len(rng["choices"]) - 1))


def choice_label(rng: dict, x: float) -> str:
    return rng["choices"][choice_index(rng, x)]


def nominal_value(rng: dict, doc: dict) -> float:
    """A range at the instance as written: the number (value), factor 1, the nominal choice's middle."""
    from .instance import get_dotted

    if rng["kind"] == "value":
        return float(get_dotted(doc, rng["keys"][0]))
    if rng["kind"] == "choice":
        return rng["nominal"] + 0.5
    return 1.0


def apply(doc: dict, ranges: dict, params: dict) -> tuple[dict, list]:
    """The document with ``params`` {range: value} applied (choices first) and the table scalings
    ``[(file, column, where, years, factor), ...]`` to hand to :class:`ScaledFiles`."""
    from .instance import apply_scenario, get_dotted, set_dotted

    order = sorted(params, key=lambda k: ranges[k]["kind"] != "choice")
    doc, scalings = copy.deepcopy(doc), []
    for k in order:
        rng, x = ranges[k], float(params[k])
        if rng["kind"] == "choice":
            for sd, where in rng["documents"][choice_index(rng, x)]:
                doc = apply_scenario(doc, sd, where)
            continue
        for dotted in rng["keys"]:
            cur = get_dotted(doc, dotted)
            ref = table_ref(cur)
            if ref is not None:
                scalings.append((ref["file"], ref["column"], rng.get("where") or {}, rng.get("years") or [], x))
            elif rng["kind"] == "value":
                doc = set_dotted(doc, dotted, x)
            else:
                doc = set_dotted(doc, dotted, cur * x)
    return doc, scalings


def build_sample(doc: dict, folder: str | Path, ranges: dict, params: dict, boundary: str | None = None):
    """The System of one parameter set: ranges applied to the document, tables scaled in memory."""
    from .instance import build

    doc, scalings = apply(doc, ranges, params)
    files = ScaledFiles(Path(folder), scalings) if scalings else None
    return build(doc, folder, boundary=boundary, files=files)


class ScaledFiles(InstanceFiles):
    """The instance's files, with some table columns scaled in memory (the files are not written)."""

    def __init__(self, folder: str | Path, scalings: list):
        super().__init__(folder)
        self.scalings: dict[Path, list] = {}
        for rel, col, where, years, x in scalings:
            self.scalings.setdefault((Path(folder) / rel).resolve(), []).append((col, where, years, x))

    def read_bytes(self, rel: Any, where: str, what: str = "file", **kw) -> bytes:
        data = super().read_bytes(rel, where, what, **kw)
        todo = self.scalings.get(self.path(rel, where, what))
        if not todo:
            return data
        df = read_table(data, str(rel), comment="#", skipinitialspace=True)
        for col, wh, years, x in todo:
            rows = _rows(df, wh, years)
            df[col] = df[col].astype(float)
            df.loc[rows, col] = df.loc[rows, col].to_numpy(float) * x
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        return buf.getvalue().encode()


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
