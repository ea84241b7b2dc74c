"""ε-constraint front between two objectives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CircoptError, SolverError
from ..system import System
from ..terminal import Progress as _Progress
from .study import Study, indicators, objective_tolerance


def pareto(system: System, objectives: tuple[str, str], points: int = 5, progress: bool = False, **opt) -> Study:
    """ε-constraint sweep: minimise f with g held at N levels between g's own minimum and
    g's value at f's minimum. Returns the front (f, g) with each point's indicators."""
    from ..lp.solve import optimise

    f, g = objectives
    if points < 2:
        raise CircoptError("a Pareto front needs at least 2 points")
    bar = _Progress(points + 2, "pareto", progress)
    # f's optimum, with g evaluated (weight 0) -- and g's own optimum
    at_f = optimise(system, objective={f: 1.0, g: 0.0}, **opt)
    bar.step()
    at_g = optimise(system, objective={g: 1.0, f: 0.0}, **opt)
    bar.step()
    g_hi = at_f.objective_terms[g]
    g_lo = at_g.objective
    f_lo, f_at_g = at_f.objective_terms[f], _term_value(system, at_g, f, opt)
    tol = objective_tolerance(at_f, g_hi, g_lo)
    if g_hi - g_lo <= tol or abs(f_at_g - f_lo) <= objective_tolerance(at_f, f_lo, f_at_g):
        bar.done()
        why = (f"{g} is already at its minimum ({g_lo:.6g}) at the optimum of {f}" if g_hi - g_lo <= tol
               else f"{f} is already at its minimum ({f_lo:.6g}) at the optimum of {g}")
        if abs(g_hi) <= tol and abs(g_lo) <= tol:
            why += f" (it is 0 at both: the instance has nothing that '{g}' counts)"
        reason = f"the front collapses to one point: {why}; the two objectives do not conflict on this instance"
        ind = indicators(at_f)
        table = pd.DataFrame([{"point": 0, "epsilon": g_hi, f: f_lo, g: g_hi, "status": "collapsed",
                               **{k: v for k, v in ind.items() if k.startswith("losses/")}}])
        return Study("pareto", table, runs={"point0": at_f},
                     meta={"objectives": [f, g], "points": 1, "collapsed": reason})
    recs, runs = [], {}
    for k, eps in enumerate(np.linspace(g_hi, g_lo, points)):
        slack = 1e-9 * max(1.0, abs(eps))
        try:
            r = optimise(system, objective=f, epsilon={g: float(eps) + slack}, **opt)
        except SolverError as e:
            recs.append({"point": k, "epsilon": float(eps), f: np.nan, g: np.nan, "status": str(e)[:80]})
            bar.step()
            continue
        runs[f"point{k}"] = r
        ind = indicators(r)
        recs.append({"point": k, "epsilon": float(eps), f: r.objective_terms.get(f, r.objective),
                     g: r.objective_terms.get(g, np.nan), "status": "optimal",
                     **{k2: v for k2, v in ind.items() if k2.startswith("losses/")}})
        bar.step()
    bar.done()
    return Study("pareto", pd.DataFrame.from_records(recs), runs=runs,
                 meta={"objectives": [f, g], "points": points})


def _term_value(system, res, name: str, opt: dict) -> float:
    """The value of objective term ``name`` at a Result's decisions."""
    from ..lp.solve import optimise

    if name in res.objective_terms:
        return float(res.objective_terms[name])
    return float(optimise(system, objective=name, fix=res, **opt).objective)
