"""Rank the levers: each alone, all, the greedy order, and what each lever's bounds are worth."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import terms
from ..errors import CircoptError
from ..system import System
from ..terminal import Progress as _Progress
from .levers import Lever, lever_constraints, levers
from .study import Study, indicators, objective_tolerance


def _solve(system, objective, constraints, **opt):
    from ..lp.solve import optimise

    return optimise(system, objective=objective, constraints=constraints, **opt)


def prioritise(system: System, objective: Any = "losses", progress: bool = False, **opt) -> Study:
    """Each lever alone, all levers, and the greedy incremental order.

    ``improvement`` is the objective with every lever at its baseline minus the objective of
    the run (positive = better, for a minimised objective). Also the change of every element's
    losses, and the shadow prices (duals) of each lever's baseline rows in the all-baseline run:
    what relaxing that lever's bounds is worth at the margin.
    """
    lv = levers(system)
    if not lv:
        raise CircoptError(f"{system.name}: no levers declared (add 'levers:' to the instance)")
    names = list(lv)
    bar = _Progress(len(names) + 2 + len(names) * (len(names) + 1) // 2, "prioritise", progress)
    base = _solve(system, objective, lever_constraints(lv, []), **opt)
    bar.step()
    base_ind = indicators(base)
    runs = {"baseline": base}
    recs = [_row("baseline", "", 0, base_ind, base_ind, lv, [])]
    for name in names:
        r = _solve(system, objective, lever_constraints(lv, [name]), **opt)
        bar.step()
        runs[f"alone:{name}"] = r
        recs.append(_row("alone", name, 0, indicators(r), base_ind, lv, [name]))
    allr = _solve(system, objective, lever_constraints(lv, names), **opt)
    bar.step()
    runs["all"] = allr
    recs.append(_row("all", "+".join(names), 0, indicators(allr), base_ind, lv, names))
    # greedy: add the lever that helps most next
    chosen: list[str] = []
    current = base_ind
    for step in range(1, len(names) + 1):
        best = None
        for name in names:
            if name in chosen:
                continue
            r = runs.get(f"alone:{name}") if not chosen else _solve(system, objective,
                                                                     lever_constraints(lv, [*chosen, name]), **opt)
            bar.step()
            ind = indicators(r)
            if best is None or ind["objective"] < best[1]["objective"] - 1e-12 * max(1.0, abs(best[1]["objective"])):
                best = (name, ind)
        chosen.append(best[0])
        rec = _row("greedy", best[0], step, best[1], base_ind, lv, list(chosen))
        rec["marginal"] = current["objective"] - best[1]["objective"]
        recs.append(rec)
        current = best[1]
    bar.done()
    table = pd.DataFrame.from_records(recs)
    tol = objective_tolerance(base, *table.objective)
    if float(table.improvement.abs().max()) <= tol:
        raise CircoptError(f"prioritise: no lever changes the objective by more than the solver tolerance ({tol:.1e}; "
                           f"baseline objective {base_ind['objective']:.3g}, every lever within "
                           f"{float(table.improvement.abs().max()):.1e} of it): there is nothing to rank -- choose an "
                           "objective the levers act on (e.g. losses), or another scenario")
    table["within_tolerance"] = table.improvement.abs() <= tol
    alone = table[(table.run == "alone") & ~table.within_tolerance].sort_values("improvement", ascending=False)
    rank = {n: i + 1 for i, n in enumerate(alone.lever)}
    table["rank"] = [rank.get(n) if r == "alone" else None for n, r in zip(table.lever, table.run)]
    shadow = _lever_shadow_prices(base, lv)
    unranked = sorted(set(table[(table.run == "alone") & table.within_tolerance].lever))
    return Study("prioritise", table, {"shadow_prices": shadow}, runs,
                 {"objective": str(objective), "levers": names, "greedy_order": chosen, "tolerance": tol,
                  "unranked": unranked})


def _row(run, lever, step, ind, base_ind, lv, adopted) -> dict:
    rec = {"run": run, "lever": lever, "step": step, "objective": ind["objective"],
           "improvement": base_ind["objective"] - ind["objective"],
           "cost": sum(lv[n].cost for n in adopted)}
    for k, v in ind.items():
        if k.startswith("losses/"):
            rec[f"d_{k}"] = v - base_ind[k]
    # the money side: the change of the 'cost' term (route, source, process and capacity costs) and
    # the ratio of the two changes (negative: losses fall as money is spent; positive with a negative
    # d_cost/total: the lever saves money and losses; NaN where the cost does not change)
    rec["d_cost/total"] = ind["cost/total"] - base_ind["cost/total"]
    dc = rec["d_cost/total"]
    rec["d_losses_per_d_cost"] = rec["d_losses/total"] / dc if abs(dc) > 1e-9 * max(1.0, abs(base_ind["cost/total"])) \
        else float("nan")
    rec["max_relative_imbalance"] = ind["max_relative_imbalance"]
    rec.update({k: v for k, v in ind.items() if k.startswith(terms.INDICATOR)})  # the instance's indicators
    return rec


def _lever_shadow_prices(base, lv: dict[str, Lever]) -> pd.DataFrame:
    """Duals of the rows the lever constraints created in the all-baseline run, summed per lever.

    Lever constraints come after the instance's own constraints, in the order of
    :func:`lever_constraints` (so the k-th lever row family is known)."""
    d = base.duals
    if d is None or not len(d):
        return pd.DataFrame(columns=["lever", "rows", "binding_rows", "sum_abs_dual"])
    n_own = len(base.system.constraints)
    recs = []
    k = n_own
    for name, L in lv.items():
        idx = list(range(k, k + len(L.baseline)))
        k += len(L.baseline)
        pref = tuple(f"constraints[{i}]." for i in idx)
        sel = d[d.constraint.str.startswith(pref)] if pref else d.iloc[0:0]
        recs.append({"lever": name, "rows": len(sel), "binding_rows": int(sel.binding.sum()) if len(sel) else 0,
                     "sum_abs_dual": float(sel.dual.abs().sum()) if len(sel) else 0.0})
    return pd.DataFrame.from_records(recs)
