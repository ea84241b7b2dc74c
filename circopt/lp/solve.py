"""Optimising a system: build the LP, hand it to HiGHS, read the Result back.

:func:`optimise` is the public verb (``circopt.optimise``); :func:`solve` solves a built
:class:`~circopt.lp.index.OptModel`, with any constraints a user added to its Pyomo model.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, SolverError
from ..system import System
from .build import as_system, build_model
from .diagnose import infeasible_error, unbounded_error
from .highs import HIGHS_OPTIONS, handover, new_solver
from .index import OptModel
from .solution import build_result


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
    :mod:`circopt.studies.lexicographic`). ``uniqueness``: also report whether the optimum is unique
    (alternative-optimum ranges per lever, 2 re-solves per lever; :mod:`circopt.studies.uniqueness`).

    Raises :class:`InfeasibleError` (naming the conflicting constraints),
    :class:`UnboundedError` or :class:`SolverError`. Every solution is verified on the unscaled
    model (:mod:`circopt.lp.verify`): one that breaks a row or bound beyond the tolerance comes
    back with status ``numerically unreliable`` (the worst rows in its notes and
    ``extra["verification"]``) and a :class:`NumericalWarning`, never as ``optimal``.
    """
    system = as_system(system, scenario)
    if then:
        from ..studies.lexicographic import optimise_lexicographic

        return optimise_lexicographic(system, objective, then, slack=slack, epsilon=epsilon, constraints=constraints,
                                      solver_options=solver_options, fix=fix, weights=weights,
                                      time_limit=time_limit, uniqueness=uniqueness, **objective_options)
    om = build_model(system, objective=objective, constraints=constraints, fix=fix, weights=weights,
                     epsilon=epsilon, **objective_options)
    if om.A.shape[1] == 0:
        return nothing_to_decide(om)
    return solve(om, solver_options=solver_options, time_limit=time_limit, uniqueness=uniqueness)


def nothing_to_decide(om: OptModel):
    """An LP without a column: the data fix every flow, so the optimum is the simulation (status
    ``nothing to decide``) provided every row holds at that one point (each row's activity is 0)."""
    from ..simulate import simulate

    tol = 1e-9 * max(om.mass_scale, 1.0)
    bad = np.flatnonzero((om.row_lb > tol) | (om.row_ub < -tol))
    if len(bad):
        names = [om.row_names[i] for i in bad[:5]]
        raise InfeasibleError(f"nothing to decide, and the instance's data break {len(bad)} constraint(s): "
                              f"{', '.join(names)}", conflict=names)
    res = simulate(om.system)
    # no row has a price: an empty duals table (the columns of a solved model's) so that every
    # table of an optimisation (duals, binding) is written
    duals = pd.DataFrame({"constraint": pd.Series(dtype="string"), "kind": pd.Series(dtype="string"),
                          "node": pd.Series(dtype="string"), "year": pd.Series(dtype="Int64"),
                          "element": pd.Series(dtype="string"), "dual": pd.Series(dtype=float),
                          "binding": pd.Series(dtype=bool), "activity": pd.Series(dtype=float),
                          "lower": pd.Series(dtype=float), "upper": pd.Series(dtype=float),
                          "origin": pd.Series(dtype="string")})
    res = dataclasses.replace(
        res, engine="optimise", status="nothing to decide", objective=float(om.c_offset),
        objective_terms={name: float(off) for name, (_row, off) in om.terms.items()}, solve_seconds=0.0,
        solver={"name": "none", "reason": "the instance has no decision (no free share, allocation or free "
                "source): every flow follows from the data"},
        notes=[*res.notes, "nothing to decide: every flow follows from the data; the result is the simulation"],
        duals=duals)
    return res


def solve(om: OptModel, solver_options: dict | None = None, time_limit: float | None = None,
          uniqueness: bool = False):
    """Hand an :class:`OptModel` (with any hand-written additions) to HiGHS and return a Result
    (``uniqueness``: with the alternative-optimum report of :mod:`circopt.studies.uniqueness`)."""
    import highspy

    t0 = time.perf_counter()
    hl = handover(om)
    # tolerances 100x tighter than HiGHS's defaults (on the scaled model, where the largest mass
    # is ~1): a bound met "to tolerance" is then met to ~1e-9 of the largest flow, and what the
    # polish of the balances moves stays at that level (same solve times on the flagships)
    opts = dict(HIGHS_OPTIONS)
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    opts.update(solver_options or {})
    h = new_solver(opts)
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
        raise infeasible_error(om, hl, h)
    if status == MS.kUnbounded:
        raise unbounded_error(om, hl, h)
    if status != MS.kOptimal:
        raise SolverError(f"HiGHS stopped without an optimal solution: status '{h.modelStatusToString(status)}' "
                          f"after {solve_seconds:.3g} s ({om.n_cols} columns, {om.n_rows} rows); "
                          "raise time_limit or check solver_options")
    sol = h.getSolution()
    res = build_result(om, hl, h, sol, solve_seconds, opts)
    if uniqueness:
        from ..studies.uniqueness import report

        res = res.annotated(uniqueness=report(om, hl, h, sol))
    return res
