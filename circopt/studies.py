"""Policy studies on any instance: levers, prioritisation, combinations under a budget,
what-if comparisons, Pareto fronts, and sweeps / Monte Carlo that scale out.

Every study is a sequence of ordinary simulations or optimisations of the same System, so
every number it reports carries the same mass-balance audit.

Levers are declared in the instance::

    levers:
      reuse:
        description: Reuse of first-life engines
        cost: 1.0                     # adoption cost (for `combine`)
        baseline:  [{type: share, node: engine_eol, route: reuse, max: 0.10}]
        ambitious: [{type: share, node: engine_eol, route: reuse, max: 0.30}]

A lever's ``baseline`` / ``ambitious`` settings are lists of optimiser constraints (any type
of :data:`circopt.model.CONSTRAINT_TYPES`); "adopting" a lever swaps its baseline
constraints for its ambitious ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import terms
from ._highs import new_highs
from .errors import CircoptError, InstanceError, SolverError
from .readable import indicator_unit
from .system import EXPORTED, TOTAL, System
from .terminal import Progress as _Progress

LOSS_TYPES = ("dissipation", "process", "dilution")
LEVER_KEYS = {"description", "cost", "baseline", "ambitious", "source"}


# ---------------------------------------------------------------------------------------
# levers
# ---------------------------------------------------------------------------------------
@dataclass
class Lever:
    name: str
    description: str
    cost: float
    baseline: list[dict]
    ambitious: list[dict]


def levers(system: System) -> dict[str, Lever]:
    """The instance's levers, validated (unknown keys, missing settings, negative cost)."""
    out = {}
    where = f"{system.path or system.name}/instance.yaml: levers"
    for name, spec in (system.levers or {}).items():
        if not isinstance(spec, dict):
            raise InstanceError(f"{where}.{name}", "expected {description, cost, baseline, ambitious}", spec)
        bad = set(spec) - LEVER_KEYS
        if bad:
            raise InstanceError(f"{where}.{name}", f"unknown keys {sorted(bad)}", expected=f"{sorted(LEVER_KEYS)}")
        for k in ("baseline", "ambitious"):
            v = spec.get(k, [])
            if not isinstance(v, list) or not all(isinstance(c, dict) and "type" in c for c in v):
                raise InstanceError(f"{where}.{name}.{k}", "expected a list of constraints ({type: ...})", v)
        if not spec.get("ambitious") and not spec.get("baseline"):
            raise InstanceError(f"{where}.{name}", "a lever needs a baseline or an ambitious setting (an empty "
                                "one means: the instance's own bounds)")
        cost = spec.get("cost", 0.0)
        if not isinstance(cost, (int, float)) or isinstance(cost, bool) or not np.isfinite(cost) or cost < 0:
            raise InstanceError(f"{where}.{name}.cost", "expected a number >= 0", cost)
        out[name] = Lever(name, str(spec.get("description", "")), float(cost),
                          copy.deepcopy(spec.get("baseline", [])), copy.deepcopy(spec.get("ambitious", [])))
    return out


def lever_constraints(lv: dict[str, Lever], adopted: Iterable[str]) -> list[dict]:
    """Constraints of a configuration: ambitious for adopted levers, baseline for the others."""
    adopted = set(adopted)
    unknown = adopted - set(lv)
    if unknown:
        raise CircoptError(f"unknown lever(s) {sorted(unknown)}; levers: {sorted(lv)}")
    cons = []
    for name, L in lv.items():
        for c in (L.ambitious if name in adopted else L.baseline):
            cons.append({**c, "description": f"lever {name} ({'ambitious' if name in adopted else 'baseline'})"})
    return cons


# ---------------------------------------------------------------------------------------
# indicators of one run
# ---------------------------------------------------------------------------------------
def indicators(res) -> dict[str, float]:
    """Headline numbers of a Result: losses (the three loss types) per element and in total,
    exported (export nodes) and lost to the region (losses + exported: the domestic boundary
    view) per element, each loss type, surplus, primary supply, objective."""
    s = res.system
    cum = res.cumulative_losses()
    out: dict[str, float] = {}
    for el in [*s.elements, TOTAL]:
        sel = cum[(cum.element == el) & cum.loss_type.isin(LOSS_TYPES)]
        out[f"losses/{el}"] = float(sel.value.sum())
        exp = float(cum[(cum.element == el) & (cum.loss_type == EXPORTED)].value.sum())
        out[f"exported/{el}"] = exp
        out[f"lost_to_region/{el}"] = out[f"losses/{el}"] + exp
    for r in cum[cum.element == TOTAL].itertuples():
        out[f"{r.loss_type}/total"] = float(r.value)
    F = res.flows_array
    primary = sum(float(F[:, e, :].sum()) for i, n in enumerate(s.nodes) if n.kind == "source" and n.free
                  for e in s.out_edges(i))
    out["primary/total"] = primary
    out.setdefault("surplus/total", 0.0)
    out["cost/total"] = terms.value(res, "cost")
    if res.objective is not None:
        out["objective"] = float(res.objective)
    out["max_relative_imbalance"] = res.max_relative_imbalance
    return out


def objective_tolerance(res, *values: float) -> float:
    """Differences of objectives below this are solver noise, not results: 1e-7 of the larger of
    the objectives compared and of the largest flow of the run times its number of years (HiGHS
    meets bounds to ~1e-9 of the largest flow per row; an objective adds up many rows)."""
    F = res.flows_array
    flow_scale = float(abs(F).sum(axis=2).max()) * F.shape[0] if F.size else 0.0
    return 1e-7 * max([1e-300, flow_scale, *(abs(v) for v in values if v is not None and np.isfinite(v))])


@dataclass
class Study:
    """A study's tables (``table`` the main one) and the runs behind them."""

    kind: str
    table: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    runs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dir(self, out: str | Path, chart: bool = True) -> Path:
        from .result import write_atomic

        tables = {self.kind: self.table, **self.tables}
        files = {}
        if chart:
            files[f"{self.kind}.png"] = self.chart_png()
        return write_atomic(out, tables, {"study": self.kind, **_jsonable_meta(self.meta)}, files=files)

    def chart_png(self) -> bytes:
        from . import plots

        if self.kind == "prioritise":
            fig = plots.plot_ranking(self.table[self.table.run == "alone"], value="improvement", label="lever",
                                     title=f"Each lever alone: improvement of {self.meta.get('objective')}")
        elif self.kind == "pareto":
            f, g = self.meta["objectives"]
            fig = plots.plot_pareto(self.table, f, g)
        elif self.kind == "whatif":
            x = self.table.columns[0]
            fig = plots.plot_pareto(self.table, x, "objective", title=f"Objective against {x}")
        elif self.kind == "combine":
            fig = plots.plot_pareto(self.table, "budget", "objective", title="Best objective against budget")
        elif self.kind == "compare":
            t = self.table.set_index("indicator").drop(
                columns=[c for c in self.table.columns if c.startswith(("diff", "rel_"))] + ["unit"], errors="ignore")
            t = t[t.index.str.startswith(("losses/", "surplus/", "primary/", "lost_after_50y/", "exported_after_50y/"))]
            fig = plots.plot_bars(t, "What-if comparison", unit=self.meta.get("unit", ""))
        else:  # sweep
            fig = plots.plot_histograms(self.table, self.meta.get("plot", self.meta.get("indicators", [])),
                                        units=self.meta.get("units", {}))
        return plots.figure_png_bytes(fig)


def _jsonable_meta(meta: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else str(v))
            for k, v in meta.items()}


# ---------------------------------------------------------------------------------------
# prioritisation
# ---------------------------------------------------------------------------------------
def _solve(system, objective, constraints, **opt):
    from .model import optimise

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


# ---------------------------------------------------------------------------------------
# combination under a budget (MILP)
# ---------------------------------------------------------------------------------------
def combine(system: System, budget: float, objective: Any = "losses", budgets: list[float] | None = None,
            progress: bool = False, per_year: bool = False, **opt) -> Study:
    """Which levers to adopt within ``budget``: binary decisions in one MILP solved by HiGHS.

    The LP holds every lever's ambitious constraints and its baseline constraints; the
    baseline rows of lever *l* are relaxed when its binary ``y_l`` is 1 by a big-M term. M is
    a proven bound, not a guess: every column is >= 0, so a row's activity is at most
    ``sum_j |a_ij| x_j``, and the largest value of that sum over the lever's rows is found by
    an LP over the all-ambitious model (one LP per lever; per lever and year with
    ``per_year=True``); a budget row
    holds ``sum_l cost_l y_l <= B``. The chosen set is re-solved as an ordinary LP, whose
    Result (with its audit) is reported; the MILP and LP objectives must agree.

    The frontier solves the MILP at every budget where the set of affordable combinations
    changes (all subset costs up to the largest budget), or at ``budgets``.
    """
    import highspy

    from .lp.build import build_model
    from .lp.highs import handover
    from .lp.solve import optimise

    lv = levers(system)
    if not lv:
        raise CircoptError(f"{system.name}: no levers declared (add 'levers:' to the instance)")
    names = list(lv)
    n_own = len(system.constraints)
    cons, owner = [], {}
    for li, name in enumerate(names):
        for c in lv[name].baseline:
            owner[n_own + len(cons)] = li
            cons.append({**c, "description": f"lever {name} (baseline)"})
    for name in names:
        cons.extend({**c, "description": f"lever {name} (ambitious)"} for c in lv[name].ambitious)
    om = build_model(system, objective=objective, constraints=cons, **opt)
    hl = handover(om)
    lp = hl.lp
    A = hl.A.tocsr()
    rscale = hl.row_scale
    m, n = A.shape
    switch = [i for i in range(om.n_rows) if int(om.row_u[i]) in owner]
    # scaled matrix as HiGHS sees it
    As = sp.diags(1.0 / rscale) @ A
    rlb = np.asarray(lp.row_lower_, float)
    rub = np.asarray(lp.row_upper_, float)
    from .lp.highs import HIGHS_OPTIONS

    # the all-ambitious LP (every lever's baseline rows freed), with the optimiser's own
    # options (tiny kernel terms kept, tight tolerances)
    h = _new_solver(HIGHS_OPTIONS)
    h.passModel(lp)
    for i in switch:
        h.changeRowBounds(int(i), -highspy.kHighsInf, highspy.kHighsInf)
    # big-M per lever (or per lever and year with per_year=True: tighter, more LPs): every
    # column is >= 0, so a row's activity is at most sum_j |a_ij| x_j; the largest value of
    # that sum over the group's rows, on the all-ambitious LP, bounds each of them. HiGHS
    # accepts a binary within 1e-6 of 0, which lets a row move by M * 1e-6: the chosen levers
    # are therefore re-solved as an LP, and the two objectives must agree to 1e-4.
    switch_arr = np.array(switch, int)
    owners = np.array([owner[int(om.row_u[i])] for i in switch], int)
    years_of = np.asarray(om.row_t)[switch_arr] if len(switch) else np.zeros(0, int)
    groups = sorted({(int(li), int(t) if per_year else -9) for li, t in zip(owners, years_of)})
    bar = _Progress(len(groups), "combine: bounds", progress)
    bigm_up, bigm_lo = np.zeros(m), np.zeros(m)
    for li, t in groups:
        rows = switch_arr[(owners == li) & ((years_of == t) | (not per_year))]
        w = np.asarray(abs(As[rows]).sum(axis=0)).ravel()
        h.changeColsCost(n, np.arange(n, dtype=np.int32), -w)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise CircoptError(f"combine: the rows of lever '{names[li]}' are unbounded when every lever is adopted, "
                               "so no big-M exists; bound the free sources (give them 'max')")
        S = float(w @ np.asarray(h.getSolution().col_value))
        for i in rows:
            if np.isfinite(rub[i]):
                bigm_up[i] = max(0.0, S - rub[i]) * (1 + 1e-9) + 1e-9
            if np.isfinite(rlb[i]):
                bigm_lo[i] = max(0.0, rlb[i] + S) * (1 + 1e-9) + 1e-9
        bar.step()
    # the MILP: our columns + one binary per lever; two-sided switchable rows are split in two
    L = len(names)
    Y_rows, Y_cols, Y_vals = [], [], []
    extra_rows = []  # (row index to copy, side) for two-sided rows' lower side
    for i in switch:
        li = owner[int(om.row_u[i])]
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
    costs = np.array([lv[nm].cost for nm in names])
    budget_row = sp.csr_matrix(np.concatenate([np.zeros(n), costs])[None, :])
    full = sp.vstack([top, *add, budget_row]).tocsr()
    lbs = np.concatenate([new_lb, [rlb[i] for i, _ in extra_rows], [-highspy.kHighsInf]])
    ubs = np.concatenate([new_ub, [rub[i] for i, _ in extra_rows], [float(budget)]])
    mip = highspy.HighsLp()
    mip.num_col_, mip.num_row_ = n + L, full.shape[0]
    mip.col_cost_ = np.concatenate([np.asarray(lp.col_cost_, float), np.zeros(L)])
    mip.col_lower_ = np.concatenate([np.asarray(lp.col_lower_, float), np.zeros(L)])
    mip.col_upper_ = np.concatenate([np.asarray(lp.col_upper_, float), np.ones(L)])
    mip.row_lower_, mip.row_upper_ = lbs, ubs
    mip.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    mip.a_matrix_.start_, mip.a_matrix_.index_, mip.a_matrix_.value_ = full.indptr, full.indices, full.data
    mip.integrality_ = [highspy.HighsVarType.kContinuous] * n + [highspy.HighsVarType.kInteger] * L
    bar.done()
    levels = sorted(set(budgets or [])) if budgets else _budget_levels(costs, budget)
    hm = _new_solver(HIGHS_OPTIONS)
    hm.setOptionValue("mip_rel_gap", 1e-9)
    hm.setOptionValue("mip_abs_gap", 1e-12)
    hm.passModel(mip)
    recs, runs, chosen_at = [], {}, {}
    bar = _Progress(len(levels), "combine: frontier", progress)
    base_obj = None
    for B in levels:
        hm.changeRowBounds(full.shape[0] - 1, -highspy.kHighsInf, float(B))
        hm.run()
        if hm.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"combine: the MILP at budget {B} ended '{hm.modelStatusToString(hm.getModelStatus())}'")
        y = np.round(np.asarray(hm.getSolution().col_value)[n:]).astype(int)
        adopted = [nm for nm, v in zip(names, y) if v]
        key = tuple(adopted)
        if key not in chosen_at:
            chosen_at[key] = optimise(system, objective=objective, constraints=lever_constraints(lv, adopted), **opt)
        res = chosen_at[key]
        milp_obj = hl.obj_scale * float(hm.getInfo().objective_function_value) + hl.obj_offset
        # HiGHS accepts a binary within 1e-6 of 0/1, which lets a big-M row move by M * 1e-6, so
        # the MILP's objective may be optimistic by that much; the LP re-solve of the chosen
        # levers is the reported number, and a larger gap means numerical trouble
        if not np.isclose(milp_obj, res.objective, rtol=1e-4, atol=1e-9 * max(1.0, abs(res.objective))):
            raise SolverError(f"combine: MILP objective {milp_obj:.9g} and the LP of its levers {res.objective:.9g} "
                              "disagree by more than 1e-4 (numerical trouble)")
        if base_obj is None and not adopted:
            base_obj = res.objective
        recs.append({"budget": float(B), "levers": "+".join(adopted) or "(none)", "n_levers": len(adopted),
                     "cost": float(sum(lv[nm].cost for nm in adopted)), "objective": res.objective,
                     "milp_objective": milp_obj, "max_relative_imbalance": res.max_relative_imbalance})
        runs[f"budget={B:g}"] = res
        bar.step()
    bar.done()
    table = pd.DataFrame.from_records(recs)
    if base_obj is None:
        base_obj = optimise(system, objective=objective, constraints=lever_constraints(lv, []), **opt).objective
    table["improvement"] = base_obj - table["objective"]
    at = table[table.budget <= budget + 1e-12]
    best = at.iloc[-1] if len(at) else None
    return Study("combine", table, runs=runs,
                 meta={"budget": float(budget), "objective": str(objective),
                       "best": None if best is None else best.levers,
                       "best_objective": None if best is None else float(best.objective),
                       "milp": {"columns": int(n + L), "rows": int(full.shape[0]), "binaries": L,
                                "switchable_rows": len(switch)}})


def _budget_levels(costs: np.ndarray, budget: float) -> list[float]:
    """Every distinct total cost of a subset of levers up to ``budget`` (and ``budget`` itself)."""
    if len(costs) > 16:
        return sorted(set(np.linspace(0, budget, 17).tolist()))
    sums = {0.0}
    for c in costs:
        sums |= {s + float(c) for s in sums}
    return sorted({s for s in sums if s <= budget + 1e-12} | {float(budget)})


# ---------------------------------------------------------------------------------------
# what-if comparison
# ---------------------------------------------------------------------------------------
def compare(path: str | Path, scenarios: list[str | None], objective: Any = None, boundary: str | None = None,
            trace: bool = False, **opt) -> Study:
    """Scenarios side by side (simulated, or optimised when ``objective`` is given), with the
    difference of each from the first (``diff_``) and relative to it (``rel_``: difference /
    first, NaN where the first is 0). With ``trace``, the indicators are those of each
    scenario's fate trace (``INDICATOR/ELEMENT`` from the fate summary; under the optimal
    shares when ``objective`` is given)."""
    from .instance import load
    from .simulate import simulate

    cols, runs = {}, {}
    for name in scenarios:
        system = load(path, name or None, boundary=boundary)
        if trace:
            from .trace import trace as trace_pulse

            fate = trace_pulse(system, objective=objective, **opt)
            label = name or "base"
            runs[label] = fate.result
            cols[label] = {f"{r.indicator}/{r.element}": float(r.value) for r in fate.summary.itertuples()}
            continue
        if objective is None:
            res = simulate(system)
        else:
            from .model import optimise

            res = optimise(system, objective=objective, **opt)
        label = name or "base"
        runs[label] = res
        cols[label] = indicators(res)
    table = pd.DataFrame(cols)
    table.index.name = "indicator"
    first = table.columns[0]
    labels = list(table.columns[1:])
    for c in labels:
        table[f"diff_{c}"] = table[c] - table[first]
    for c in labels:
        table[f"rel_{c}"] = (table[c] - table[first]) / table[first].where(table[first].abs() > 1e-12)
    unit = runs[first].system.unit
    table.insert(0, "unit", [indicator_unit(k, unit, objective) for k in table.index])
    return Study("compare", table.reset_index(), runs=runs, meta={"scenarios": [s or "base" for s in scenarios],
                                                                   "objective": str(objective), "unit": unit})


# ---------------------------------------------------------------------------------------
# Pareto front
# ---------------------------------------------------------------------------------------
def pareto(system: System, objectives: tuple[str, str], points: int = 5, progress: bool = False, **opt) -> Study:
    """ε-constraint sweep: minimise f with g held at N levels between g's own minimum and
    g's value at f's minimum. Returns the front (f, g) with each point's indicators."""
    from .model import optimise

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
    from .model import optimise

    if name in res.objective_terms:
        return float(res.objective_terms[name])
    return float(optimise(system, objective=name, fix=res, **opt).objective)


# ---------------------------------------------------------------------------------------
# what-if sweep of one constraint value, re-using the built model
# ---------------------------------------------------------------------------------------
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
    from .lp.build import build_model
    from .lp.highs import HIGHS_OPTIONS, handover
    from .lp.solution import build_result
    from .lp.solve import optimise

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
    hl = handover(om)
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
        res = build_result(om, hl, h, h.getSolution(), time.perf_counter() - t0, dict(HIGHS_OPTIONS))
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


# ---------------------------------------------------------------------------------------
# sweeps and Monte Carlo
# ---------------------------------------------------------------------------------------
def sample_ranges(system: System, samples: int | None = None, grid: dict[str, list[float]] | None = None,
                  seed: int = 0) -> pd.DataFrame:
    """Parameter sets: ``samples`` Monte-Carlo draws (uniform in each range's [low, high],
    from ``numpy.random.default_rng(seed)``), or the full ``grid`` {range name: values}."""
    if grid:
        unknown = set(grid) - set(system.ranges)
        if unknown:
            raise CircoptError(f"grid names {sorted(unknown)} are not ranges of the instance; ranges: "
                               f"{sorted(system.ranges)}")
        keys = list(grid)
        mesh = np.array(np.meshgrid(*[np.asarray(grid[k], float) for k in keys], indexing="ij")).reshape(len(keys), -1).T
        return pd.DataFrame(mesh, columns=keys)
    if not system.ranges:
        raise CircoptError(f"{system.name}: no ranges declared (add 'ranges:' to the instance)")
    rng = np.random.default_rng(seed)
    keys = sorted(system.ranges)
    lo = np.array([system.ranges[k]["low"] for k in keys])
    hi = np.array([system.ranges[k]["high"] for k in keys])
    u = rng.random((int(samples or 1), len(keys)))
    return pd.DataFrame(lo + u * (hi - lo), columns=keys)


def _run_point(args) -> dict:
    """Evaluate one parameter set (top-level so process pools and Dask can pickle it)."""
    doc, folder, ranges, params, objective, opt = args
    from .ranges import build_sample
    from .simulate import simulate

    try:
        system = build_sample(doc, folder, ranges, params)
        if objective is None:
            res = simulate(system)
        else:
            from .model import optimise

            res = optimise(system, objective=objective, **opt)
        return {**params, **indicators(res), "status": "ok"}
    except CircoptError as e:
        return {**params, "status": f"error: {str(e).splitlines()[0][:120]}"}


def sweep(path: str | Path, samples: int | None = None, grid: dict[str, list[float]] | None = None,
          scenario: str | None = None, objective: Any = None, seed: int = 0, executor: str = "processes",
          workers: int | None = None, scheduler: str | None = None, progress: bool = True,
          indicators: list[str] | None = None, **opt) -> Study:
    """Run many parameter sets: Monte Carlo over the instance's ranges (``samples``) or a grid.
    ``indicators``: the columns to plot (default: every losses/surplus/primary/objective one).

    ``executor``: ``inprocess``, ``processes`` (local process pool, default) or ``dask``
    (``scheduler`` = a Dask distributed scheduler address; without one a local cluster is
    started). The parameter sets are drawn before any run, so the numbers are the same
    whichever executor computes them.

    Each point is built and solved from scratch on purpose: a point's parameters change the
    model's coefficients, and a warm start from another point's basis can land on a different
    optimal vertex of a degenerate LP, so results would depend on the order in which points
    happen to be solved (and on the executor). Where only a constraint's number changes,
    :func:`whatif` re-uses the built model and warm-starts (5.5x faster, benchmarks/sweep.py).
    """
    from .instance import load, load_document

    system = load(path, scenario)
    params = sample_ranges(system, samples, grid, seed)
    doc, folder, _ = load_document(path, scenario)
    jobs = [(doc, folder, system.ranges, dict(row), objective, opt) for row in params.to_dict("records")]
    bar = _Progress(len(jobs), "sweep", progress)
    t0 = time.perf_counter()
    out = map_jobs(_run_point, jobs, executor, workers, scheduler, bar)
    bar.done()
    table = pd.DataFrame.from_records(out)
    table.insert(0, "sample", range(len(table)))
    ok = table.status == "ok"
    if not ok.any():
        raise CircoptError(f"sweep: every one of {len(table)} parameter sets was refused; the first: "
                           f"{table.status.iloc[0]}")
    inds = [c for c in table.columns if c.startswith(("losses/", "surplus/", "primary/", "objective"))]
    plot = list(indicators or inds)
    unknown = [c for c in plot if c not in table.columns or c in ("sample", "status")]
    if unknown:
        raise CircoptError(f"sweep: unknown indicator(s) {unknown}; indicators: {inds}")
    summary = (table.loc[ok, list(dict.fromkeys([*plot, *inds]))].astype(float)
               .describe(percentiles=[0.05, 0.5, 0.95]).T.reset_index().rename(columns={"index": "indicator"}))
    summary.insert(1, "unit", [indicator_unit(k, system.unit, objective) for k in summary.indicator])
    summary["refused_samples"] = int((~ok).sum())
    return Study("sweep", table, {"sweep_summary": summary},
                 meta={"samples": len(jobs), "seed": seed, "executor": executor, "objective": str(objective),
                       "seconds": round(time.perf_counter() - t0, 3), "indicators": inds, "plot": plot,
                       "units": {k: indicator_unit(k, system.unit, objective) for k in plot}})


def map_jobs(fn, jobs: list, executor: str = "processes", workers: int | None = None,
             scheduler: str | None = None, bar=None) -> list:
    """``[fn(j) for j in jobs]`` in order, computed ``inprocess``, in a local process pool
    (``processes``, ``workers`` processes) or on Dask (``dask``; ``scheduler`` address or a local
    cluster). ``fn`` must be a top-level function (picklable); ``bar.step()`` after each job."""
    bar = bar or _Progress(len(jobs), "jobs", False)
    if executor == "inprocess":
        out = []
        for j in jobs:
            out.append(fn(j))
            bar.step()
    elif executor == "processes":
        from concurrent.futures import as_completed

        out = [None] * len(jobs)
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(fn, j): i for i, j in enumerate(jobs)}
            for fu in as_completed(futs):
                out[futs[fu]] = fu.result()
                bar.step()
    elif executor == "dask":
        out = _dask_map(jobs, scheduler, bar, fn, workers)
    else:
        raise CircoptError(f"unknown executor '{executor}'; expected inprocess, processes or dask")
    return out


def _dask_map(jobs, scheduler, bar, fn=None, workers: int | None = None):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - optional extra
        raise CircoptError("the dask executor needs the 'dask' extra: pip install 'circopt[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futs = client.map(fn or _run_point, jobs, pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        out = [None] * len(jobs)
        for fu in as_completed(futs):
            out[index[fu.key]] = fu.result()
            bar.step()
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
