"""Which levers to adopt within a budget: one MILP (big-M switches on the lever rows) solved by HiGHS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import CircoptError, SolverError
from ..lp.highs import new_solver
from ..system import System
from ..terminal import Progress as _Progress
from .levers import lever_constraints, levers
from .study import Study

#: HiGHS's MIP row and integrality tolerance in combine (the LP's primal feasibility tolerance)
MIP_TOLERANCE = 1e-9


def combine(system: System, budget: float, objective: Any = "losses", budgets: list[float] | None = None,
            progress: bool = False, per_year: bool = False, **opt) -> Study:
    """Which levers to adopt within ``budget``: binary decisions in one MILP solved by HiGHS.

    The LP holds every lever's ambitious constraints and its baseline constraints; the
    baseline rows of lever *l* are relaxed when its binary ``y_l`` is 1 by a big-M term. M is
    a proven bound from the lever rows' own range, not a global flow scale: every column is >= 0,
    so a row's activity is at most the sum of its positive terms ``sum_j max(a_ij, 0) x_j`` (at
    least minus that of its negative ones), and the largest value of that sum over the lever's
    rows is found by an LP over the all-ambitious model (one LP per lever and side; per lever,
    side and year with ``per_year=True``); a budget row holds ``sum_l cost_l y_l <= B``. HiGHS's MIP is held to the LP's tolerance (``MIP_TOLERANCE``)
    and its objective scaled to ~100 (it compares objectives absolutely). The chosen set is
    re-solved as an ordinary LP, whose Result (with its audit) is the reported objective; column
    ``check`` says ``milp = lp`` when the two agree to 1e-6 relative, else the LP re-solve is
    reported with a note (and a warning), and a cheaper set already solved that the LP finds
    better replaces the MILP's pick (also noted).

    The frontier solves the MILP at every budget where the set of affordable combinations
    changes (all subset costs up to the largest budget), or at ``budgets``.
    """
    lv = levers(system)
    if not lv:
        raise CircoptError(f"{system.name}: no levers declared (add 'levers:' to the instance)")
    names = list(lv)
    sw = _switchable(system, lv, objective, opt)
    bigm_up, bigm_lo = _big_m(sw, names, per_year, progress)
    costs = np.array([lv[nm].cost for nm in names])
    mip = _milp(sw, len(names), bigm_up, bigm_lo, costs, budget)
    levels = sorted(set(budgets or [])) if budgets else _budget_levels(costs, budget)
    recs, runs, base_obj = _frontier(system, sw, mip, lv, levels, objective, progress, opt)
    table = pd.DataFrame.from_records(recs)
    if base_obj is None:
        from ..lp.solve import optimise

        base_obj = optimise(system, objective=objective, constraints=lever_constraints(lv, []), **opt).objective
    table["improvement"] = base_obj - table["objective"]
    at = table[table.budget <= budget + 1e-12]
    best = at.iloc[-1] if len(at) else None
    return Study("combine", table, runs=runs,
                 meta={"budget": float(budget), "objective": str(objective),
                       "best": None if best is None else best.levers,
                       "best_objective": None if best is None else float(best.objective),
                       "milp": {"columns": int(mip.num_col_), "rows": int(mip.num_row_), "binaries": len(names),
                                "switchable_rows": len(sw.switch)}})


@dataclass
class _Switchable:
    """The LP with every lever's baseline and ambitious rows, as HiGHS sees it (rows scaled)."""

    om: Any
    hl: Any
    owner: dict  # user-constraint index -> lever index (baseline constraints only)
    switch: list  # rows of lever baselines (relaxed when the lever is adopted)
    As: sp.csr_matrix  # the matrix, rows scaled as HiGHS holds them
    rlb: np.ndarray
    rub: np.ndarray
    obj_factor: float = 1.0  # the MILP's costs are the LP's times this (see _objective_factor)


def _switchable(system, lv: dict, objective, opt: dict) -> _Switchable:
    from ..lp.build import build_model
    from ..lp.highs import handover

    n_own = len(system.constraints)
    cons, owner = [], {}
    for li, name in enumerate(lv):
        for c in lv[name].baseline:
            owner[n_own + len(cons)] = li
            cons.append({**c, "description": f"lever {name} (baseline)"})
    for name in lv:
        cons.extend({**c, "description": f"lever {name} (ambitious)"} for c in lv[name].ambitious)
    om = build_model(system, objective=objective, constraints=cons, **opt)
    hl = handover(om)
    switch = [i for i in range(om.n_rows) if int(om.row_u[i]) in owner]
    As = sp.diags(1.0 / hl.row_scale) @ hl.A.tocsr()  # scaled matrix as HiGHS sees it
    return _Switchable(om, hl, owner, switch, As, np.asarray(hl.lp.row_lower_, float),
                       np.asarray(hl.lp.row_upper_, float))


def _big_m(sw: _Switchable, names: list[str], per_year: bool, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Big-M per lever and side (or per lever, side and year with per_year=True: tighter, more
    LPs), from the lever rows' own range, not a global flow scale: every column is >= 0, so a
    row's activity is at most the sum of its positive terms ``sum_j max(a_ij, 0) x_j`` (and at
    least minus the sum of its negative ones); the largest value of that sum over the group's
    rows, on the all-ambitious LP, bounds each of them. Signed parts, not ``|a_ij|``: a share
    row ``x_route - s * x_total <= 0`` is bounded by its route flow alone. HiGHS accepts a
    binary within ``MIP_TOLERANCE`` of 0, which lets a row move by M times that (negligible
    with these M); the chosen levers are re-solved as an LP all the same."""
    import highspy

    from ..lp.highs import HIGHS_OPTIONS

    m, n = sw.As.shape
    rlb, rub = sw.rlb, sw.rub
    # the all-ambitious LP (every lever's baseline rows freed), with the optimiser's own
    # options (tiny kernel terms kept, tight tolerances)
    h = new_solver(HIGHS_OPTIONS)
    h.passModel(sw.hl.lp)
    for i in sw.switch:
        h.changeRowBounds(int(i), -highspy.kHighsInf, highspy.kHighsInf)
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        sw.obj_factor = _objective_factor(float(h.getInfo().objective_function_value))
    switch_arr = np.array(sw.switch, int)
    owners = np.array([sw.owner[int(sw.om.row_u[i])] for i in sw.switch], int)
    years_of = np.asarray(sw.om.row_t)[switch_arr] if len(sw.switch) else np.zeros(0, int)
    sides = [(+1, np.isfinite(rub[switch_arr])), (-1, np.isfinite(rlb[switch_arr]))]
    groups = sorted({(int(li), int(t) if per_year else -9, sg) for k, (li, t) in enumerate(zip(owners, years_of))
                     for sg, has in sides if has[k]})
    bar = _Progress(len(groups), "combine: bounds", progress)
    bigm_up, bigm_lo = np.zeros(m), np.zeros(m)
    for li, t, sg in groups:
        has = sides[0][1] if sg > 0 else sides[1][1]
        rows = switch_arr[(owners == li) & ((years_of == t) | (not per_year)) & has]
        part = sw.As[rows].multiply(sg)  # the side's terms: a_ij for <=, -a_ij for >=
        w = np.asarray(part.maximum(0).sum(axis=0)).ravel()
        h.changeColsCost(n, np.arange(n, dtype=np.int32), -w)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise CircoptError(f"combine: the rows of lever '{names[li]}' are unbounded when every lever is adopted, "
                               "so no big-M exists; bound the free sources (give them 'max')")
        S = float(w @ np.asarray(h.getSolution().col_value))
        for i in rows:
            if sg > 0:
                bigm_up[i] = max(0.0, S - rub[i]) * (1 + 1e-9) + 1e-9
            else:
                bigm_lo[i] = max(0.0, rlb[i] + S) * (1 + 1e-9) + 1e-9
        bar.step()
    bar.done()
    return bigm_up, bigm_lo


def _objective_factor(z: float) -> float:
    """A power of two >= 1 that brings the all-ambitious LP's objective ``z`` (scaled to max |c| ~ 1)
    to ~128 in the MILP. HiGHS's branch and bound compares objective values with absolute
    tolerances: with z ~ 0.009 (145 kt of engines / a 16384 kt mass scale) a lever worth 1e-4 kt
    is 1e-8 there and its node was pruned as no better."""
    if not np.isfinite(z) or abs(z) < 1e-300:
        return 1.0
    return float(max(1.0, np.exp2(np.round(np.log2(128.0 / abs(z))))))


def _milp(sw: _Switchable, L: int, bigm_up: np.ndarray, bigm_lo: np.ndarray, costs: np.ndarray, budget: float):
    """The MILP: our columns + one binary per lever; two-sided switchable rows are split in two; the last
    row is the budget."""
    import highspy

    m, n = sw.As.shape
    rlb, rub, As, lp = sw.rlb, sw.rub, sw.As, sw.hl.lp
    Y_rows, Y_cols, Y_vals = [], [], []
    extra_rows = []  # (row index to copy, side) for two-sided rows' lower side
    for i in sw.switch:
        li = sw.owner[int(sw.om.row_u[i])]
        if np.isfinite(rub[i]) and np.isfinite(rlb[i]):
            Y_rows.append(i), Y_cols.append(li), Y_vals.append(-bigm_up[i])
            extra_rows.append((i, li))
        elif np.isfinite(rub[i]):
            Y_rows.append(i), Y_cols.append(li), Y_vals.append(-bigm_up[i])
        else:
            Y_rows.append(i), Y_cols.append(li), Y_vals.append(bigm_lo[i])
    Y = sp.csr_matrix((Y_vals, (Y_rows, Y_cols)), shape=(m, L))
    top = sp.hstack([As, Y]).tocsr()
    new_lb, new_ub = list(rlb), list(rub)
    for i, _ in extra_rows:  # the upper side stays in row i (its lower bound moves to a copy)
        new_lb[i] = -highspy.kHighsInf
    add = [sp.hstack([As.getrow(i), sp.csr_matrix(([bigm_lo[i]], ([0], [li])), shape=(1, L))]) for i, li in extra_rows]
    budget_row = sp.csr_matrix(np.concatenate([np.zeros(n), costs])[None, :])
    full = sp.vstack([top, *add, budget_row]).tocsr()
    lbs = np.concatenate([new_lb, [rlb[i] for i, _ in extra_rows], [-highspy.kHighsInf]])
    ubs = np.concatenate([new_ub, [rub[i] for i, _ in extra_rows], [float(budget)]])
    mip = highspy.HighsLp()
    mip.num_col_, mip.num_row_ = n + L, full.shape[0]
    mip.col_cost_ = np.concatenate([np.asarray(lp.col_cost_, float) * sw.obj_factor, np.zeros(L)])
    mip.col_lower_ = np.concatenate([np.asarray(lp.col_lower_, float), np.zeros(L)])
    mip.col_upper_ = np.concatenate([np.asarray(lp.col_upper_, float), np.ones(L)])
    mip.row_lower_, mip.row_upper_ = lbs, ubs
    mip.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    mip.a_matrix_.start_, mip.a_matrix_.index_, mip.a_matrix_.value_ = full.indptr, full.indices, full.data
    mip.integrality_ = [highspy.HighsVarType.kContinuous] * n + [highspy.HighsVarType.kInteger] * L
    return mip


def _solve_milp(hm, mip, n: int, B: float, obj_factor: float) -> tuple[np.ndarray, float]:
    """The MILP at budget ``B``: (its binaries, its objective in the LP's scaled units). HiGHS's MIP
    checks rows and integrality to mip_feasibility_tolerance (1e-6 by default, not the LP's 1e-9) in
    the hand-over's units, masses / mass_scale (a power of two near the largest flow of the whole
    system: with a 20 Mt/yr market beside 0.2 Mt of engines, 1e-6 bends rows by ~0.02 kt); and it
    compares objectives with absolute tolerances (hence ``obj_factor``). Its presolve can call
    such a tight, large-cost model infeasible: the attempts fall back to unit costs, then to
    HiGHS's own tolerance (the LP re-solve then tells the truth)."""
    import highspy

    last = "not run"
    for factor, tol in ((obj_factor, MIP_TOLERANCE), (1.0, MIP_TOLERANCE), (1.0, 1e-6)):
        hm.setOptionValue("mip_feasibility_tolerance", tol)
        hm.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(mip.col_cost_[:n], float) / obj_factor * factor)
        hm.changeRowBounds(int(mip.num_row_) - 1, -highspy.kHighsInf, float(B))
        hm.run()
        if hm.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            return np.asarray(hm.getSolution().col_value)[n:], float(hm.getInfo().objective_function_value) / factor
        last = hm.modelStatusToString(hm.getModelStatus())
    raise SolverError(f"combine: the MILP at budget {B} ended '{last}'")


def _frontier(system, sw: _Switchable, mip, lv: dict, levels: list[float], objective, progress: bool, opt: dict):
    """The MILP at each budget level, its levers re-solved as an LP (the reported objective): (records,
    runs, objective with no lever adopted or None). Column ``check`` says how the row was settled:
    ``milp = lp`` (within 1e-6 relative), ``lp re-solve (milp off by ...)`` (the LP of the MILP's
    levers reported; a warning is issued), or ``lp: cheaper set ... better`` (a set chosen at a
    lower budget has a better LP objective, so it is reported)."""
    from ..lp.highs import HIGHS_OPTIONS
    from ..lp.solve import optimise

    names, n, hl = list(lv), sw.As.shape[1], sw.hl
    hm = new_solver(HIGHS_OPTIONS)
    hm.setOptionValue("mip_rel_gap", 1e-9)
    hm.setOptionValue("mip_abs_gap", 1e-12)
    hm.passModel(mip)
    recs, runs, chosen_at = [], {}, {}
    bar = _Progress(len(levels), "combine: frontier", progress)
    for B in levels:
        ys, z = _solve_milp(hm, mip, n, B, sw.obj_factor)
        adopted = tuple(nm for nm, v in zip(names, np.round(ys).astype(int)) if v)
        if adopted not in chosen_at:
            chosen_at[adopted] = optimise(system, objective=objective, constraints=lever_constraints(lv, list(adopted)),
                                          **opt)
        milp_obj = hl.obj_scale * z + hl.obj_offset
        lp_obj = chosen_at[adopted].objective
        check = _check(milp_obj, lp_obj, B)
        # a cheaper set solved at a lower budget that the LP finds better wins (the frontier is monotone)
        best = min((k for k in chosen_at if _cost(lv, k) <= B + 1e-12), key=lambda k: chosen_at[k].objective)
        if chosen_at[best].objective < lp_obj - 1e-9 * max(1.0, abs(lp_obj)):
            check = f"lp: cheaper set {'+'.join(best) or '(none)'} better than the MILP's {'+'.join(adopted) or '(none)'}"
            adopted = best
        res = chosen_at[adopted]
        recs.append({"budget": float(B), "levers": "+".join(adopted) or "(none)", "n_levers": len(adopted),
                     "cost": _cost(lv, adopted), "objective": res.objective, "milp_objective": milp_obj,
                     "check": check, "max_relative_imbalance": res.max_relative_imbalance})
        runs[f"budget={B:g}"] = res
        bar.step()
    bar.done()
    return recs, runs, (chosen_at[()].objective if () in chosen_at else None)


def _cost(lv: dict, adopted) -> float:
    return float(sum(lv[nm].cost for nm in adopted))


def _check(milp_obj: float, lp_obj: float, B: float) -> str:
    """``milp = lp`` or, when they disagree by more than 1e-6 relative, a note and a warning: the LP
    re-solve of the chosen levers is the reported number either way."""
    import warnings

    if np.isclose(milp_obj, lp_obj, rtol=1e-6, atol=1e-9):
        return "milp = lp"
    warnings.warn(f"combine: at budget {B:g} the MILP objective {milp_obj:.9g} and the LP of its levers "
                  f"{lp_obj:.9g} disagree by more than 1e-6 relative; the LP re-solve is reported", stacklevel=3)
    return f"lp re-solve (milp off by {milp_obj - lp_obj:+.3g})"


def _budget_levels(costs: np.ndarray, budget: float) -> list[float]:
    """Every distinct total cost of a subset of levers up to ``budget`` (and ``budget`` itself)."""
    if len(costs) > 16:
        return sorted(set(np.linspace(0, budget, 17).tolist()))
    sums = {0.0}
    for c in costs:
        sums |= {s + float(c) for s in sums}
    return sorted({s for s in sums if s <= budget + 1e-12} | {float(budget)})
