"""Decisions as one typed record that both engines read and write (the round trip).

A :class:`Decisions` holds, in the instance's unit and per model year, every choice the
optimiser makes and the simulator can impose:

* ``route[e]``: the total flow of each split route (edge id ``e``);
* ``allocation[b]``: ``(n_in, n_out, T)`` mass of each input of blend ``b`` (free inputs
  included) sent to each output; ``blend_input[b]``: ``(n_in, T)`` total mass of each input
  (what a non-free input does not allocate goes to the surplus outlet);
* ``supply[n]``: the amount of each free source (node id ``n``);
* ``capacity[(node, route)]``: capacities a user constraint introduces (reported, and
  checked against the route flows in simulation).

Everything is keyed by the System's own indices -- no display strings are joined or split.
:meth:`Decisions.to_table` writes the long table of ``decisions.csv`` (columns ``year, node,
decision, kind, share, value, input``) and :meth:`Decisions.from_table` reads it back,
matching each row's ``node`` / ``decision`` against the names the System itself produces.

What the simulator makes of a record (:meth:`Decisions.shares`): a route's share of its
split's input is its flow over the sum of the split's route flows; a non-free blend input's
allocation share is its allocated mass over the input's mass; free inputs supply the given
masses. Simulating those shares reproduces the flows the record came from, and
:meth:`Decisions.check_reproduced` refuses (never approximates) a record the simulation
does not reproduce (e.g. masses of another scenario, or edited by hand). Where a split or a
blend input carries nothing, the baseline share (or an even split) applies; it only matters
for a traced pulse (:func:`circopt.trace.trace`), which follows the optimum's *shares*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InstanceError
from .flowrules import table_kinds
from .system import System

COLUMNS = ["year", "node", "decision", "kind", "share", "value", "input"]
KINDS = ("route", "allocation", "supply", "capacity")
#: relative tolerance of the reproduction check (of the largest decided mass)
REPRODUCE_TOL = 1e-7
_FIELD = {"route": "route", "blend input": "blend_input", "supply": "supply"}


class DecisionsError(InstanceError):
    """A decisions record or table that does not fit the System it is applied to."""


@dataclass(frozen=True)
class Decisions:
    """Every decision of one run, keyed by the System's edge, blend and node indices."""

    years: np.ndarray
    route: dict[int, np.ndarray] = field(default_factory=dict)
    allocation: dict[int, np.ndarray] = field(default_factory=dict)
    blend_input: dict[int, np.ndarray] = field(default_factory=dict)
    supply: dict[int, np.ndarray] = field(default_factory=dict)
    capacity: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def from_flows(cls, system: System, flows: np.ndarray, allocation: dict[int, np.ndarray],
                   capacity: dict | None = None) -> Decisions:
        """Routes, blend inputs and supplies read off ``flows`` (T, E, C); allocations given."""
        tot, kinds = _edge_totals(system, flows), table_kinds(system)
        route = {e.id: tot[e.id].copy() for e in system.edges if kinds[e.id] == "route"}
        b_in = {b: np.array([tot[i] for i in bl.inputs]).reshape(len(bl.inputs), -1)
                for b, bl in enumerate(system.blends)}
        supply = {e.source: tot[e.id].copy() for e in system.edges if kinds[e.id] == "supply"}
        return cls(years=np.asarray(system.years).copy(), route=route, allocation=dict(allocation),
                   blend_input=b_in, supply=supply, capacity=dict(capacity or {}))

    @classmethod
    def from_table(cls, system: System, table: pd.DataFrame, where: str = "decisions") -> Decisions:
        """Read a decisions table (e.g. ``decisions.csv``); every decision of the System is required."""
        missing_cols = [c for c in ("year", "node", "decision", "kind", "value") if c not in table]
        if missing_cols:
            raise DecisionsError(where, f"not a decisions table: columns {missing_cols} are missing",
                                 expected=f"columns {COLUMNS}")
        T = system.T
        yidx = {int(y): t for t, y in enumerate(system.years)}
        keys = _keys(system)
        route = {e: np.full(T, np.nan) for e in keys.route_edges}
        alloc = {b: np.full((len(bl.inputs), len(bl.outputs), T), np.nan) for b, bl in enumerate(system.blends)}
        b_in = {b: np.full((len(bl.inputs), T), np.nan) for b, bl in enumerate(system.blends)}
        supply = {n: np.full(T, np.nan) for n in keys.free_nodes}
        cap: dict[tuple[str, str], np.ndarray] = {}
        years = pd.to_numeric(table["year"], errors="coerce").to_numpy()
        vals = pd.to_numeric(table["value"], errors="coerce").to_numpy(float)
        inps = (pd.to_numeric(table["input"], errors="coerce").to_numpy(float) if "input" in table
                else np.full(len(table), np.nan))
        unknown = []
        for q, (kind, node, dec) in enumerate(zip(table["kind"].astype(str), table["node"].astype(str),
                                                  table["decision"].astype(str))):
            y = years[q]
            if not np.isfinite(y) or int(y) != y or int(y) not in yidx:
                raise DecisionsError(where, f"row {q + 2}: year outside the model years "
                                     f"{int(system.years[0])}-{int(system.years[-1])}", table["year"].iloc[q])
            t, v = yidx[int(y)], vals[q]
            if not np.isfinite(v):
                raise DecisionsError(where, f"row {q + 2}: value is not a finite number", table["value"].iloc[q])
            if kind == "capacity":
                cap.setdefault((node, dec), np.full(T, np.nan))[t] = v
                continue
            k = keys.lookup.get((kind, node, dec))
            if k is None:
                unknown.append((kind, node, dec))
                continue
            if kind == "route":
                route[k][t] = v
            elif kind == "allocation":
                b, i, j = k
                alloc[b][i, j, t] = v
                if np.isfinite(inps[q]):
                    b_in[b][i, t] = inps[q]
            else:
                supply[k][t] = v
        if unknown:
            raise DecisionsError(where, f"{len(unknown)} decision(s) this system does not have, e.g. {unknown[:3]}",
                                 expected="the decisions of a run of the same instance and scenario")
        rec = cls(years=np.asarray(system.years).copy(), route=route, allocation=alloc, blend_input=b_in,
                  supply=supply, capacity=cap)
        rec._complete(system, where)
        return rec

    def _complete(self, system: System, where: str) -> None:
        """Every decision present for every year (a free input's mass is the sum of what it supplies)."""
        gaps, kinds = [], table_kinds(system)
        for e, arr in self.route.items():
            if np.isnan(arr).any():
                gaps.append(f"route {system.edge_name(e)}")
        for b, bl in enumerate(system.blends):
            a, bi_ = self.allocation[b], self.blend_input[b]
            for i, e_in in enumerate(bl.inputs):
                if np.isnan(a[i]).any():
                    gaps.append(f"allocation {system.edge_name(e_in)} to some output")
                if kinds[e_in] == "supply":
                    bi_[i] = np.nan_to_num(a[i]).sum(axis=0)
                elif np.isnan(bi_[i]).any():
                    gaps.append(f"input mass of {system.edge_name(e_in)} (column 'input')")
        for n, arr in self.supply.items():
            if np.isnan(arr).any():
                fed = [system.edges[e] for e in system.out_edges(n)]
                if fed and system.nodes[fed[0].target].kind == "blend":
                    b = next(k for k, bl in enumerate(system.blends) if bl.node == fed[0].target)
                    arr[:] = np.nan_to_num(self.allocation[b][system.blends[b].inputs.index(fed[0].id)]).sum(axis=0)
                else:
                    gaps.append(f"amount of free source {system.nodes[n].name}")
        if gaps:
            raise DecisionsError(where, f"{len(gaps)} decision(s) missing for some years, e.g. {gaps[:3]}",
                                 expected="every decision of the system in every model year (a full run's table)")

    def leftover(self, b: int) -> np.ndarray:
        """(n_in, T): what each input of blend ``b`` sends to its surplus outlet (0 for free inputs)."""
        return np.maximum(self.blend_input[b] - self.allocation[b].sum(axis=1), 0.0)

    # ---- use ---------------------------------------------------------------------------------
    def shares(self, system: System):
        """The simulator's exact shares: route shares, allocation shares of non-free inputs, free masses."""
        from .simulate import Shares, baseline_shares

        self._fits(system)
        base = baseline_shares(system, strict=False)
        route = np.nan_to_num(base.route, nan=0.0)
        for p in {system.edges[e].source for e in self.route}:
            outs = [e for e in system.out_edges(p) if e in self.route]
            # a route flow is >= 0; an optimum's may sit a solver tolerance below 0 (HiGHS meets
            # bounds to an absolute 1e-7), which at a nearly empty split reads as a share far
            # outside [0, 1] (-0.28 and 1.28 on japan_engines' remanufacturing[1] in 2060)
            R = np.maximum(np.stack([self.route[e] for e in outs]), 0.0)  # (n_routes, T)
            tot = R.sum(axis=0)
            fallback = np.stack([route[e] for e in outs])
            even = np.where(fallback.sum(axis=0) > 0, fallback, 1.0 / len(outs))
            sh = np.where(tot > 0, R / np.where(tot > 0, tot, 1.0), even)
            for k, e in enumerate(outs):
                route[e] = sh[k]
        alloc, free_alloc, free_amount, kinds = [], [], {}, table_kinds(system)
        for b, bl in enumerate(system.blends):
            x, xin = self.allocation[b], self.blend_input[b]
            a = base.allocation[b].copy()
            fa = np.zeros_like(x)
            for i, e_in in enumerate(bl.inputs):
                if kinds[e_in] == "supply":
                    fa[i] = x[i]
                    a[i] = 0.0
                else:
                    has = xin[i] > 0
                    a[i][:, has] = np.maximum(x[i][:, has], 0.0) / xin[i][has]
                    # the LP meets "input = sum of its allocations" to an absolute tolerance: on a
                    # nearly empty input the fractions can sum past 1 (the simulation would make
                    # mass), or, with no surplus outlet to take the rest, short of 1 (lose mass)
                    tot = a[i].sum(axis=0)
                    fix = has & ((tot > 1.0) | ((tot > 0) & (bl.surplus_edge is None)))
                    a[i][:, fix] = a[i][:, fix] / tot[fix]
            alloc.append(a)
            free_alloc.append(fa)
        feeds_blend = {system.edges[e].source for bl in system.blends for e in bl.inputs}
        for n, arr in self.supply.items():
            if n not in feeds_blend:
                free_amount[n] = arr.copy()
        return Shares(route=route, allocation=alloc, exact=True, free_alloc=free_alloc, free_amount=free_amount)

    def check_reproduced(self, system: System, flows: np.ndarray, where: str = "decisions") -> None:
        """Refuse a record whose masses the simulation of its shares does not reproduce."""
        rec = Decisions.from_flows(system, flows, self.allocation)
        scale = max([1.0] + [float(np.abs(v).max()) for d in (self.route, self.blend_input, self.supply)
                             for v in d.values() if v.size])
        tol = REPRODUCE_TOL * scale
        # the earliest year that differs holds the cause (later years inherit it); routes first
        found = []
        for rank, (name, mine, got) in enumerate((("route", self.route, rec.route),
                                                  ("blend input", self.blend_input, rec.blend_input),
                                                  ("supply", self.supply, rec.supply))):
            for k, v in mine.items():
                d = np.abs(v - got[k]).reshape(-1, system.T).max(axis=0)
                bad = np.flatnonzero(d > tol)
                if len(bad):
                    found.append((int(bad[0]), rank, -float(d[bad[0]]), name, k))
        if found:
            t, _, _, name, k = min(found, key=lambda f: f[:3])
            raise DecisionsError(where, f"the simulation of these decisions does not reproduce them: "
                                 f"{name} {_label(system, name, k)} is {_first(getattr(self, _FIELD[name])[k], t):.6g} "
                                 f"in the decisions but {_first(getattr(rec, _FIELD[name])[k], t):.6g} {system.unit} "
                                 f"when simulated in {int(system.years[t])} (largest decided mass {scale:.6g})",
                                 expected="the decisions of a run of this instance and scenario (their masses "
                                 "must satisfy its balances; the simulator does not approximate)")

    def _fits(self, system: System) -> None:
        if len(self.years) != system.T or np.any(np.asarray(self.years) != system.years):
            raise DecisionsError("decisions", "the record's years are not the system's",
                                 f"{int(self.years[0])}-{int(self.years[-1])}",
                                 expected=f"{int(system.years[0])}-{int(system.years[-1])}")
        routes = {e for e, k in enumerate(table_kinds(system)) if k == "route"}
        shapes = {b: (len(bl.inputs), len(bl.outputs), system.T) for b, bl in enumerate(system.blends)}
        if set(self.route) != routes or {b: a.shape for b, a in self.allocation.items()} != shapes:
            raise DecisionsError("decisions", "the record's routes or blends are not the system's",
                                 expected="decisions of the same instance and scenario")

    def to_table(self, system: System) -> pd.DataFrame:
        """The long table of ``decisions.csv``: routes, allocations, supplies, capacities."""
        years = np.asarray(system.years).astype(int)
        T = len(years)
        labels, values, inputs = [], [], []  # one entry per decision, T values each: one frame at the end

        def part(node, decision, kind, value, inp):
            labels.append((node, decision, kind))
            values.append(np.asarray(value, float))
            inputs.append(np.broadcast_to(np.asarray(inp, float), (T,)))

        for e in sorted(self.route):
            p = system.edges[e].source
            inp = sum(self.route[r] for r in system.out_edges(p) if r in self.route)
            part(system.nodes[p].name, system.edges[e].label, "route", self.route[e], inp)
        for b, bl in enumerate(system.blends):
            if b not in self.allocation:  # a partial record (e.g. capacities only)
                continue
            bname = system.nodes[bl.node].name
            for i, e_in in enumerate(bl.inputs):
                src = system.nodes[system.edges[e_in].source].name
                for j, o in enumerate(bl.outputs):
                    part(bname, _alloc_label(src, o.name), "allocation", self.allocation[b][i, j],
                         self.blend_input[b][i])
        kinds = table_kinds(system)
        for e in system.edges:
            if kinds[e.id] == "supply" and e.source in self.supply:
                part(system.nodes[e.source].name, "amount", "supply", self.supply[e.source], np.full(T, np.nan))
        for (node, label), v in self.capacity.items():
            part(node, label, "capacity", v, np.full(T, np.nan))
        if not labels:
            return pd.DataFrame(columns=COLUMNS)
        node, decision, kind = (np.repeat(np.array([lab[k] for lab in labels], dtype=object), T) for k in range(3))
        value, inp = np.concatenate(values), np.concatenate(inputs)
        share = np.full(len(value), np.nan)
        ratio = np.isin(kind, ("route", "allocation"))
        share[ratio] = np.divide(value[ratio], inp[ratio], out=np.zeros(int(ratio.sum())), where=inp[ratio] > 0)
        return pd.DataFrame({"year": np.tile(years, len(labels)), "node": node, "decision": decision, "kind": kind,
                             "share": share, "value": value, "input": inp})


def _alloc_label(src: str, output: str) -> str:
    """The display name of an allocation in tables (matched whole, never split)."""
    return f"{src} -> {output}"


@dataclass
class _Keys:
    route_edges: list[int]
    free_nodes: list[int]
    lookup: dict[tuple[str, str, str], object]


def _keys(system: System) -> _Keys:
    """Each decision's (kind, node, decision) as the System names it -> its typed key."""
    lookup: dict[tuple[str, str, str], object] = {}
    route_edges, free_nodes = [], []

    def put(key, val):
        if key in lookup:
            raise DecisionsError("decisions", f"two decisions of this system have the same name {key}",
                                 expected="node and output names that keep decisions apart")
        lookup[key] = val

    for e, kind in zip(system.edges, table_kinds(system)):
        if kind == "route":
            route_edges.append(e.id)
            put(("route", system.nodes[e.source].name, e.label), e.id)
        elif kind == "supply":
            free_nodes.append(e.source)
            put(("supply", system.nodes[e.source].name, "amount"), e.source)
    for b, bl in enumerate(system.blends):
        bname = system.nodes[bl.node].name
        for i, e_in in enumerate(bl.inputs):
            src = system.nodes[system.edges[e_in].source].name
            for j, o in enumerate(bl.outputs):
                put(("allocation", bname, _alloc_label(src, o.name)), (b, i, j))
    return _Keys(route_edges, free_nodes, lookup)


def _first(arr: np.ndarray, t: int) -> float:
    """The year-t value of a (T,) array, or the largest of an (n, T) one."""
    a = np.asarray(arr)
    return float(a[t]) if a.ndim == 1 else float(np.abs(a[:, t]).max())


def _label(system: System, kind: str, k) -> str:
    if kind == "route":
        return system.edge_name(k)
    if kind == "supply":
        return system.nodes[k].name
    return system.nodes[system.blends[k].node].name


def _edge_totals(system: System, flows: np.ndarray) -> dict[int, np.ndarray]:
    """Edge id -> (T,) total over channels, for the edges a decision record reads (routes, blend
    inputs, free sources' edges) only: a simulation of many stocks has few decisions."""
    def read_edges(s: System) -> np.ndarray:
        need = {e for e, k in enumerate(table_kinds(s)) if k in ("route", "supply")}
        for bl in s.blends:
            need.update(bl.inputs)
        return np.array(sorted(need), int)

    idx = system.cached("decision_edges", lambda: read_edges(system))
    sub = flows[:, idx, :].sum(axis=2) if idx.size else np.zeros((flows.shape[0], 0))
    return {int(e): sub[:, k] for k, e in enumerate(idx)}


def simulated(system: System, flows: np.ndarray, shares, lambdas, pulse: bool = False) -> Decisions:
    """The decisions a simulation took: offers as taken (scaled by each output's factor), free
    inputs' supply (made up shortfalls in the baseline, given masses when imposed, nothing in a
    traced pulse)."""
    tot, kinds = _edge_totals(system, flows), table_kinds(system)
    alloc = {}
    for b, bl in enumerate(system.blends):
        tot_in = np.array([tot[i] for i in bl.inputs]).reshape(len(bl.inputs), -1)  # (n_in, T)
        free = np.array([kinds[e] == "supply" for e in bl.inputs], bool)
        x = lambdas[b][None, :, :] * shares.allocation[b] * tot_in[:, None, :]
        x[free] = 0.0
        if pulse:
            pass
        elif shares.exact:
            if shares.free_alloc is not None:
                x[free] = shares.free_alloc[b][free]
        else:
            for j, o in enumerate(bl.outputs):
                if o.demand is None:
                    continue
                short = np.where(lambdas[b][j] >= 1.0, o.demand - x[~free, j, :].sum(axis=0), 0.0)
                x[free, j, :] = shares.allocation[b][free, j, :] * short[None, :]
        alloc[b] = x
    return Decisions.from_flows(system, flows, alloc)


def with_capacities(system: System, table: pd.DataFrame, rec: Decisions) -> pd.DataFrame:
    """A simulation's table with the imposed record's capacities (reported as given)."""
    if not rec.capacity:
        return table
    extra = Decisions(years=rec.years, capacity=rec.capacity).to_table(system)
    return pd.concat([table, extra], ignore_index=True)


def read_table(path: str | Path) -> pd.DataFrame:
    """A ``decisions.csv`` or an output folder holding one."""
    p = Path(path)
    if p.is_dir():
        p = p / "decisions.csv"
    if not p.is_file():
        raise DecisionsError(str(path), "no decisions table here",
                             expected="a decisions.csv or an output folder of 'circopt optimise' or 'simulate'")
    try:
        return pd.read_csv(p)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DecisionsError(str(p), f"cannot read the decisions table: {str(exc)[:200]}") from None


def as_decisions(system: System, obj) -> Decisions:
    """A :class:`Decisions` from a record, a Result, a decisions table or a path to one."""
    if isinstance(obj, Decisions):
        obj._fits(system)
        return obj
    rec = getattr(obj, "decision_record", None)
    if isinstance(rec, Decisions):
        rec._fits(system)
        return rec
    if hasattr(obj, "decisions") and isinstance(obj.decisions, pd.DataFrame):
        return Decisions.from_table(system, obj.decisions)
    if isinstance(obj, pd.DataFrame):
        return Decisions.from_table(system, obj)
    if isinstance(obj, (str, Path)):
        return Decisions.from_table(system, read_table(obj), where=str(obj))
    raise DecisionsError("decisions", "expected a Decisions record, a Result, a decisions table or a path",
                         type(obj).__name__)
