"""Flagship case B (instances/global_aluminium): headline numbers, audit, the EV-path ordering,
the three practice scenarios, and what the surplus is made of.

The pinned values were computed from the instance when it was written (regression pins, rel
1e-6): a change means the instance or the engine changed, on purpose or not. Plausibility
bands against the sourced 2020 figures and the structural properties do not rely on the pins.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import circopt
from circopt.instance import helper_module, load_document
from circopt.stocks import stock_plan

pytestmark = pytest.mark.xfail(reason="instance being rebuilt without free mass (alu branch)", strict=False)

INSTANCE = Path(__file__).resolve().parents[1] / "instances" / "global_aluminium"
ALLOYS = ("sc", "pc", "w1", "w3", "w5", "w6")
ELEMENTS = ("Si", "Fe", "Cu", "Mg", "Mn", "Zn")
PATHS = ("baseline", "baseline_pledges", "baseline_netzero")  # IEA STEPS, APS, NZE


def _local(name: str):
    """This instance folder's helper module (see circopt.instance.helper_module)."""
    return helper_module(INSTANCE, name)


metrics = _local("metrics")

# regression pins (Mt/yr)
PIN_2020 = {"demand": 86.2, "primary": 68.24290503813477, "post_consumer_scrap": 17.4111071546795,
            "new_scrap": 15.274226384798535, "surplus": 0.0}
# 2040: (scrap surplus of the whole system, automotive surplus of the BILLY2023 balance)
PIN_SURPLUS_2040 = {"baseline": (6.0593998056149205, 4.26488496619764),
                    "baseline_pledges": (6.602292815341116, 4.853571456764506),
                    "baseline_netzero": (7.984084243359844, 6.343001239934481)}
# 2040 under STEPS: (scrap surplus, primary aluminium)
PIN_SCENARIOS_2040 = {"baseline": (6.0593998056149205, 121.8168026610239),
                      "sorting": (0.0, 115.64552030725557),
                      "sse": (4.124480602924431, 120.00209258560966),
                      "sorting_sse": (0.0, 115.48022717529105)}


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name in (*PATHS, "sorting", "sse", "sorting_sse"):
        res = circopt.simulate(INSTANCE, scenario=name)
        out[name] = (res, metrics.indicators(res))
    return out


# ---------------------------------------------------------------------------------------- loading
def test_every_scenario_loads_and_is_small():
    names = circopt.instance.scenario_names(INSTANCE)
    assert {"baseline", "baseline_pledges", "baseline_netzero", "sorting", "sse"} <= set(names)
    system = circopt.load(INSTANCE, "baseline")
    assert len(system.nodes) < 250 and len(system.edges) < 500  # families, not hand-written hundreds
    assert system.unit == "Mt" and list(system.years[[0, -1]]) == [2020, 2050]


def test_simulation_runs_in_seconds():
    t = time.perf_counter()
    circopt.simulate(INSTANCE, scenario="baseline")
    assert time.perf_counter() - t < 15.0


def test_legacy_stocks_have_the_lifetimes_of_their_product():
    # workaround (one history_stream per family): legacy_<product> must age like use[product]
    system = circopt.load(INSTANCE)
    for n in system.nodes:
        if n.family.startswith("legacy_") and n.kind == "stock":
            twin = system.nodes[system.node_id(f"use[{n.family.removeprefix('legacy_')}]")]
            assert n.lifetime == twin.lifetime, n.name


# ---------------------------------------------------------------------------------------- audit
@pytest.mark.parametrize("name", [*PATHS, "sorting", "sse", "sorting_sse"])
def test_audit_closes_for_total_and_every_element(runs, name):
    res, _ = runs[name]
    worst = res.audit.groupby("element").relative.max()
    assert set(worst.index) == {*ELEMENTS, "total"}
    assert (worst <= 1e-9).all(), worst


def test_every_element_is_conserved_over_the_horizon(runs):
    # system level: inputs (sources, history cohorts) = outputs (sinks) + stock change, per element
    res, _ = runs["baseline"]
    s = res.system
    F = res.flows_array.sum(axis=0)  # (E, C)
    src = sum(F[e] for i, n in enumerate(s.nodes) if n.kind == "source" for e in s.out_edges(i))
    snk = sum(F[e] for i, n in enumerate(s.nodes) if n.kind == "sink" for e in s.in_edges(i))
    plan = stock_plan(s)
    before = plan.stock_levels(plan.hist_inflow)[:, plan.H - 1, :].sum(axis=0)  # end of 2019
    stock_change = res.stock_array[:, -1, :].sum(axis=0) - before
    scale = np.abs(src).max()
    np.testing.assert_allclose(src - snk - stock_change, 0.0, atol=1e-9 * scale)


# ---------------------------------------------------------------------------------------- 2020
def test_2020_figures_are_plausible(runs):
    _, ind = runs["baseline"]
    y = ind.loc[2020]
    assert y.demand == pytest.approx(86.2, rel=1e-9)  # CRU_IAI2022, by construction
    assert 0.9 * 65.3 <= y.primary <= 1.1 * 65.3  # IAI_2020PROD
    assert 0.8 * 20.0 <= y.post_consumer_scrap <= 1.2 * 20.0  # IAI_MFM2021 (2019)
    assert 0.8 * 13.3 <= y.new_scrap <= 1.25 * 13.3  # derived from IAI_MFM2021
    assert y.surplus == pytest.approx(0.0, abs=1e-9)  # no surplus observed in 2020
    res, _ = runs["baseline"]
    st = res.stocks
    stock = st[(st.year == 2020) & (st.element == "total")].value.sum()
    assert 1000 <= stock <= 1400  # Mt; IAI: 1.2 Gt in use in 2021


def test_2020_pins(runs):
    _, ind = runs["baseline"]
    for key, want in PIN_2020.items():
        if want is not None:
            assert ind.loc[2020, key] == pytest.approx(want, rel=1e-6, abs=1e-9), key


# ---------------------------------------------------------------------------------------- EV paths
def test_surplus_2040_per_ev_path_pins(runs):
    for name, want in PIN_SURPLUS_2040.items():
        _, ind = runs[name]
        assert (ind.surplus[2040], ind.automotive_surplus[2040]) == pytest.approx(want, rel=1e-6, abs=1e-9), name


def test_baseline_surplus_grows_with_the_ev_share(runs):
    s = {name: runs[name][1].surplus for name in PATHS}
    years = [y for y in s["baseline"].index if y >= 2025]
    for y in years:
        assert s["baseline_pledges"][y] >= s["baseline"][y] - 1e-9, y
        assert s["baseline_netzero"][y] >= s["baseline_pledges"][y] - 1e-9, y
    # and it grows over time under every path once it appears
    for name in PATHS:
        ser = s[name].loc[2030:]
        assert (np.diff(ser.to_numpy()) >= -1e-9).all(), name
    assert s["baseline_netzero"][2040] > s["baseline"][2040] + 1.0  # a material difference


def test_surplus_comes_from_cast_bound_scrap(runs):
    # the surplus is scrap offered to secondary castings beyond their demand: what the cast
    # house refuses comes only from inputs offered to 'sc', and secondary castings are full
    res, ind = runs["baseline"]
    by_input = metrics.surplus_by_input(res).loc[2040]
    assert by_input.sum() == pytest.approx(ind.surplus[2040], rel=1e-9)
    assert by_input[[k for k in by_input.index if k.startswith("pool[") and k != "pool[sc]"]].abs().max() < 1e-9
    assert ind.sc_output[2040] == pytest.approx(
        pd.read_csv(INSTANCE / "data/paths/steps/alloy_demand.csv").set_index("year").sc[2040], rel=1e-9)


# ---------------------------------------------------------------------------------------- practice scenarios
def test_sorting_and_sse_reduce_the_surplus(runs):
    base, sort, sse, both = (runs[n][1] for n in ("baseline", "sorting", "sse", "sorting_sse"))
    assert sort.surplus[2040] < base.surplus[2040]
    assert sse.surplus[2040] < base.surplus[2040]
    assert both.surplus.sum() <= min(sort.surplus.sum(), sse.surplus.sum()) + 1e-9
    # SSE metal replaces primary; sorting lets wrought scrap back into wrought alloys
    assert sse.primary[2040] < base.primary[2040]
    assert sort.primary[2040] < base.primary[2040]
    for name, want in PIN_SCENARIOS_2040.items():
        _, ind = runs[name]
        assert (ind.surplus[2040], ind.primary[2040]) == pytest.approx(want, rel=1e-6, abs=1e-9), name


def test_sse_path_respects_the_capacity_growth_limit(runs):
    res, ind = runs["sse"]
    cap = np.array([max(0.0, 0.25 * (y - 2028)) for y in ind.index])
    assert (ind.sse_feed.to_numpy() <= cap + 1e-9).all()
    assert ind.sse_feed[2040] > 1.0
    # SSE metal: 96 % of the feed's Al at >= 99.9 % purity
    s = res.system
    F = res.flows_array
    e_out = metrics._edges(s, "sse_cell", "casthouse")
    e_in = metrics._edges(s, "sort", "sse_cell")
    out = F[20][e_out].sum(axis=0)
    feed = F[20][e_in].sum(axis=0)
    assert out[-1] == pytest.approx(0.96 * feed[-1], rel=1e-12)
    assert out[-1] / out.sum() >= 0.999


# ---------------------------------------------------------------------------------------- composition
def _relaxed_document():
    """The baseline with every composition window opened to [0, 1] and every scrap offered to
    every alloy in proportion to the alloy demands (what alloys without windows would accept)."""
    doc, folder, _ = load_document(INSTANCE, "baseline")
    doc = copy.deepcopy(doc)
    ch = doc["nodes"]["casthouse"]
    for out in ch["outputs"].values():
        out["window"] = {el: [0.0, 1.0] for el in ELEMENTS}
    dem = pd.read_csv(INSTANCE / "data/paths/steps/alloy_demand.csv").set_index("year")[list(ALLOYS)]
    share = dem.div(dem.sum(axis=1), axis=0)
    offer = {a: {int(y): float(share.loc[y, a]) for y in share.index} for a in ALLOYS}
    ch["allocation"] = {key: copy.deepcopy(offer) for key in ch["allocation"]}
    return doc, folder


def test_surplus_vanishes_when_alloys_accept_any_scrap(runs):
    # In simulation the surplus is what the offers send to an alloy beyond its demand. The
    # baseline offers follow the alloys' composition (mixed shredded scrap only to secondary
    # castings). Offering every scrap to every alloy in proportion to demand, as alloys without
    # windows would accept it, leaves no surplus in any year: the baseline surplus is a
    # composition (quality) effect, not more scrap than the world needs.
    doc, folder = _relaxed_document()
    res = circopt.simulate(circopt.build(doc, folder))
    ind = metrics.indicators(res)
    assert ind.surplus.max() == pytest.approx(0.0, abs=1e-9)
    assert runs["baseline"][1].surplus[2040] > 1.0
    assert res.max_relative_imbalance <= 1e-9
    # every alloy still gets exactly its demand, and the scrap is all used
    assert ind.post_consumer_scrap[2040] == pytest.approx(runs["baseline"][1].post_consumer_scrap[2040], rel=1e-9)
    assert ind.primary[2040] < runs["baseline"][1].primary[2040]


def test_products_enter_use_at_their_nominal_composition(runs):
    res, _ = runs["baseline"]
    s = res.system
    prod = pd.read_csv(INSTANCE / "data" / "products.csv").set_index("product")
    F = res.flows_array
    for e in metrics._edges(s, "assembly", "use"):
        p = s.nodes[s.edges[e].source].index["product"]
        comp = F[20, e, :-1] / F[20, e, :].sum()
        np.testing.assert_allclose(comp, prod.loc[p, list(ELEMENTS)].to_numpy(float), rtol=1e-9, atol=1e-15)
    # the assembly books (almost) nothing: products are made from exactly their recipe of alloys
    booked = F[:, metrics._edges(s, "assembly", "assembly_excess"), :].sum()
    assert booked < 1e-9 * F[:, metrics._edges(s, "assembly", "use"), :].sum()


# ---------------------------------------------------------------------------------------- optimisation
@pytest.fixture(scope="module")
def optimised():
    return circopt.optimise(circopt.load(INSTANCE, "baseline"), objective={"surplus": 1.0, "primary": 1e-3})


def _audit_closes(res):
    # the optimiser books nominal outputs' excess and deficit as the simulator does: the audit closes
    assert res.max_relative_imbalance <= 1e-9


def test_optimised_surplus_not_above_baseline(runs, optimised):
    _audit_closes(optimised)
    opt = metrics.indicators(optimised)
    assert opt.surplus.sum() <= runs["baseline"][1].surplus.sum() + 1e-6


def test_optimised_deployment_respects_limits(optimised):
    _audit_closes(optimised)
    ind = metrics.indicators(optimised)
    cap = np.array([max(0.0, 0.25 * (y - 2028)) for y in ind.index])
    assert (ind.sse_feed.to_numpy() <= cap + 1e-6).all()
    d = optimised.decisions
    lim = pd.read_csv(INSTANCE / "data" / "sorting_limits.csv")
    srt = d[(d.kind == "route") & (d.decision == "sorted")].copy()
    srt["product"] = srt.node.str.slice(5, -1)
    m = srt.merge(lim, on=["year", "product"])
    assert ((m.share >= m.today - 1e-6) | (m.input <= 1e-9)).all()
    assert ((m.share <= m.ceiling + 1e-6) | (m.input <= 1e-9)).all()


def test_optimised_melts_respect_the_windows(optimised):
    _audit_closes(optimised)
    assert metrics.window_violations(optimised, tol=1e-6).empty


def test_optimised_surplus_is_zero_without_windows():
    doc, folder = _relaxed_document()
    res = circopt.optimise(circopt.build(doc, folder), objective="surplus")
    _audit_closes(res)
    assert metrics.indicators(res).surplus.max() == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def lexicographic():
    # optimise_path.py, stage (a) then (b): minimal surplus, then minimal primary at that surplus
    mod = _local("optimise_path")
    first, res = mod.lexicographic(circopt.load(INSTANCE, "baseline"), "primary")
    return mod, first, res


def test_lexicographic_path_keeps_the_minimal_surplus_and_saves_primary(runs, lexicographic):
    mod, first, res = lexicographic
    _audit_closes(first)
    _audit_closes(res)
    s_min = float(first.objective_terms["surplus"])
    ind = metrics.indicators(res)
    assert ind.surplus.sum() == pytest.approx(s_min, abs=1e-5)
    assert ind.surplus.sum() <= mod.epsilon_of(s_min) + 1e-9
    assert ind.primary.sum() <= runs["baseline"][1].primary.sum() + 1e-6
    # the deployment stays within the instance's limits
    cap = np.array([max(0.0, 0.25 * (y - 2028)) for y in ind.index])
    assert (ind.sse_feed.to_numpy() <= cap + 1e-6).all()
