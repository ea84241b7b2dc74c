"""The optimisation engine: the simulator's equations, time-expanded into one LP, solved by HiGHS.

The LP is built from the same :class:`~circopt.system.System` the simulator reads; nothing
here describes the network a second time. Flows are indexed like the simulator's result,
``flow[t, e, c]`` (year, edge, channel; channels = tracked elements + ``other``), and every
flow is an affine function of the LP's columns, held as one sparse *flow map*::

    flow = G @ x + g        (G: (T*E*C) x n, g: constants)

Columns ``x`` (all masses, in the instance's unit, all >= 0)
    * ``route[split.route, year]`` -- a split route's total flow ``R``; its channels are
      ``edge_comp[e][t, c] * R`` (the split's input composition is known: the linearity rule);
    * ``allocation[blend.input->output, year]`` -- mass of input *i* sent to output *j*;
      its channel content is ``comp_i[t, c] * x``; a free source feeding a blend supplies
      ``sum_j x[f, j]``;
    * ``leftover[blend.input, year]`` -- what of a (non-free) input goes to the surplus outlet;
    * ``supply[source, year]`` -- a free source's amount when it feeds something else than a blend;
    * ``input[node, channel|total, year]`` -- the input of a process or stock that a decision
      can change (per channel; or one total when its input composition is known, which cuts
      the convolution's nonzeros by the number of channels);
    * ``amount[source, year]`` -- a source that ``follows`` a node whose input a decision changes
      (``amount = ratio * that input``, a balance row);
    * ``constraints[k].capacity[split.route, year]`` -- a capacity a user constraint introduces.

Flow map ``G`` (per edge rule, exactly the simulator's ``_run`` equations)
    * ``tc``: ``coef[t, c] * input[node, c, t]``;
    * ``stock``: ``sum_{t' <= t} pdf(t', t - t') * input[stock, c, t']`` plus the outflow of
      the history cohorts (``stock_plan(system).hist_inflow``);
    * ``route`` / ``blend_out`` / ``surplus`` / free ``source``: as above (a blend output
      carries exactly what its inputs bring: no element is booked from one to another).
    * **Constants**: an edge no decision can change (not downstream of a route, a blend or
      a free source) is computed by the simulator itself (``simulate._run`` on the
      sub-network of such edges, which includes stock-driven stocks) and enters ``g``.

Row families (each row has a readable name in the instance's words)
    ``balance[node,channel|total,year]`` (input of a process/stock/split = its inflows;
    ``route`` totals of a split = its input), ``allocation[blend.input,year]`` (an input is
    allocated or left over), ``share_min/share_max[split.route,year]`` (``lo*in <= R <= hi*in``;
    when a decision changes ``in``, it is written as the sum of the split's routes, which the
    split's balance makes equal to it -- a few nonzeros instead of a copy of a convolution),
    ``capacity[split.route,year]``, ``demand[blend.output,year]``,
    ``window_min/window_max[blend.output,element,year]``
    (``lo * sum_i x_ij <= sum_i comp_i x_ij <= hi * sum_i x_ij``), ``supply_max[source,year]``,
    user constraints ``constraints[k].<kind>[...]`` and ``epsilon[term]``. No row multiplies
    two columns: every coefficient is a number known when the model is built.

Objectives (``objective="losses"``, ``["losses", "primary"]`` or ``{"losses": 1, "primary": 0.01}``)
    ``losses``: flows into sinks whose loss type is in ``loss_types`` (default dissipation,
    process, dilution and exported material), weighted per element by ``elements`` (default ``{"total": 1}``), summed
    over the years up to ``horizon`` (or within ``years``); ``surplus``: flows into sinks of
    loss type ``surplus``; ``primary``: what free sources supply; ``energy`` / ``co2``: a
    process's ``energy`` per unit of its input, a source's per unit of its amount, a route's per
    unit of its flow; ``cost``: a free source's ``cost`` per unit supplied + route costs (+ a
    process's cost per unit of input, + ``cost`` x capacity of capacity constraints);
    ``indicator:NAME``: a declared indicator. The weights on flows are :mod:`circopt.terms`'s.
    ``epsilon={"surplus": 400}`` holds a term at or below a value (row ``epsilon[surplus]``).

User constraints (instance ``constraints:`` list, scenarios' additions, ``constraints=``)
    * ``{type: share, node, route, min?, max?, years?: [first, last], life?, index?: {dim: value}}``
      -- ``min * input <= route flow <= max * input`` for the family's members (or the one named);
    * ``{type: capacity, node, route, max?, growth?, initial?, cost?, years?, life?, index?}`` --
      a capacity column ``K[t] >= 0`` with ``route <= K`` (in ``years``), ``K <= max``,
      ``K[t] - K[t-1] <= growth``, ``K[first year of the window] <= initial``; ``cost`` per unit of ``K`` per year;
    * ``{type: recycled_content, node (blend), output, min, years?, index?}`` -- what non-free
      inputs bring is at least ``min`` of the output;
    * ``{type: forbid, node, route, years?, life?, index?}`` -- the route carries nothing;
    * ``{type: budget, max, years?}`` -- the ``cost`` term at most ``max``;
    * ``{type: flow, source, target, min?, max?, years?, element?}`` -- the flow between two
      nodes (summed over the members of families), per year, within ``[min, max]``.
    * ``{type: indicator, indicator, min?, max?}`` and ``{type: allocation, node (blend), input,
      output, min?, max?, share?, years?, index?}`` -- see :mod:`circopt.constraints_extra`.
    Rows are named ``constraints[k].<kind>[subject,year]``, ``k`` counting the instance's
    constraints first, then the argument's.

Pyomo holds the model (``OptModel.model``): one indexed ``Var`` (in the instance's units)
and the whole constraint matrix as a ``MatrixConstraint`` (CSR assembled from numpy), so a
user can add constraints by hand and call :func:`solve`. The hand-over to HiGHS passes the
same CSR (scaled: masses by a power of two near the largest constant, rows by a power of
two near their largest coefficient, the objective to a largest coefficient near 1) in one
``passModel``; hand-written constraints (or a replaced objective) are compiled with Pyomo's
``LinearStandardFormCompiler`` and appended. After the solve the columns a decision
determines (``input[...]``) are recomputed from the decisions by one sparse solve of the
balance rows, in which one route of each split (the one with most room in its share bounds)
and the leftover of each blend input absorb what HiGHS's tolerance left over; route totals a
tolerance put outside their share bounds (visible on splits with a tiny input) are moved back
inside first. Every mass balance then closes to round-off.

With ``fix=`` (a simulation's decisions), the LP holds exactly the simulator's equations;
policy rows the imposed decisions may break (shares, windows, demands, capacities, user
constraints) are then not enforced but checked, and any broken one is listed in the
Result's notes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._highs import new_highs
from .errors import InfeasibleError, InstanceError, InstanceErrors, SolverError, UnboundedError
from .decisions import Decisions
from .lp.postsolve import _polish, _project_routes
from .lp.sparse import row_abs_max
from .lp.verify import UNRELIABLE, refuse_non_finite, verify
from .stocks import stock_plan
from .definition.checks import MAX_MAGNITUDE
from .system import TOTAL, System
from .terms import DEFAULT_LOSS_TYPES, is_term  # noqa: F401 - DEFAULT_LOSS_TYPES: a public name of this module


class NumericalWarning(UserWarning):
    """A solution that breaks its constraints on the unscaled model (status ``numerically unreliable``)."""

__all__ = ["CONSTRAINT_TYPES", "OBJECTIVES", "OptModel", "build_model", "optimise", "solve"]

OBJECTIVES = ("losses", "surplus", "primary", "energy", "co2", "cost")
OBJECTIVE_OPTIONS = {"loss_types", "elements", "horizon", "years"}

#: accepted keys per user-constraint type (``type`` itself, ``description`` and ``source`` always)
CONSTRAINT_TYPES: dict[str, set[str]] = {
    "share": {"node", "route", "min", "max", "years", "life", "index"},
    "capacity": {"node", "route", "max", "growth", "initial", "cost", "years", "life", "index", "shared"},
    "recycled_content": {"node", "output", "min", "years", "index"},
    "forbid": {"node", "route", "years", "life", "index"},
    "budget": {"max", "years"},
    "flow": {"source", "target", "min", "max", "years", "element"},
    "indicator": {"indicator", "min", "max"},
    "allocation": {"node", "input", "output", "min", "max", "share", "years", "index"},
}
_ALWAYS_KEYS = {"type", "description", "source", "name", "cite"}  # cite: a source id (flow uses 'source')

# column kinds
C_ROUTE, C_ALLOC, C_LEFT, C_SUPPLY, C_STATE, C_CAP = range(6)
COL_KINDS = ("route", "allocation", "leftover", "supply", "input", "capacity")
DECISION_KINDS = (C_ROUTE, C_ALLOC, C_SUPPLY)

# row kinds
ROW_KINDS = ("balance", "allocation", "share_min", "share_max", "capacity", "demand", "window_min",
             "window_max", "supply_max", "forbid", "capacity_growth", "capacity_initial", "capacity_max",
             "recycled_content", "flow_min", "flow_max", "budget", "epsilon", "user",
             "indicator_min", "indicator_max", "allocation_min", "allocation_max")
_RK = {k: i for i, k in enumerate(ROW_KINDS)}
_EDGE_ROWS = {_RK[k] for k in ("share_min", "share_max", "capacity", "forbid", "capacity_growth",
                               "capacity_initial", "capacity_max")}
_OUTPUT_ROWS = {_RK[k] for k in ("demand", "recycled_content", "window_min", "window_max")}

#: HiGHS options circopt sets (``solver_options`` override them)
HIGHS_OPTIONS = {"output_flag": False, "small_matrix_value": 1e-12, "primal_feasibility_tolerance": 1e-9,
                 "dual_feasibility_tolerance": 1e-9}

#: matrix entries below this fraction of their row's largest entry are left out of the LP
#: (HiGHS would drop them as "small" anyway); the exact kernels are kept for the flows
DROP_REL = 1e-12
INF = math.inf


# ============================================================================================
# the model object
# ============================================================================================
@dataclasses.dataclass(repr=False)
class OptModel:
    """A built LP: the Pyomo model plus the index maps that tie it to the System.

    ``model.x[j]`` is column ``j`` (named ``col_names[j]``, in the instance's unit);
    ``model.rows[i]`` is row ``i`` (named ``row_names[i]``). Add constraints by hand to
    ``model`` (any Pyomo ``Constraint``; :meth:`var` and :meth:`flow` give the variables
    and flow expressions) and call :func:`solve`.
    """

    system: System
    model: Any
    A: sp.csr_matrix  # (m, n) constraint matrix, instance units
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    c: np.ndarray  # objective coefficients (weighted sum of terms)
    c_offset: float
    G: sp.csr_matrix  # flow map (T*E*C, n)
    g: np.ndarray  # constant flows (T*E*C,)
    col_kind: np.ndarray
    col_a: np.ndarray
    col_b: np.ndarray
    col_c: np.ndarray
    col_t: np.ndarray
    row_kind: np.ndarray
    row_a: np.ndarray
    row_b: np.ndarray
    row_c: np.ndarray
    row_t: np.ndarray
    row_u: np.ndarray  # user-constraint index (-1: the instance's own rows)
    objective: dict[str, float]  # term -> weight
    terms: dict[str, tuple[sp.csr_matrix, float]]  # term -> (1 x n row, constant): value = row @ x + constant
    constraints: list[dict]  # validated user constraints
    epsilon: dict[str, float]
    mass_scale: float
    polish_rows: np.ndarray  # balance / allocation rows, each defining one dependent column
    polish_cand: sp.csr_matrix  # per such row, the columns that may be its dependent one
    A_polish: sp.csr_matrix  # those rows, exact (before dropping tiny coefficients)
    route_room: tuple | None  # (route columns, selection of their split's input flows, min share, max share,
    #                             split-year group)
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    relaxed: tuple | None = None  # fix= with every decision imposed: (rows, lower, upper) not enforced
    _xs: list = dataclasses.field(default_factory=list, repr=False)
    _obj_expr: Any = dataclasses.field(default=None, repr=False)
    _row_names: list[str] | None = dataclasses.field(default=None, repr=False)
    _col_names: list[str] | None = dataclasses.field(default=None, repr=False)
    _col_index: dict[str, int] | None = dataclasses.field(default=None, repr=False)
    _row_index: dict[str, int] | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"OptModel({self.system.name!r}, columns={self.n_cols}, rows={self.n_rows}, nonzeros={self.A.nnz}, "
                f"objective={self.objective}, constraints={len(self.constraints)}, epsilon={self.epsilon})")

    # ---- sizes and names ------------------------------------------------------------------
    @property
    def n_cols(self) -> int:
        return self.A.shape[1]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    @property
    def col_names(self) -> list[str]:
        if self._col_names is None:
            self._col_names = [self._col_name(j) for j in range(self.n_cols)]
        return self._col_names

    @property
    def row_names(self) -> list[str]:
        if self._row_names is None:
            self._row_names = self.row_table()["constraint"].tolist()
        return self._row_names

    def row_table(self) -> pd.DataFrame:
        """One line per row: constraint (readable name), kind, node, year, element, origin.

        Rows of one family share everything but the year, so the texts are made once per
        (kind, subject, user constraint) and spread over the rows. Kept once made (the rows
        of a built model do not change)."""
        cached = getattr(self, "_row_table_cache", None)
        if cached is not None and len(cached) == self.n_rows:
            return cached.copy()
        table = self._make_row_table()
        self._row_table_cache = table
        return table.copy()

    def _make_row_table(self) -> pd.DataFrame:
        m = self.n_rows
        if m == 0:
            return pd.DataFrame(columns=["constraint", "kind", "node", "year", "element", "origin"])
        keys = np.stack([self.row_kind, self.row_a, self.row_b, self.row_c, self.row_u], axis=1)
        _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        heads, kinds, nodes, elements, origins = [], [], [], [], []
        for i in first.tolist():
            k, u = int(self.row_kind[i]), int(self.row_u[i])
            subj, node, el = self._row_subject(i)
            prefix = f"constraints[{u}]." if u >= 0 else ""
            heads.append((f"{prefix}{ROW_KINDS[k]}", subj))
            kinds.append(ROW_KINDS[k])
            nodes.append(node)
            elements.append(el)
            origins.append(self.row_origin(i))
        years = self.system.years
        names = []
        for q, t in zip(inv.tolist(), self.row_t.tolist()):
            head, subj = heads[q]
            parts = [p for p in (subj, str(int(years[t])) if t >= 0 else "") if p]
            names.append(f"{head}[{','.join(parts)}]" if parts else head)
        yr = np.where(self.row_t >= 0, years[np.maximum(self.row_t, 0)], -1)
        return pd.DataFrame({
            "constraint": names,
            "kind": np.array(kinds, dtype=object)[inv],
            "node": np.array(nodes, dtype=object)[inv],
            "year": pd.array([int(y) if y >= 0 else None for y in yr.tolist()], dtype="Int64"),
            "element": np.array(elements, dtype=object)[inv],
            "origin": np.array(origins, dtype=object)[inv],
        })

    def col_index(self, name: str) -> int:
        if self._col_index is None:
            self._col_index = {nm: j for j, nm in enumerate(self.col_names)}
        try:
            return self._col_index[name]
        except KeyError:
            raise KeyError(f"no column named {name!r} (e.g. {self.col_names[:3]})") from None

    def row_index(self, name: str) -> int:
        if self._row_index is None:
            self._row_index = {nm: i for i, nm in enumerate(self.row_names)}
        try:
            return self._row_index[name]
        except KeyError:
            raise KeyError(f"no row named {name!r} (e.g. {self.row_names[:3]})") from None

    def var(self, name: str):
        """The Pyomo variable of a column, by its readable name (e.g. ``route[eol[1].reuse,2025]``)."""
        return self.model.x[self.col_index(name)]

    def flow(self, source: str, target: str, year: int, element: str = TOTAL):
        """The flow ``source -> target`` (node names) in ``year`` as a Pyomo expression."""
        from pyomo.core.expr.numeric_expr import LinearExpression

        s = self.system
        e = _edge_between(s, source, target)
        t = _year_index(s, year)
        chans = _channel_weights(s, {element: 1.0}, "flow(element=...)")
        E, C = len(s.edges), s.C
        idx = (t * E + e) * C + np.arange(C)
        w = chans
        row = sp.csr_matrix((w, (np.zeros(C, int), idx)), shape=(1, self.G.shape[0])) @ self.G
        row = row.tocoo()
        const = float(w @ self.g[idx])
        return LinearExpression(constant=const, linear_coefs=row.data.tolist(),
                                linear_vars=[self.model.x[int(j)] for j in row.col])

    # ---- readable names -------------------------------------------------------------------
    def _subject_edge(self, e: int) -> str:
        ed = self.system.edges[e]
        return f"{self.system.nodes[ed.source].name}.{ed.label}"

    def _blend_output(self, bi: int, j: int) -> str:
        b = self.system.blends[bi]
        return f"{self.system.nodes[b.node].name}.{b.outputs[j].name}"

    def _blend_input(self, bi: int, i: int) -> str:
        s, b = self.system, self.system.blends[bi]
        return f"{s.nodes[b.node].name}.{s.nodes[s.edges[b.inputs[i]].source].name}"

    def _channel(self, c: int) -> str:
        return TOTAL if c < 0 else self.system.channels[c]

    def _col_name(self, j: int) -> str:
        k, a, b, c = int(self.col_kind[j]), int(self.col_a[j]), int(self.col_b[j]), int(self.col_c[j])
        yr = int(self.system.years[self.col_t[j]])
        s = self.system
        if k == C_ROUTE:
            return f"route[{self._subject_edge(a)},{yr}]"
        if k == C_ALLOC:
            bl = s.blends[a]
            return (f"allocation[{s.nodes[bl.node].name}.{s.nodes[s.edges[bl.inputs[b]].source].name}"
                    f"->{bl.outputs[c].name},{yr}]")
        if k == C_LEFT:
            return f"leftover[{self._blend_input(a, b)},{yr}]"
        if k == C_SUPPLY:
            return f"supply[{s.nodes[a].name},{yr}]"
        if k == C_STATE:
            if s.nodes[a].kind == "source":  # a source following another node's input
                return f"amount[{s.nodes[a].name},{yr}]"
            return f"input[{s.nodes[a].name},{self._channel(c)},{yr}]"
        if k == C_CAP:
            subj = (f"{s.nodes[s.edges[a].source].family}.{s.edges[a].label}" if c == 1  # shared by the family
                    else self._subject_edge(a))
            return f"constraints[{b}].capacity[{subj},{yr}]"
        return f"x[{j}]"

    def _row_subject(self, i: int) -> tuple[str, str | None, str | None]:
        """(subject text, node name, element) of row i."""
        k, a, b, c = int(self.row_kind[i]), int(self.row_a[i]), int(self.row_b[i]), int(self.row_c[i])
        s = self.system
        if k == _RK["balance"]:
            ch = self._channel(c)
            return f"{s.nodes[a].name},{ch}", s.nodes[a].name, ch
        if k == _RK["allocation"]:
            return self._blend_input(a, b), s.nodes[s.blends[a].node].name, None
        if k in _EDGE_ROWS:
            if c == 1:  # a capacity shared by the members of a split family
                fam = s.nodes[s.edges[a].source].family
                return f"{fam}.{s.edges[a].label}", fam, None
            return self._subject_edge(a), s.nodes[s.edges[a].source].name, None
        if k in _OUTPUT_ROWS:
            subj = self._blend_output(a, b)
            node = s.nodes[s.blends[a].node].name
            if k in (_RK["window_min"], _RK["window_max"]):
                return f"{subj},{self._channel(c)}", node, self._channel(c)
            return subj, node, None
        if k == _RK["supply_max"]:
            return s.nodes[a].name, s.nodes[a].name, None
        if k in (_RK["flow_min"], _RK["flow_max"]):
            con = self.constraints[a]
            return f"{con['source']}->{con['target']}", None, con.get("element", TOTAL)
        if k == _RK["epsilon"]:
            return list(self.epsilon)[a], None, None
        if k in (_RK["indicator_min"], _RK["indicator_max"]):
            return str(self.constraints[a]["indicator"]), None, None
        if k in (_RK["allocation_min"], _RK["allocation_max"]):
            con = self.constraints[int(self.row_u[i])]
            inp = con["doc"].get("input")
            inp = "+".join(map(str, inp)) if isinstance(inp, (list, tuple)) else inp  # a list of inputs: summed
            return (f"{s.nodes[s.blends[a].node].name}.{inp}->{s.blends[a].outputs[b].name}",
                    s.nodes[s.blends[a].node].name, None)
        return "", None, None

    def _row_name(self, i: int) -> str:
        k, u, t = int(self.row_kind[i]), int(self.row_u[i]), int(self.row_t[i])
        subj = self._row_subject(i)[0]
        prefix = f"constraints[{u}]." if u >= 0 else ""
        kind = ROW_KINDS[k]
        parts = [p for p in (subj, str(int(self.system.years[t])) if t >= 0 else "") if p]
        inner = ",".join(parts)
        return f"{prefix}{kind}[{inner}]" if inner else f"{prefix}{kind}"

    def row_origin(self, i: int) -> str:
        """Where a row's bound comes from, in the instance's keys."""
        k, a, b, c, u = (int(self.row_kind[i]), int(self.row_a[i]), int(self.row_b[i]), int(self.row_c[i]),
                         int(self.row_u[i]))
        s = self.system
        if u >= 0:
            con = self.constraints[u]
            return f"{con['where']} {_compact(con['doc'])}"
        if k == _RK["balance"]:
            return f"mass balance of {s.nodes[a].name}"
        if k == _RK["allocation"]:
            return f"allocation of {self._blend_input(a, b)} (allocated or left over)"
        if k in (_RK["share_min"], _RK["share_max"]):
            ed = s.edges[a]
            fam = s.nodes[ed.source].family
            arr = ed.lo if k == _RK["share_min"] else ed.hi
            side = "min" if k == _RK["share_min"] else "max"
            return f"nodes.{fam}.shares.{ed.label} ({side} share {_fmt_series(arr)})"
        if k == _RK["capacity"]:
            ed = s.edges[a]
            return f"nodes.{s.nodes[ed.source].family}.capacity.{ed.label}"
        if k in _OUTPUT_ROWS:
            bl = s.blends[a]
            o = bl.outputs[b]
            fam = s.nodes[bl.node].family
            if k == _RK["demand"]:
                return f"nodes.{fam}.outputs.{o.name}.demand"
            side = 0 if k == _RK["window_min"] else 1
            arr = (o.window_lo if side == 0 else o.window_hi)[:, c]
            return (f"nodes.{fam}.outputs.{o.name}.window.{s.channels[c]} "
                    f"({'min' if side == 0 else 'max'} {_fmt_series(arr)})")
        if k == _RK["supply_max"]:
            return f"nodes.{s.nodes[a].family}.max"
        if k == _RK["epsilon"]:
            name = list(self.epsilon)[a]
            return f"epsilon={{{name!r}: {self.epsilon[name]:.6g}}}"
        return ""


# ============================================================================================
# public entry points
# ============================================================================================
def optimise(system: System | str | Path, objective: Any = "losses", scenario: str | None = None,
             constraints: list[dict] | None = None, solver_options: dict | None = None, fix: Any = None,
             weights: dict[str, float] | None = None, epsilon: dict | None = None,
             time_limit: float | None = None, then: list | None = None, slack: float = 1e-6,
             uniqueness: bool = False, **objective_options: Any):
    """Optimise a system; returns a :class:`~circopt.result.Result` (engine ``"optimise"``).

    ``objective``: a name from :data:`OBJECTIVES`, a list of names, or ``{name: weight}``
    (a weight may be ``{"weight": w, **options}``); ``weights`` overrides the weights.
    ``objective_options``: ``loss_types`` (default dissipation, process, dilution, exported),
    ``elements`` (``{element|"total": weight}``, default total mass), ``horizon`` (last year
    counted), ``years`` (``[first, last]`` or one year). ``epsilon``: ``{term: max}`` holds a
    second objective below a value. ``constraints``: user constraints added to the instance's
    (see :data:`CONSTRAINT_TYPES`). ``fix``: a simulation Result (or its decisions table)
    whose route flows, blend allocations and free-source amounts are imposed.
    ``solver_options``: HiGHS options; ``time_limit`` in seconds. ``then``: later objectives
    optimised lexicographically, each earlier optimum held within ``slack`` (relative, see
    :mod:`circopt.lexicographic`). ``uniqueness``: also report whether the optimum is unique
    (alternative-optimum ranges per lever, 2 re-solves per lever; :mod:`circopt.uniqueness`).

    Raises :class:`InfeasibleError` (naming the conflicting constraints),
    :class:`UnboundedError` or :class:`SolverError`. Every solution is verified on the unscaled
    model (:mod:`circopt.lp.verify`): one that breaks a row or bound beyond the tolerance comes
    back with status ``numerically unreliable`` (the worst rows in its notes and
    ``extra["verification"]``) and a :class:`NumericalWarning`, never as ``optimal``.
    """
    system = _as_system(system, scenario)
    if then:
        from .lexicographic import optimise_lexicographic

        return optimise_lexicographic(system, objective, then, slack=slack, epsilon=epsilon, constraints=constraints,
                                      solver_options=solver_options, fix=fix, weights=weights,
                                      time_limit=time_limit, uniqueness=uniqueness, **objective_options)
    om = build_model(system, objective=objective, constraints=constraints, fix=fix, weights=weights,
                     epsilon=epsilon, **objective_options)
    if om.A.shape[1] == 0:
        return _nothing_to_decide(om)
    return solve(om, solver_options=solver_options, time_limit=time_limit, uniqueness=uniqueness)


def _nothing_to_decide(om: OptModel):
    """An LP without a column: the data fix every flow, so the optimum is the simulation (status
    ``nothing to decide``) provided every row holds at that one point (each row's activity is 0)."""
    from .simulate import simulate

    tol = 1e-9 * max(om.mass_scale, 1.0)
    bad = np.flatnonzero((om.row_lb > tol) | (om.row_ub < -tol))
    if len(bad):
        names = [om.row_names[i] for i in bad[:5]]
        raise InfeasibleError(f"nothing to decide, and the instance's data break {len(bad)} constraint(s): "
                              f"{', '.join(names)}", conflict=names)
    res = simulate(om.system)
    res.engine = "optimise"
    res.status = "nothing to decide"
    res.objective = float(om.c_offset)
    res.objective_terms = {name: float(off) for name, (_row, off) in om.terms.items()}
    res.solve_seconds = 0.0
    res.solver = {"name": "none", "reason": "the instance has no decision (no free share, allocation or free "
                  "source): every flow follows from the data"}
    res.notes.append("nothing to decide: every flow follows from the data; the result is the simulation")
    # no row has a price: an empty duals table (the columns of a solved model's) so that every
    # table of an optimisation (duals, binding) is written
    res.duals = pd.DataFrame({"constraint": pd.Series(dtype="string"), "kind": pd.Series(dtype="string"),
                              "node": pd.Series(dtype="string"), "year": pd.Series(dtype="Int64"),
                              "element": pd.Series(dtype="string"), "dual": pd.Series(dtype=float),
                              "binding": pd.Series(dtype=bool), "activity": pd.Series(dtype=float),
                              "lower": pd.Series(dtype=float), "upper": pd.Series(dtype=float),
                              "origin": pd.Series(dtype="string")})
    return res


def build_model(system: System | str | Path, objective: Any = "losses", constraints: list[dict] | None = None,
                fix: Any = None, weights: dict[str, float] | None = None, epsilon: dict | None = None,
                scenario: str | None = None, **objective_options: Any) -> OptModel:
    """Build the LP of a system as an :class:`OptModel` (see :func:`optimise` for the arguments)."""
    system = _as_system(system, scenario)
    t0 = time.perf_counter()
    cons = _validate_constraints(system, constraints)
    obj = _parse_objective(objective, weights, objective_options)
    eps = _parse_epsilon(epsilon, objective_options)
    b = _Builder(system, obj, cons, eps)
    om = b.run(fix)
    om.timings["validate+assemble"] = time.perf_counter() - t0 - om.timings.get("pyomo_build", 0.0)
    return om


def solve(om: OptModel, solver_options: dict | None = None, time_limit: float | None = None,
          uniqueness: bool = False):
    """Hand an :class:`OptModel` (with any hand-written additions) to HiGHS and return a Result
    (``uniqueness``: with the alternative-optimum report of :mod:`circopt.uniqueness`)."""
    import highspy

    t0 = time.perf_counter()
    hl = _handover(om)
    h = new_highs()
    # tolerances 100x tighter than HiGHS's defaults (on the scaled model, where the largest mass
    # is ~1): a bound met "to tolerance" is then met to ~1e-9 of the largest flow, and what the
    # polish of the balances moves stays at that level (same solve times on the flagships)
    opts = dict(HIGHS_OPTIONS)
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    opts.update(solver_options or {})
    for k, v in opts.items():
        st = h.setOptionValue(k, v)
        if st != highspy.HighsStatus.kOk:
            raise SolverError(f"HiGHS rejected option {k}={v!r}")
    h.passModel(hl.lp)
    om.timings["handover"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    solve_seconds = time.perf_counter() - t1
    om.timings["solve"] = solve_seconds
    status = h.getModelStatus()
    MS = highspy.HighsModelStatus
    if status == MS.kUnboundedOrInfeasible:
        h.setOptionValue("presolve", "off")
        h.run()
        status = h.getModelStatus()
    if status == MS.kInfeasible:
        raise _infeasible_error(om, hl, h)
    if status == MS.kUnbounded:
        raise _unbounded_error(om, hl, h)
    if status != MS.kOptimal:
        raise SolverError(f"HiGHS stopped without an optimal solution: status '{h.modelStatusToString(status)}' "
                          f"after {solve_seconds:.3g} s ({om.n_cols} columns, {om.n_rows} rows); "
                          "raise time_limit or check solver_options")
    sol = h.getSolution()
    res = _result(om, hl, h, sol, solve_seconds, opts)
    if uniqueness:
        from .uniqueness import report

        res.extra["uniqueness"] = report(om, hl, h, sol)
    return res


# ============================================================================================
# building
# ============================================================================================
class _Builder:
    def __init__(self, system: System, obj: dict[str, tuple[float, dict]], cons: list[dict],
                 eps: dict[str, tuple[float, dict]]):
        self.s = system
        self.obj = obj
        self.cons = cons
        self.eps = eps
        self.T, self.C, self.E = system.T, system.C, len(system.edges)
        self.F = self.T * self.E * self.C
        self.tt = np.arange(self.T)
        self.cc = np.arange(self.C)
        self.plan = stock_plan(system)

    # -- flow index --------------------------------------------------------------------------
    def fi(self, e: int) -> np.ndarray:
        """(T, C) flow indices of edge e."""
        return (self.tt[:, None] * self.E + e) * self.C + self.cc[None, :]

    # -- main ------------------------------------------------------------------------------------
    def run(self, fix) -> OptModel:
        s = self.s
        self._classify()
        self._constants()
        self._columns()
        self._flow_map()
        self._rows()
        self._objective()
        A = self.A
        lb, ub = self.col_lb, self.col_ub
        fixed = {}
        relaxed = None
        if fix is not None:
            fixed = self._fix(fix, lb, ub)
            if fixed["unfixed_decisions"] == 0:
                # Every decision is imposed: what remains are the simulator's equations. The
                # policy rows (shares, windows, demands, capacities, user constraints) are not
                # enforced -- a baseline may break them -- but checked and reported after the solve.
                pol = np.flatnonzero(~np.isin(self.row_kind, [_RK["balance"], _RK["allocation"]]))
                relaxed = (pol, self.row_lb[pol].copy(), self.row_ub[pol].copy())
                self.row_lb[pol] = -INF
                self.row_ub[pol] = INF
        om = OptModel(
            system=s, model=None, A=A, row_lb=self.row_lb, row_ub=self.row_ub, col_lb=lb, col_ub=ub,
            c=self.c, c_offset=self.c_offset, G=self.G, g=self.g,
            col_kind=self.col_kind, col_a=self.col_a, col_b=self.col_b, col_c=self.col_c, col_t=self.col_t,
            row_kind=self.row_kind, row_a=self.row_a, row_b=self.row_b, row_c=self.row_c, row_t=self.row_t,
            row_u=self.row_u, objective={k: w for k, (w, _) in self.obj.items()}, terms=self.terms,
            constraints=self.cons, epsilon={k: v for k, (v, _) in self.eps.items()},
            mass_scale=self._mass_scale(), polish_rows=self.polish_rows, polish_cand=self.polish_cand,
            A_polish=self.A_polish, route_room=getattr(self, "route_room", None), fixed=fixed, notes=list(self.notes), relaxed=relaxed)
        om.boundary = _boundary_note(self.obj, s)
        t = time.perf_counter()
        _pyomo_model(om)
        om.timings["pyomo_build"] = time.perf_counter() - t
        return om

    # -- which edges can a decision change? -------------------------------------------------------
    def _classify(self):
        s = self.s
        E, N = self.E, len(s.nodes)
        dec = np.zeros(E, bool)
        for e in s.edges:
            dec[e.id] = (e.rule in ("route", "blend_out", "surplus")
                         or (e.rule == "source" and s.nodes[e.source].free))
        follows = [e for e in s.edges if e.rule == "source" and "follows" in s.nodes[e.source].meta]
        var_edge = dec.copy()
        var_node = np.zeros(N, bool)
        stack = [s.edges[e].target for e in np.flatnonzero(dec)]
        while True:
            while stack:
                n = stack.pop()
                if var_node[n]:
                    continue
                var_node[n] = True
                if s.nodes[n].kind in ("process", "stock"):
                    for e in s.out_edges(n):
                        if not var_edge[e]:
                            var_edge[e] = True
                            stack.append(s.edges[e].target)
            # a source following a node whose input a decision changes follows the decision too
            for e in follows:
                f = s.nodes[e.source].meta["follows"]
                if not var_edge[e.id] and (var_node[f] or (s.nodes[f].kind == "source"
                                                             and any(var_edge[o] for o in s.out_edges(f)))):
                    var_edge[e.id] = True
                    stack.append(e.target)
            if not stack:
                break
        self.var_edge, self.var_node = var_edge, var_node
        # state nodes: processes and stocks whose input a decision changes, and following
        # sources whose amount does (one column per year: their amount)
        self.follow_sources = sorted({e.source for e in follows if var_edge[e.id]})
        self.state_nodes = [n for n in range(N) if (var_node[n] and s.nodes[n].kind in ("process", "stock"))
                            or n in self.follow_sources]
        self.total_mode = {}
        self.node_comp = {}
        for n in self.state_nodes:
            if s.nodes[n].kind == "source":
                self.total_mode[n] = True
                continue
            ins, outs = s.in_edges(n), s.out_edges(n)
            known = all(s.comp_known[e] for e in ins) and all(s.comp_known[e] for e in outs) and len(ins) > 0
            self.total_mode[n] = known
            if known:
                self.node_comp[n] = _input_comp(s, n, ins)

    # -- constants by the simulator itself --------------------------------------------------------
    def _constants(self):
        from .simulate import Shares, _run

        s = self.s
        T, E, C = self.T, self.E, self.C
        const = [e for e in s.edges if not self.var_edge[e.id]]
        flows = np.zeros((T, E, C))
        self.notes = []
        if const:
            sub_edges = [dataclasses.replace(e, id=k) for k, e in enumerate(const)]
            sub = System(name=s.name, description="", unit=s.unit, years=s.years, elements=s.elements,
                         nodes=s.nodes, edges=sub_edges, blends=[], timing=s.timing)
            sub._stock_plan = self.plan  # same nodes, same kernels
            sh = Shares(route=np.full((len(const), T), np.nan), allocation=[])
            f_c, _, _, notes = _run(sub, sh, None)
            flows[:, [e.id for e in const], :] = f_c
            self.notes.extend(notes)
        # history cohorts' outflow of stocks whose outflow a decision changes
        self.hist_out = self.plan.outflows(self.plan.hist_inflow)[:, self.plan.H:, :]  # (S, T, C)
        self.stock_index = {node: k for k, node in enumerate(self.plan.stocks)}
        g = flows
        for n in self.state_nodes:
            if s.nodes[n].kind == "stock":
                for e in s.out_edges(n):
                    g[:, e, :] += self.hist_out[self.stock_index[n]]
        self.g = g.ravel()

    # -- columns -------------------------------------------------------------------------------------
    def _columns(self):
        s, T, C = self.s, self.T, self.C
        kinds, aa, bb, cc, tt = [], [], [], [], []
        n = 0

        def block(kind, a, b, c, count_t=T, per_t=1):
            nonlocal n
            start = n
            size = count_t * per_t
            kinds.append(np.full(size, kind, np.int8))
            aa.append(np.full(size, a, np.int32))
            if per_t == 1:
                bb.append(np.full(size, b, np.int32))
                cc.append(np.full(size, c, np.int32))
                tt.append(np.arange(count_t, dtype=np.int32))
            else:  # channel mode: t-major, c minor
                bb.append(np.full(size, b, np.int32))
                cc.append(np.tile(np.arange(per_t, dtype=np.int32), count_t))
                tt.append(np.repeat(np.arange(count_t, dtype=np.int32), per_t))
            n += size
            return start

        self.route_col = {}
        for e in s.edges:
            if e.rule == "route":
                self.route_col[e.id] = block(C_ROUTE, e.id, 0, 0)
        self.alloc_col = []
        self.left_col = []
        self.free_in = []
        for bi, bl in enumerate(s.blends):
            free = [s.nodes[s.edges[e].source].free for e in bl.inputs]
            self.free_in.append(free)
            st = np.zeros((len(bl.inputs), len(bl.outputs)), int)
            for i in range(len(bl.inputs)):
                for j in range(len(bl.outputs)):
                    st[i, j] = block(C_ALLOC, bi, i, j)
            self.alloc_col.append(st)
            lc = {}
            if bl.surplus_edge is not None:
                for i in range(len(bl.inputs)):
                    if not free[i]:
                        lc[i] = block(C_LEFT, bi, i, 0)
            self.left_col.append(lc)
        self.supply_col = {}
        self.blend_of_node = {bl.node: bi for bi, bl in enumerate(s.blends)}
        for e in s.edges:
            if e.rule == "source" and s.nodes[e.source].free and s.nodes[e.target].kind != "blend":
                self.supply_col[e.source] = block(C_SUPPLY, e.source, 0, 0)
        self.state_col = {}
        for nd in self.state_nodes:
            if self.total_mode[nd]:
                self.state_col[nd] = block(C_STATE, nd, 0, -1)
            else:
                self.state_col[nd] = block(C_STATE, nd, 0, 0, per_t=C)
        self.cap_col = {}
        for k, con in enumerate(self.cons):
            if con["type"] == "capacity":
                if con.get("shared"):  # one capacity for the sum over the family's members
                    self.cap_col[(k, "shared")] = block(C_CAP, con["edges"][0], k, 1)
                else:
                    for e in con["edges"]:
                        self.cap_col[(k, e)] = block(C_CAP, e, k, 0)
        self.n = n
        cat = (lambda lst, dt: np.concatenate(lst).astype(dt) if lst else np.zeros(0, dt))
        self.col_kind = cat(kinds, np.int8)
        self.col_a = cat(aa, np.int32)
        self.col_b = cat(bb, np.int32)
        self.col_c = cat(cc, np.int32)
        self.col_t = cat(tt, np.int32)
        self.col_lb = np.zeros(n)
        self.col_ub = np.full(n, INF)

    def state_cols_of(self, nd: int) -> np.ndarray:
        """(T, C) column indices of a state node's channel inputs (total mode: (T,) broadcast)."""
        st = self.state_col[nd]
        if self.total_mode[nd]:
            return np.repeat((st + self.tt)[:, None], self.C, axis=1)
        return st + self.tt[:, None] * self.C + self.cc[None, :]

    # -- flow map G --------------------------------------------------------------------------------
    def _flow_map(self):
        s, T, C = self.s, self.T, self.C
        R, K, V = [], [], []

        def put(rows, cols, vals):
            rows, cols, vals = np.broadcast_arrays(rows, cols, vals)
            m = vals != 0
            R.append(rows[m].ravel())
            K.append(cols[m].ravel())
            V.append(vals[m].ravel().astype(float))

        tcol = self.tt[:, None]
        for e in s.edges:
            if not self.var_edge[e.id]:
                continue
            fi = self.fi(e.id)
            if e.rule == "route":
                put(fi, self.route_col[e.id] + tcol, s.edge_comp[e.id])
            elif e.rule == "source" and e.source in self.state_col:  # follows another node's input
                comp = s.nodes[e.source].composition
                put(fi, self.state_col[e.source] + tcol, e.coef[:, None] * comp)
            elif e.rule == "source":  # free source
                comp = s.nodes[e.source].composition
                if e.source in self.supply_col:
                    put(fi, self.supply_col[e.source] + tcol, comp)
                else:
                    bi = self.blend_of_node[e.target]
                    i = s.blends[bi].inputs.index(e.id)
                    for j in range(len(s.blends[bi].outputs)):
                        put(fi, self.alloc_col[bi][i, j] + tcol, comp)
            elif e.rule == "blend_out":
                bi = self.blend_of_node[e.source]
                bl = s.blends[bi]
                j = [o.edge for o in bl.outputs].index(e.id)
                for i, ein in enumerate(bl.inputs):
                    put(fi, self.alloc_col[bi][i, j] + tcol, self._in_comp(ein))
            elif e.rule == "surplus":
                bi = self.blend_of_node[e.source]
                bl = s.blends[bi]
                for i, ein in enumerate(bl.inputs):
                    if i in self.left_col[bi]:
                        put(fi, self.left_col[bi][i] + tcol, self._in_comp(ein))
            elif e.rule == "tc":
                nd = e.source
                cols = self.state_cols_of(nd)
                coef = e.coef * self.node_comp[nd] if self.total_mode[nd] else e.coef
                put(fi, cols, coef)
            elif e.rule == "stock":
                nd = e.source
                k = self.stock_index[nd]
                pdf = self.plan.pdf[k]
                H = self.plan.H
                ti, tj = np.tril_indices(T)
                w = pdf[ti - tj] if pdf.ndim == 1 else pdf[H + tj, ti - tj]
                m = w != 0
                ti, tj, w = ti[m], tj[m], w[m]
                rows = (ti[:, None] * self.E + e.id) * C + self.cc[None, :]
                if self.total_mode[nd]:
                    cols = np.repeat((self.state_col[nd] + tj)[:, None], C, axis=1)
                    vals = w[:, None] * self.node_comp[nd][tj]
                else:
                    cols = self.state_col[nd] + tj[:, None] * C + self.cc[None, :]
                    vals = np.repeat(w[:, None], C, axis=1)
                put(rows, cols, vals)
            else:  # pragma: no cover - every rule is listed above
                raise AssertionError(e.rule)
        rows = np.concatenate(R) if R else np.zeros(0, int)
        cols = np.concatenate(K) if K else np.zeros(0, int)
        vals = np.concatenate(V) if V else np.zeros(0)
        self.G = sp.csr_matrix((vals, (rows, cols)), shape=(self.F, self.n))

    def _in_comp(self, e: int) -> np.ndarray:
        ed = self.s.edges[e]
        if ed.rule == "source":
            return self.s.nodes[ed.source].composition
        return self.s.edge_comp[e]

    # -- selection matrices over flows ------------------------------------------------------------
    def _sel_total(self, groups: list[list[int]], weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Rows (group g, year t) summing every channel of the edges of group g (weight per row)."""
        T, C = self.T, self.C
        rr, cc = [], []
        for gi, edges in enumerate(groups):
            for e in edges:
                rr.append(np.repeat(gi * T + self.tt, C))
                cc.append(self.fi(e).ravel())
        rows = np.concatenate(rr) if rr else np.zeros(0, int)
        cols = np.concatenate(cc) if cc else np.zeros(0, int)
        vals = np.ones(len(rows)) if weights is None else weights[rows]
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(groups) * T, self.F))

    # -- rows ---------------------------------------------------------------------------------------
    def _rows(self):
        s, T, C, n = self.s, self.T, self.C, self.n
        blocks = []  # (A csr, lb, ub, kind, a, b, c, t, u)

        count = [0]
        polish = []  # (first row, candidates csr): rows that define one dependent column each

        def add(A, lb, ub, kind, a, b=0, c=0, t=None, u=-1):
            m = A.shape[0]
            f = (lambda v: np.broadcast_to(np.asarray(v), (m,)).astype(np.int32))
            blocks.append((A.tocsr(), np.broadcast_to(lb, (m,)).astype(float),
                           np.broadcast_to(ub, (m,)).astype(float), f(_RK[kind]), f(a), f(b), f(c),
                           f(-1 if t is None else t), f(u)))
            count[0] += m
            return count[0] - m

        def direct(rows, cols, vals, m):
            rows, cols, vals = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(vals, float))
            return sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(m, n))

        G, g = self.G, self.g
        # 1. balance of state nodes: (sum of inflows) - input = 0 ------------------------------------
        st_rows_A, st_lb, meta = [], [], []
        for nd in self.state_nodes:
            ins = s.in_edges(nd)
            if s.nodes[nd].kind == "source":  # amount = ratio x the followed node's input
                nm = s.nodes[nd].meta
                S = self._sel_total([s.followed_edges(nm["follows"])], weights=np.asarray(nm["ratio"], float))
                M = S @ G - direct(self.tt, self.state_col[nd] + self.tt, 1.0, T)
                st_rows_A.append(M)
                st_lb.append(-(S @ g))
                meta.append((nd, np.full(T, -1), self.tt))
                continue
            if self.total_mode[nd]:
                S = self._sel_total([ins])
                M = S @ G
                M = M - direct(self.tt, self.state_col[nd] + self.tt, 1.0, T)
                st_rows_A.append(M)
                st_lb.append(-(S @ g))
                meta.append((nd, np.full(T, -1), self.tt))
            else:
                rr = np.concatenate([np.arange(T * C) for _ in ins])
                cols = np.concatenate([self.fi(e).ravel() for e in ins])
                S = sp.csr_matrix((np.ones(len(rr)), (rr, cols)), shape=(T * C, self.F))
                M = S @ G - direct(np.arange(T * C), self.state_col[nd] + np.arange(T * C), 1.0, T * C)
                st_rows_A.append(M)
                st_lb.append(-(S @ g))
                meta.append((nd, np.tile(self.cc, T), np.repeat(self.tt, C)))
        if st_rows_A:
            A_st = sp.vstack(st_rows_A).tocsr()
            rhs = np.concatenate(st_lb)
            a = np.concatenate([np.full(len(m[1]), m[0]) for m in meta])
            c = np.concatenate([m[1] for m in meta])
            t = np.concatenate([m[2] for m in meta])
            r0 = add(A_st, rhs, rhs, "balance", a, 0, c, t)
            zc = np.flatnonzero(self.col_kind == C_STATE)  # same order as the rows
            polish.append((r0, direct(np.arange(len(zc)), zc, 1.0, len(zc))))

        # 2. splits: sum of route totals = input; share bounds; route capacity -----------------------
        splits = [i for i, nd in enumerate(s.nodes) if nd.kind == "split"]
        if splits:
            S = self._sel_total([s.in_edges(p) for p in splits])
            M_in = (S @ G).tocsr()
            g_in = S @ g
            rr, kk = [], []
            for k, p in enumerate(splits):
                for e in s.out_edges(p):
                    rr.append(k * T + self.tt)
                    kk.append(self.route_col[e] + self.tt)
            P = direct(np.concatenate(rr), np.concatenate(kk), 1.0, len(splits) * T)
            r0 = add(P - M_in, g_in, g_in, "balance", np.repeat(splits, T), 0, -1, np.tile(self.tt, len(splits)))
            polish.append((r0, P))
            self.split_row = {p: k for k, p in enumerate(splits)}
            self.M_in, self.g_in = M_in, g_in
            # per route column: its split's input (as a selection of flows) and share bounds, so the
            # polish can pick, in each split and year, the route with the most room to absorb round-off
            rc, rrow, lo_s, hi_s = [], [], [], []
            for k, p in enumerate(splits):
                for e in s.out_edges(p):
                    rc.append(self.route_col[e] + self.tt)
                    rrow.append(k * T + self.tt)
                    lo_s.append(s.edges[e].lo if s.edges[e].lo is not None else np.zeros(T))
                    hi_s.append(s.edges[e].hi if s.edges[e].hi is not None else np.ones(T))
            rrow = np.concatenate(rrow)
            rc, lo_s, hi_s = np.concatenate(rc), np.concatenate(lo_s), np.concatenate(hi_s)
            pos = {c: q for q, c in enumerate(rc.tolist())}
            for con in self.cons:  # user share bounds and forbidden routes tighten the bounds
                if con["type"] in ("share", "forbid"):
                    for e in con["edges"]:
                        q = np.array([pos[self.route_col[e] + t] for t in np.flatnonzero(con["mask"])], int)
                        if con["type"] == "forbid":
                            hi_s[q] = 0.0
                        else:
                            if con.get("min") is not None:
                                lo_s[q] = np.maximum(lo_s[q], con["min"])
                            if con.get("max") is not None:
                                hi_s[q] = np.minimum(hi_s[q], con["max"])
            self.route_room = (rc, S[rrow].tocsr(), lo_s, hi_s, rrow)
            for side in ("min", "max"):
                q_edge, q_t, q_w = [], [], []
                for p in splits:
                    for e in s.out_edges(p):
                        ed = s.edges[e]
                        arr = ed.lo if side == "min" else ed.hi
                        ts = np.flatnonzero(arr > 0) if side == "min" else np.flatnonzero(arr < 1)
                        q_edge.append(np.full(len(ts), e))
                        q_t.append(ts)
                        q_w.append(arr[ts])
                if q_edge:
                    self._share_rows(add, direct, np.concatenate(q_edge), np.concatenate(q_t),
                                     np.concatenate(q_w), side, u=-1)
            ce, ct, cv = [], [], []
            for p in splits:
                for e in s.out_edges(p):
                    cap = s.edges[e].capacity
                    if cap is not None:
                        ts = np.flatnonzero(np.isfinite(cap))
                        ce.append(np.full(len(ts), e))
                        ct.append(ts)
                        cv.append(cap[ts])
            if ce:
                ce, ct, cv = np.concatenate(ce), np.concatenate(ct), np.concatenate(cv)
                cols = np.array([self.route_col[e] for e in ce], int) + ct
                add(direct(np.arange(len(ce)), cols, 1.0, len(ce)), -INF, cv, "capacity", ce, 0, 0, ct)

        # 3. blends ------------------------------------------------------------------------------------
        for bi, bl in enumerate(s.blends):
            free = self.free_in[bi]
            nin, nout = len(bl.inputs), len(bl.outputs)
            fixed_in = [i for i in range(nin) if not free[i]]
            if fixed_in:
                S = self._sel_total([[bl.inputs[i]] for i in fixed_in])
                M = S @ G
                gi = S @ g
                rr, kk, dr, dk = [], [], [], []
                for q, i in enumerate(fixed_in):
                    for j in range(nout):
                        rr.append(q * T + self.tt)
                        kk.append(self.alloc_col[bi][i, j] + self.tt)
                    if i in self.left_col[bi]:
                        rr.append(q * T + self.tt)
                        kk.append(self.left_col[bi][i] + self.tt)
                        dr.append(rr[-1])
                        dk.append(kk[-1])
                    else:
                        dr.extend(rr[-nout:])
                        dk.extend(kk[-nout:])
                P = direct(np.concatenate(rr), np.concatenate(kk), 1.0, len(fixed_in) * T)
                r0 = add(P - M, gi, gi, "allocation", bi, np.repeat(fixed_in, T), 0, np.tile(self.tt, len(fixed_in)))
                polish.append((r0, direct(np.concatenate(dr), np.concatenate(dk), 1.0, len(fixed_in) * T)))
            for j, o in enumerate(bl.outputs):
                if o.demand is not None:
                    rows = np.repeat(self.tt, nin)
                    cols = (self.alloc_col[bi][:, j][None, :] + self.tt[:, None]).ravel()
                    add(direct(rows, cols, 1.0, T), o.demand, o.demand, "demand", bi, j, 0, self.tt)
                comps = np.stack([self._in_comp(e) for e in bl.inputs])  # (nin, T, C)
                for ci in range(len(s.elements)):
                    lo, hi = o.window_lo[:, ci], o.window_hi[:, ci]
                    for side, bound in (("window_min", lo), ("window_max", hi)):
                        coef = comps[:, :, ci] - bound[None, :]  # (nin, T)
                        if side == "window_min":
                            ts = np.flatnonzero((bound > 0) & np.any(coef < 0, axis=0))
                        else:
                            ts = np.flatnonzero((bound < 1) & np.any(coef > 0, axis=0))
                        if not len(ts):
                            continue
                        rows = np.repeat(np.arange(len(ts)), nin)
                        cols = (self.alloc_col[bi][:, j][None, :] + ts[:, None]).ravel()
                        vals = coef[:, ts].T.ravel()
                        A = direct(rows, cols, vals, len(ts))
                        if side == "window_min":
                            add(A, 0.0, INF, side, bi, j, ci, ts)
                        else:
                            add(A, -INF, 0.0, side, bi, j, ci, ts)
        # 4. free-source maxima -----------------------------------------------------------------------
        for e in s.edges:
            if e.rule == "source" and s.nodes[e.source].free and s.nodes[e.source].max_series is not None:
                mx = s.nodes[e.source].max_series
                if e.source in self.supply_col:
                    A = direct(self.tt, self.supply_col[e.source] + self.tt, 1.0, T)
                else:
                    bi = self.blend_of_node[e.target]
                    i = s.blends[bi].inputs.index(e.id)
                    cols = (self.alloc_col[bi][i, :][None, :] + self.tt[:, None])
                    A = direct(np.repeat(self.tt, cols.shape[1]), cols.ravel(), 1.0, T)
                add(A, -INF, mx, "supply_max", e.source, 0, 0, self.tt)
        # 5. user constraints and epsilon --------------------------------------------------------------
        self.terms = {}
        for k, con in enumerate(self.cons):
            self._user_rows(k, con, add, direct)
        for q, (name, (val, opts)) in enumerate(self.eps.items()):
            row, off = self._term(name, opts)
            add(row, -INF, val - off, "epsilon", q, 0, 0, None)
        # assemble ---------------------------------------------------------------------------------------
        if blocks:
            A = sp.vstack([b[0] for b in blocks]).tocsr()
            cat = (lambda i: np.concatenate([b[i] for b in blocks]))
            self.row_lb, self.row_ub = cat(1), cat(2)
            self.row_kind, self.row_a, self.row_b, self.row_c, self.row_t, self.row_u = (cat(i) for i in range(3, 9))
        else:
            A = sp.csr_matrix((0, n))
            self.row_lb = self.row_ub = np.zeros(0)
            self.row_kind = self.row_a = self.row_b = self.row_c = self.row_t = self.row_u = np.zeros(0, np.int32)
        if polish:
            self.polish_rows = np.concatenate([np.arange(r0, r0 + P.shape[0]) for r0, P in polish])
            self.polish_cand = sp.vstack([P for _, P in polish]).tocsr()
        else:
            self.polish_rows = np.zeros(0, int)
            self.polish_cand = sp.csr_matrix((0, n))
        self.A_polish = A[self.polish_rows].tocsr()
        self.A = _drop_small(A)

    def _share_rows(self, add, direct, q_edge, q_t, q_w, side, u):
        """R[e,t] - w * input(split, t) >= w * const_input (min) or <= (max).

        When a decision changes the split's input, the input is written as the sum of the
        split's route totals (equal to it by the split's balance row): a few nonzeros
        instead of a copy of the input's convolution in every share row."""
        s, T = self.s, self.T
        if not len(q_edge):
            return
        split_rows = np.array([self.split_row[s.edges[e].source] for e in q_edge]) * T + q_t
        m = len(q_edge)
        cols = np.array([self.route_col[e] for e in q_edge]) + q_t
        var_in = np.diff(self.M_in.indptr)[split_rows] > 0
        A = direct(np.arange(m), cols, 1.0, m)
        rhs = q_w * self.g_in[split_rows]
        rhs[var_in] = 0.0
        if var_in.any():
            rr, cc, vv = [], [], []
            for q in np.flatnonzero(var_in):
                p = s.edges[q_edge[q]].source
                for e in s.out_edges(p):
                    rr.append(q)
                    cc.append(self.route_col[e] + q_t[q])
                    vv.append(-q_w[q])
            A = A + direct(rr, cc, vv, m)
        kind = "share_min" if side == "min" else "share_max"
        if side == "min":
            add(A, rhs, INF, kind, q_edge, 0, 0, q_t, u)
        else:
            add(A, -INF, rhs, kind, q_edge, 0, 0, q_t, u)

    def _user_rows(self, k, con, add, direct):
        s, T = self.s, self.T
        typ = con["type"]
        ts_all = np.flatnonzero(con["mask"])
        if typ == "share":
            for side in ("min", "max"):
                if con.get(side) is None:
                    continue
                q_edge = np.repeat(con["edges"], len(ts_all))
                q_t = np.tile(ts_all, len(con["edges"]))
                self._share_rows(add, direct, q_edge, q_t, np.full(len(q_edge), float(con[side])), side, u=k)
        elif typ == "forbid":
            q_edge = np.repeat(con["edges"], len(ts_all))
            q_t = np.tile(ts_all, len(con["edges"]))
            cols = np.array([self.route_col[e] for e in q_edge], int) + q_t
            add(direct(np.arange(len(q_edge)), cols, 1.0, len(q_edge)), -INF, 0.0, "forbid", q_edge, 0, 0, q_t, k)
        elif typ == "capacity":
            groups = ([(con["edges"][0], con["edges"], self.cap_col[(k, "shared")])] if con.get("shared")
                      else [(e, [e], self.cap_col[(k, e)]) for e in con["edges"]])
            sh = 1 if con.get("shared") else 0  # row_c = 1 marks a family's shared capacity (names)
            for e, members, K0 in groups:
                m = len(ts_all)
                A = -direct(np.arange(m), K0 + ts_all, 1.0, m)
                for em in members:  # the routes' sum is within the capacity
                    A = A + direct(np.arange(m), self.route_col[em] + ts_all, 1.0, m)
                add(A, -INF, 0.0, "capacity", e, 0, sh, ts_all, k)
                if con.get("max") is not None:
                    add(direct(self.tt, K0 + self.tt, 1.0, T), -INF, float(con["max"]), "capacity_max", e, 0, sh,
                        self.tt, k)
                if con.get("growth") is not None and T > 1:
                    tg = self.tt[1:]
                    A = direct(tg - 1, K0 + tg, 1.0, T - 1) - direct(tg - 1, K0 + tg - 1, 1.0, T - 1)
                    add(A, -INF, float(con["growth"]), "capacity_growth", e, 0, sh, tg, k)
                if con.get("initial") is not None:  # in the first year of the constraint's window
                    t0 = int(ts_all[0])
                    add(direct([0], [K0 + t0], 1.0, 1), -INF, float(con["initial"]), "capacity_initial", e, 0, sh,
                        [t0], k)
        elif typ == "recycled_content":
            for bi, j in con["outputs"]:
                free = self.free_in[bi]
                mn = float(con["min"])
                coef = np.array([-mn if f else 1.0 - mn for f in free])
                nin = len(free)
                rows = np.repeat(np.arange(len(ts_all)), nin)
                cols = (self.alloc_col[bi][:, j][None, :] + ts_all[:, None]).ravel()
                vals = np.tile(coef, len(ts_all))
                add(direct(rows, cols, vals, len(ts_all)), 0.0, INF, "recycled_content", bi, j, 0, ts_all, k)
        elif typ == "flow":
            w = _channel_weights(s, {con.get("element", TOTAL): 1.0}, con["where"])
            rr, cc, vv = [], [], []
            for q, t in enumerate(ts_all):
                for e in con["edges"]:
                    rr.append(np.full(self.C, q))
                    cc.append(self.fi(e)[t])
                    vv.append(w)
            S = sp.csr_matrix((np.concatenate(vv), (np.concatenate(rr), np.concatenate(cc))),
                              shape=(len(ts_all), self.F))
            M = S @ self.G
            off = S @ self.g
            if con.get("min") is not None:
                add(M, float(con["min"]) - off, INF, "flow_min", k, 0, 0, ts_all, k)
            if con.get("max") is not None:
                add(M, -INF, float(con["max"]) - off, "flow_max", k, 0, 0, ts_all, k)
        elif typ == "budget":
            row, off = self._term("cost", {"years": con.get("years")})
            add(row, -INF, float(con["max"]) - off, "budget", k, 0, 0, None, k)
        elif typ in ("indicator", "allocation"):
            from .constraints_extra import rows

            rows(self, k, con, add, direct)

    # -- objective terms --------------------------------------------------------------------------
    def _term(self, name: str, opts: dict) -> tuple[sp.csr_matrix, float]:
        """A term as (1 x n row over columns, constant) in instance units: the weights on flows
        of :func:`circopt.terms.flow_weights` through the flow map, + the cost of capacities."""
        from .terms import flow_weights

        key = (name, _freeze(opts))
        cache = self.__dict__.setdefault("_term_cache", {})
        if key in cache:
            return cache[key]
        w, const = flow_weights(self.s, name, opts)
        extra = np.zeros(self.n)
        if name == "cost":
            mask = _years_mask(self.s, opts, name)
            for k, con in enumerate(self.cons):
                if con["type"] == "capacity" and con.get("cost") is not None:
                    keys = ["shared"] if con.get("shared") else con["edges"]
                    for e in keys:
                        extra[self.cap_col[(k, e)] + self.tt[mask]] += float(con["cost"])
        wf = w.ravel()
        nz = np.flatnonzero(wf)
        W = sp.csr_matrix((wf[nz], (np.zeros(len(nz), int), nz)), shape=(1, self.F))
        row = (W @ self.G).tocsr() + sp.csr_matrix(extra[None, :])
        off = float(wf[nz] @ self.g[nz]) + const
        cache[key] = (row.tocsr(), off)
        return cache[key]

    def _objective(self):
        c = np.zeros(self.n)
        off = 0.0
        for name, (wt, opts) in self.obj.items():
            row, o = self._term(name, opts)
            self.terms[name] = (row, o)
            c += wt * row.toarray().ravel()
            off += wt * o
        for name, (_, opts) in self.eps.items():
            if name not in self.terms:
                row, o = self._term(name, opts)
                self.terms[name] = (row, o)
        self.c, self.c_offset = c, off

    # -- scale and fixing ------------------------------------------------------------------------------
    def _mass_scale(self) -> float:
        s = self.s
        vals = [np.abs(self.g).max() if self.g.size else 0.0]
        for bl in s.blends:
            for o in bl.outputs:
                if o.demand is not None:
                    vals.append(np.abs(o.demand).max())
        for nd in s.nodes:
            for arr in (nd.max_series, nd.target_stock):
                if arr is not None:
                    vals.append(np.abs(arr).max())
        for e in s.edges:
            if e.capacity is not None and np.isfinite(e.capacity).any():
                vals.append(np.abs(e.capacity[np.isfinite(e.capacity)]).max())
        v = max(vals)
        return float(2.0 ** min(round(math.log2(v)), 1000)) if v > 0 and math.isfinite(v) else 1.0

    def _fix(self, fix, lb, ub) -> dict:
        """Fix route flows, blend allocations and free-source amounts to a run's decisions
        (a Result, its decisions table or record, or a path to a decisions table)."""
        from .decisions import as_decisions

        s = self.s
        try:
            rec = as_decisions(s, fix)
        except InstanceError as exc:
            raise InstanceError("fix", exc.problem, exc.value,
                                expected=exc.expected or "a Result of the same instance and scenario") from None
        seen = np.zeros(self.n, bool)

        def put(start, values):
            j = start + self.tt
            lb[j] = ub[j] = np.maximum(values, 0.0)
            seen[j] = True

        for e, st in self.route_col.items():
            put(st, rec.route[e])
        for bi, st in enumerate(self.alloc_col):
            for (i, j), col in np.ndenumerate(st):
                put(col, rec.allocation[bi][i, j])
        for nd, st in self.supply_col.items():
            put(st, rec.supply[nd])
        dec_cols = np.flatnonzero(np.isin(self.col_kind, DECISION_KINDS))
        missing = dec_cols[~seen[dec_cols]]
        return {"fixed_columns": int(seen.sum()), "unfixed_decisions": len(missing)}


def _drop_small(A: sp.csr_matrix) -> sp.csr_matrix:
    """Leave out entries below DROP_REL x their row's largest |entry| (exact zeros too)."""
    A = A.tocsr()
    A.sum_duplicates()
    if A.nnz == 0:
        return A
    keep = np.abs(A.data) > DROP_REL * np.repeat(row_abs_max(A), np.diff(A.indptr))
    if keep.all():
        return A
    A.data[~keep] = 0.0
    A.eliminate_zeros()
    return A


# ============================================================================================
# Pyomo model and hand-over
# ============================================================================================
_ROWBLOCK = None


def _row_block_class():
    """Pyomo's MatrixConstraint, with the ``keys/values/items(sort)`` signature that
    ``Block.component_data_objects`` calls (Pyomo 6.10's class inherits ``Mapping.values()``,
    which takes no argument, so walking a model that holds one fails)."""
    global _ROWBLOCK
    if _ROWBLOCK is None:
        import weakref

        from pyomo.common.gc_manager import PauseGC
        from pyomo.core.base.matrix_constraint import MatrixConstraint, _MatrixConstraintData

        class RowData(_MatrixConstraintData):
            """One row; also answers ``to_bounded_expression`` / ``expr`` (which Pyomo's
            writers, e.g. LinearStandardFormCompiler, ask every constraint for)."""

            __slots__ = ()

            def to_bounded_expression(self, evaluate_bounds=False):
                return self.lower, self.body, self.upper

            @property
            def expr(self):
                lo, body, up = self.lower, self.body, self.upper
                if lo is not None and up is not None:
                    return body == lo if lo == up else (lo <= body) <= up
                return body <= up if up is not None else lo <= body

        class RowBlock(MatrixConstraint):
            def construct(self, data=None):
                if self._constructed:
                    return
                self._constructed = True
                ref = weakref.ref(self)
                with PauseGC():
                    self._data = tuple(RowData(i, ref) for i in range(len(self._lower)))
            def keys(self, sort=None, ordered=None):
                return iter(range(len(self._data)))

            def values(self, sort=None, ordered=None):
                return iter(self._data)

            def items(self, sort=None, ordered=None):
                return zip(range(len(self._data)), self._data)

        _ROWBLOCK = RowBlock
    return _ROWBLOCK


def _pyomo_model(om: OptModel) -> None:
    import pyomo.environ as pyo
    from pyomo.common.gc_manager import PauseGC
    from pyomo.core.expr.numeric_expr import LinearExpression

    MatrixConstraint = _row_block_class()

    n = om.n_cols
    with PauseGC():
        m = pyo.ConcreteModel(name=f"circopt:{om.system.name}")
        m.x = pyo.Var(range(n), dense=True)
        xs = list(m.x.values())
        lb, ub = om.col_lb, om.col_ub
        for j in np.flatnonzero(np.isfinite(lb)).tolist():
            xs[j]._lb = float(lb[j])
        for j in np.flatnonzero(np.isfinite(ub)).tolist():
            xs[j]._ub = float(ub[j])
        for j in np.flatnonzero(lb == ub).tolist():
            xs[j]._value = float(lb[j])
        rlb = [None if not math.isfinite(v) else v for v in om.row_lb.tolist()]
        rub = [None if not math.isfinite(v) else v for v in om.row_ub.tolist()]
        m.rows = MatrixConstraint(om.A.data, om.A.indices, om.A.indptr, rlb, rub, xs)
        nz = np.flatnonzero(om.c)
        expr = LinearExpression(constant=float(om.c_offset), linear_coefs=om.c[nz].tolist(),
                                linear_vars=[xs[j] for j in nz.tolist()])
        m.obj = pyo.Objective(expr=expr, sense=pyo.minimize)
    om.model = m
    om._xs = xs
    om._obj_expr = expr


@dataclasses.dataclass
class _Handover:
    lp: Any
    n: int  # our columns
    m: int  # our rows
    extra_vars: list  # user-added VarData (columns n, n+1, ...)
    extra_rows: list  # (name, multiplier) per appended row
    col_scale: float
    row_scale: np.ndarray  # (m_total,)
    obj_scale: float
    obj_offset: float
    c: np.ndarray  # objective over all columns (instance units)
    A: sp.csr_matrix  # all rows, instance units
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    user_objective: bool
    obj_sign: float = 1.0  # -1 when a hand-written objective maximises (HiGHS minimises its negative)


def _read_bounds(xs: list) -> tuple[np.ndarray, np.ndarray]:
    n = len(xs)
    try:
        lb = np.array([v._lb for v in xs], dtype=float)
        ub = np.array([v._ub for v in xs], dtype=float)
    except (TypeError, ValueError):  # bounds given as expressions / Params
        lb = np.array([v.lb for v in xs], dtype=float)
        ub = np.array([v.ub for v in xs], dtype=float)
    lb[np.isnan(lb)] = -INF
    ub[np.isnan(ub)] = INF
    fixed = np.fromiter((v._fixed for v in xs), bool, n)
    if fixed.any():
        for j in np.flatnonzero(fixed).tolist():
            lb[j] = ub[j] = float(xs[j].value)
    return lb, ub


def _handover(om: OptModel) -> _Handover:
    """Build HiGHS's LP from the model: our CSR as is, plus compiled hand-written additions."""
    import highspy
    import pyomo.environ as pyo

    m, xs = om.model, om._xs
    n, nrow = om.n_cols, om.n_rows
    lb, ub = _read_bounds(xs)
    ours = m.rows
    extra_cons = [c for c in m.component_objects(pyo.Constraint, active=True, descend_into=True) if c is not ours]
    objs = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    own_obj = (len(objs) == 1 and objs[0] is m.obj and m.obj.expr is om._obj_expr
               and m.obj.sense == pyo.minimize)
    A, rlb, rub = om.A, om.row_lb, om.row_ub
    c, c_off = om.c, om.c_offset
    extra_vars, extra_rows = [], []
    sign = 1.0
    if not ours.active:
        raise SolverError("the model's constraint block 'rows' was deactivated; the mass balances are not optional")
    if extra_cons or not own_obj:
        from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

        if len(objs) > 1:
            raise SolverError(f"the model has {len(objs)} active objectives; keep one")
        ours.deactivate()
        if own_obj:
            m.obj.deactivate()
        try:
            info = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=pyo.minimize)
        finally:
            ours.activate()
            if own_obj:
                m.obj.activate()
        colmap = np.empty(len(info.columns), int)
        for q, v in enumerate(info.columns):
            if v.parent_component() is m.x:
                colmap[q] = v.index()
            else:
                colmap[q] = n + len(extra_vars)
                extra_vars.append(v)
        n_all = n + len(extra_vars)
        if extra_vars:
            elb, eub = _read_bounds(extra_vars)
            lb, ub = np.concatenate([lb, elb]), np.concatenate([ub, eub])
            A = sp.hstack([A, sp.csr_matrix((nrow, len(extra_vars)))]).tocsr()
            c = np.concatenate([c, np.zeros(len(extra_vars))])
        Ax = info.A.tocoo()
        Ae = sp.csr_matrix((Ax.data, (Ax.row, colmap[Ax.col])), shape=(Ax.shape[0], n_all))
        mult = np.array([r.bound_type if hasattr(r, "bound_type") else r[1] for r in info.rows], int)
        rhs = np.asarray(info.rhs, float)
        elb = np.where(mult <= 0, rhs, -INF)
        eub = np.where(mult >= 0, rhs, INF)
        extra_rows = [((r.constraint if hasattr(r, "constraint") else r[0]).name, int(k))
                      for r, k in zip(info.rows, mult)]
        A = sp.vstack([A, Ae]).tocsr()
        rlb, rub = np.concatenate([rlb, elb]), np.concatenate([rub, eub])
        if not own_obj:
            sign = -1.0 if (objs and objs[0].sense == pyo.maximize) else 1.0
            cc = info.c.tocoo()
            c = np.zeros(n_all)
            if cc.nnz:
                np.add.at(c, colmap[cc.col], cc.data)
            c_off = float(np.asarray(info.c_offset).ravel()[0]) if np.size(info.c_offset) else 0.0
    n_all = A.shape[1]
    # scaling: masses by a power of two, rows by a power of two of their largest entry, objective to ~1
    sigma = om.mass_scale
    counts = np.diff(A.indptr)
    rmax = row_abs_max(A, empty=1.0)
    rscale = np.exp2(np.round(np.log2(rmax)))
    cs = c * sigma
    cmax = np.abs(cs).max() if cs.size else 0.0
    oscale = float(np.exp2(np.round(np.log2(cmax)))) if cmax > 0 else 1.0
    inv_r = 1.0 / rscale
    data = A.data * np.repeat(inv_r, counts)
    lp = highspy.HighsLp()
    lp.num_col_ = n_all
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = cs / oscale
    lp.col_lower_ = lb / sigma
    lp.col_upper_ = ub / sigma
    lp.row_lower_ = rlb * inv_r / sigma
    lp.row_upper_ = rub * inv_r / sigma
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = data
    lp.offset_ = 0.0
    return _Handover(lp=lp, n=n, m=nrow, extra_vars=extra_vars, extra_rows=extra_rows, col_scale=sigma,
                     row_scale=rscale, obj_scale=oscale, obj_offset=c_off, c=c, A=A, row_lb=rlb, row_ub=rub,
                     col_lb=lb, col_ub=ub, user_objective=not own_obj, obj_sign=sign)


# ============================================================================================
# after the solve
# ============================================================================================
def _result(om: OptModel, hl: _Handover, h, sol, solve_seconds: float, opts: dict):
    from .result import Result

    s = om.system
    T, E, C = s.T, len(s.edges), s.C
    t_post = time.perf_counter()
    x_all = np.asarray(sol.col_value, float) * hl.col_scale
    refuse_non_finite(x_all, lambda j: _col_label(om, hl, j))
    x_all = np.minimum(np.maximum(x_all, hl.col_lb), hl.col_ub)
    x = x_all[: hl.n].copy()
    x = _polish(om, x)
    movable = hl.col_lb[: hl.n] < hl.col_ub[: hl.n]
    if _project_routes(om, x, movable):
        x = _polish(om, x)
    x_all[: hl.n] = x
    # Pyomo values
    for v, val in zip(om._xs, x.tolist()):
        v._value = val
    for v, val in zip(hl.extra_vars, x_all[hl.n:].tolist()):
        v.set_value(val, skip_validation=True)
    flows = (om.G @ x + om.g).reshape(T, E, C)
    refuse_non_finite(flows.ravel(), lambda k: s.edge_name((k // C) % E), "flows of the solution")
    plan = stock_plan(s)
    inflow_ext = plan.hist_inflow.copy()
    for k, nd in enumerate(plan.stocks):
        ins = s.in_edges(nd)
        if ins:
            inflow_ext[k, plan.H:] += flows[:, ins, :].sum(axis=1)
    notes = list(om.notes) + _violations(om, x)
    res = Result.from_flows(_with_driven_series(s, flows), flows, inflow_ext, engine="optimise", notes=notes)
    terms = {name: float((row @ x)[0] + off) for name, (row, off) in om.terms.items()}
    if hl.user_objective:
        objective = hl.obj_sign * float(hl.c @ x_all + hl.obj_offset)
    else:
        objective = float(om.c @ x + om.c_offset)
    res.objective = objective
    res.objective_terms = terms
    check = _verify(om, hl, h, x_all, terms)
    res.status = "optimal" if check.ok else UNRELIABLE
    if not check.ok:
        import warnings

        res.notes.append(check.note())
        warnings.warn(check.note(), NumericalWarning, stacklevel=3)
    res.solve_seconds = solve_seconds
    res.solver = {"name": "highs", "version": _highs_version(h), "options": dict(opts),
                  "model_status": h.modelStatusToString(h.getModelStatus())}
    res.decision_record = _decisions(om, x, flows)
    res.decisions = _with_bounds(om, res.decision_record.to_table(s))
    res.duals = _duals(om, hl, sol, x_all)
    res.extra["verification"] = check.summary()
    om.timings["postsolve"] = time.perf_counter() - t_post
    res.extra["lp"] = {"columns": int(hl.lp.num_col_), "rows": int(hl.lp.num_row_), "nonzeros": int(hl.A.nnz),
                       "objective": dict(om.objective), "epsilon": dict(om.epsilon),
                       "capacity_cost": _capacity_cost(om, x),
                       "timings": {k: float(v) for k, v in om.timings.items()}, **om.fixed}
    if getattr(om, "boundary", None):
        res.extra["boundary"] = om.boundary
    return res


def _verify(om: OptModel, hl: _Handover, h, x_all: np.ndarray, terms: dict[str, float]):
    """The solution checked on the unscaled model (:mod:`circopt.lp.verify`)."""
    names = om.row_names
    extra = [nm for nm, _ in hl.extra_rows]
    row_name = (lambda i: names[i] if i < om.n_rows else extra[i - om.n_rows])
    own = None if hl.user_objective else float(sum(w * terms[k] for k, w in om.objective.items()))
    highs = float(h.getInfo().objective_function_value) * hl.obj_scale + hl.obj_offset
    return verify(hl.A, hl.row_lb, hl.row_ub, hl.col_lb, hl.col_ub, x_all, row_name,
                  lambda j: _col_label(om, hl, j), objective=own, solver_objective=highs if own is not None else None,
                  c=hl.c, floor=max(om.mass_scale, float(np.abs(x_all).max(initial=0.0))))


def _input_comp(s: System, n: int, ins: list[int]) -> np.ndarray:
    """Composition of a node's total input when it is known: its inputs' common composition, mixed
    with the pick-up sources that follow the node's own input (not the first input edge's alone)."""
    from .network import _pickups, _with_pickups

    picks = _pickups(s, n, ins)
    rest = [e for e in ins if e not in picks]
    # an all-zero edge carries no composition of its own: take the first input that carries something
    live = [e for e in rest if not (s.edges[e].rule in ("tc", "source") and s.edges[e].coef is not None
                                    and not np.any(s.edges[e].coef))]
    comp = s.edge_comp[(live or rest or ins)[0]]
    return _with_pickups(s, s.edge_comp, comp, picks) if picks and rest else comp


def _boundary_note(obj: dict, system: System) -> dict:
    """The boundary view and whether the objective's losses term counts exported material."""
    opts = (obj.get("losses") or (None, {}))[1]
    counted = "losses" in obj and "exported" in set(opts.get("loss_types") or DEFAULT_LOSS_TYPES)
    return {"view": system.boundary, "objective_counts_exported": bool(counted)}


def _capacity_cost(om: OptModel, x: np.ndarray) -> list[float]:
    """Per model year: the cost of the capacities capacity constraints introduce (cost x K[t])."""
    cap = np.zeros(om.system.T)
    for j in np.flatnonzero(om.col_kind == C_CAP).tolist():
        cost = om.constraints[int(om.col_b[j])].get("cost")
        if cost is not None:
            cap[om.col_t[j]] += float(cost) * x[j]
    return cap.tolist()


def _violations(om: OptModel, x: np.ndarray) -> list[str]:
    """With fix=, the policy rows the imposed decisions break (they were not enforced)."""
    if om.relaxed is None:
        return []
    rows, lo, up = om.relaxed
    act = om.A[rows] @ x
    tol = 1e-9 * np.maximum(om.mass_scale, np.maximum(np.where(np.isfinite(lo), np.abs(lo), 0.0),
                                                      np.where(np.isfinite(up), np.abs(up), 0.0)))
    bad = np.flatnonzero((act < lo - tol) | (act > up + tol))
    if not len(bad):
        return []
    names = om.row_names
    shown = []
    for q in bad[:5].tolist():
        b = lo[q] if act[q] < lo[q] else up[q]
        shown.append(f"{names[rows[q]]} ({act[q]:.6g} vs bound {b:.6g})")
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    msg = (f"fix=: the imposed decisions break {len(bad)} constraint row(s) of the optimiser, which are not "
           f"enforced while every decision is fixed: {'; '.join(shown)}{more}")
    return [msg]


def _with_driven_series(s: System, flows: np.ndarray) -> System:
    """The System with each stock-driven source's computed series filled in.

    ``network.check_structure`` leaves such a series at zeros (the engine computes it) and
    ``Result``'s audit reads ``node.series``, so without this the audit would report the
    source's whole outflow as an imbalance. A shallow copy: the caller's System is untouched.
    """
    driven = [i for i, n in enumerate(s.nodes) if n.kind == "source" and "driven_by" in n.meta]
    if not driven:
        return s
    nodes = list(s.nodes)
    for i in driven:
        outs = s.out_edges(i)
        frac = sum(s.edges[e].coef for e in outs)
        tot = flows[:, outs, :].sum(axis=(1, 2))
        series = np.divide(tot, frac, out=np.zeros(s.T), where=frac > 0)
        nodes[i] = dataclasses.replace(nodes[i], series=series)
    return dataclasses.replace(s, nodes=nodes)


def _highs_version(h) -> str:
    try:
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    except AttributeError:  # pragma: no cover - older highspy
        return "unknown"


def _decisions(om: OptModel, x: np.ndarray, flows: np.ndarray):
    """The optimum's decisions (:class:`~circopt.decisions.Decisions`): route flows, blend
    allocations (free inputs included), free-source amounts and capacities."""
    s = om.system
    alloc = {b: np.zeros((len(bl.inputs), len(bl.outputs), s.T)) for b, bl in enumerate(s.blends)}
    cols = np.flatnonzero(om.col_kind == C_ALLOC)
    for j in cols.tolist():
        alloc[int(om.col_a[j])][int(om.col_b[j]), int(om.col_c[j]), int(om.col_t[j])] = x[j]
    cap = {}
    for j in np.flatnonzero(om.col_kind == C_CAP).tolist():
        e, shared = int(om.col_a[j]), int(om.col_c[j]) == 1  # a family's shared capacity: the family's name
        node = s.nodes[s.edges[e].source].family if shared else s.nodes[s.edges[e].source].name
        cap.setdefault((node, s.edges[e].label), np.zeros(s.T))[int(om.col_t[j])] = x[j]
    return Decisions.from_flows(s, flows, alloc, cap)


def _with_bounds(om: OptModel, table: pd.DataFrame) -> pd.DataFrame:
    """The decisions table with the bounds in force, ``lower``/``upper``: on the ``share`` of a
    route (its split's bounds tightened by user share and forbid constraints) or of an
    allocation (0..1), on the ``value`` of a free source's supply (0..its ``max``) or of a
    capacity (0..inf; the capacity rows and their worth are in ``duals``)."""
    s = om.system
    n = len(table)
    lower, upper = np.zeros(n), np.full(n, np.inf)
    if not n:
        return table.assign(lower=lower, upper=upper)
    t = np.searchsorted(s.years.astype(int), table["year"].to_numpy(int))
    kind = table["kind"].to_numpy()
    upper[kind == "allocation"] = 1.0
    edge_of = {(s.nodes[e.source].name, e.label): e.id for e in s.edges if e.rule == "route"}
    rows = np.flatnonzero(kind == "route")
    if len(rows):
        eid = np.array([edge_of[(nd, lab)] for nd, lab in zip(table["node"].to_numpy()[rows],
                                                                 table["decision"].to_numpy()[rows])], int)
        lower[rows], upper[rows] = _route_bounds(om, eid, t[rows])
    node_of = {nd.name: nd for nd in s.nodes}
    for r in np.flatnonzero(kind == "supply"):
        mx = node_of[table["node"].iat[r]].max_series
        if mx is not None:
            upper[r] = mx[t[r]]
    return table.assign(lower=lower, upper=upper)


def _route_bounds(om: OptModel, eid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The share bounds in force on route ``eid`` in year index ``t`` (the split's own bounds
    tightened by user share constraints and forbidden routes): what ``decisions`` reports as
    ``lower``/``upper`` of a route's share."""
    lo, hi = np.zeros(len(eid)), np.ones(len(eid))
    if om.route_room is not None:
        rc, _, lo_s, hi_s, _ = om.route_room
        key = {(a, b): q for q, (a, b) in enumerate(zip(om.col_a[rc].tolist(), om.col_t[rc].tolist()))}
        q = np.array([key.get((e, tt), -1) for e, tt in zip(eid.tolist(), t.tolist())], int)
        ok = q >= 0
        lo[ok], hi[ok] = lo_s[q[ok]], hi_s[q[ok]]
    return lo, hi


def _duals(om: OptModel, hl: _Handover, sol, x_all: np.ndarray) -> pd.DataFrame:
    """Row duals in instance units (objective per unit of the row's bound) and which rows bind."""
    ydual = np.asarray(sol.row_dual, float) * hl.obj_scale / (hl.row_scale * hl.col_scale)
    act = hl.A @ x_all
    lb, ub = hl.row_lb, hl.row_ub
    mag = np.maximum(np.where(np.isfinite(lb), np.abs(lb), 0.0), np.where(np.isfinite(ub), np.abs(ub), 0.0))
    tol = 1e-7 * np.maximum(hl.col_scale, mag)
    binding = (np.isfinite(lb) & (np.abs(act - lb) <= tol)) | (np.isfinite(ub) & (np.abs(act - ub) <= tol))
    table = om.row_table()
    if hl.extra_rows:
        extra = pd.DataFrame({"constraint": [nm for nm, _ in hl.extra_rows], "kind": "user", "node": None,
                              "year": pd.array([pd.NA] * len(hl.extra_rows), dtype="Int64"), "element": None,
                              "origin": "added to the Pyomo model"})
        table = pd.concat([table, extra], ignore_index=True)
    table.insert(5, "dual", ydual)
    table.insert(6, "binding", binding)
    table.insert(7, "activity", act)
    table.insert(8, "lower", lb)
    table.insert(9, "upper", ub)
    return table


# ============================================================================================
# infeasible / unbounded
# ============================================================================================
def _names_for_rows(om: OptModel, hl: _Handover, rows: list[int]) -> list[str]:
    names = []
    for r in rows:
        names.append(om.row_names[r] if r < om.n_rows else hl.extra_rows[r - om.n_rows][0])
    return names


def _col_label(om: OptModel, hl: _Handover, j: int) -> str:
    return om.col_names[j] if j < hl.n else hl.extra_vars[j - hl.n].name


def _infeasible_error(om: OptModel, hl: _Handover, h) -> InfeasibleError:
    rows, cols, sides = _iis(om, hl, h)
    conflict, lines, relax = [], [], []
    structural = 0
    for r, side in zip(rows, sides["rows"]):
        name = _names_for_rows(om, hl, [r])[0]
        conflict.append(name)
        if r < om.n_rows:
            k = int(om.row_kind[r])
            origin = om.row_origin(r)
            if k in (_RK["balance"], _RK["allocation"]):
                structural += 1
                continue
        else:
            origin = "added to the Pyomo model"
        lines.append(f"  {name}: {origin}")
        relax.append(_relax_hint(om, r, side, name))
    for j, side in zip(cols, sides["cols"]):
        nm = f"bound[{_col_label(om, hl, j)}]"
        conflict.append(nm)
        lb, ub = hl.col_lb[j], hl.col_ub[j]
        if lb == ub:
            lines.append(f"  {nm}: fixed to {lb:.6g} {om.system.unit} (fix=)")
            relax.append(f"{nm} (unfix it)")
        elif side == "lower" and lb == 0:
            lines.append(f"  {nm}: a flow cannot be negative")
        else:
            lines.append(f"  {nm}: [{lb:.6g}, {ub:.6g}]")
            relax.append(f"{nm} (widen it)")
    if not conflict:
        msg = (f"{om.system.name}: the optimisation model is infeasible, but HiGHS found no irreducible "
               "subset of constraints to blame; check demands, windows and share bounds")
        return InfeasibleError(msg, [])
    msg = [(f"{om.system.name}: no flows satisfy every constraint. These constraints conflict "
            "(an irreducible infeasible subset):")]
    msg.extend(lines)
    if structural:
        msg.append(f"  ... linked through {structural} mass-balance / allocation row(s)")
    if relax:
        msg.append("Relax one of: " + "; ".join(relax))
    return InfeasibleError("\n".join(msg), conflict)


def _relax_hint(om: OptModel, r: int, side: str, name: str) -> str:
    """What to change so that row r stops conflicting, in the instance's keys."""
    if r >= om.n_rows:
        return f"{name} (added by hand)"
    s = om.system
    k, a, b, c, u = (ROW_KINDS[int(om.row_kind[r])], int(om.row_a[r]), int(om.row_b[r]), int(om.row_c[r]),
                     int(om.row_u[r]))
    if u >= 0:
        con = om.constraints[u]
        key = {"share_min": "min", "share_max": "max", "capacity": "max", "capacity_max": "max",
               "capacity_growth": "growth", "capacity_initial": "initial", "recycled_content": "min",
               "flow_min": "min", "flow_max": "max", "budget": "max"}.get(k)
        if k == "forbid":
            return f"drop {con['where']} (forbid {con['doc'].get('node')}.{con['doc'].get('route')})"
        verb = "lower" if k in ("share_min", "recycled_content", "flow_min") else "raise"
        now = con["doc"].get(key)
        return f"{verb} '{key}' of {con['where']} (now {now})"
    if k in ("share_min", "share_max"):
        ed = s.edges[a]
        fam = s.nodes[ed.source].family
        arr = ed.lo if k == "share_min" else ed.hi
        which = "min" if k == "share_min" else "max"
        verb = "lower" if k == "share_min" else "raise"
        return (f"{verb} the {which} share of route '{ed.label}' of {fam} (nodes.{fam}.shares.{ed.label}, "
                f"now {_fmt_series(arr)})")
    if k == "capacity":
        ed = s.edges[a]
        return f"raise nodes.{s.nodes[ed.source].family}.capacity.{ed.label}"
    if k == "demand":
        bl = s.blends[a]
        return (f"lower nodes.{s.nodes[bl.node].family}.outputs.{bl.outputs[b].name}.demand or give the blend "
                "a priced free source (primary, additions) that can make up the difference")
    if k in ("window_min", "window_max"):
        bl = s.blends[a]
        return (f"widen nodes.{s.nodes[bl.node].family}.outputs.{bl.outputs[b].name}.window.{s.channels[c]} "
                "or give the blend an input that can dilute/enrich it")
    if k == "supply_max":
        return f"raise nodes.{s.nodes[a].family}.max"
    if k == "epsilon":
        return f"raise the epsilon bound on '{list(om.epsilon)[a]}'"
    return name


def _iis(om: OptModel, hl: _Handover, h):
    """Rows and column bounds of an irreducible infeasible subset (HiGHS's IIS, else a deletion filter)."""
    import highspy

    side_name = {1: "free", 2: "lower", 3: "upper", 4: "both"}
    try:
        h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyFromLp)
                         | int(highspy.IisStrategy.kIisStrategyIrreducible))
        st, iis = h.getIis()
        if st != highspy.HighsStatus.kError and iis.valid_ and len(iis.row_index_) + len(iis.col_index_) > 0:
            rows = [int(r) for r in iis.row_index_]
            cols = [int(c) for c in iis.col_index_]
            rs = [side_name.get(int(b), "both") for b in iis.row_bound_]
            cs = [side_name.get(int(b), "both") for b in iis.col_bound_]
            # a column bound that is just non-negativity is not worth naming unless nothing else is
            keep = [q for q, j in enumerate(cols)
                    if cs[q] != "free" and (not (hl.col_lb[j] == 0 and cs[q] == "lower") or not rows)]
            return rows, [cols[q] for q in keep], {"rows": rs, "cols": [cs[q] for q in keep]}
    except (AttributeError, RuntimeError, TypeError, ValueError):  # pragma: no cover - depends on the build
        rows = []
    rows = _deletion_filter(om, hl)
    return rows, [], {"rows": ["both"] * len(rows), "cols": []}


def _deletion_filter(om: OptModel, hl: _Handover) -> list[int]:
    """Chinneck's deletion filter over the rows that are not mass balances (one LP per candidate)."""
    import highspy

    lp = hl.lp
    cand = [i for i in range(lp.num_row_)
            if i >= om.n_rows or int(om.row_kind[i]) not in (_RK["balance"], _RK["allocation"])]
    lo = np.array(lp.row_lower_, float)
    up = np.array(lp.row_upper_, float)

    def feasible(active: set[int]) -> bool:
        h = new_highs()
        h.setOptionValue("output_flag", False)
        l2, u2 = lo.copy(), up.copy()
        off = [i for i in cand if i not in active]
        l2[off], u2[off] = -INF, INF
        lp2 = highspy.HighsLp()
        lp2.num_col_, lp2.num_row_ = lp.num_col_, lp.num_row_
        lp2.col_cost_ = np.zeros(lp.num_col_)
        lp2.col_lower_, lp2.col_upper_ = lp.col_lower_, lp.col_upper_
        lp2.row_lower_, lp2.row_upper_ = l2, u2
        lp2.a_matrix_ = lp.a_matrix_
        h.passModel(lp2)
        h.run()
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    active = set(cand)
    if feasible(set()) is False:
        return []
    for i in list(cand):
        active.discard(i)
        if feasible(active):
            active.add(i)
    return sorted(active)


def _unbounded_error(om: OptModel, hl: _Handover, h) -> UnboundedError:
    ray = None
    try:
        _, has, vals = h.getPrimalRay()
        if not has:
            h.setOptionValue("presolve", "off")
            h.setOptionValue("solver", "simplex")
            h.run()
            _, has, vals = h.getPrimalRay()
        if has:
            ray = np.asarray(vals, float)
    except (AttributeError, RuntimeError, TypeError, ValueError):  # pragma: no cover - depends on the build
        ray = None
    names = []
    if ray is not None and ray.size:
        big = np.abs(ray)
        order = np.argsort(-big)
        names = [_col_label(om, hl, int(j)) for j in order[:10] if big[j] > 1e-9 * big.max()]
    msg = (f"{om.system.name}: the objective can improve without limit"
           + (f" by increasing {', '.join(names)}" if names else "")
           + ". Bound these (e.g. a free source's 'max', a capacity, a demand) or check the objective weights.")
    return UnboundedError(msg, names)


# ============================================================================================
# arguments: objective, epsilon, constraints
# ============================================================================================
def _as_system(system, scenario) -> System:
    from .instance import load

    if isinstance(system, System):
        if scenario is not None and scenario != system.scenario:
            if system.path is None:
                raise InstanceError("scenario", "a scenario can only be applied to a System loaded from a folder",
                                    scenario)
            return load(system.path, scenario)
        return system
    return load(system, scenario)


def _check_options(opts: dict, where: str) -> None:
    bad = set(opts) - OBJECTIVE_OPTIONS
    if bad:
        raise InstanceError(where, f"unknown objective option(s) {sorted(bad)}",
                            expected=f"some of {sorted(OBJECTIVE_OPTIONS)}")


def _parse_objective(objective, weights, options) -> dict[str, tuple[float, dict]]:
    _check_options(options, "objective options")
    if isinstance(objective, str):
        spec = {objective: 1.0}
    elif isinstance(objective, (list, tuple)):
        spec = {str(k): 1.0 for k in objective}
    elif isinstance(objective, dict):
        spec = dict(objective)
    else:
        raise InstanceError("objective", "expected a name, a list of names or {name: weight}", objective,
                            expected=f"names from {list(OBJECTIVES)}")
    for k, w in (weights or {}).items():
        if k not in spec:
            spec[k] = w
        elif isinstance(spec[k], dict):
            spec[k] = {**spec[k], "weight": w}
        else:
            spec[k] = w
    out = {}
    for name, val in spec.items():
        if not is_term(name):
            raise InstanceError("objective", f"unknown objective '{name}'", name,
                                expected=f"one of {list(OBJECTIVES)} or indicator:NAME")
        opts = dict(options)
        if isinstance(val, dict):
            val = dict(val)
            w = val.pop("weight", 1.0)
            _check_options(val, f"objective.{name}")
            opts.update(val)
        else:
            w = val
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise InstanceError(f"objective.{name}", "weight must be a finite number", w)
        out[name] = (float(w), opts)
    if not out:
        raise InstanceError("objective", "no objective term given", objective, expected=f"names from {list(OBJECTIVES)}")
    return out


def _parse_epsilon(epsilon, options) -> dict[str, tuple[float, dict]]:
    out = {}
    for name, val in (epsilon or {}).items():
        if not is_term(name):
            raise InstanceError("epsilon", f"unknown objective '{name}'", name,
                                expected=f"one of {list(OBJECTIVES)} or indicator:NAME")
        opts = dict(options)
        if isinstance(val, dict):
            val = dict(val)
            mx = val.pop("max", None)
            _check_options(val, f"epsilon.{name}")
            opts.update(val)
        else:
            mx = val
        if isinstance(mx, bool) or not isinstance(mx, (int, float)) or not math.isfinite(mx):
            raise InstanceError(f"epsilon.{name}", "expected a finite upper bound", mx)
        out[name] = (float(mx), opts)
    return out


def _freeze(x):
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    return x


def _years_mask(system: System, opts: dict, where: str) -> np.ndarray:
    yrs = system.years
    mask = np.ones(len(yrs), bool)
    if opts.get("horizon") is not None:
        h = opts["horizon"]
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)):
            raise InstanceError(f"{where}: horizon", "expected a year", h)
        mask &= yrs <= int(h)
    if opts.get("years") is not None:
        mask &= _window(system, opts["years"], f"{where}: years")
    if not mask.any():
        raise InstanceError(where, "no model year is counted", {k: opts.get(k) for k in ("horizon", "years")},
                            expected=f"years within {int(yrs[0])}..{int(yrs[-1])}")
    return mask


def _window(system: System, val, where: str) -> np.ndarray:
    yrs = system.years
    if isinstance(val, (int, np.integer)) and not isinstance(val, bool):
        first = last = int(val)
    elif (isinstance(val, (list, tuple)) and len(val) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in val)):
        first, last = int(val[0]), int(val[1])
    else:
        raise InstanceError(where, "expected [first, last] (inclusive years) or one year", val)
    if first > last:
        raise InstanceError(where, "first year after last year", val)
    mask = (yrs >= first) & (yrs <= last)
    if not mask.any():
        raise InstanceError(where, "the window holds no model year", val,
                            expected=f"years within {int(yrs[0])}..{int(yrs[-1])}")
    return mask


def _channel_weights(system: System, spec, where: str) -> np.ndarray:
    if isinstance(spec, (list, tuple)):
        spec = {k: 1.0 for k in spec}
    if isinstance(spec, str):
        spec = {spec: 1.0}
    if not isinstance(spec, dict) or not spec:
        raise InstanceError(where, "expected {element: weight}", spec)
    w = np.zeros(system.C)
    for el, v in spec.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InstanceError(f"{where}.{el}", "expected a number", v)
        if el == TOTAL:
            w += float(v)
        elif el in system.channels:
            w[system.channels.index(el)] += float(v)
        else:
            raise InstanceError(where, "unknown element", el, expected=f"one of {[*system.channels, TOTAL]}")
    return w


def _year_index(system: System, year: int) -> int:
    hits = np.flatnonzero(system.years == int(year))
    if not len(hits):
        raise KeyError(f"year {year} is not a model year ({int(system.years[0])}..{int(system.years[-1])})")
    return int(hits[0])


def _edge_between(system: System, source: str, target: str) -> int:
    for e in system.edges:
        if system.nodes[e.source].name == source and system.nodes[e.target].name == target:
            return e.id
    raise KeyError(f"no stream {source} -> {target}")


def _compact(doc: dict) -> str:
    parts = []
    for k, v in doc.items():
        parts.append(f"{k}: {v}")
    return "{" + ", ".join(parts) + "}"


def _fmt_series(arr: np.ndarray | None) -> str:
    if arr is None:
        return "-"
    a = np.asarray(arr, float)
    if np.allclose(a, a[0]):
        return f"{a[0]:.6g}"
    return f"{a.min():.6g}..{a.max():.6g}"


def _members(system: System, con: dict, err, kinds: tuple[str, ...]) -> list[int]:
    """Member nodes of the constraint's family (or one member by name), filtered by life / index."""
    name = con.get("node")
    if not isinstance(name, str):
        err("node", "expected a node name", name, expected="a node family of the instance")
        return []
    nodes = [i for i, n in enumerate(system.nodes) if n.family == name or n.name == name]
    if not nodes:
        fams = sorted({n.family for n in system.nodes if n.kind in kinds})
        err("node", "unknown node", name, expected=f"one of {fams}")
        return []
    kind = system.nodes[nodes[0]].kind
    if kind not in kinds:
        fams = sorted({n.family for n in system.nodes if n.kind in kinds})
        err("node", f"{name} is a {kind}, this constraint applies to a {' or '.join(kinds)}", name,
            expected=f"one of {fams}")
        return []
    if con.get("life") is not None:
        life = con["life"]
        lives = sorted({system.nodes[i].index.get("life") for i in nodes if "life" in system.nodes[i].index})
        nodes = [i for i in nodes if str(system.nodes[i].index.get("life")) == str(life)]
        if not nodes:
            err("life", f"{name} has no life {life}", life, expected=f"one of {lives}" if lives else "no 'life' "
                "(the node is not over lives)")
            return []
    idx = con.get("index") or {}
    if not isinstance(idx, dict):
        err("index", "expected {dimension: value}", idx)
        return []
    for d, v in idx.items():
        dims = set().union(*(system.nodes[i].index.keys() for i in nodes))
        if d not in dims:
            err(f"index.{d}", f"{name} is not over dimension '{d}'", d, expected=f"one of {sorted(dims)}")
            return []
        vals = sorted({str(system.nodes[i].index.get(d)) for i in nodes})
        nodes = [i for i in nodes if str(system.nodes[i].index.get(d)) == str(v)]
        if not nodes:
            err(f"index.{d}", f"no member of {name} with {d}={v}", v, expected=f"one of {vals}")
            return []
    return nodes


def _validate_constraints(system: System, extra: list[dict] | None, where: str | None = None) -> list[dict]:
    """Check every user constraint (instance's, scenario's and the argument's) before building
    (``where``: how to name the argument's constraints in messages, e.g. a lever's setting)."""
    docs = []
    base = f"{Path(system.path) / 'instance.yaml'}" if system.path else "instance"
    if system.scenario:
        base += f" + scenarios/{system.scenario}.yaml"
    for k, c in enumerate(system.constraints or []):
        docs.append((f"{base}: constraints[{k}]", c))
    if extra is not None and not isinstance(extra, (list, tuple)):
        raise InstanceError("optimise(constraints=...)", "expected a list of constraint mappings", type(extra).__name__)
    k0 = len(docs)
    for j, c in enumerate(extra or []):
        docs.append((f"{where}[{j}]" if where else f"constraints[{k0 + j}] (argument constraints[{j}])", c))
    errors: list[InstanceError] = []
    out = []
    for k, (where, doc) in enumerate(docs):
        if not isinstance(doc, dict):
            errors.append(InstanceError(where, "a constraint must be a mapping with a 'type'", doc,
                                        expected=f"type one of {list(CONSTRAINT_TYPES)}"))
            continue
        label = f"{where} {_compact(doc)}"

        def err(key, problem, value=None, expected=None, _label=label):
            errors.append(InstanceError(f"{_label}: {key}", problem, value, expected))

        typ = doc.get("type")
        if typ not in CONSTRAINT_TYPES:
            err("type", "unknown constraint type", typ, expected=f"one of {list(CONSTRAINT_TYPES)}")
            continue
        bad = set(doc) - CONSTRAINT_TYPES[typ] - _ALWAYS_KEYS
        if bad:
            err(min(bad), f"unknown key(s) {sorted(bad)} for a {typ} constraint",
                expected=f"some of {sorted(CONSTRAINT_TYPES[typ])}")
            continue
        con = {"type": typ, "doc": doc, "where": where, "index_in_list": k}
        n_err = len(errors)
        try:
            con["mask"] = _window(system, doc["years"], f"{label}: years") if doc.get("years") is not None \
                else np.ones(system.T, bool)
        except InstanceError as e:
            errors.append(e)
            continue

        def number(key, lo=0.0, hi=None, required=False, doc=doc, err=err):
            v = doc.get(key)
            if v is None:
                if required:
                    err(key, "required", expected="a number")
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                err(key, "expected a number", v)
                return None
            if abs(v) > MAX_MAGNITUDE:  # the instance's own bound on any number (docs/instance-format.md)
                err(key, f"larger than {MAX_MAGNITUDE:g} in magnitude", v)
                return None
            if v < lo or (hi is not None and v > hi):
                err(key, "out of range", v, expected=f"a value in [{lo}, {hi if hi is not None else 'inf'}]")
                return None
            return float(v)

        if typ in ("share", "capacity", "forbid"):
            nodes = _members(system, doc, err, ("split",))
            route = doc.get("route")
            if nodes:
                routes = sorted({system.edges[e].label for i in nodes for e in system.out_edges(i)})
                fam = system.nodes[nodes[0]].family
                declared = list((system.raw.get("nodes", {}).get(fam, {}) or {}).get("routes", {}) or routes)
                if route not in declared:
                    err("route", f"unknown route of split {fam}", route, expected=f"one of {declared}")
                else:
                    con["edges"] = [e for i in nodes for e in system.out_edges(i) if system.edges[e].label == route]
                    if not con["edges"]:
                        err("route", f"route '{route}' of {fam} leads past the last life for the chosen member(s)",
                            route, expected="a member whose route exists")
            if typ == "share":
                con["min"] = number("min", 0.0, 1.0)
                con["max"] = number("max", 0.0, 1.0)
                if doc.get("min") is None and doc.get("max") is None:
                    err("min", "a share constraint needs 'min' or 'max'")
                elif con["min"] is not None and con["max"] is not None and con["min"] > con["max"]:
                    err("min", "min above max", doc.get("min"), expected=f"<= {doc.get('max')}")
            elif typ == "capacity":
                con["max"] = number("max")
                con["growth"] = number("growth")
                con["initial"] = number("initial")
                con["cost"] = number("cost", lo=-INF)
                if not isinstance(doc.get("shared", False), bool):
                    err("shared", "expected true or false", doc.get("shared"))
                con["shared"] = bool(doc.get("shared", False))
                if all(doc.get(x) is None for x in ("max", "growth", "initial")):
                    err("max", "a capacity constraint needs 'max', 'growth' or 'initial'")
        elif typ == "recycled_content":
            nodes = _members(system, doc, err, ("blend",))
            con["min"] = number("min", 0.0, 1.0, required=True)
            oname = doc.get("output")
            if nodes:
                pairs = []
                for i in nodes:
                    bi = next(b for b, bl in enumerate(system.blends) if bl.node == i)
                    names = [o.name for o in system.blends[bi].outputs]
                    if oname in names:
                        pairs.append((bi, names.index(oname)))
                if not pairs:
                    names = sorted({o.name for i in nodes for bl in system.blends if bl.node == i for o in bl.outputs})
                    err("output", f"unknown output of blend {doc.get('node')}", oname, expected=f"one of {names}")
                con["outputs"] = pairs
        elif typ == "budget":
            con["max"] = number("max", lo=-INF, required=True)
        elif typ == "flow":
            src, tgt = doc.get("source"), doc.get("target")
            for key, v in (("source", src), ("target", tgt)):
                if not isinstance(v, str) or not any(n.family == v or n.name == v for n in system.nodes):
                    err(key, "unknown node", v, expected=f"one of {sorted({n.family for n in system.nodes})}")
            if len(errors) == n_err:
                edges = [e.id for e in system.edges
                         if src in (system.nodes[e.source].family, system.nodes[e.source].name)
                         and tgt in (system.nodes[e.target].family, system.nodes[e.target].name)]
                if not edges:
                    targets = sorted({system.nodes[system.edges[e].target].family for i, nd in enumerate(system.nodes)
                                      if src in (nd.family, nd.name) for e in system.out_edges(i)})
                    err("target", f"no stream from {src} to {tgt}", tgt, expected=f"one of {targets}")
                con["edges"] = edges
                con["source"], con["target"] = src, tgt
            con["min"] = number("min")
            con["max"] = number("max")
            if doc.get("min") is None and doc.get("max") is None:
                err("max", "a flow constraint needs 'min' or 'max'")
            el = doc.get("element", TOTAL)
            if el != TOTAL and el not in system.channels:
                err("element", "unknown element", el, expected=f"one of {[*system.channels, TOTAL]}")
            con["element"] = el
        elif typ in ("indicator", "allocation"):
            from .constraints_extra import validate

            validate(system, typ, doc, con, err, number)
        if len(errors) == n_err:
            out.append(con)
    if errors:
        raise errors[0] if len(errors) == 1 else InstanceErrors(errors)
    return out
