"""The Pyomo side of a built LP (``OptModel.model``): one indexed ``Var`` ``x`` (in the
instance's units) and the whole constraint matrix as one ``MatrixConstraint`` ``rows`` (the CSR
assembled from numpy), plus the objective ``obj``. A user can add constraints by hand (any Pyomo
``Constraint``) or replace the objective, then call :func:`circopt.lp.solve.solve`."""

from __future__ import annotations

import math

import numpy as np

from .index import INF, OptModel

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


def pyomo_model(om: OptModel) -> None:
    """Build ``om.model``: the variables (with their bounds), the rows as one ``MatrixConstraint``
    and the objective, from the model's arrays."""
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


def read_bounds(xs: list) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds of Pyomo variables as arrays (a fixed variable: both at its value)."""
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
