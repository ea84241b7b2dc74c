"""What-if sweep of one number of one user constraint, re-using the built model (warm re-solves)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .._highs import new_highs
from ..errors import CircoptError, SolverError
from ..system import System
from ..terminal import Progress as _Progress
from .study import Study, indicators


def whatif(system: System, constraint: dict, key: str, values: Iterable[float], objective: Any = "losses",
           reuse: bool = True, progress: bool = False, **opt) -> Study:
    """Optimise for each value of one number of one user constraint (e.g. a share ``max``).

    With ``reuse`` the model is built twice (at the first two values): every coefficient and
    bound of a user constraint is affine in its numbers, so the model at any value is the
    interpolation of the two, which is checked on a third build. Each point then changes only
    the constraint's rows of the one HiGHS instance and re-solves from the previous basis
    (warm start). Without ``reuse`` every point is built and solved from scratch. Both give
    the same Result (tables, audit) per point.
    """
    from ..model import HIGHS_OPTIONS, _handover, _result, build_model, optimise

    values = [float(v) for v in values]
    fixed = list(opt.pop("constraints", None) or [])  # other constraints held at every point
    bar = _Progress(len(values), "whatif", progress)
    recs, runs = [], {}
    if not reuse or len(values) < 3:
        for v in values:
            res = optimise(system, objective=objective, constraints=[*fixed, {**constraint, key: v}], **opt)
            recs.append({key: v, **indicators(res)})
            bar.step()
        bar.done()
        return Study("whatif", pd.DataFrame.from_records(recs), meta={"reuse": False, "points": len(values)})
    v0, v1, v2 = values[0], values[1], values[2]
    oms = [build_model(system, objective=objective, constraints=[*fixed, {**constraint, key: v}], **opt)
           for v in (v0, v1, v2)]
    om = oms[0]
    A0, A1, A2 = (o.A.tocsr() for o in oms)
    D = (A1 - A0) / (v1 - v0)

    def slope(x0, x1):  # per unit of the value, where both bounds are finite
        both = np.isfinite(x0) & np.isfinite(x1)
        if not np.array_equal(np.isfinite(x0), np.isfinite(x1)):
            raise CircoptError(f"whatif: a bound appears or disappears as '{key}' changes; use reuse=False")
        return np.where(both, np.subtract(x1, x0, where=both, out=np.zeros_like(x0)), 0.0) / (v1 - v0)

    d_rlb, d_rub = slope(om.row_lb, oms[1].row_lb), slope(om.row_ub, oms[1].row_ub)
    d_clb, d_cub = slope(om.col_lb, oms[1].col_lb), slope(om.col_ub, oms[1].col_ub)
    # the share bounds the result's polishing step keeps routes within (user constraints included)
    room = [o.route_room for o in oms]
    if room[0] is not None:
        d_rlo, d_rhi = slope(room[0][2], room[1][2]), slope(room[0][3], room[1][3])

    def at(x0, d, v):
        return np.where(np.isfinite(x0), x0 + (v - v0) * d, x0)

    # the model must be affine in the value: check the interpolation against the third build
    scale = max(1.0, float(abs(A0).max()))
    checks = [(at(om.row_lb, d_rlb, v2), oms[2].row_lb), (at(om.row_ub, d_rub, v2), oms[2].row_ub),
              (at(om.col_lb, d_clb, v2), oms[2].col_lb), (at(om.col_ub, d_cub, v2), oms[2].col_ub)]
    if (abs(A0 + (v2 - v0) * D - A2).max() > 1e-9 * scale
            or not all(np.allclose(np.nan_to_num(p_, posinf=0, neginf=0), np.nan_to_num(q_, posinf=0, neginf=0),
                                   rtol=1e-12, atol=1e-12) for p_, q_ in checks)
            or any(not np.array_equal(o.c, om.c) for o in oms[1:])
            or (room[0] is not None and not (np.allclose(at(room[0][2], d_rlo, v2), room[2][2], atol=1e-12)
                                            and np.allclose(at(room[0][3], d_rhi, v2), room[2][3], atol=1e-12)))):
        raise CircoptError(f"whatif: the model is not affine in '{key}' (or its objective changes); use reuse=False")
    D = D.tocoo()
    rows_changed = np.unique(np.concatenate([D.row, np.nonzero(d_rlb)[0], np.nonzero(d_rub)[0]]))
    cols_changed = np.unique(np.concatenate([np.nonzero(d_clb)[0], np.nonzero(d_cub)[0]]))
    hl = _handover(om)
    base = (A0.copy(), om.row_lb.copy(), om.row_ub.copy(), om.col_lb.copy(), om.col_ub.copy())
    h = _new_solver(HIGHS_OPTIONS)
    h.passModel(hl.lp)
    import highspy

    Dc = D.tocsr()
    for v in values:
        t0 = time.perf_counter()
        A = (base[0] + (v - v0) * Dc).tocsr()
        rlb, rub = at(base[1], d_rlb, v), at(base[2], d_rub, v)
        clb, cub = at(base[3], d_clb, v), at(base[4], d_cub, v)
        # the HiGHS side: the changed coefficients and bounds, in its scaling
        for i, j in zip(D.row, D.col):
            h.changeCoeff(int(i), int(j), float(A[i, j] / hl.row_scale[i]))
        for i in rows_changed:
            h.changeRowBounds(int(i), float(rlb[i] / (hl.row_scale[i] * hl.col_scale)),
                              float(rub[i] / (hl.row_scale[i] * hl.col_scale)))
        for j in cols_changed:
            h.changeColBounds(int(j), float(clb[j] / hl.col_scale), float(cub[j] / hl.col_scale))
        # our side: the model and the hand-over hold the same numbers, for the Result and its duals
        om.A, om.row_lb, om.row_ub, om.col_lb, om.col_ub = A, rlb, rub, clb, cub
        if room[0] is not None:
            rc, sel, lo, hi, grp = room[0]
            om.route_room = (rc, sel, at(lo, d_rlo, v), at(hi, d_rhi, v), grp)
        hl.A, hl.row_lb, hl.row_ub, hl.col_lb, hl.col_ub = A, rlb, rub, clb, cub
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"whatif: {key}={v:g} ended '{h.modelStatusToString(h.getModelStatus())}'")
        res = _result(om, hl, h, h.getSolution(), time.perf_counter() - t0, dict(HIGHS_OPTIONS))
        recs.append({key: v, **indicators(res)})
        bar.step()
    bar.done()
    return Study("whatif", pd.DataFrame.from_records(recs), runs=runs,
                 meta={"reuse": True, "points": len(values), "changed_rows": int(len(rows_changed))})


def _new_solver(options: dict):
    h = new_highs()
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h
