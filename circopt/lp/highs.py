"""The hand-over to HiGHS: the model's CSR as is, in one ``passModel``, scaled.

Scaling: masses by a power of two near the largest constant (``OptModel.mass_scale``), rows by
a power of two near their largest coefficient, the objective to a largest coefficient near 1
(powers of two: no rounding in the scaling itself). Hand-written constraints added to the Pyomo
model (or a replaced objective) are compiled with Pyomo's ``LinearStandardFormCompiler`` and
appended. HiGHS is created quiet (:func:`circopt._highs.new_highs`: no banner on stdout).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._highs import new_highs
from ..errors import SolverError
from .index import INF, OptModel
from .pyomo_model import read_bounds
from .sparse import row_abs_max

__all__ = ["HIGHS_OPTIONS", "Handover", "handover", "highs_version", "new_highs", "new_solver"]

#: HiGHS options circopt sets (``solver_options`` override them)
HIGHS_OPTIONS = {"output_flag": False, "small_matrix_value": 1e-12, "primal_feasibility_tolerance": 1e-9,
                 "dual_feasibility_tolerance": 1e-9}


@dataclasses.dataclass
class Handover:
    """What HiGHS was given (``lp``) and how it maps back to the model: the scales and the full
    problem in instance units (the model's rows and columns first, then hand-written additions)."""

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


@dataclasses.dataclass
class _Problem:
    """The whole problem in instance units, before scaling."""

    A: sp.csr_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    c: np.ndarray
    c_offset: float
    extra_vars: list = dataclasses.field(default_factory=list)
    extra_rows: list = dataclasses.field(default_factory=list)
    sign: float = 1.0


def handover(om: OptModel) -> Handover:
    """Build HiGHS's LP from the model: our CSR as is, plus compiled hand-written additions (when
    the Pyomo model was built; otherwise the arrays alone: no Pyomo on the way)."""
    if not om.has_pyomo:  # nobody extended the model: its arrays as they are
        return _scaled(om, _Problem(om.A, om.row_lb, om.row_ub, om.col_lb, om.col_ub, om.c, om.c_offset), True)
    import pyomo.environ as pyo

    m = om.model
    lb, ub = read_bounds(om._xs)
    ours = m.rows
    extra_cons = [c for c in m.component_objects(pyo.Constraint, active=True, descend_into=True) if c is not ours]
    objs = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    own_obj = (len(objs) == 1 and objs[0] is m.obj and m.obj.expr is om._obj_expr
               and m.obj.sense == pyo.minimize)
    prob = _Problem(om.A, om.row_lb, om.row_ub, lb, ub, om.c, om.c_offset)
    if not ours.active:
        raise SolverError("the model's constraint block 'rows' was deactivated; the mass balances are not optional")
    if extra_cons or not own_obj:
        if len(objs) > 1:
            raise SolverError(f"the model has {len(objs)} active objectives; keep one")
        _add_hand_written(om, prob, own_obj, objs)
    return _scaled(om, prob, own_obj)


def _add_hand_written(om: OptModel, prob: _Problem, own_obj: bool, objs: list) -> None:
    """Compile the hand-written constraints (and objective) of the Pyomo model and append them
    to ``prob``: new variables as columns after the model's, new rows after its rows."""
    import pyomo.environ as pyo
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    m, n, nrow = om.model, om.n_cols, om.n_rows
    ours = m.rows
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
    extra_vars = prob.extra_vars
    for q, v in enumerate(info.columns):
        if v.parent_component() is m.x:
            colmap[q] = v.index()
        else:
            colmap[q] = n + len(extra_vars)
            extra_vars.append(v)
    n_all = n + len(extra_vars)
    if extra_vars:
        elb, eub = read_bounds(extra_vars)
        prob.col_lb, prob.col_ub = np.concatenate([prob.col_lb, elb]), np.concatenate([prob.col_ub, eub])
        prob.A = sp.hstack([prob.A, sp.csr_matrix((nrow, len(extra_vars)))]).tocsr()
        prob.c = np.concatenate([prob.c, np.zeros(len(extra_vars))])
    Ax = info.A.tocoo()
    Ae = sp.csr_matrix((Ax.data, (Ax.row, colmap[Ax.col])), shape=(Ax.shape[0], n_all))
    mult = np.array([r.bound_type if hasattr(r, "bound_type") else r[1] for r in info.rows], int)
    rhs = np.asarray(info.rhs, float)
    elb = np.where(mult <= 0, rhs, -INF)
    eub = np.where(mult >= 0, rhs, INF)
    prob.extra_rows = [((r.constraint if hasattr(r, "constraint") else r[0]).name, int(k))
                       for r, k in zip(info.rows, mult)]
    prob.A = sp.vstack([prob.A, Ae]).tocsr()
    prob.row_lb, prob.row_ub = np.concatenate([prob.row_lb, elb]), np.concatenate([prob.row_ub, eub])
    if not own_obj:
        prob.sign = -1.0 if (objs and objs[0].sense == pyo.maximize) else 1.0
        cc = info.c.tocoo()
        prob.c = np.zeros(n_all)
        if cc.nnz:
            np.add.at(prob.c, colmap[cc.col], cc.data)
        prob.c_offset = float(np.asarray(info.c_offset).ravel()[0]) if np.size(info.c_offset) else 0.0


def _scaled(om: OptModel, prob: _Problem, own_obj: bool) -> Handover:
    """HiGHS's LP: masses by a power of two, rows by a power of two of their largest entry,
    objective to ~1."""
    import highspy

    A = prob.A
    n_all = A.shape[1]
    sigma = om.mass_scale
    counts = np.diff(A.indptr)
    rmax = row_abs_max(A, empty=1.0)
    rscale = np.exp2(np.round(np.log2(rmax)))
    cs = prob.c * sigma
    cmax = np.abs(cs).max() if cs.size else 0.0
    oscale = float(np.exp2(np.round(np.log2(cmax)))) if cmax > 0 else 1.0
    inv_r = 1.0 / rscale
    data = A.data * np.repeat(inv_r, counts)
    lp = highspy.HighsLp()
    lp.num_col_ = n_all
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = cs / oscale
    lp.col_lower_ = prob.col_lb / sigma
    lp.col_upper_ = prob.col_ub / sigma
    lp.row_lower_ = prob.row_lb * inv_r / sigma
    lp.row_upper_ = prob.row_ub * inv_r / sigma
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = data
    lp.offset_ = 0.0
    return Handover(lp=lp, n=om.n_cols, m=om.n_rows, extra_vars=prob.extra_vars, extra_rows=prob.extra_rows,
                    col_scale=sigma, row_scale=rscale, obj_scale=oscale, obj_offset=prob.c_offset, c=prob.c, A=A,
                    row_lb=prob.row_lb, row_ub=prob.row_ub, col_lb=prob.col_lb, col_ub=prob.col_ub,
                    user_objective=not own_obj, obj_sign=prob.sign)


def new_solver(options: dict):
    """A quiet HiGHS instance with ``options`` set (a rejected option: :class:`SolverError`)."""
    import highspy

    h = new_highs()
    for k, v in options.items():
        st = h.setOptionValue(k, v)
        if st != highspy.HighsStatus.kOk:
            raise SolverError(f"HiGHS rejected option {k}={v!r}")
    return h


def highs_version(h) -> str:
    """HiGHS's version as ``major.minor.patch``."""
    try:
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    except AttributeError:  # pragma: no cover - older highspy
        return "unknown"


def col_label(om: OptModel, hl: Handover, j: int) -> str:
    """The name of column ``j`` of the hand-over (a model column or a hand-added variable)."""
    return om.col_names[j] if j < hl.n else hl.extra_vars[j - hl.n].name


def row_labels(om: OptModel, hl: Handover, rows: list[int]) -> list[str]:
    """The names of rows of the hand-over (model rows, then hand-added constraints)."""
    return [om.row_names[r] if r < om.n_rows else hl.extra_rows[r - om.n_rows][0] for r in rows]
