"""Is an optimum unique? Alternative-optimum ranges of each lever, at the optimal objective.

An LP may have many optima; HiGHS returns one. With ``optimise(..., uniqueness=True)`` (CLI
``--uniqueness``), the model is restricted to its optimal face -- every column with a nonzero
reduced cost fixed at its value, every row with a nonzero dual fixed at its activity
(complementary slackness: what remains feasible is exactly the set of optima) -- and, per lever,
the lever's total -- the sum over the years of the flows its constraints act on (a split route's
flow; a blend output's allocations) -- is minimised and then maximised: 2 warm-started re-solves
per lever. Levers are the instance's ``levers:``; an instance
without levers gets one per split route family (``family.route``). A lever whose range is wider
than 1e-6 of the larger of its value and the model's mass scale is *not unique*: another optimum
moves it, and a ranking of levers by this optimum alone would be arbitrary there.

The result (``Result.extra["uniqueness"]``, in ``summary.json``): ``unique`` (every lever),
``reduced_cost_tolerance`` (relative to the largest dual), ``dual_degenerate_columns`` (nonbasic columns with a zero reduced cost: a cheap sign
that other optima may exist) and per lever ``at_optimum``, ``min``, ``max``, ``range``, ``unique``.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError

__all__ = ["format_report", "report"]

REL_RANGE = 1e-6


def report(om, hl, h, sol, tol: float = 1e-7) -> dict:
    """Alternative-optimum ranges per lever on the solved HiGHS model ``h`` (changed in place)."""
    import highspy

    groups = _groups(om)
    n = int(hl.lp.num_col_)
    sigma = float(hl.col_scale)
    x_opt = np.asarray(sol.col_value, float)
    degenerate = _dual_degenerate(h, sol, n)
    _restrict_to_optimal_face(h, sol, n, tol)
    idx = np.arange(n, dtype=np.int32)
    recs = []
    for name, cols in groups:
        at = float(x_opt[cols].sum()) * sigma
        ends = []
        for sense in (1.0, -1.0):
            c = np.zeros(n)
            c[cols] = sense
            h.changeColsCost(n, idx, c)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise SolverError(f"uniqueness: re-solve for lever '{name}' ended with status "
                                  f"'{h.modelStatusToString(h.getModelStatus())}'")
            ends.append(sense * float(h.getInfo().objective_function_value) * sigma)
        lo, hi = min(ends[0], at) + 0.0, max(ends[1], at) + 0.0
        room = REL_RANGE * max(abs(at), om.mass_scale)
        recs.append({"lever": name, "at_optimum": at, "min": lo, "max": hi, "range": hi - lo,
                     "unique": bool(hi - lo <= room)})
    return {"unique": all(r["unique"] for r in recs), "reduced_cost_tolerance": float(tol),
            "dual_degenerate_columns": degenerate, "levers": recs}


def _restrict_to_optimal_face(h, sol, n: int, tol: float) -> None:
    """Fix every column with a nonzero reduced cost at its value and every row with a nonzero
    dual at its activity: what remains feasible is exactly the set of optima (complementary
    slackness), without an objective row and its tolerance."""
    col_dual = np.asarray(sol.col_dual, float)[:n]
    x = np.asarray(sol.col_value, float)[:n]
    scale = max(float(np.abs(col_dual).max(initial=0.0)), float(np.abs(sol.row_dual).max(initial=0.0)), 1.0)
    fix_c = np.flatnonzero(np.abs(col_dual) > tol * scale).astype(np.int32)
    if len(fix_c):
        h.changeColsBounds(len(fix_c), fix_c, x[fix_c], x[fix_c])
    row_dual = np.asarray(sol.row_dual, float)
    act = np.asarray(sol.row_value, float)
    fix_r = np.flatnonzero(np.abs(row_dual) > tol * scale)
    for i in fix_r.tolist():
        h.changeRowBounds(int(i), float(act[i]), float(act[i]))


def _dual_degenerate(h, sol, n: int) -> int:
    """Nonbasic columns with a zero reduced cost (ties: other optima may exist)."""
    import highspy

    try:
        basis = h.getBasis()
        status = np.array([int(s) for s in basis.col_status], int)
    except (AttributeError, TypeError):  # pragma: no cover - older highspy
        return -1
    rc = np.abs(np.asarray(sol.col_dual, float))
    nonbasic = status != int(highspy.HighsBasisStatus.kBasic)
    return int(np.sum(nonbasic[:n] & (rc[:n] <= 1e-9)))


def _groups(om) -> list[tuple[str, np.ndarray]]:
    """(lever, its LP columns): route columns of the edges, allocation columns of the outputs it names."""
    from ..lp.index import C_ALLOC, C_ROUTE

    s = om.system
    route_cols = np.flatnonzero(om.col_kind == C_ROUTE)
    alloc_cols = np.flatnonzero(om.col_kind == C_ALLOC)
    specs: dict[str, list[dict]] = {}
    for name, spec in (s.levers or {}).items():
        if isinstance(spec, dict):
            specs[name] = [c for c in [*(spec.get("baseline") or []), *(spec.get("ambitious") or [])]
                           if isinstance(c, dict) and c.get("node")]
    if not specs:  # every split route family
        for e in s.edges:
            if e.rule == "route":
                fam = s.nodes[e.source].family
                specs.setdefault(f"{fam}.{e.label}", [{"node": fam, "route": e.label}])
    out = []
    for name, cons in specs.items():
        edges, outputs = set(), set()
        for con in cons:
            index = con.get("index") or {}
            members = [i for i, nd in enumerate(s.nodes) if con["node"] in (nd.family, nd.name)
                       and all(str(nd.index.get(d)) == str(v) for d, v in index.items())]
            if con.get("route") is not None:
                edges |= {e for i in members for e in s.out_edges(i) if s.edges[e].label == con["route"]}
            elif con.get("output") is not None:
                outputs |= {(bi, j) for bi, bl in enumerate(s.blends) if bl.node in members
                            for j, o in enumerate(bl.outputs) if o.name == con["output"]}
        cols = route_cols[np.isin(om.col_a[route_cols], sorted(edges))]
        if outputs:
            keep = [q for q in alloc_cols.tolist() if (int(om.col_a[q]), int(om.col_c[q])) in outputs]
            cols = np.concatenate([cols, np.array(keep, int)])
        if len(cols):
            out.append((name, cols))
    return out


def format_report(rep: dict) -> str:
    """Text lines for the CLI."""
    head = ("the optimum is unique in every lever" if rep["unique"] else
            "the optimum is NOT unique: another optimum moves these levers")
    lines = [f"uniqueness: {head} ({rep['dual_degenerate_columns']} dual-degenerate columns)"]
    for r in rep["levers"]:
        mark = "unique" if r["unique"] else "ALTERNATIVE OPTIMA"
        lines.append(f"  {r['lever']}: {r['at_optimum']:.6g} (range {r['min']:.6g} .. {r['max']:.6g}) {mark}")
    return "\n".join(lines)
