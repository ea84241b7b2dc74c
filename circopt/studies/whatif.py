"""What-if sweep of one number of one user constraint, re-using the built model (warm re-solves)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..errors import CircoptError, SolverError
from ..lp.highs import new_solver
from ..system import System
from ..terminal import Progress as _Progress
from .study import Study, indicators


def whatif(system: System, constraint: dict, key: str, values: Iterable[float], objective: Any = "losses",
           reuse: bool = True, progress: bool = False, **opt) -> Study:
    """Optimise for each value of one number of one user constraint (e.g. a share ``max``).

    With ``reuse`` the model is built twice (at the first two values): every coefficient and
    bound of a user constraint is affine in its numbers, so the model at any value is the
    interpolation of the two, which is checked on a third build (:mod:`circopt.lp.params`). Each
    point then changes only the constraint's rows of the one HiGHS instance and re-solves from the
    previous basis (warm start); the built models are not changed (each point gets its own
    re-parameterised copy). Without ``reuse`` every point is built and solved from scratch. Both
    give the same Result (tables, audit) per point.
    """
    from ..lp.solve import optimise

    values = [float(v) for v in values]
    fixed = list(opt.pop("constraints", None) or [])  # other constraints held at every point
    bar = _Progress(len(values), "whatif", progress)
    if not reuse or len(values) < 3:
        recs = []
        for v in values:
            res = optimise(system, objective=objective, constraints=[*fixed, {**constraint, key: v}], **opt)
            recs.append({key: v, **indicators(res)})
            bar.step()
        bar.done()
        return Study("whatif", pd.DataFrame.from_records(recs), meta={"reuse": False, "points": len(values)})
    fam = _family(system, constraint, key, values, objective, fixed, opt)
    recs = _warm_points(fam, key, values, bar)
    bar.done()
    return Study("whatif", pd.DataFrame.from_records(recs), runs={},
                 meta={"reuse": True, "points": len(values), "changed_rows": int(len(fam.rows_changed))})


def _family(system, constraint: dict, key: str, values: list[float], objective, fixed: list, opt: dict):
    """The affine family of models through the builds at the first three values."""
    from ..lp.build import build_model
    from ..lp.params import NotAffineError, affine_in

    oms = [build_model(system, objective=objective, constraints=[*fixed, {**constraint, key: v}], **opt)
           for v in values[:3]]
    try:
        return affine_in(oms, values[:3])
    except NotAffineError as e:
        if e.reason == "bound":
            raise CircoptError(f"whatif: a bound appears or disappears as '{key}' changes; use reuse=False") from None
        raise CircoptError(f"whatif: the model is not affine in '{key}' (or its objective changes); use "
                           "reuse=False") from None


def _warm_points(fam, key: str, values: list[float], bar) -> list[dict]:
    """Each value solved on one HiGHS instance, warm from the previous basis; one Result per value."""
    import highspy

    from ..lp.highs import HIGHS_OPTIONS, handover
    from ..lp.params import handover_at, set_highs_numbers
    from ..lp.solution import build_result

    hl0 = handover(fam.base)
    h = new_solver(HIGHS_OPTIONS)
    h.passModel(hl0.lp)
    recs, om = [], None
    for v in values:
        t0 = time.perf_counter()
        nums = fam.numbers(v)
        set_highs_numbers(h, hl0, fam, nums)  # the HiGHS side, in the hand-over's scaling
        # our side: a model and hand-over holding the same numbers, for the Result and its duals (the
        # previous point's model is copied: its post-solve factorisation carries over)
        om = fam.at(v, like=om, numbers=nums)
        hl = handover_at(hl0, nums)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"whatif: {key}={v:g} ended '{h.modelStatusToString(h.getModelStatus())}'")
        res = build_result(om, hl, h, h.getSolution(), time.perf_counter() - t0, dict(HIGHS_OPTIONS))
        recs.append({key: v, **indicators(res)})
        bar.step()
    return recs


_new_solver = new_solver  # the former name (circopt.studies._new_solver)
