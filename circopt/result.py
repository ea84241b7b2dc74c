"""Results: tidy tables, the mass-balance audit, and atomic export.

Both engines hand over the same thing: flows per year, edge and channel (plus the
inflow history of every stock), from which every table and the audit are derived here,
once. Stocks are recomputed from their inflows with the same kernels, so the audit
really checks that each stock's outflow equals the convolution of its inflows.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .audit import AUDIT_FLOOR, AUDIT_TOL, audit_arrays, max_relative  # noqa: F401 (re-exported)
from .stocks import stock_plan
from .system import EXPORTED, TOTAL, System


@dataclass(frozen=True)
class Result:
    """The flows, stocks, losses, decisions and audit of one simulation or optimum, built complete
    (:meth:`from_flows`) and immutable; :meth:`annotated` gives a copy with more ``extra`` entries."""

    system: System
    flows_array: np.ndarray  # (T, E, C)
    stock_array: np.ndarray  # (S, T, C) stock at the end of each model year
    engine: str
    notes: list[str] = field(default_factory=list)
    decisions: pd.DataFrame | None = None
    decision_record: Any = None  # circopt.decisions.Decisions: the typed record behind ``decisions``
    objective: float | None = None
    objective_terms: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    solve_seconds: float | None = None
    duals: pd.DataFrame | None = None
    solver: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # derived at construction (each stock's convolved outflow (T, S, C), the audit's maximum) and
    # the audit table once asked for
    _conv_outflow: np.ndarray | None = field(default=None, repr=False, compare=False)
    _max_relative: float = field(default=0.0, repr=False, compare=False)
    _audit: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_flows(cls, system: System, flows: np.ndarray, inflow_ext: np.ndarray | None, engine: str,
                   notes: list[str] | None = None, pulse: bool = False,
                   stock_parts: tuple[np.ndarray, np.ndarray] | None = None, **fields: Any) -> Result:
        """A complete Result of ``flows`` (T, E, C) and the stocks' inflows ``inflow_ext`` (S, H + T,
        C); ``stock_parts``: the stocks' levels (S, T, C) and, year-major, outflows (T, S, C) in
        model years when the engine has them (else they are convolved here). ``fields``: the other
        fields (objective, status, decisions, duals, solver, extra, ...)."""
        plan = stock_plan(system)
        if stock_parts is None:
            levels, outflows = plan.levels_and_outflows(inflow_ext)  # (S, L, C) each
            stock_parts = levels[:, plan.H:, :], np.ascontiguousarray(outflows[:, plan.H:, :].transpose(1, 0, 2))
        extra = dict(fields.pop("extra", None) or {})
        if pulse:
            extra["pulse"] = True
        notes = list(notes or [])
        if not pulse:
            notes += target_notes(system, stock_parts[0], notes)
        # the stock change is computed without cancelling two large levels: inflow minus the
        # convolution of inflows with the outflow kernel (= level(t) - level(t-1), as pdf = -diff(sf))
        return cls(system=system, flows_array=flows, stock_array=stock_parts[0], engine=engine, notes=notes,
                   extra=extra, _conv_outflow=stock_parts[1],
                   _max_relative=max_relative(system, flows, stock_parts[1], pulse), **fields)

    def annotated(self, **extra: Any) -> Result:
        """A copy with ``extra`` entries added (run time, a study's log, ...)."""
        return dataclasses.replace(self, extra={**self.extra, **extra})

    # ---- tables -------------------------------------------------------------------
    @property
    def element_names(self) -> list[str]:
        return [*self.system.elements, TOTAL]

    def _with_total(self, arr: np.ndarray) -> np.ndarray:
        """Append the total (sum of channels) and drop 'other': (..., C) -> (..., E+1)."""
        return np.concatenate([arr[..., :-1], arr.sum(axis=-1, keepdims=True)], axis=-1)

    @property
    def flows(self) -> pd.DataFrame:
        s = self.system
        arr = self._with_total(self.flows_array)  # (T, E, K)
        T, E, K = arr.shape
        return pd.DataFrame({
            "year": np.repeat(s.years, E * K),
            "source": np.tile(np.repeat([s.nodes[e.source].name for e in s.edges], K), T),
            "target": np.tile(np.repeat([s.nodes[e.target].name for e in s.edges], K), T),
            "element": np.tile(self.element_names, T * E),
            "value": arr.ravel(),
        })

    def _stock_labels(self):
        s = self.system
        plan = stock_plan(s)
        names, lives = [], []
        for i in plan.stocks:
            n = s.nodes[i]
            other = {k: v for k, v in n.index.items() if k != "life"}
            names.append(n.family if not other else f"{n.family}[{','.join(map(str, other.values()))}]")
            lives.append(n.life)
        return names, lives

    @property
    def stocks(self) -> pd.DataFrame:
        s = self.system
        arr = self._with_total(self.stock_array)  # (S, T, K)
        S, T, K = arr.shape
        names, lives = self._stock_labels()
        return pd.DataFrame({
            "year": np.tile(np.repeat(s.years, K), S),
            "node": np.repeat(np.asarray(names, dtype=object), T * K),  # typed even without stocks
            "life": np.repeat(np.asarray(lives, dtype=np.int64), T * K),
            "element": np.tile(self.element_names, S * T),
            "value": arr.ravel(),
        })

    @property
    def losses(self) -> pd.DataFrame:
        """What leaves through sinks, per year, sink, element: ``kind`` is ``loss`` or
        ``exported`` (an export node: material leaving the region, not lost)."""
        s = self.system
        sinks = [i for i, n in enumerate(s.nodes) if n.kind == "sink"]
        arr = self._with_total(self.flows_array)
        rows = []
        K = len(self.element_names)
        for i in sinks:
            ins = s.in_edges(i)
            v = arr[:, ins, :].sum(axis=1) if ins else np.zeros((s.T, K))
            rows.append(pd.DataFrame({
                "year": np.repeat(s.years, K), "node": s.nodes[i].name, "kind": sink_kind(s.nodes[i]),
                "loss_type": s.nodes[i].loss, "element": np.tile(self.element_names, s.T), "value": v.ravel()}))
        if not rows:
            return pd.DataFrame(columns=["year", "node", "kind", "loss_type", "element", "value"])
        return pd.concat(rows, ignore_index=True)

    def cumulative_losses(self, by: str = "loss_type") -> pd.DataFrame:
        """Cumulative losses (sum over all years) by loss type (or node) and element."""
        return self.losses.groupby([by, "element"], as_index=False)["value"].sum()

    # ---- audit --------------------------------------------------------------------
    def _compute_audit(self) -> pd.DataFrame:
        """Inflow, outflow, stock change and imbalance per node, element (+ total) and year."""
        return self._audit_frame(self._audit_arrays())

    def _audit_frame(self, parts: tuple) -> pd.DataFrame:
        s = self.system
        names, tin, tout, tch, timb, rel = parts
        T, K = s.T, len(self.element_names)
        return pd.DataFrame({
            "year": np.tile(np.repeat(s.years, K), len(names)),
            "node": np.repeat(names, T * K),
            "element": np.tile(self.element_names, len(names) * T),
            "inflow": tin.ravel(), "outflow": tout.ravel(), "stock_change": tch.ravel(),
            "imbalance": timb.ravel(), "relative": rel.ravel()})

    def _audit_arrays(self) -> tuple:
        """The audit's numbers (:func:`circopt.audit.audit_arrays`): node names and (nodes, T,
        elements + total) arrays of inflow, outflow, stock change, imbalance and relative
        imbalance (sinks left out)."""
        names, *arrays = audit_arrays(self.system, self.flows_array, self._conv_outflow,
                                      bool(self.extra.get("pulse")))
        return (names, *(a.transpose(1, 0, 2) for a in arrays))

    @property
    def audit(self) -> pd.DataFrame:
        """Mass balance per node, element (and total) and year: inflow - outflow - stock change."""
        if self._audit is None:  # a cache of a derived table (the Result itself does not change)
            object.__setattr__(self, "_audit", self._audit_frame(self._audit_arrays()))
        return self._audit

    @property
    def max_relative_imbalance(self) -> float:
        return self._max_relative

    # ---- summary and export ----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        from . import __version__

        s = self.system
        cum = self.cumulative_losses()
        losses = {f"{r.loss_type}/{r.element}": float(r.value) for r in cum.itertuples()}
        out = {
            "circopt_version": __version__,
            "instance": s.name,
            "instance_hash": s.content_hash,
            "scenario": s.scenario,
            "boundary": s.boundary,
            "engine": self.engine,
            "status": self.status,
            "unit": s.unit,
            "years": [int(s.years[0]), int(s.years[-1])],
            "elements": list(s.elements),
            "max_relative_imbalance": self.max_relative_imbalance,
            "audit_ok": bool(self.max_relative_imbalance <= AUDIT_TOL),
            "cumulative_losses": losses,
            "notes": list(self.notes),
        }
        from .terms import free_supply, values

        terms = values(self)
        out["terms"] = {k: v for k, v in terms.items() if not k.startswith("indicator:")}
        out["indicators"] = {k.split(":", 1)[1]: v for k, v in terms.items() if k.startswith("indicator:")}
        out["free_sources"] = free_supply(self)
        if self.objective is not None:
            out["objective"] = self.objective
            out["objective_terms"] = dict(self.objective_terms)
        if self.solve_seconds is not None:
            out["solve_seconds"] = self.solve_seconds
        if self.solver:
            out["solver"] = self.solver
        out.update(self.extra)
        return out

    def iamc(self, model: str = "circopt") -> pd.DataFrame:
        """IAMC-style long table: model, scenario, region, variable, unit, year, value.

        Variables: ``Flow|SOURCE|TARGET|ELEMENT``, ``Stock|NODE|Life N|ELEMENT`` and
        ``Loss|LOSS_TYPE|ELEMENT`` (summed over sinks of that type). The region is the node's
        ``region`` dimension where it has one, else ``World``.
        """
        s = self.system
        scen = s.scenario or "base"
        region_of = {n.name: str(n.index.get("region", "World")) for n in s.nodes}
        f = self.flows
        parts = [pd.DataFrame({
            "region": f.source.map(region_of),
            "variable": "Flow|" + f.source + "|" + f.target + "|" + f.element,
            "unit": f"{s.unit}/yr", "year": f.year, "value": f.value})]
        st = self.stocks
        stock_region = {n.family if not {k for k in n.index if k != "life"} else
                        f"{n.family}[{','.join(str(v) for k, v in n.index.items() if k != 'life')}]":
                        str(n.index.get("region", "World")) for n in s.nodes if n.kind == "stock"}
        parts.append(pd.DataFrame({
            "region": st.node.map(stock_region),
            "variable": "Stock|" + st.node + "|Life " + st.life.astype(str) + "|" + st.element,
            "unit": s.unit, "year": st.year, "value": st.value}))
        lo = self.losses
        if len(lo):
            lo = lo.assign(region=lo.node.map(region_of))
            g = lo.groupby(["region", "loss_type", "element", "year"], as_index=False)["value"].sum()
            parts.append(pd.DataFrame({
                "region": g.region, "variable": "Loss|" + g.loss_type + "|" + g.element,
                "unit": f"{s.unit}/yr", "year": g.year, "value": g.value}))
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "scenario", scen)
        out.insert(0, "model", model)
        return out[["model", "scenario", "region", "variable", "unit", "year", "value"]]

    def tables(self) -> dict[str, pd.DataFrame]:
        from .terms import table as terms_table

        t = {"flows": self.flows, "stocks": self.stocks, "losses": self.losses, "audit": self.audit,
             "iamc": self.iamc(), "terms": terms_table(self)}
        if self.decisions is not None:
            t["decisions"] = self.decisions
        if self.duals is not None:
            from .bounds import binding, binding_levers

            t["duals"] = self.duals
            t["binding"] = binding(self)
            if self.system.levers:
                t["binding_levers"] = binding_levers(self, t["binding"])
        return t

    def to_dir(self, out, formats: tuple[str, ...] = ("csv",), extra: dict | None = None,
               command: str | None = None) -> Path:
        """Write every table (CSV and/or Parquet) and ``summary.json`` atomically into ``out``.

        ``out``: a path or a held :class:`circopt.io.OutputTarget`. A path is checked first (see
        :mod:`circopt.io`): the instance folder, a folder holding it, a non-empty folder circopt did not
        write, an existing file... are refused with :class:`circopt.io.OutputError`, before any table is
        computed.
        """
        from .io import held, prepare_output

        target = held(out, "dir")
        if target is not None:
            return self._write(target, formats, extra)
        with prepare_output(out, self.system.path, "dir", command) as target:
            return self._write(target, formats, extra)

    def _write(self, target, formats, extra) -> Path:
        tables = self.tables()
        tables.update((extra or {}).get("tables", {}))
        summary = self.summary()
        summary.update((extra or {}).get("summary", {}))
        return write_atomic(target, tables, summary, formats)


def target_notes(s: System, stock_array: np.ndarray, notes: list[str]) -> list[str]:
    """A note for each stock-driven stock that misses its target (and was not clipped)."""
    out = []
    for k, i in enumerate(stock_plan(s).stocks):
        node = s.nodes[i]
        if node.target_stock is not None:
            level = stock_array[k].sum(axis=1)
            dev = np.abs(level - node.target_stock) > 1e-9 * np.maximum(1.0, np.abs(node.target_stock))
            if dev.any() and not any(node.name in x and "clipped" in x for x in notes):
                t = int(np.argmax(dev))
                out.append(f"stock-driven stock {node.name} is {level[t]:.6g}, not its target "
                           f"{node.target_stock[t]:.6g}, in {int(s.years[t])}")
    return out


def channel_total(a: np.ndarray) -> np.ndarray:
    """The sum over the last (channel) axis, channel after channel: as ``a.sum(axis=-1)`` but
    without a strided reduction over a short axis (several times faster on (nodes, years, C))."""
    out = a[..., 0].copy()
    for c in range(1, a.shape[-1]):
        out += a[..., c]
    return out


def sink_kind(node) -> str:
    """``exported`` for an export node (material leaving the region), else ``loss``."""
    return "exported" if node.loss == EXPORTED else "loss"


def write_atomic(out, tables: dict[str, pd.DataFrame], summary: dict | None,
                 formats: tuple[str, ...] = ("csv",), files: dict[str, bytes] | None = None,
                 instance_dir: str | Path | None = None, command: str | None = None) -> Path:
    """Write tables, ``summary.json`` and files into a temporary folder beside ``out`` and move it into
    place (:func:`circopt.io.write_folder`: ``out`` is validated first and never anything circopt did
    not write). An interrupted run leaves either the old results or the new ones, never a mix."""
    from .io import write_folder

    def fill(tmp: Path) -> None:
        for name, df in tables.items():
            if "csv" in formats:
                df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
            if "parquet" in formats:
                df.to_parquet(tmp / f"{name}.parquet", index=False)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        if summary is not None:
            (tmp / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2, sort_keys=True) + "\n")

    return write_folder(out, fill, instance_dir, command)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x
