"""The LP's index: what each column and row of a built model is, and its readable name.

Columns and rows are described by parallel integer arrays (kind, a, b, c, year index; rows
also the user constraint they come from), so that a model of any size is indexed without a
Python object per entry; the texts (``route[eol.reuse,2030]``,
``constraints[0].share_min[eol.reuse,2030]``) are made on demand, once per family.

Column kinds (``col_kind``; ``a``, ``b``, ``c`` per kind)
    ``route`` (edge), ``allocation`` (blend, input, output), ``leftover`` (blend, input),
    ``supply`` (source node), ``input`` (node, channel or -1 for the total; for a source
    following another node: its ``amount``), ``capacity`` (edge, constraint, 1 when shared by
    a split family).
Row kinds (``row_kind``): :data:`ROW_KINDS`, indexed by :data:`RK`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..system import TOTAL, System
from .select import channel_weights, edge_between, year_index

# column kinds
C_ROUTE, C_ALLOC, C_LEFT, C_SUPPLY, C_STATE, C_CAP = range(6)
COL_KINDS = ("route", "allocation", "leftover", "supply", "input", "capacity")
DECISION_KINDS = (C_ROUTE, C_ALLOC, C_SUPPLY)

# row kinds
ROW_KINDS = ("balance", "allocation", "share_min", "share_max", "capacity", "demand", "window_min",
             "window_max", "supply_max", "forbid", "capacity_growth", "capacity_initial", "capacity_max",
             "recycled_content", "flow_min", "flow_max", "budget", "epsilon", "user",
             "indicator_min", "indicator_max", "allocation_min", "allocation_max")
#: row kind -> its number in ``row_kind``
RK = {k: i for i, k in enumerate(ROW_KINDS)}
EDGE_ROWS = {RK[k] for k in ("share_min", "share_max", "capacity", "forbid", "capacity_growth",
                             "capacity_initial", "capacity_max")}
OUTPUT_ROWS = {RK[k] for k in ("demand", "recycled_content", "window_min", "window_max")}

#: matrix entries below this fraction of their row's largest entry are left out of the LP
#: (HiGHS would drop them as "small" anyway); the exact kernels are kept for the flows
DROP_REL = 1e-12
INF = math.inf


@dataclasses.dataclass(repr=False)
class OptModel:
    """A built LP: its arrays, the index maps that tie it to the System, and the Pyomo model.

    The Pyomo model is built from the arrays on first access to ``model`` (a solve that nobody
    extends hands the arrays to HiGHS directly, without it). ``model.x[j]`` is column ``j`` (named ``col_names[j]``, in the instance's unit);
    ``model.rows[i]`` is row ``i`` (named ``row_names[i]``). Add constraints by hand to
    ``model`` (any Pyomo ``Constraint``; :meth:`var` and :meth:`flow` give the variables
    and flow expressions) and call :func:`solve`.
    """

    system: System
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
    boundary: dict | None = None  # the boundary view and whether the objective counts exported material
    _pyomo: Any = dataclasses.field(default=None, repr=False)  # the Pyomo model, once built
    _xs: list = dataclasses.field(default_factory=list, repr=False)
    _obj_expr: Any = dataclasses.field(default=None, repr=False)
    _row_names: list[str] | None = dataclasses.field(default=None, repr=False)
    _col_names: list[str] | None = dataclasses.field(default=None, repr=False)
    _col_index: dict[str, int] | None = dataclasses.field(default=None, repr=False)
    _row_table_cache: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    _polish_cache: Any = dataclasses.field(default=None, repr=False)  # :mod:`circopt.lp.postsolve`'s, per model

    @property
    def model(self):
        """The Pyomo model (built from the arrays on first access: :func:`circopt.lp.pyomo_model.pyomo_model`)."""
        if self._pyomo is None:
            import time

            from .pyomo_model import pyomo_model

            t = time.perf_counter()
            pyomo_model(self)
            self.timings["pyomo_build"] = time.perf_counter() - t
        return self._pyomo

    @model.setter
    def model(self, m) -> None:
        self._pyomo = m

    @property
    def has_pyomo(self) -> bool:
        """Whether the Pyomo model was built (then hand-written additions to it are handed over)."""
        return self._pyomo is not None

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
        cached = self._row_table_cache
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
        """The number of the column named ``name`` (e.g. ``route[eol[1].reuse,2025]``)."""
        if self._col_index is None:
            self._col_index = {nm: j for j, nm in enumerate(self.col_names)}
        try:
            return self._col_index[name]
        except KeyError:
            raise KeyError(f"no column named {name!r} (e.g. {self.col_names[:3]})") from None

    def var(self, name: str):
        """The Pyomo variable of a column, by its readable name (e.g. ``route[eol[1].reuse,2025]``)."""
        return self.model.x[self.col_index(name)]

    def flow(self, source: str, target: str, year: int, element: str = TOTAL):
        """The flow ``source -> target`` (node names) in ``year`` as a Pyomo expression."""
        from pyomo.core.expr.numeric_expr import LinearExpression

        s = self.system
        e = edge_between(s, source, target)
        t = year_index(s, year)
        chans = channel_weights(s, {element: 1.0}, "flow(element=...)")
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
        """The readable name of column j."""
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
        if k == RK["balance"]:
            ch = self._channel(c)
            return f"{s.nodes[a].name},{ch}", s.nodes[a].name, ch
        if k == RK["allocation"]:
            return self._blend_input(a, b), s.nodes[s.blends[a].node].name, None
        if k in EDGE_ROWS:
            if c == 1:  # a capacity shared by the members of a split family
                fam = s.nodes[s.edges[a].source].family
                return f"{fam}.{s.edges[a].label}", fam, None
            return self._subject_edge(a), s.nodes[s.edges[a].source].name, None
        if k in OUTPUT_ROWS:
            subj = self._blend_output(a, b)
            node = s.nodes[s.blends[a].node].name
            if k in (RK["window_min"], RK["window_max"]):
                return f"{subj},{self._channel(c)}", node, self._channel(c)
            return subj, node, None
        if k == RK["supply_max"]:
            return s.nodes[a].name, s.nodes[a].name, None
        if k in (RK["flow_min"], RK["flow_max"]):
            con = self.constraints[a]
            return f"{con['source']}->{con['target']}", None, con.get("element", TOTAL)
        if k == RK["epsilon"]:
            return list(self.epsilon)[a], None, None
        if k in (RK["indicator_min"], RK["indicator_max"]):
            return str(self.constraints[a]["indicator"]), None, None
        if k in (RK["allocation_min"], RK["allocation_max"]):
            con = self.constraints[int(self.row_u[i])]
            inp = con["doc"].get("input")
            inp = "+".join(map(str, inp)) if isinstance(inp, (list, tuple)) else inp  # a list of inputs: summed
            return (f"{s.nodes[s.blends[a].node].name}.{inp}->{s.blends[a].outputs[b].name}",
                    s.nodes[s.blends[a].node].name, None)
        return "", None, None

    def row_origin(self, i: int) -> str:
        """Where a row's bound comes from, in the instance's keys."""
        k, a, b, c, u = (int(self.row_kind[i]), int(self.row_a[i]), int(self.row_b[i]), int(self.row_c[i]),
                         int(self.row_u[i]))
        s = self.system
        if u >= 0:
            con = self.constraints[u]
            return f"{con['where']} {compact(con['doc'])}"
        if k == RK["balance"]:
            return f"mass balance of {s.nodes[a].name}"
        if k == RK["allocation"]:
            return f"allocation of {self._blend_input(a, b)} (allocated or left over)"
        if k in (RK["share_min"], RK["share_max"]):
            ed = s.edges[a]
            fam = s.nodes[ed.source].family
            arr = ed.lo if k == RK["share_min"] else ed.hi
            side = "min" if k == RK["share_min"] else "max"
            return f"nodes.{fam}.shares.{ed.label} ({side} share {fmt_series(arr)})"
        if k == RK["capacity"]:
            ed = s.edges[a]
            return f"nodes.{s.nodes[ed.source].family}.capacity.{ed.label}"
        if k in OUTPUT_ROWS:
            bl = s.blends[a]
            o = bl.outputs[b]
            fam = s.nodes[bl.node].family
            if k == RK["demand"]:
                return f"nodes.{fam}.outputs.{o.name}.demand"
            side = 0 if k == RK["window_min"] else 1
            arr = (o.window_lo if side == 0 else o.window_hi)[:, c]
            return (f"nodes.{fam}.outputs.{o.name}.window.{s.channels[c]} "
                    f"({'min' if side == 0 else 'max'} {fmt_series(arr)})")
        if k == RK["supply_max"]:
            return f"nodes.{s.nodes[a].family}.max"
        if k == RK["epsilon"]:
            name = list(self.epsilon)[a]
            return f"epsilon={{{name!r}: {self.epsilon[name]:.6g}}}"
        return ""


def compact(doc: dict) -> str:
    """A constraint's mapping on one line, ``{type: share, node: eol, ...}`` (messages, row origins)."""
    parts = []
    for k, v in doc.items():
        parts.append(f"{k}: {v}")
    return "{" + ", ".join(parts) + "}"


def fmt_series(arr: np.ndarray | None) -> str:
    """A series as one number when constant, else ``min..max``."""
    if arr is None:
        return "-"
    a = np.asarray(arr, float)
    if np.allclose(a, a[0]):
        return f"{a[0]:.6g}"
    return f"{a.min():.6g}..{a.max():.6g}"
