"""Why a model has no optimum, in the instance's words.

* infeasible: an irreducible infeasible subset (HiGHS's IIS, else a deletion filter over the
  rows that are not mass balances), each row with where its bound comes from and what to relax;
* unbounded: the columns of HiGHS's primal ray, the largest first.
"""

from __future__ import annotations

import numpy as np

from .._highs import new_highs
from ..errors import InfeasibleError, UnboundedError
from .highs import Handover, col_label, row_labels
from .index import INF, RK, ROW_KINDS, OptModel, fmt_series


def infeasible_error(om: OptModel, hl: Handover, h) -> InfeasibleError:
    """The error for an infeasible model: the conflicting rows and bounds, where each comes from, what to relax."""
    rows, cols, sides = iis(om, hl, h)
    conflict, lines, relax = [], [], []
    structural = 0
    for r, side in zip(rows, sides["rows"]):
        name = row_labels(om, hl, [r])[0]
        conflict.append(name)
        if r < om.n_rows:
            k = int(om.row_kind[r])
            origin = om.row_origin(r)
            if k in (RK["balance"], RK["allocation"]):
                structural += 1
                continue
        else:
            origin = "added to the Pyomo model"
        lines.append(f"  {name}: {origin}")
        relax.append(relax_hint(om, r, side, name))
    for j, side in zip(cols, sides["cols"]):
        nm = f"bound[{col_label(om, hl, j)}]"
        conflict.append(nm)
        lb, ub = hl.col_lb[j], hl.col_ub[j]
        if lb == ub:
            lines.append(f"  {nm}: fixed to {lb:.6g} {om.system.unit} (fix=)")
            relax.append(f"{nm} (unfix it)")
        elif side == "lower" and lb == 0:
            lines.append(f"  {nm}: a flow cannot be negative")
        else:
            lines.append(f"  {nm}: [{lb:.6g}, {ub:.6g}]")
            relax.append(f"{nm} (widen it)")
    if not conflict:
        msg = (f"{om.system.name}: the optimisation model is infeasible, but HiGHS found no irreducible "
               "subset of constraints to blame; check demands, windows and share bounds")
        return InfeasibleError(msg, [])
    msg = [(f"{om.system.name}: no flows satisfy every constraint. These constraints conflict "
            "(an irreducible infeasible subset):")]
    msg.extend(lines)
    if structural:
        msg.append(f"  ... linked through {structural} mass-balance / allocation row(s)")
    if relax:
        msg.append("Relax one of: " + "; ".join(relax))
    return InfeasibleError("\n".join(msg), conflict)


def relax_hint(om: OptModel, r: int, side: str, name: str) -> str:
    """What to change so that row r stops conflicting, in the instance's keys."""
    if r >= om.n_rows:
        return f"{name} (added by hand)"
    s = om.system
    k, a, b, c, u = (ROW_KINDS[int(om.row_kind[r])], int(om.row_a[r]), int(om.row_b[r]), int(om.row_c[r]),
                     int(om.row_u[r]))
    if u >= 0:
        con = om.constraints[u]
        key = {"share_min": "min", "share_max": "max", "capacity": "max", "capacity_max": "max",
               "capacity_growth": "growth", "capacity_initial": "initial", "recycled_content": "min",
               "flow_min": "min", "flow_max": "max", "budget": "max"}.get(k)
        if k == "forbid":
            return f"drop {con['where']} (forbid {con['doc'].get('node')}.{con['doc'].get('route')})"
        verb = "lower" if k in ("share_min", "recycled_content", "flow_min") else "raise"
        now = con["doc"].get(key)
        return f"{verb} '{key}' of {con['where']} (now {now})"
    if k in ("share_min", "share_max"):
        ed = s.edges[a]
        fam = s.nodes[ed.source].family
        arr = ed.lo if k == "share_min" else ed.hi
        which = "min" if k == "share_min" else "max"
        verb = "lower" if k == "share_min" else "raise"
        return (f"{verb} the {which} share of route '{ed.label}' of {fam} (nodes.{fam}.shares.{ed.label}, "
                f"now {fmt_series(arr)})")
    if k == "capacity":
        ed = s.edges[a]
        return f"raise nodes.{s.nodes[ed.source].family}.capacity.{ed.label}"
    if k == "demand":
        bl = s.blends[a]
        return (f"lower nodes.{s.nodes[bl.node].family}.outputs.{bl.outputs[b].name}.demand or give the blend "
                "a priced free source (primary, additions) that can make up the difference")
    if k in ("window_min", "window_max"):
        bl = s.blends[a]
        return (f"widen nodes.{s.nodes[bl.node].family}.outputs.{bl.outputs[b].name}.window.{s.channels[c]} "
                "or give the blend an input that can dilute/enrich it")
    if k == "supply_max":
        return f"raise nodes.{s.nodes[a].family}.max"
    if k == "epsilon":
        return f"raise the epsilon bound on '{list(om.epsilon)[a]}'"
    return name


def iis(om: OptModel, hl: Handover, h):
    """Rows and column bounds of an irreducible infeasible subset (HiGHS's IIS, else a deletion filter)."""
    import highspy

    side_name = {1: "free", 2: "lower", 3: "upper", 4: "both"}
    try:
        h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyFromLp)
                         | int(highspy.IisStrategy.kIisStrategyIrreducible))
        st, iis = h.getIis()
        if st != highspy.HighsStatus.kError and iis.valid_ and len(iis.row_index_) + len(iis.col_index_) > 0:
            rows = [int(r) for r in iis.row_index_]
            cols = [int(c) for c in iis.col_index_]
            rs = [side_name.get(int(b), "both") for b in iis.row_bound_]
            cs = [side_name.get(int(b), "both") for b in iis.col_bound_]
            # a column bound that is just non-negativity is not worth naming unless nothing else is
            keep = [q for q, j in enumerate(cols)
                    if cs[q] != "free" and (not (hl.col_lb[j] == 0 and cs[q] == "lower") or not rows)]
            return rows, [cols[q] for q in keep], {"rows": rs, "cols": [cs[q] for q in keep]}
    except (AttributeError, RuntimeError, TypeError, ValueError):  # pragma: no cover - depends on the build
        rows = []
    rows = deletion_filter(om, hl)
    return rows, [], {"rows": ["both"] * len(rows), "cols": []}


def deletion_filter(om: OptModel, hl: Handover) -> list[int]:
    """Chinneck's deletion filter over the rows that are not mass balances (one LP per candidate)."""
    import highspy

    lp = hl.lp
    cand = [i for i in range(lp.num_row_)
            if i >= om.n_rows or int(om.row_kind[i]) not in (RK["balance"], RK["allocation"])]
    lo = np.array(lp.row_lower_, float)
    up = np.array(lp.row_upper_, float)

    def feasible(active: set[int]) -> bool:
        h = new_highs()
        h.setOptionValue("output_flag", False)
        l2, u2 = lo.copy(), up.copy()
        off = [i for i in cand if i not in active]
        l2[off], u2[off] = -INF, INF
        lp2 = highspy.HighsLp()
        lp2.num_col_, lp2.num_row_ = lp.num_col_, lp.num_row_
        lp2.col_cost_ = np.zeros(lp.num_col_)
        lp2.col_lower_, lp2.col_upper_ = lp.col_lower_, lp.col_upper_
        lp2.row_lower_, lp2.row_upper_ = l2, u2
        lp2.a_matrix_ = lp.a_matrix_
        h.passModel(lp2)
        h.run()
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    active = set(cand)
    if feasible(set()) is False:
        return []
    for i in list(cand):
        active.discard(i)
        if feasible(active):
            active.add(i)
    return sorted(active)


def unbounded_error(om: OptModel, hl: Handover, h) -> UnboundedError:
    """The error for an unbounded model: the columns that can grow without limit (HiGHS's primal ray)."""
    ray = None
    try:
        _, has, vals = h.getPrimalRay()
        if not has:
            h.setOptionValue("presolve", "off")
            h.setOptionValue("solver", "simplex")
            h.run()
            _, has, vals = h.getPrimalRay()
        if has:
            ray = np.asarray(vals, float)
    except (AttributeError, RuntimeError, TypeError, ValueError):  # pragma: no cover - depends on the build
        ray = None
    names = []
    if ray is not None and ray.size:
        big = np.abs(ray)
        order = np.argsort(-big)
        names = [col_label(om, hl, int(j)) for j in order[:10] if big[j] > 1e-9 * big.max()]
    msg = (f"{om.system.name}: the objective can improve without limit"
           + (f" by increasing {', '.join(names)}" if names else "")
           + ". Bound these (e.g. a free source's 'max', a capacity, a demand) or check the objective weights.")
    return UnboundedError(msg, names)
