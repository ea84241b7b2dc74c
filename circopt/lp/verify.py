"""Every solution is verified on the unscaled model before it is called optimal.

HiGHS solves a scaled copy of the LP and meets rows and bounds to its tolerances *there*. When
the data span many orders of magnitude (one year's input 3e8 times the others), what is
"within tolerance" after scaling can be a demand of 30 t met by nothing. So after the solve
(and the post-solve that closes the balances) circopt recomputes, in the instance's units:

* each row's activity ``a_i = A_i x`` against its bounds: the violation
  ``max(lb_i - a_i, a_i - ub_i, 0)`` relative to the row's scale
  ``s_i = max(|finite bounds|, max_j |A_ij x_j|)``;
* each column against its bounds, relative to ``max(|bound|, |x_j|, s_i / |A_ij|)`` over the
  rows ``i`` it enters (its share of what those rows weigh);
* scales have floors: rows and columns whose bounds are all zero (balances, windows, share
  rows, leftovers) are judged against the model's largest mass -- the solver's own accuracy
  is an absolute 1e-9 of it, 100 times inside the tolerance; rows and columns with a nonzero
  bound (a demand, a capacity, a constant inflow, a fixed decision) against their own size,
  so a demand of 30 t left unmet beside flows of 1e10 t is caught; and nothing below 1e-100
  of the unit is judged;
* the objective as the weighted sum of its terms, against HiGHS's own value (relative to
  ``sum_j |c_j| * scale_j``).

A relative violation above :data:`REL_TOL` (1e-7; HiGHS's feasibility tolerance on the scaled
model is 1e-9 of the largest mass) makes the result's status ``numerically unreliable`` and
names the worst rows; it is never reported ``optimal``. Non-finite values in a solution are
refused outright (:class:`~circopt.errors.SolverError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from .sparse import row_abs_max

#: largest accepted violation of a row or bound, relative to its scale
REL_TOL = 1e-7
#: violations below this (instance units) are nothing in any unit: not judged relative to their own size
ABS_FLOOR = 1e-100
#: largest accepted difference between HiGHS's objective and the one recomputed from the terms
OBJ_TOL = 1e-6
UNRELIABLE = "numerically unreliable"


@dataclass
class Verification:
    """What the check found: the largest relative violations and the worst rows by name."""

    max_row: float = 0.0
    max_col: float = 0.0
    objective_gap: float = 0.0
    worst: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.max_row <= REL_TOL and self.max_col <= REL_TOL and self.objective_gap <= OBJ_TOL

    def summary(self) -> dict:
        return {"tolerance": REL_TOL, "objective_tolerance": OBJ_TOL, "max_row_violation": self.max_row,
                "max_bound_violation": self.max_col, "objective_gap": self.objective_gap, "ok": self.ok,
                "worst": list(self.worst)}

    def note(self) -> str:
        parts = [f"rows violated up to {self.max_row:.3g} of their scale" if self.max_row > REL_TOL else "",
                 f"bounds up to {self.max_col:.3g}" if self.max_col > REL_TOL else "",
                 f"objective off by {self.objective_gap:.3g}" if self.objective_gap > OBJ_TOL else ""]
        what = "; ".join(p for p in parts if p)
        return (f"{UNRELIABLE}: checked on the unscaled model the solution breaks its constraints ({what}; "
                f"tolerance {REL_TOL:g}): {'; '.join(self.worst)}. The data's magnitudes are likely too far apart "
                "for the solver's tolerances (rescale the unit, or check the inputs for outliers)")


def refuse_non_finite(x: np.ndarray, names, where: str = "solution") -> None:
    """A clear error for NaN or infinite values in a solution."""
    bad = np.flatnonzero(~np.isfinite(x))
    if len(bad):
        shown = ", ".join(f"{names(int(j))} = {x[j]}" for j in bad[:3])
        raise SolverError(f"the {where} holds {len(bad)} non-finite value(s) ({shown}): the inputs exceed what double "
                          "precision can hold; check the data for huge values or use a larger unit")


def verify(A: sp.csr_matrix, row_lb, row_ub, col_lb, col_ub, x: np.ndarray, row_name, col_name,
           objective: float | None = None, solver_objective: float | None = None,
           c: np.ndarray | None = None, floor: float = 0.0, n_worst: int = 5) -> Verification:
    """Check a solution ``x`` (instance units) against rows ``row_lb <= A x <= row_ub`` and bounds.

    ``floor``: the smallest scale of a row or column whose bounds are zero (the model's largest
    mass)."""
    A = A.tocsr()
    act = A @ x
    tmax = row_abs_max(A, data=A.data * x[A.indices])  # each row's largest term |A_ij x_j|
    fin = lambda b: np.where(np.isfinite(b), np.abs(b), 0.0)  # noqa: E731
    # rows with a nonzero bound are judged against their own scale (a demand of 30 beside flows of
    # 1e10 must still be met); rows with zero bounds have the largest mass as floor (the solver's
    # absolute accuracy on near-empty nodes is not a violation)
    own_r = (fin(row_lb) > 0) | (fin(row_ub) > 0)
    scale = np.maximum.reduce([fin(row_lb), fin(row_ub), tmax,
                               np.where(own_r, ABS_FLOOR / REL_TOL, max(floor, ABS_FLOOR / REL_TOL))])
    viol = np.maximum(np.maximum(row_lb - act, act - row_ub), 0.0)
    rel_r = np.divide(viol, scale, out=np.where(viol > 0, np.inf, 0.0), where=scale > 0)
    # a column's scale: its bounds and value, and each row it enters, in the column's units
    # (a bound of 1e-31 t missed by a solver is nothing beside the 100 t of its split)
    C = A.tocsc()
    via_rows = row_abs_max(C, data=scale[C.indices] / np.abs(C.data))
    own_c = (fin(col_lb) > 0) | (fin(col_ub) > 0)
    cscale = np.maximum.reduce([fin(col_lb), fin(col_ub), np.abs(x), via_rows,
                                np.where(own_c, ABS_FLOOR / REL_TOL, max(floor, ABS_FLOOR / REL_TOL))])
    cviol = np.maximum(np.maximum(col_lb - x, x - col_ub), 0.0)
    rel_c = np.divide(cviol, cscale, out=np.where(cviol > 0, np.inf, 0.0), where=cscale > 0)
    v = Verification(max_row=float(rel_r.max()) if rel_r.size else 0.0,
                     max_col=float(rel_c.max()) if rel_c.size else 0.0)
    if objective is not None and solver_objective is not None:
        # relative to the objective's size were every column at its scale (a 1e-31 term is nothing)
        o_scale = float(np.abs(c) @ cscale) if c is not None else 0.0
        v.objective_gap = abs(objective - solver_objective) / max(abs(objective), abs(solver_objective),
                                                                  o_scale, floor)
    for i in np.argsort(-rel_r)[:n_worst]:
        if rel_r[i] > REL_TOL:
            bound = row_lb[i] if act[i] < row_lb[i] else row_ub[i]
            v.worst.append(f"{row_name(int(i))}: {act[i]:.6g} against bound {bound:.6g}")
    for j in np.argsort(-rel_c)[:max(0, n_worst - len(v.worst))]:
        if rel_c[j] > REL_TOL:
            v.worst.append(f"column {col_name(int(j))}: {x[j]:.6g} outside [{col_lb[j]:.6g}, {col_ub[j]:.6g}]")
    return v
