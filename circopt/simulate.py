"""Plain simulation: every flow, stock and loss for given shares and allocations.

(1) Each stock's outflow from earlier cohorts is a convolution of its inflow history with its
outflow kernel (computed by :mod:`circopt.stocks`, the one stock engine); (2) the same-year
network is one sparse linear system ``(I - M_t) f_t = b_t`` over every edge and channel, so
recycling loops close with no hand algebra (a stock whose lifetime can end in its year of
entry joins that solve through its age-0 term ``pdf(0)``). Stocks are handled as whole
arrays: when no stock's outflow returns to it within a year, the stocks fall into stages
and each stage takes one same-year solve of all years and one convolution of all its stocks
(see :func:`_run`); otherwise the years are solved one after another.

Blend rule in simulation (documented in docs/concepts.md): input *i* offers the share
``a_ij`` of its mass to output *j*; an output with a demand takes what is offered up to
that demand (every offer scaled by the same factor ``lambda_j <= 1``), each free input *f*
makes up the share ``m_fj`` (its baseline allocation) of what is still missing, and
whatever is not taken goes to the surplus outlet. ``lambda_j`` is found by a fixed-point
iteration (exact at convergence, 1e-15).

With given decisions (:class:`Shares` with ``exact=True``, made by
:mod:`circopt.decisions` from an optimum or a decisions table) nothing is capped or made
up: route shares and the allocation shares of every non-free input are applied as they
are, and free inputs supply the given amounts to each output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SimulationError
from .flowrules import FlowRules
from .sameyear import SameYear
from .stocks import stock_plan
from .system import System


@dataclass
class Shares:
    """Decisions for one simulation: route shares (E, T) and blend allocation factors.

    ``allocation[b][i, j, t]``: for a non-free input, the share of its mass offered to output
    ``j``; for a free input, the share of output ``j``'s shortfall it makes up (baseline rule).
    With ``exact``, offers are taken as they are (no demand cap, nothing made up) and
    ``free_alloc[b][i, j, t]`` is the mass free input ``i`` supplies to output ``j``;
    ``free_amount`` the amount of each free source that does not feed a blend (node id -> (T,)).
    """

    route: np.ndarray  # (E, T) share of a route edge of its split's input (nan for non-route edges)
    allocation: list[np.ndarray]  # per blend: (n_in, n_out, T)
    exact: bool = False
    free_alloc: list[np.ndarray] | None = None
    free_amount: dict[int, np.ndarray] | None = None


def shares_from_decisions(system: System, decisions) -> Shares:
    """The exact shares of a decisions table, record or Result (see :mod:`circopt.decisions`)."""
    from .decisions import as_decisions

    return as_decisions(system, decisions).shares(system)


def baseline_shares(system: System, strict: bool = True) -> Shares:
    E, T = len(system.edges), system.T
    route = np.full((E, T), np.nan)
    missing = []
    for e in system.edges:
        if e.rule == "route":
            if e.coef is None:
                missing.append(system.nodes[e.source].name)
            else:
                route[e.id] = e.coef
    if missing and strict:
        raise SimulationError(
            f"split(s) {sorted(set(missing))} have no 'baseline' shares; simulation needs them "
            "(give 'baseline' in the instance or a scenario, or optimise instead)")
    return Shares(route=route, allocation=[b.allocation.copy() for b in system.blends])


def simulate(system: System | str | Path, scenario: str | None = None, shares: Shares | None = None,
             pulse: dict[str, np.ndarray] | None = None, decisions=None):
    """Simulate a system with its baseline (or the given) shares; returns a :class:`Result`.

    ``system`` may be a path to an instance folder; ``scenario`` then names a scenario.
    ``decisions`` (a :class:`~circopt.decisions.Decisions`, a decisions table, an optimised
    Result, or a path to a ``decisions.csv`` or an output folder) imposes every route flow,
    blend allocation (free inputs included) and free-source amount exactly: the simulation
    then reproduces the flows those decisions come from (the round trip).
    ``pulse`` (used by fate tracing) maps source node names to input series (T,): every
    other source, history cohort and following source is set to zero, and blends take
    everything they are offered (demands and free inputs belong to the full system, not to
    a traced pulse of material).
    """
    from .instance import load
    from .result import Result, channel_total

    if not isinstance(system, System):
        system = load(system, scenario)
    elif scenario is not None and scenario != system.scenario:
        if system.path is None:
            raise ValueError("a scenario can only be applied to a System loaded from a folder")
        system = load(system.path, scenario, boundary=system.boundary)
    rec = None
    if decisions is not None:
        if shares is not None:
            raise SimulationError("give either shares or decisions, not both")
        from .decisions import as_decisions

        rec = as_decisions(system, decisions)
        shares = rec.shares(system)
    sh = shares or baseline_shares(system)
    flows, inflow_ext, lambdas, notes, stock_parts = _run(system, sh, pulse)
    from .decisions import simulated, with_capacities

    record = simulated(system, flows, sh, lambdas, pulse=pulse is not None)
    table = record.to_table(system)
    if rec is not None:
        table = with_capacities(system, table, rec)
    res = Result.from_flows(system, flows, inflow_ext, engine="simulate", notes=notes, pulse=pulse is not None,
                            stock_parts=stock_parts, decision_record=record, decisions=table)
    st = res.stock_array
    big = max(float(st.max()), -float(st.min())) * st.shape[2] if st.size else 0.0
    stock_tot = channel_total(st) if not big <= MAX_VALUE else None  # NaN: not <=
    if stock_tot is not None and (not np.all(np.isfinite(stock_tot)) or np.any(np.abs(stock_tot) > MAX_VALUE)):
        s_, t = np.unravel_index(int(np.argmax(~np.isfinite(stock_tot) | (np.abs(stock_tot) > MAX_VALUE))),
                                 stock_tot.shape)
        raise SimulationError(f"the stock of {system.nodes[stock_plan(system).stocks[s_]].name} in "
                              f"{int(system.years[t])} is {stock_tot[s_, t]:.6g} {system.unit}: beyond {MAX_VALUE:g} "
                              "(or not finite); check the inputs for huge values (or use a larger unit)")
    if rec is not None and pulse is None:
        rec.check_reproduced(system, flows)
    return res


def _source_series(system: System, pulse: dict | None, sh: Shares) -> dict[int, np.ndarray]:
    out = {}
    for i, n in enumerate(system.nodes):
        if n.kind != "source" or n.follows is not None:
            continue
        if n.free:
            amount = (sh.free_amount or {}).get(i)
            if amount is not None:
                out[i] = np.zeros(system.T) if pulse is not None else np.asarray(amount, float).copy()
            continue
        if pulse is not None:
            out[i] = np.array(pulse.get(n.name, np.zeros(system.T)), dtype=float)
        else:
            out[i] = n.series  # read, never written
    return out


def _run(system: System, sh: Shares, pulse: dict | None):
    """Every flow of the simulation (T, E, C), the stocks' inflow on the extended axis, the
    blend factors and notes.

    Stocks are handled as whole arrays. When no stock's outflow reaches its own inflow within a
    year, the stocks fall into stages (stage 0: fed without any stock's outflow; stage p: by
    stocks of stages < p); each stage's inflows come from one same-year solve of all years,
    and its outflows from one convolution of every stock of the stage at once (see
    :mod:`circopt.stocks`). Otherwise the years are solved one after another, the outflow of
    earlier cohorts of every stock computed for each year in one vectorised product.
    """
    C, E = system.C, len(system.edges)
    plan = stock_plan(system)
    inflow_ext = plan.hist_inflow.copy() if pulse is None else np.zeros_like(plan.hist_inflow)
    series = _source_series(system, pulse, sh)
    notes: list[str] = []
    net = SameYear.of(system, sh, plan, pulse)
    if not sh.exact:
        _check_free_sources(system, net.rules, notes)
    _driven_series(system, plan, inflow_ext, series, notes)
    b_src = net.source_constants(series)
    stages = net.stock_stages()
    if stages is None:
        (flows, lambdas), stock_parts = _year_by_year(net, plan, inflow_ext, b_src), None
    else:
        flows, lambdas, stock_parts = _by_stage(net, plan, inflow_ext, b_src, stages)
    if pulse is None:
        _check_blend_outcomes(system, sh, lambdas, flows, notes)
    lo, hi = (float(flows.min()), float(flows.max())) if flows.size else (0.0, 0.0)
    _refuse_huge(system, flows, lo, hi)
    if lo < -1e-9 * max(1.0, hi, -lo):
        e, c = np.unravel_index(int(np.argmin(flows.min(axis=0))), (E, C))
        t = int(np.argmin(flows[:, e, c]))
        raise SimulationError(f"negative flow {flows[t, e, c]:.6g} on {system.edge_name(e)} "
                              f"({system.channels[c]}) in {int(system.years[t])}")
    return flows, inflow_ext, lambdas, notes, stock_parts


def _by_stage(net: SameYear, plan, inflow_ext: np.ndarray, b_src: np.ndarray, stages: np.ndarray):
    """All years at once, stage by stage; a last solve with every stock's outflow known (in
    ``b_src``, which it consumes). Also returns the stocks' levels ``(S, T, C)`` and, year-major,
    outflows ``(T, S, C)`` in model years (one convolution per stage gives a stock's level and the
    outflow of its earlier cohorts; the age-0 part comes from its inflow)."""
    T, C, H = net.system.T, net.system.C, plan.H
    before = np.zeros((T, len(plan.stocks), C))  # outflow of earlier cohorts, model years (year-major)
    levels = np.zeros((len(plan.stocks), T, C))
    years = np.arange(T)
    n_stages = int(stages.max()) + 1 if stages.size else 0
    for p in range(n_stages + 1):
        lambdas = net.fresh_lambdas()
        which = np.flatnonzero(stages == p) if p < n_stages else np.arange(len(plan.stocks))
        last = p == n_stages  # b_src is not needed after the last solve: it becomes the flows
        b = b_src if p == 0 and not last else net.with_stock_constants(b_src, before, inplace=last)
        flows = net.solve(years, b, lambdas, only=which if p < n_stages else None, own=last)
        if p < n_stages or net.coupled:  # else the stages' inflows stand (the same sums)
            inflow_ext[which, H:] = net.stock_inflow(flows, which)
        if p < n_stages:
            lv, bf = plan.levels_and_before(inflow_ext, which)
            if len(which) == len(plan.stocks):  # every stock at once: the arrays themselves
                levels, before = lv[:, H:], bf[H:]
            else:
                levels[which], before[:, which] = lv[:, H:], bf[H:]
    before += net.age0.T[:, :, None] * inflow_ext[:, H:].transpose(1, 0, 2)  # the whole outflow
    return flows, lambdas, (levels, before)


def _year_by_year(net: SameYear, plan, inflow_ext: np.ndarray, b_src: np.ndarray):
    """One year after another (a stock whose outflow returns to it within the year)."""
    T, E, C = net.system.T, len(net.system.edges), net.system.C
    flows = np.zeros((T, E, C))
    lambdas = net.fresh_lambdas()
    all_stocks = np.arange(len(plan.stocks))
    for t in range(T):
        k = plan.H + t
        b = net.with_stock_constants(b_src[t : t + 1], plan.outflow_before(inflow_ext, k)[None, :, :])
        flows[t] = net.solve(np.array([t]), b, lambdas)[0]
        inflow_ext[:, k] = net.stock_inflow(flows[t : t + 1], all_stocks)[:, 0]
    return flows, lambdas


def _driven_series(system: System, plan, inflow_ext: np.ndarray, series: dict, notes: list[str]) -> None:
    """Stock-driven stocks set the series of their feeding source (which sends only to them), from
    their target and their own earlier cohorts (:meth:`circopt.stocks.StockPlan.driven_inflow`)."""
    for s, node_id in enumerate(plan.stocks):
        node = system.nodes[node_id]
        if node.target_stock is None:
            continue
        ed = system.edges[system.in_edges(node_id)[0]]
        gain = ed.coef * system.nodes[ed.source].composition.sum(axis=1)
        need, events = plan.driven_inflow(s, node.target_stock, inflow_ext, gain, node.negative_inflow)
        for t, amount, kind in events:
            year = int(system.years[t])
            if kind == "no_survival":
                raise SimulationError(f"stock-driven stock {node.name}: survival at age 0 is 0 in "
                                      f"{year}; inflow cannot be determined")
            if kind == "negative":
                raise SimulationError(
                    f"stock-driven stock {node.name} falls faster than its cohorts leave in "
                    f"{year}: it would need an inflow of {amount:.6g} {system.unit}; "
                    "set negative_inflow: clip to let the stock exceed its target instead")
            notes.append(f"{node.name}: negative inflow clipped to 0 in {year} ({amount:.6g})")
        series[ed.source] = need


#: flows beyond this cannot be summed, scaled or handed to a solver in double precision
MAX_VALUE = 1e300


def _refuse_huge(system: System, flows: np.ndarray, lo: float, hi: float) -> None:
    """Non-finite or astronomically large flows (or totals over channels) are refused (``lo``,
    ``hi``: the smallest and largest flow)."""
    from .result import channel_total

    if not flows.size or max(hi, -lo) * flows.shape[2] <= MAX_VALUE:
        return  # no total can be beyond it either (also False for NaN)
    tot = channel_total(flows)
    if max(hi, -lo, float(np.abs(tot).max())) <= MAX_VALUE:
        return
    huge = (~np.isfinite(flows) | (np.abs(flows) > MAX_VALUE)).any(axis=2)
    bad = ~np.isfinite(tot) | (np.abs(tot) > MAX_VALUE) | huge
    if bad.any():
        t, e = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise SimulationError(f"the flow {system.edge_name(e)} in {int(system.years[t])} is {tot[t, e]:.6g} "
                              f"{system.unit}: beyond {MAX_VALUE:g} (or not finite) it cannot be summed or solved in "
                              "double precision; check the inputs for huge values (or use a larger unit)")


def _check_free_sources(system: System, rules: FlowRules, notes: list[str]) -> None:
    """Baseline rule: a free source supplies what a blend's demands need of it, nothing else."""
    for eid in rules.edges_of("free").tolist():
        e = system.edges[eid]
        name = system.nodes[e.source].name
        if system.nodes[e.target].kind != "blend":
            raise SimulationError(f"free source {name} feeds {system.nodes[e.target].name}, not a blend: in a "
                                  "baseline simulation only a blend's demand can set a free source's amount "
                                  "(simulate given decisions instead: decisions=...)")
        bl = next(b for b in system.blends if b.node == e.target)
        if not bl.allocation[bl.inputs.index(e.id)].any():
            notes.append(f"free source {name} makes up no demand in the baseline (no allocation of it to an "
                         "output with a demand) and supplies nothing")


def _check_blend_outcomes(system: System, sh: Shares, lambdas, flows: np.ndarray, notes: list[str]) -> None:
    for bl in system.blends:
        for o in bl.outputs:
            got = flows[:, o.edge].sum(axis=1)
            # report years outside the output's composition window
            frac = np.divide(flows[:, o.edge, :], got[:, None], out=np.zeros_like(flows[:, o.edge, :]),
                             where=got[:, None] > 0)
            off = ((frac < o.window_lo - 1e-9) | (frac > o.window_hi + 1e-9)) & (got[:, None] > 0)
            if off.any():
                t, c = np.unravel_index(int(np.argmax(off)), off.shape)
                notes.append(f"blend {system.nodes[bl.node].name}: output {o.name} has {system.channels[c]} "
                             f"{frac[t, c]:.4g}, outside its window [{o.window_lo[t, c]:.4g}, "
                             f"{o.window_hi[t, c]:.4g}] in {int(system.years[t])} ({int(off.any(axis=1).sum())} "
                             "years); the simulation follows the given allocation, the optimiser enforces windows")
            if o.demand is None:
                continue
            short = o.demand - got
            bad = short > 1e-9 * np.maximum(1.0, o.demand)
            if bad.any():
                t = int(np.argmax(bad))
                notes.append(f"blend {system.nodes[bl.node].name}: output {o.name} gets {got[t]:.6g} of its demand "
                             f"{o.demand[t]:.6g} in {int(system.years[t])} (free inputs make up "
                             "only their allocated share of the shortfall)")
