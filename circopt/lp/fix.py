"""``fix=``: a run's decisions imposed on the LP.

Route flows, blend allocations and free-source amounts are fixed to a simulation's (a Result,
its decisions table or record, or a path to a decisions table). With every decision imposed,
the LP holds exactly the simulator's equations; the policy rows the imposed decisions may
break (shares, windows, demands, capacities, user constraints) are then not enforced but
checked after the solve, and any broken one is listed in the Result's notes.
"""

from __future__ import annotations

import numpy as np

from ..errors import InstanceError
from .index import DECISION_KINDS, INF, RK, OptModel


def apply_fix(b, fix) -> tuple[dict, tuple | None]:
    """Fix the decision columns' bounds (``b.col_lb`` = ``b.col_ub``); with every decision
    imposed, free the policy rows. Returns (what was fixed, the freed rows and their bounds)."""
    fixed = fix_decisions(b, fix)
    if fixed["unfixed_decisions"]:
        return fixed, None
    pol = np.flatnonzero(~np.isin(b.row_kind, [RK["balance"], RK["allocation"]]))
    relaxed = (pol, b.row_lb[pol].copy(), b.row_ub[pol].copy())
    b.row_lb[pol] = -INF
    b.row_ub[pol] = INF
    return fixed, relaxed


def fix_decisions(b, fix) -> dict:
    """Fix route flows, blend allocations and free-source amounts to a run's decisions
    (a Result, its decisions table or record, or a path to a decisions table)."""
    from ..decisions import as_decisions

    s, lb, ub = b.s, b.col_lb, b.col_ub
    try:
        rec = as_decisions(s, fix)
    except InstanceError as exc:
        raise InstanceError("fix", exc.problem, exc.value,
                            expected=exc.expected or "a Result of the same instance and scenario") from None
    seen = np.zeros(b.n, bool)

    def put(start, values):
        j = start + b.tt
        lb[j] = ub[j] = np.maximum(values, 0.0)
        seen[j] = True

    for e, st in b.route_col.items():
        put(st, rec.route[e])
    for bi, st in enumerate(b.alloc_col):
        for (i, j), col in np.ndenumerate(st):
            put(col, rec.allocation[bi][i, j])
    for nd, st in b.supply_col.items():
        put(st, rec.supply[nd])
    dec_cols = np.flatnonzero(np.isin(b.col_kind, DECISION_KINDS))
    missing = dec_cols[~seen[dec_cols]]
    return {"fixed_columns": int(seen.sum()), "unfixed_decisions": len(missing)}


def violations(om: OptModel, x: np.ndarray) -> list[str]:
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
