"""Instance files -> validated :class:`~circopt.system.System`.

An instance is a folder holding ``instance.yaml``, CSV tables beside it (time series,
matrices), a ``sources.csv`` bibliography and optional ``scenarios/*.yaml`` overrides.
The format is documented key by key in ``docs/instance-format.md``; the tables
``NODE_KEYS`` / ``TOP_KEYS`` below are what the loader accepts (a test keeps the two in
step).

Loading never does any engine work: every problem is found here, reported with the
file, the key path, the value and what was expected, and *all* problems are collected
so that ``circopt check`` can list them at once.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .definition import checks
from .definition.files import InstanceFiles, canonical_key, read_table
from .errors import CircoptWarning, InstanceError, InstanceErrors, excerpt
from .lifetimes import make_lifetime
from .system import (
    BOUNDARIES,
    EXPORTED,
    LOSS_TYPES,
    NODE_KINDS,
    OTHER,
    Blend,
    BlendOutput,
    Edge,
    Node,
    System,
)

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
    "compositions": "mapping name -> {composition, source}: named compositions",
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
#: old spelling -> new, accepted with a FutureWarning (the words now mean one thing each: a
#: "composition" is a named mix of elements, a "stream" was both that and an edge; "other" is
#: the rest-of-mass channel, no longer also a loss type)
DEPRECATED = {"streams": "compositions", "stream": "composition", "history_stream": "history_composition",
              "loss: other": "loss: unspecified"}
UNITS = {"kg": 1e-3, "t": 1.0, "kt": 1e3, "Mt": 1e6, "Gt": 1e9}

_REF = re.compile(r"^(?P<name>[A-Za-z_][\w\-]*)(?:\[(?P<idx>[^\]]*)\])?(?P<next>\.next_life)?$")


# ----------------------------------------------------------------------------------------
# reading files
# ----------------------------------------------------------------------------------------
def _deep_merge_checked(base: dict, over: dict, path: str, where: str, *, must_exist: bool) -> None:
    for key, val in over.items():
        if key not in base and canonical_key(key) in base:  # '2020' overrides 2020
            key = canonical_key(key)
        kp = f"{path}.{key}" if path else str(key)
        if must_exist and key not in base:
            raise InstanceError(where, f"scenario overrides '{kp}', which does not exist in the instance",
                                expected="an existing key (use 'add:' for new keys)")
        if not must_exist and key in base and not (isinstance(val, dict) and isinstance(base[key], dict)):
            raise InstanceError(where, f"scenario adds '{kp}', which already exists",
                                expected="a new key (override existing keys at top level)")
        if isinstance(val, dict) and isinstance(base.get(key), dict):
            _deep_merge_checked(base[key], val, kp, where, must_exist=must_exist)
        else:
            base[key] = copy.deepcopy(val)


def apply_scenario(doc: dict, scen: dict, where: str) -> dict:
    """Apply a scenario document (``override`` at top level, ``add:``, ``replace:``)."""
    doc = copy.deepcopy(doc)
    if not isinstance(scen, dict):
        raise InstanceError(where, "a scenario file must be a mapping", type(scen).__name__)
    for key, val in scen.items():
        if key in ("description", "extends"):
            continue
        if key == "add":
            _deep_merge_checked(doc, val or {}, "", where, must_exist=False)
        elif key == "replace":
            for dotted, new in (val or {}).items():
                parts = str(dotted).split(".")
                tgt = doc
                for i, p in enumerate(parts):
                    if isinstance(tgt, dict) and p not in tgt:
                        p = canonical_key(p)  # 'nodes.eol.baseline.reuse.1' reaches the key 1
                    if not isinstance(tgt, dict) or p not in tgt:
                        raise InstanceError(where, f"scenario replaces {excerpt(dotted)}, which does not exist")
                    if i == len(parts) - 1:
                        tgt[p] = copy.deepcopy(new)
                    tgt = tgt[p]
        else:
            _deep_merge_checked(doc, {key: val}, "", where, must_exist=True)
    return doc


def helper_module(folder: str | Path, name: str):
    """An instance folder's own Python helper (e.g. its ``metrics.py``), loaded by path under a
    name unique to the folder, so two instances' helpers of the same name never clash."""
    import importlib.util

    folder = Path(folder).resolve()
    path = folder / f"{name}.py"
    if not path.is_file():
        raise InstanceError(str(folder), f"no helper module {name}.py in the instance folder")
    spec = importlib.util.spec_from_file_location(f"{folder.name}_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scenario_names(path: str | Path) -> list[str]:
    d = Path(path) / "scenarios"
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_document(path: str | Path, scenario: str | None = None,
                  files: InstanceFiles | None = None) -> tuple[dict, Path, str]:
    """Read ``instance.yaml`` and apply a scenario. Returns (document, folder, content hash).

    Scenario files are read inside the folder only (``files`` records what was read)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    yml = folder / "instance.yaml"
    if not yml.is_file():
        raise InstanceError(str(folder), "no instance.yaml in this folder", expected="an instance folder")
    files = files or InstanceFiles(folder)
    doc = files.read_yaml("instance.yaml", str(yml), "instance.yaml")
    if not isinstance(doc, dict):
        raise InstanceError(str(yml), "the instance must be a YAML mapping", type(doc).__name__)
    if scenario:
        chain, name, where = [], scenario, "--scenario"
        while name:
            if checks.bad_name(name):
                raise InstanceError(where, "a scenario is named by its file in scenarios/ (without .yaml)",
                                    excerpt(name), expected=checks.NAME_RULE)
            sp = folder / "scenarios" / f"{name}.yaml"
            if not sp.is_file():
                raise InstanceError(str(folder / "scenarios"), f"unknown scenario '{name}'",
                                    expected=f"one of {scenario_names(folder)}")
            sd = files.read_yaml(f"scenarios/{name}.yaml", where, "scenario file")
            chain.append((sd, str(sp)))
            name = sd.get("extends") if isinstance(sd, dict) else None
            where = f"{sp}: extends"
            if len(chain) > 20:
                raise InstanceError(str(sp), "scenario 'extends' chain is circular")
        for sd, sp in reversed(chain):
            doc = apply_scenario(doc, sd, sp)
    return doc, folder, files.content_hash()


# ----------------------------------------------------------------------------------------
# parameter resolution
# ----------------------------------------------------------------------------------------
class _Ctx:
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
        sub = _member_rows(df, index)
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


def _member_rows(df: pd.DataFrame, index: dict) -> pd.DataFrame:
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


# ----------------------------------------------------------------------------------------
# building the System
# ----------------------------------------------------------------------------------------
def load(path: str | Path, scenario: str | None = None, boundary: str | None = None) -> System:
    """Load and validate an instance folder (optionally with a named scenario applied).

    ``boundary`` is the view of material that leaves the region (``export`` nodes):
    ``domestic`` (default: exported = lost to the region) or ``global`` (an export node with
    ``abroad`` passes its material on to that declared end of life abroad).
    Raises :class:`InstanceErrors` listing every problem found.
    """
    folder = Path(path)
    files = InstanceFiles(folder.parent if folder.is_file() else folder)
    doc, folder, _ = load_document(path, scenario, files)
    system = _build(doc, folder, str(folder / "instance.yaml"), boundary, files, scenario)
    _warn_notes(system)
    system.scenario = scenario
    system.path = str(folder)
    system.content_hash = files.content_hash()  # every file read, tables included
    return system


def build(doc: dict, folder: str | Path = ".", file_label: str = "instance.yaml",
          boundary: str | None = None, files: InstanceFiles | None = None, scenario: str | None = None) -> System:
    """Build a System from an instance document (a dict as read from YAML). Files it names are
    read inside ``folder`` only. A note on the data's magnitude range is issued as a
    :class:`~circopt.errors.CircoptWarning` and kept in ``System.notes``."""
    system = _build(doc, Path(folder), file_label, boundary, files, scenario)
    _warn_notes(system)
    return system


def _build(doc: dict, folder: Path, file_label: str, boundary: str | None, files: InstanceFiles | None,
           scenario: str | None) -> System:
    boundary = boundary or "domestic"
    if boundary not in BOUNDARIES:
        raise InstanceError("boundary", "unknown boundary view", boundary, expected=f"one of {list(BOUNDARIES)}")
    system = _Builder(doc, folder, file_label, boundary, files, scenario).run()
    system.boundary = boundary
    return system


def _warn_notes(system: System) -> None:
    for note in system.notes:
        warnings.warn(f"{system.name}: {note}", CircoptWarning, stacklevel=3)


class _Builder:
    def __init__(self, doc: dict, folder: Path, yml: str, boundary: str = "domestic",
                 files: InstanceFiles | None = None, scenario: str | None = None):
        self.doc = doc
        self.folder = folder
        self.yml = yml
        self.boundary = boundary
        self.files = files or InstanceFiles(folder)
        self.scenario = scenario
        self.errors: list[InstanceError] = []

    def err(self, key: str, problem: str, value=None, expected=None):
        self.errors.append(InstanceError(f"{self.yml}: {key}", problem, value, expected))

    def deprecated(self, old: str, where: str = "") -> None:
        import warnings

        warnings.warn(f"{self.yml}: {where + ': ' if where else ''}'{old}' is deprecated, write "
                      f"'{DEPRECATED[old]}'", FutureWarning, stacklevel=3)

    def fail_if_errors(self):
        if self.errors:
            raise InstanceErrors(self.errors)

    # -- top level -----------------------------------------------------------------
    def run(self) -> System:
        d = self.doc
        unit, years, elements, timing, nodes_doc = self._header(d)

        self.elements = list(elements)
        self.C = len(elements) + 1
        self.years = years
        self.T = len(years)
        self.timing = timing
        self.dims = self._dimensions(d.get("dimensions") or {}, nodes_doc)
        self.ctx = _Ctx(self.folder, self.yml, years, unit, self.dims, self.files)
        self.sources = self._sources(d.get("sources", "sources.csv"))
        if "streams" in d and "compositions" in d:
            self.err("streams", "give 'compositions' only ('streams' is its deprecated name)")
        elif "streams" in d:
            self.deprecated("streams")
        label = "streams" if "streams" in d and "compositions" not in d else "compositions"
        self.streams = self._streams(d.get(label) or {}, label)
        self.fail_if_errors()

        self._expand(nodes_doc)
        self.fail_if_errors()
        self.edges: list[Edge] = []
        self.blends: list[Blend] = []
        for fam, spec in nodes_doc.items():
            for nid in self.family_nodes.get(fam, []):
                try:
                    self._node(nid, spec)
                except InstanceError as e:
                    self.errors.append(e)
                    break
                except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
                    # a value of the wrong shape that no specific check caught: still name the node
                    self.err(f"nodes.{fam}", f"malformed value ({type(e).__name__}: {e})",
                             expected="the form documented in docs/instance-format.md")
                    break
        self.fail_if_errors()
        self._drop_past_last_life()
        self._check_pairs()
        system = System(
            name=str(d["name"]), description=str(d.get("description", "")), unit=unit, years=years,
            elements=self.elements, nodes=self.nodes, edges=self.edges, blends=self.blends, timing=timing,
            dimensions=self.dims, sources=self.sources, node_sources=self.node_sources,
            constraints=list(d.get("constraints") or []), levers=dict(d.get("levers") or {}),
            raw=self.doc,
        )
        self._ranges(d.get("ranges") or {}, nodes_doc, system)
        from .network import check_structure  # late import: network imports system only

        try:
            check_structure(system)
        except InstanceErrors as e:
            self.errors.extend(e.errors)
        except InstanceError as e:
            self.errors.append(e)
        if not self.errors:  # settings are read against a valid network
            self.errors.extend(checks.study_settings(system, self.yml, self.folder, self.scenario))
        if not self.errors and "indicators" in d:
            from .indicators import validate

            self.errors.extend(validate(system, self.yml))
        self.fail_if_errors()
        note = checks.magnitude_note(system)
        if note:
            system.notes.append(note)
        return system

    def _header(self, d: Any) -> tuple:
        """The top-level keys: unit, years, elements, timing, nodes (every problem listed)."""
        if not isinstance(d, dict):
            raise InstanceError(self.yml, "the instance must be a mapping")
        for k in d:
            if k not in TOP_KEYS:
                self.err(str(k), "unknown top-level key", expected=f"one of {sorted(TOP_KEYS)}")
        for k in ("name", "unit", "years", "elements", "nodes"):
            if k not in d:
                self.err(k, "required key missing")
        for where, problem, value in checks.number_problems(d):
            self.err(where, problem, value, expected=f"a finite number of magnitude <= {checks.MAX_MAGNITUDE:g}")
        self.fail_if_errors()
        unit = str(d["unit"])
        if unit not in UNITS:
            self.err("unit", "unknown unit", unit, expected=f"one of {list(UNITS)}")
        yrs = d["years"]
        if (not isinstance(yrs, list) or len(yrs) != 2
                or not all(isinstance(y, int) and not isinstance(y, bool) for y in yrs) or yrs[1] < yrs[0]):
            self.err("years", "expected [first, last], whole numbers with first <= last", yrs)
            self.fail_if_errors()
        if yrs[1] - yrs[0] >= checks.MAX_YEARS:
            self.err("years", f"more than {checks.MAX_YEARS} model years", yrs)
            self.fail_if_errors()
        years = np.arange(yrs[0], yrs[1] + 1)
        elements = d["elements"]
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            self.err("elements", "expected a list of element names", elements)
        elif len(set(elements)) != len(elements):
            self.err("elements", "duplicated element", [e for e in elements if elements.count(e) > 1][0])
        elif OTHER in elements or "total" in elements:
            self.err("elements", "'other' and 'total' are reserved names", elements)
        else:
            for e in elements:
                if checks.bad_name(e):
                    self.errors.append(checks.name_error(f"{self.yml}: elements", "an element name", e))
        timing = d.get("timing", "end")
        if timing not in ("end", "middle"):
            self.err("timing", "unknown timing convention", timing, expected="'end' or 'middle'")
        nodes_doc = d["nodes"]
        if not isinstance(nodes_doc, dict) or not nodes_doc:
            self.err("nodes", "expected a non-empty mapping of node name -> node", nodes_doc)
        self.fail_if_errors()
        return unit, years, elements, timing, nodes_doc

    def _dimensions(self, dims_doc: dict, nodes_doc: dict) -> dict[str, list]:
        dims: dict[str, list] = {}
        if not isinstance(dims_doc, dict):
            self.err("dimensions", "expected a mapping dim -> list of values", dims_doc)
            return dims
        for k, v in dims_doc.items():
            if checks.bad_name(k):
                self.errors.append(checks.name_error(f"{self.yml}: dimensions.{k}", "a dimension name", k))
            elif not isinstance(v, list) or not v:
                self.err(f"dimensions.{k}", "expected a non-empty list of values", v)
            elif any(checks.bad_name(x, value=True) for x in v):
                bad = next(x for x in v if checks.bad_name(x, value=True))
                self.errors.append(checks.name_error(f"{self.yml}: dimensions.{k}", "a dimension value", bad,
                                                     value=True))
            elif len(set(map(str, v))) != len(v):
                self.err(f"dimensions.{k}", "duplicated value", v)
            else:
                dims[str(k)] = list(v)
        lives = {f: s.get("lives") for f, s in nodes_doc.items() if isinstance(s, dict) and s.get("lives")}
        for fam, k in lives.items():
            if not isinstance(k, int) or isinstance(k, bool) or k < 0:
                self.err(f"nodes.{fam}.lives", "expected a whole number >= 0 (further lives)", k)
                continue
            want = list(range(1, k + 2))
            if "life" in dims and dims["life"] != want:
                self.err(f"nodes.{fam}.lives", "conflicts with another 'life' dimension", dims["life"],
                         expected=f"{want}")
            dims["life"] = want
        return dims

    def _sources(self, rel: str) -> dict[str, str]:
        p = self.folder / str(rel)
        try:
            df = read_table(self.files.read_bytes(rel, f"{self.yml}: sources", "sources table"), str(p))
        except InstanceError as e:
            self.errors.append(e)
            return {}
        if "source_id" not in df.columns:
            self.errors.append(InstanceError(str(p), "column 'source_id' missing", list(df.columns)))
            return {}
        if df["source_id"].duplicated().any():
            self.errors.append(InstanceError(str(p), "duplicated source_id",
                                             list(df["source_id"][df["source_id"].duplicated()])))
        cit = df["citation"] if "citation" in df.columns else df["source_id"]
        return {str(k): str(v) for k, v in zip(df["source_id"], cit)}

    def _check_source(self, key: str, sid: Any):
        ids = sid if isinstance(sid, list) else [sid]
        for s in ids:
            if s != "estimate" and str(s) not in self.sources:
                self.err(key, "unknown source id", s, expected="an id from the sources table or 'estimate'")

    def _streams(self, sdoc: dict, label: str = "compositions") -> dict[str, np.ndarray]:
        out = {}
        if not isinstance(sdoc, dict):
            self.err(label, "expected a mapping name -> {composition, source}", sdoc)
            return out
        for name, spec in sdoc.items():
            key = f"{label}.{name}"
            if checks.bad_name(name):
                self.errors.append(checks.name_error(self.ctx.where(key), "a composition name", name))
                continue
            if not isinstance(spec, dict) or "composition" not in spec:
                self.err(key, "expected {composition: {element: fraction}, source: id}", spec)
                continue
            for k in spec:
                if k not in STREAM_KEYS:
                    self.err(f"{key}.{k}", "unknown key", expected=f"one of {sorted(STREAM_KEYS)}")
            if "source" not in spec:
                self.err(f"{key}.source", "every composition cites a source id or says 'estimate'")
            else:
                self._check_source(f"{key}.source", spec["source"])
            try:
                out[name] = self._composition(spec["composition"], f"{key}.composition", {})
            except InstanceError as e:
                self.errors.append(e)
        return out

    def _composition(self, comp: Any, key: str, index: dict) -> np.ndarray:
        if not isinstance(comp, dict):
            raise InstanceError(self.ctx.where(key), "expected a mapping element -> mass fraction", comp)
        arr = np.zeros((self.T, self.C))
        for el, v in comp.items():
            if el not in self.elements:
                raise InstanceError(self.ctx.where(f"{key}.{el}"), "unknown element", el,
                                    expected=f"one of {self.elements}")
            arr[:, self.elements.index(el)] = self.ctx.resolve(v, f"{key}.{el}", index, fraction=True)
        s = arr[:, :-1].sum(axis=1)
        if np.any(s > 1 + SUM_TOL):
            raise InstanceError(self.ctx.where(key), "composition above 100 %", f"{s.max():.6g}",
                                expected="element fractions summing to at most 1")
        arr[:, -1] = np.clip(1.0 - s, 0.0, None)
        return arr

    # -- expansion -----------------------------------------------------------------
    def _expand(self, nodes_doc: dict):
        self.nodes: list[Node] = []
        self.family_nodes: dict[str, list[int]] = {}
        self.family_dims: dict[str, list[str]] = {}
        self.node_sources: dict[str, list[str]] = {}
        for fam, spec in nodes_doc.items():
            key = f"nodes.{fam}"
            if checks.bad_name(fam):
                self.errors.append(checks.name_error(self.ctx.where(key), "a node name", fam))
                continue
            if not isinstance(spec, dict):
                self.err(key, "expected a mapping", spec)
                continue
            kind = spec.get("kind")
            if kind not in NODE_KINDS:
                self.err(f"{key}.kind", "unknown or missing node kind", kind, expected=f"one of {list(NODE_KINDS)}")
                continue
            for k in spec:
                if (kind, k) in REMOVED_KEYS:
                    self.err(f"{key}.{k}", REMOVED_KEYS[(kind, k)])
                elif k not in NODE_KEYS[kind]:
                    self.err(f"{key}.{k}", f"unknown key for a {kind} node", expected=f"one of {sorted(NODE_KEYS[kind])}")
            over = spec.get("over") or []
            if isinstance(over, str):
                over = [over]
            if not isinstance(over, list) or not all(isinstance(o, str) for o in over):
                self.err(f"{key}.over", "expected a list of dimension names", over)
                continue
            if kind == "stock" and spec.get("lives") and "life" not in over:
                over = [*over, "life"]
            bad = [o for o in over if o not in self.dims]
            if bad:
                self.err(f"{key}.over", "unknown dimension", bad, expected=f"one of {list(self.dims)}")
                continue
            if "source" not in spec and "sources" not in spec and kind not in ("sink", "export"):
                self.err(f"{key}.source", "every node with numbers cites a source id or says 'estimate'")
            for sk in ("source", "sources"):
                if sk in spec:
                    v = spec[sk]
                    vals = list(v.values()) if isinstance(v, dict) else v
                    self._check_source(f"{key}.{sk}", vals)
                    flat = vals if isinstance(vals, list) else [vals]
                    self.node_sources[fam] = [str(x) for x in flat]
            self.family_dims[fam] = list(over)
            ids = []
            size = math.prod(len(self.dims[o]) for o in over)
            if size > checks.MAX_MEMBERS:
                self.err(f"{key}.over", f"the family expands into {size:,} members", over,
                         expected=f"at most {checks.MAX_MEMBERS:,}")
                continue
            for combo in itertools.product(*[self.dims[o] for o in over]):
                index = dict(zip(over, combo))
                name = fam if not over else f"{fam}[{','.join(map(str, combo))}]"
                node = Node(name=name, family=fam, kind=self._internal_kind(kind, spec), index=index,
                            where=f"{self.yml}: {key}")
                ids.append(len(self.nodes))
                self.nodes.append(node)
            self.family_nodes[fam] = ids

    def _internal_kind(self, kind: str, spec: dict) -> str:
        """An ``export`` node is a sink tagged exported, except under the global boundary view
        with a declared fate abroad (``abroad``), where it passes its input on (a process)."""
        if kind != "export":
            return kind
        return "process" if self.boundary == "global" and spec.get("abroad") is not None else "sink"

    def _ref(self, ref: Any, src: int, key: str) -> int | None:
        """Resolve a target reference from node ``src``; None = past the last life (dropped)."""
        if not isinstance(ref, str):
            raise InstanceError(self.ctx.where(key), "expected a node reference", ref)
        m = _REF.match(ref.strip())
        if not m or m["name"] not in self.family_nodes:
            raise InstanceError(self.ctx.where(key), "unknown node", ref, expected=f"one of {list(self.family_nodes)}")
        fam = m["name"]
        dims = self.family_dims[fam]
        index = dict(self.nodes[src].index)
        explicit: dict[str, str] = {}
        if m["idx"]:
            parts = [p.strip() for p in m["idx"].split(",")]
            for i, p in enumerate(parts):
                if "=" in p:
                    dk, dv = (s.strip() for s in p.split("=", 1))
                elif len(parts) == len(dims):
                    dk, dv = dims[i], p
                else:
                    raise InstanceError(self.ctx.where(key), "ambiguous index; write dim=value", ref)
                if dk not in dims:
                    raise InstanceError(self.ctx.where(key), f"node {fam} is not over '{dk}'", ref,
                                        expected=f"dimensions {dims}")
                explicit[dk] = dv
        want = []
        for dk in dims:
            if dk in explicit:
                want.append(explicit[dk])
            elif dk in index:
                v = index[dk]
                if m["next"] and dk == "life":
                    v = v + 1
                    if v > max(self.dims["life"]):
                        return None
                want.append(v)
            elif dk == "life":  # entering a stock with lives from outside: the first life
                want.append(self.dims["life"][0])
            else:
                raise InstanceError(self.ctx.where(key), f"node {fam} is over '{dk}' but {self.nodes[src].name} "
                                    "is not; give the index explicitly", ref, expected=f"{fam}[{dk}=...]")
        if m["next"] and "life" not in dims:
            raise InstanceError(self.ctx.where(key), "'.next_life' needs a target over 'life' (a stock with lives)", ref)
        if m["next"] and "life" not in index:
            raise InstanceError(self.ctx.where(key), "'.next_life' used from a node that is not over 'life'", ref)
        for nid in self.family_nodes[fam]:
            if [str(self.nodes[nid].index[dk]) for dk in dims] == [str(w) for w in want]:
                return nid
        raise InstanceError(self.ctx.where(key), "no such member of the node family", ref,
                            expected=f"values from {[self.dims[dk] for dk in dims]}")

    def _edge(self, src: int, tgt: int, label: str, rule: str, key: str, **kw) -> Edge:
        e = Edge(id=len(self.edges), source=src, target=tgt, label=label, rule=rule, where=self.ctx.where(key), **kw)
        self.edges.append(e)
        return e

    def _drop_past_last_life(self):
        dead = [i for i, n in enumerate(self.nodes) if "past_last_life" in n.meta]
        if not dead:
            return
        dead_set = set(dead)
        drop = []
        for e in self.edges:
            if e.target not in dead_set:
                continue
            n = self.nodes[e.target]
            unused = (e.rule == "route" and not np.any(e.lo > 0)
                      and (e.coef is None or not np.any(e.coef > 0)))
            if unused:  # a split route into it that is never used: the route does not exist either
                drop.append(e.id)
            else:
                self.errors.append(InstanceError(n.where, f"{n.name} sends {n.meta['past_last_life']} past the last "
                                                 f"life but receives a stream from {self.nodes[e.source].name}",
                                                 expected="no stream into it at the last life (a zero share there)"))
        if self.errors:
            raise InstanceErrors(self.errors)
        self.edges = [e for e in self.edges if e.id not in set(drop)]
        for k, e in enumerate(self.edges):
            e.id = k
        keep = [i for i in range(len(self.nodes)) if i not in set(dead)]
        remap = {old: new for new, old in enumerate(keep)}
        self.nodes = [self.nodes[i] for i in keep]
        for e in self.edges:
            e.source, e.target = remap[e.source], remap[e.target]
        for fam, ids in self.family_nodes.items():
            self.family_nodes[fam] = [remap[i] for i in ids if i in remap]
        for b in self.blends:
            b.node = remap[b.node]

    def _check_pairs(self):
        seen = {}
        for e in self.edges:
            pair = (e.source, e.target)
            if pair in seen:
                self.errors.append(InstanceError(e.where, "two streams join the same pair of nodes "
                                                 f"({self.nodes[e.source].name} -> {self.nodes[e.target].name})",
                                                 expected="one stream per pair (merge the routes)"))
            seen[pair] = e.id
            if self.nodes[e.target].kind == "source":
                self.errors.append(InstanceError(e.where, f"a stream flows into source {self.nodes[e.target].name}",
                                                 expected="sources have no inputs"))
        if self.errors:
            raise InstanceErrors(self.errors)

    # -- per-kind ------------------------------------------------------------------
    def _node(self, nid: int, spec: dict):
        node = self.nodes[nid]
        key = f"nodes.{node.family}"
        if spec.get("kind") == "export":
            node.meta["exported"] = True  # results report its inflow as kind 'exported'
            if spec.get("abroad") is not None:
                tgt = self._ref(spec["abroad"], nid, f"{key}.abroad")
                if tgt is None:
                    raise InstanceError(self.ctx.where(f"{key}.abroad"), "the fate abroad must be a node", spec["abroad"])
                # under the domestic view nothing reaches it: not a dangling node
                self.nodes[tgt].meta["fate_abroad_of"] = node.name
            if node.kind == "process":
                return self._node_process(nid, node, {"to": spec["abroad"]}, key)
            node.loss = EXPORTED
            return None
        getattr(self, f"_node_{node.kind}")(nid, node, spec, key)

    def _per_unit(self, node, spec, name, key) -> np.ndarray | None:
        if name not in spec:
            return None
        return self.ctx.resolve(spec[name], f"{key}.{name}", node.index)

    def _node_source(self, nid, node: Node, spec, key):
        node.free = bool(spec.get("free", False))
        if "follows" in spec:
            if "series" in spec or node.free:
                raise InstanceError(self.ctx.where(f"{key}.follows"), "a following source has no series and is "
                                    "not free", expected="either 'follows' + 'ratio', 'series', or 'free: true'")
            tgt = self._ref(spec["follows"], nid, f"{key}.follows")
            if tgt is None:
                raise InstanceError(self.ctx.where(f"{key}.follows"), "cannot follow a life past the last")
            node.meta["follows"] = tgt
            if "ratio" not in spec:
                raise InstanceError(self.ctx.where(f"{key}.ratio"), "a following source needs 'ratio' "
                                    "(its amount per unit of the followed node's input)")
            node.meta["ratio"] = self.ctx.resolve(spec["ratio"], f"{key}.ratio", node.index)
        elif "ratio" in spec:
            raise InstanceError(self.ctx.where(f"{key}.ratio"), "'ratio' only goes with 'follows'")
        if "series" in spec:
            if node.free:
                raise InstanceError(self.ctx.where(f"{key}.series"), "a free source has no series", spec["series"],
                                    expected="either 'series' or 'free: true'")
            node.series = self.ctx.resolve(spec["series"], f"{key}.series", node.index, mass=True)
        if "max" in spec:
            node.max_series = self.ctx.resolve(spec["max"], f"{key}.max", node.index, mass=True)
        node.cost = self._per_unit(node, spec, "cost", key)
        node.energy = self._per_unit(node, spec, "energy", key)
        node.co2 = self._per_unit(node, spec, "co2", key)
        if node.free:
            missing = [k for k in PRICES if k not in spec]
            if missing:
                raise InstanceError(self.ctx.where(f"{key}.{missing[0]}"), f"free source {node.name} has no "
                                    f"{', '.join(repr(k) for k in missing)}: the optimiser may draw on it, so every "
                                    "objective that counts energy, co2 or cost must see what it supplies",
                                    expected="energy, co2 and cost per unit supplied (write 0 where it is truly "
                                    "zero; the node's 'source' ids cite it)")
        named = "composition" if isinstance(spec.get("composition"), str) else "stream" if "stream" in spec else None
        if named == "stream":
            self.deprecated("stream", key)
        if named:
            if spec[named] not in self.streams:
                raise InstanceError(self.ctx.where(f"{key}.{named}"), "unknown composition", spec[named],
                                    expected=f"one of {list(self.streams)} (top-level 'compositions')")
            node.composition = self.streams[spec[named]]
        elif "composition" in spec:
            node.composition = self._composition(spec["composition"], f"{key}.composition", node.index)
        else:
            raise InstanceError(self.ctx.where(key), "a source needs a 'composition' (a mapping, or the name of one "
                                "of the top-level 'compositions')")
        to = spec.get("to")
        if to is None:
            raise InstanceError(self.ctx.where(f"{key}.to"), "a source needs a target")
        targets = {to: 1.0} if isinstance(to, str) else to
        if not isinstance(targets, dict):
            raise InstanceError(self.ctx.where(f"{key}.to"), "expected a node or a mapping node -> fraction", to)
        total = np.zeros(self.T)
        for ref, frac in targets.items():
            tgt = self._ref(ref, nid, f"{key}.to")
            if tgt is None:
                raise InstanceError(self.ctx.where(f"{key}.to"), "a source cannot send to a life past the last", ref)
            f = self.ctx.resolve(frac, f"{key}.to.{ref}", node.index, fraction=True)
            total += f
            self._edge(nid, tgt, ref, "source", f"{key}.to", coef=f)
        if np.any(np.abs(total - 1) > SUM_TOL):
            raise InstanceError(self.ctx.where(f"{key}.to"), "fractions to targets do not sum to 1",
                                f"{total.min():.12g}", expected=f"1 within {SUM_TOL}")

    def _tc(self, spec: Any, key: str, index: dict) -> np.ndarray | str:
        """A transfer coefficient: number/table for all channels, or a mapping by element (+default)."""
        if spec == "rest":
            return "rest"
        out = np.zeros((self.T, self.C))
        if isinstance(spec, dict) and "file" not in spec and set(map(str, spec)) <= {*self.elements, "default", OTHER}:
            default = spec.get("default")
            for ci, ch in enumerate(self.channels()):
                v = spec.get(ch, default)
                if v is None:
                    raise InstanceError(self.ctx.where(key), f"no transfer coefficient for '{ch}'",
                                        expected="a value for every element, or 'default'")
                out[:, ci] = self.ctx.resolve(v, f"{key}.{ch}", index, fraction=True)
            return out
        v = self.ctx.resolve(spec, key, index, fraction=True)
        out[:] = v[:, None]
        return out

    def channels(self):
        return [*self.elements, OTHER]

    def _node_process(self, nid, node: Node, spec, key):
        to = spec.get("to")
        if to is None:
            raise InstanceError(self.ctx.where(f"{key}.to"), "a process needs 'to'")
        targets = {to: 1.0} if isinstance(to, str) else to
        if not isinstance(targets, dict) or not targets:
            raise InstanceError(self.ctx.where(f"{key}.to"), "expected a node or mapping node -> coefficient", to)
        tcs, rest = {}, None
        for ref, tcspec in targets.items():
            tc = self._tc(tcspec, f"{key}.to.{ref}", node.index)
            if isinstance(tc, str):
                if rest is not None:
                    raise InstanceError(self.ctx.where(f"{key}.to"), "only one output may be 'rest'", ref)
                rest = ref
            else:
                tcs[ref] = tc
        s = sum(tcs.values()) if tcs else np.zeros((self.T, self.C))
        if rest is not None:
            if np.any(s > 1 + SUM_TOL):
                raise InstanceError(self.ctx.where(f"{key}.to"), "coefficients exceed 1 before 'rest'",
                                    f"{s.max():.12g}")
            tcs[rest] = np.clip(1.0 - s, 0.0, None)
        else:
            dev = np.abs(s - 1.0)
            if np.any(dev > SUM_TOL):
                t, c = np.unravel_index(int(np.argmax(dev)), dev.shape)
                raise InstanceError(self.ctx.where(f"{key}.to"), "transfer coefficients do not sum to 1 for "
                                    f"'{self.channels()[c]}' in {int(self.years[t])}", f"{s[t, c]:.12g}",
                                    expected=f"1 within {SUM_TOL} (or mark one output 'rest')")
        targets_ok = {ref: self._ref(ref, nid, f"{key}.to") for ref in tcs}
        if any(t is None for t in targets_ok.values()):
            # a member that would send past the last life exists only if nothing reaches it
            # (e.g. remanufacturing at the last life, whose route into it does not exist)
            node.meta["past_last_life"] = [r for r, t in targets_ok.items() if t is None]
            return
        for ref, tc in tcs.items():
            self._edge(nid, targets_ok[ref], ref, "tc", f"{key}.to.{ref}", coef=tc)
        node.energy = self._per_unit(node, spec, "energy", key)
        node.co2 = self._per_unit(node, spec, "co2", key)
        node.cost = self._per_unit(node, spec, "cost", key)

    def _node_stock(self, nid, node: Node, spec, key):
        life = int(node.index.get("life", 1))
        node.life = life
        lt_spec = spec.get("lifetime")
        lt_key = f"{key}.lifetime"
        later = spec.get("later_lives")
        if life > 1 and later is not None:
            if not isinstance(later, dict) or "lifetime" not in later:
                raise InstanceError(self.ctx.where(f"{key}.later_lives"), "expected {lifetime: {...}}", later)
            lt_spec, lt_key = later["lifetime"], f"{key}.later_lives.lifetime"
        if not isinstance(lt_spec, dict):
            raise InstanceError(self.ctx.where(lt_key), "a stock needs a lifetime {model: ..., mean: ..., sd: ...}",
                                lt_spec)
        resolved = {}
        for k, v in lt_spec.items():
            if k in ("model",):
                resolved[k] = v
            elif k == "pmf":
                resolved[k] = v
            else:
                arr = self.ctx.resolve(v, f"{lt_key}.{k}", node.index, nonneg=False)
                resolved[k] = float(arr[0]) if np.all(arr == arr[0]) else arr.tolist()
        node.lifetime = make_lifetime(resolved, where=self.ctx.where(lt_key), n_cohorts=self.T)
        to = spec.get("to")
        if to is None:
            raise InstanceError(self.ctx.where(f"{key}.to"), "a stock needs 'to' (where its outflow goes)")
        tgt = self._ref(to, nid, f"{key}.to")
        if tgt is None:
            raise InstanceError(self.ctx.where(f"{key}.to"), "a stock's outflow cannot go past the last life", to)
        self._edge(nid, tgt, str(to), "stock", f"{key}.to")
        hist_comp = None
        hkey = "history_composition" if "history_composition" in spec else "history_stream"
        if hkey == "history_stream" and hkey in spec:
            self.deprecated("history_stream", key)
        if hkey in spec:
            hs = spec[hkey]
            if isinstance(hs, dict):  # one stream per member of the family, keyed by a dimension's values
                hs = next((hs[str(v)] if str(v) in hs else hs.get(v) for v in node.index.values()
                           if str(v) in map(str, hs)), None)
                if hs is None:
                    raise InstanceError(self.ctx.where(f"{key}.{hkey}"), f"no composition for {node.name}",
                                        list(spec[hkey]), expected=f"a key among {list(node.index.values())}")
            if hs not in self.streams:
                raise InstanceError(self.ctx.where(f"{key}.{hkey}"), "unknown composition", hs,
                                    expected=f"one of {list(self.streams)}")
            hist_comp = self.streams[hs]
        if "history" in spec or "initial_stock" in spec:
            if hist_comp is None:
                raise InstanceError(self.ctx.where(f"{key}.history_composition"),
                                    "a stock with history or initial_stock needs 'history_composition' (the name of "
                                    "its composition)")
            self._history(node, spec, key, hist_comp[0])
        if "stock" in spec:
            node.target_stock = self.ctx.resolve(spec["stock"], f"{key}.stock", node.index, mass=True)
            node.negative_inflow = spec.get("negative_inflow", "error")
            if node.negative_inflow not in ("error", "clip"):
                raise InstanceError(self.ctx.where(f"{key}.negative_inflow"), "unknown policy",
                                    node.negative_inflow, expected="'error' or 'clip'")

    def _history(self, node: Node, spec: dict, key: str, comp: np.ndarray):
        """Inflow of cohorts before the first year, from ``history`` (inflow by year) or
        ``initial_stock`` (stock by age at the end of the year before the first)."""
        t0 = int(self.years[0])
        if "history" in spec:
            h = spec["history"]
            ref = {"file": h} if isinstance(h, str) else h
            if not isinstance(ref, dict) or "file" not in ref:
                raise InstanceError(self.ctx.where(f"{key}.history"), "expected a CSV with year, value", h)
            df, label = self.ctx.csv(ref["file"], f"{key}.history")
            col = ref.get("column", "value")
            sub = _member_rows(df, node.index)
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
            if "unit" in sub.columns and set(sub["unit"].astype(str)) != {self.ctx.unit}:
                raise InstanceError(label, "unit mismatch", sorted(set(sub["unit"].astype(str))),
                                    expected=f"'{self.ctx.unit}'")
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
            node.history_years = full
            node.history = v[:, None] * comp[None, :]
        else:
            from .lifetimes import survival_kernel
            from .stocks import cohorts_of_age_structure

            ist = spec["initial_stock"]
            ref = {"file": ist} if isinstance(ist, str) else ist
            df, label = self.ctx.csv(ref["file"], f"{key}.initial_stock")
            col = ref.get("column", "value")
            sub = _member_rows(df, node.index)
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
            sf = survival_kernel(node.lifetime, A, self.timing)
            sf = sf if sf.ndim == 1 else sf[0]
            if np.any((sf <= 0) & (stock > 0)):
                a = int(np.argmax((sf <= 0) & (stock > 0)))
                raise InstanceError(label, f"stock of age {a} that the lifetime says cannot survive ({node.name})")
            inflow = cohorts_of_age_structure(stock, sf)
            # age a at the end of year t0-1 = cohort of year t0-1-a
            node.history_years = np.arange(t0 - A, t0)
            node.history = inflow[::-1][:, None] * comp[None, :]

    def _node_split(self, nid, node: Node, spec, key):
        routes = spec.get("routes")
        if not isinstance(routes, dict) or not routes:
            raise InstanceError(self.ctx.where(f"{key}.routes"), "a split needs routes {name: target}", routes)
        shares = spec.get("shares") or {}
        baseline = spec.get("baseline")
        capacity = spec.get("capacity") or {}
        for sect, m in (("shares", shares), ("capacity", capacity)) + ((("baseline", baseline),) if baseline else ()):
            if not isinstance(m, dict):
                raise InstanceError(self.ctx.where(f"{key}.{sect}"), "expected a mapping route -> value", m)
            for r in m:
                if r not in routes:
                    raise InstanceError(self.ctx.where(f"{key}.{sect}.{r}"), "unknown route", r,
                                        expected=f"one of {list(routes)}")
        made, base_vals, rest_route = [], {}, None
        for r, ref in routes.items():
            rk = f"{key}.routes.{r}"
            checks.require_name(r, self.ctx.where(rk), "a route name")
            tgt = self._ref(ref, nid, rk)
            lohi = shares.get(r, [0.0, 1.0])
            if not isinstance(lohi, list) or len(lohi) != 2:
                raise InstanceError(self.ctx.where(f"{key}.shares.{r}"), "expected [min, max]", lohi)
            lo = self.ctx.resolve(lohi[0], f"{key}.shares.{r}[0]", node.index, fraction=True)
            hi = self.ctx.resolve(lohi[1], f"{key}.shares.{r}[1]", node.index, fraction=True)
            if np.any(lo > hi + SUM_TOL):
                raise InstanceError(self.ctx.where(f"{key}.shares.{r}"), "min share above max share", lohi)
            if baseline is not None:
                b = baseline.get(r, 0.0)
                if b == "rest":
                    if rest_route is not None:
                        raise InstanceError(self.ctx.where(f"{key}.baseline"), "only one route may be 'rest'")
                    rest_route = r
                else:
                    base_vals[r] = self.ctx.resolve(b, f"{key}.baseline.{r}", node.index, fraction=True)
            if tgt is None:  # past the last life: the route does not exist for this member
                if baseline is not None and r in base_vals and np.any(base_vals[r] > 0):
                    raise InstanceError(self.ctx.where(f"{key}.baseline.{r}"),
                                        f"route '{r}' of {node.name} leads past the last life; its share must be 0",
                                        f"{base_vals[r].max():.6g}", expected="0 for the last life (a per-life table)")
                if np.any(lo > 0):
                    raise InstanceError(self.ctx.where(f"{key}.shares.{r}"),
                                        f"route '{r}' of {node.name} leads past the last life; its min share must be 0")
                base_vals.pop(r, None)
                continue
            cap = (self.ctx.resolve(capacity[r], f"{key}.capacity.{r}", node.index, mass=True)
                   if r in capacity else None)
            en = self._route_param(spec, "energy", r, key, node)
            co = self._route_param(spec, "co2", r, key, node)
            cs = self._route_param(spec, "cost", r, key, node)
            made.append((r, tgt, lo, hi, cap, en, co, cs))
        if not made:
            raise InstanceError(self.ctx.where(f"{key}.routes"), f"no route of {node.name} leads anywhere")
        los = sum(m[2] for m in made)
        his = sum(m[3] for m in made)
        if np.any(los > 1 + SUM_TOL) or np.any(his < 1 - SUM_TOL):
            t = int(np.argmax((los > 1 + SUM_TOL) | (his < 1 - SUM_TOL)))
            raise InstanceError(self.ctx.where(f"{key}.shares"), f"share bounds of {node.name} cannot sum to 1 in "
                                f"{int(self.years[t])}", f"sum of min {los[t]:.6g}, sum of max {his[t]:.6g}",
                                expected="sum of min <= 1 <= sum of max")
        if baseline is not None:
            s = sum(base_vals.values()) if base_vals else np.zeros(self.T)
            if rest_route is not None:
                if rest_route not in [m[0] for m in made]:
                    raise InstanceError(self.ctx.where(f"{key}.baseline"), "the 'rest' route leads past the last life")
                if np.any(s > 1 + SUM_TOL):
                    raise InstanceError(self.ctx.where(f"{key}.baseline"), f"baseline shares of {node.name} exceed 1",
                                        f"{s.max():.12g}")
                base_vals[rest_route] = np.clip(1 - s, 0, None)
            elif np.any(np.abs(s - 1) > SUM_TOL):
                t = int(np.argmax(np.abs(s - 1)))
                raise InstanceError(self.ctx.where(f"{key}.baseline"), f"baseline shares of {node.name} do not sum "
                                    f"to 1 in {int(self.years[t])}", f"{s[t]:.12g}",
                                    expected=f"1 within {SUM_TOL} (or mark one route 'rest')")
        for r, tgt, lo, hi, cap, en, co, cs in made:
            coef = base_vals.get(r, np.zeros(self.T)) if baseline is not None else None
            self._edge(nid, tgt, r, "route", f"{key}.routes.{r}", coef=coef, lo=lo, hi=hi, capacity=cap,
                       energy=en, co2=co, cost=cs)

    def _route_param(self, spec, name, route, key, node):
        m = spec.get(name)
        if m is None:
            return None
        if not isinstance(m, dict):
            raise InstanceError(self.ctx.where(f"{key}.{name}"), "expected a mapping route -> value per unit", m)
        if route not in m:
            return None
        return self.ctx.resolve(m[route], f"{key}.{name}.{route}", node.index)

    def _node_blend(self, nid, node: Node, spec, key):
        outs = spec.get("outputs")
        if not isinstance(outs, dict) or not outs:
            raise InstanceError(self.ctx.where(f"{key}.outputs"), "a blend needs outputs {name: {to, demand, window}}",
                                outs)
        outputs = []
        for oname, ospec in outs.items():
            ok = f"{key}.outputs.{oname}"
            checks.require_name(oname, self.ctx.where(ok), "a blend output name")
            if not isinstance(ospec, dict) or "to" not in ospec:
                raise InstanceError(self.ctx.where(ok), "expected {to: node, demand: ..., window: {...}}", ospec)
            for k in ospec:
                if ("output", k) in REMOVED_KEYS:
                    raise InstanceError(self.ctx.where(f"{ok}.{k}"), REMOVED_KEYS[("output", k)])
                if k not in BLEND_OUTPUT_KEYS:
                    raise InstanceError(self.ctx.where(f"{ok}.{k}"), "unknown key", expected=f"one of {sorted(BLEND_OUTPUT_KEYS)}")
            tgt = self._ref(ospec["to"], nid, f"{ok}.to")
            if tgt is None:
                raise InstanceError(self.ctx.where(f"{ok}.to"), "a blend output cannot go past the last life")
            e = self._edge(nid, tgt, str(oname), "blend_out", ok)
            demand = (self.ctx.resolve(ospec["demand"], f"{ok}.demand", node.index, mass=True)
                      if "demand" in ospec else None)
            wlo = np.zeros((self.T, self.C))
            whi = np.ones((self.T, self.C))
            for el, lohi in (ospec.get("window") or {}).items():
                if el not in self.elements:
                    raise InstanceError(self.ctx.where(f"{ok}.window.{el}"), "unknown element", el,
                                        expected=f"one of {self.elements}")
                if not isinstance(lohi, list) or len(lohi) != 2:
                    raise InstanceError(self.ctx.where(f"{ok}.window.{el}"), "expected [min, max] mass fraction", lohi)
                ci = self.elements.index(el)
                wlo[:, ci] = self.ctx.resolve(lohi[0], f"{ok}.window.{el}[0]", node.index, fraction=True)
                whi[:, ci] = self.ctx.resolve(lohi[1], f"{ok}.window.{el}[1]", node.index, fraction=True)
                if np.any(wlo[:, ci] > whi[:, ci]):
                    raise InstanceError(self.ctx.where(f"{ok}.window.{el}"), "window min above max", lohi)
            bo = BlendOutput(name=str(oname), edge=e.id, demand=demand, window_lo=wlo, window_hi=whi)
            outputs.append(bo)
        surplus = spec.get("surplus")
        s_edge = None
        if surplus is not None:
            tgt = self._ref(surplus, nid, f"{key}.surplus")
            exported = tgt is not None and (self.doc.get("nodes") or {}).get(self.nodes[tgt].family, {}).get("kind") == "export"
            if tgt is None or (self.nodes[tgt].kind != "sink" and not exported):
                raise InstanceError(self.ctx.where(f"{key}.surplus"), "the surplus outlet must be a sink (or an "
                                    "export node)", surplus)
            s_edge = self._edge(nid, tgt, "surplus", "surplus", f"{key}.surplus").id
        alloc = spec.get("allocation") or {}
        if not isinstance(alloc, dict):
            raise InstanceError(self.ctx.where(f"{key}.allocation"), "expected {input node: {output: share}}", alloc)
        onames = [o.name for o in outputs]
        for src, m in alloc.items():
            if not isinstance(m, dict):
                raise InstanceError(self.ctx.where(f"{key}.allocation.{src}"), "expected {output: share}", m)
            for o in m:
                if o not in onames:
                    raise InstanceError(self.ctx.where(f"{key}.allocation.{src}.{o}"), "unknown output", o,
                                        expected=f"one of {onames}")
        self.blends.append(Blend(node=nid, inputs=[], outputs=outputs, surplus_edge=s_edge,
                                 allocation=np.zeros((0, len(outputs), self.T))))
        # values are resolved now (any parameter form: number, table, year or dimension mapping);
        # which input each belongs to is matched once every stream exists (network.check_structure)
        resolved = {src: {o: self.ctx.resolve(v, f"{key}.allocation.{src}.{o}", node.index, fraction=True)
                          for o, v in m.items()} for src, m in alloc.items()}
        self.blends[-1]._alloc_spec = resolved

    def _node_sink(self, nid, node: Node, spec, key):
        if "loss" not in spec:
            raise InstanceError(self.ctx.where(f"{key}.loss"), "a sink needs 'loss:', the kind of outflow it is",
                                expected=f"one of {list(LOSS_TYPES)}")
        loss = spec["loss"]
        if loss == "other":
            self.deprecated("loss: other", key)
            loss = "unspecified"
        if loss not in LOSS_TYPES:
            raise InstanceError(self.ctx.where(f"{key}.loss"), "unknown loss type", loss,
                                expected=f"one of {list(LOSS_TYPES)}")
        if loss == "export":
            import warnings

            warnings.warn(f"{self.ctx.where(key)}: 'loss: export' is deprecated: for material that leaves the "
                          "region write 'kind: export' (reported as exported, counted as lost to the region by "
                          "default); for an outlet that is not a loss write 'loss: unspecified'",
                          DeprecationWarning, stacklevel=2)
        node.loss = loss

    # -- ranges of estimates (sensitivity / Monte Carlo) ------------------------------
    def _ranges(self, rdoc: dict, nodes_doc: dict, system: System):
        """``ranges:`` (numbers, factors on numbers or table columns, choices): :mod:`circopt.ranges`."""
        from .ranges import parse_ranges

        parse_ranges(rdoc, self.doc, self.files, system, self.err)


def _step(cur: Any, p: str):
    """One step of a dotted path: a mapping key (also as an integer, e.g. a life or a year) or a list index."""
    if isinstance(cur, dict):
        if p in cur:
            return p
        try:
            if int(p) in cur:
                return int(p)
        except ValueError:
            pass
    elif isinstance(cur, list):
        try:
            if 0 <= int(p) < len(cur):
                return int(p)
        except ValueError:
            pass
    raise KeyError(p)


def get_dotted(doc: dict, dotted: str) -> Any:
    cur = doc
    for p in dotted.split("."):
        cur = cur[_step(cur, p)]
    return cur


def set_dotted(doc: dict, dotted: str, value: Any) -> dict:
    """Copy of ``doc`` with the value at ``dotted`` replaced (used by sensitivity studies)."""
    doc = copy.deepcopy(doc)
    parts = dotted.split(".")
    cur = doc
    for p in parts[:-1]:
        cur = cur[_step(cur, p)]
    cur[_step(cur, parts[-1])] = value
    return doc


def apply_range(doc: dict, rng: dict, x: float) -> dict:
    """Copy of ``doc`` with a range entry (from ``System.ranges``) set to ``x``: the value itself
    for a one-key range, or every key scaled by the factor ``x``."""
    for k in rng["keys"]:
        doc = set_dotted(doc, k, x if rng["kind"] == "value" else get_dotted(doc, k) * x)
    return doc


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
