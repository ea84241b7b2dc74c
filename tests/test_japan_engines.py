"""Flagship case A (instances/japan_engines): headline numbers, hand-worked checks, audit,
and the ordering of the three reuse/remanufacturing scenarios.

The pinned values were computed from the instance when it was written (regression pins,
rel 1e-6): a change in them means the instance or the engine changed, on purpose or not.
The hand-worked checks (engine composition, the first-life end-of-life split) do not rely
on the pins.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import circopt
from circopt.instance import helper_module

INSTANCE = Path(__file__).resolve().parents[1] / "instances" / "japan_engines"


def _local(name: str):
    """This instance folder's helper module (see circopt.instance.helper_module)."""
    return helper_module(INSTANCE, name)


metrics = _local("metrics")

SCENARIOS = ("recycling_only", "current", "circular")
ELEMENTS = ("Fe", "Ni", "Cr", "Co")

# 50-year (2020-2070) shares of the initial mass: (losses of the 3 types, in use at end of 2070, export)
PINS = {
    "recycling_only": {
        "Fe": (0.21422398785152344, 0.44496288682228785, 0.3408131253261885),
        "Ni": (0.669182375227505, 0.02348003088100448, 0.3073375938914899),
        "Cr": (0.6710192571580615, 0.022038000501510235, 0.3069427423404285),
        "Co": (0.6691823752275051, 0.02348003088100448, 0.3073375938914901),
    },
    "current": {
        "Fe": (0.2016672199690429, 0.43175859681408196, 0.3677195156485162),
        "Ni": (0.6414731431382241, 0.023370075322711722, 0.33630211397070503),
        "Cr": (0.6432665782967366, 0.0219493114135511, 0.3359294427213539),
        "Co": (0.6414731431382238, 0.02337007532271173, 0.33630211397070536),
    },
    "circular": {
        "Fe": (0.18322508690999553, 0.41181048376856505, 0.4091907118722592),
        "Ni": (0.599987036397089, 0.023318740276212873, 0.38092050587751763),
        "Cr": (0.601715442831248, 0.021928363337500145, 0.38058247638207177),
        "Co": (0.5999870363970892, 0.023318740276212876, 0.3809205058775181),
    },
}


@pytest.fixture(scope="module")
def results():
    return {sc: circopt.simulate(circopt.load(INSTANCE, sc)) for sc in SCENARIOS}


@pytest.fixture(scope="module")
def headline(results):
    return {sc: metrics.indicators(r) for sc, r in results.items()}


# ---------------------------------------------------------------- structure and audit --------
def test_instance_and_scenarios_load():
    for sc in (None, *SCENARIOS, "circular_sorting", "recycling_only_physical", "current_physical",
               "circular_physical", "matrace2014_check"):
        s = circopt.load(INSTANCE, sc)
        assert s.elements == list(ELEMENTS)
        assert [int(s.years[0]), int(s.years[-1])] == [2020, 2075]
    s = circopt.load(INSTANCE)
    assert s.dimensions["life"] == [1, 2, 3]
    assert len(s.dimensions["product"]) == 8
    assert sum(1 for n in s.nodes if n.family == "products") == 16  # 8 categories x 2 grades


def test_base_instance_is_current():
    a = circopt.simulate(circopt.load(INSTANCE))
    b = circopt.simulate(circopt.load(INSTANCE, "current"))
    np.testing.assert_array_equal(a.flows_array, b.flows_array)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_audit(results, scenario):
    assert results[scenario].max_relative_imbalance <= 1e-9


# ---------------------------------------------------------------- regression pins ------------
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("element", ELEMENTS)
def test_headline_pins(headline, scenario, element):
    row = headline[scenario].loc[element]
    losses, in_use, export = PINS[scenario][element]
    assert row["losses"] == pytest.approx(losses, rel=1e-6)
    assert row["in_use"] == pytest.approx(in_use, rel=1e-6)
    assert row["export"] == pytest.approx(export, rel=1e-6)


def test_shares_close(headline):
    """in use + losses (3 types) + export = initial + new parts, per element."""
    for sc, df in headline.items():
        tot = df["in_use"] + df["losses"] + df["export"] - df["new_parts"]
        np.testing.assert_allclose(tot.to_numpy(), 1.0, atol=1e-10, err_msg=sc)


# ---------------------------------------------------------------- scenario ordering ----------
@pytest.mark.parametrize("element", ELEMENTS)
def test_more_reuse_less_loss(headline, element):
    ro, cu, ci = (headline[s].loc[element, "losses"] for s in SCENARIOS)
    assert ro > cu > ci


def test_physical_convention_ordering():
    """Without dilution booking the order holds too, and Cr > Fe > Ni as in the seed study."""
    ind = {sc: metrics.indicators(circopt.simulate(circopt.load(INSTANCE, f"{sc}_physical")))
           for sc in SCENARIOS}
    for el in ELEMENTS:
        ro, cu, ci = (ind[s].loc[el, "losses"] for s in SCENARIOS)
        assert ro > cu > ci
    lo = ind["recycling_only"]["losses"]
    assert lo["Cr"] > lo["Fe"] > lo["Ni"]


# ---------------------------------------------------------------- worked out by hand ---------
def test_engine_composition_by_hand():
    """Parts inventory (kg per engine) x grade compositions (wt %, midpoints of JIS ranges)."""
    mass = 23.10 + 15.85 + 7.5 + 2.5 + 2.5 + 0.4 + 0.4 + 0.1 + 0.08  # = 52.43 kg
    ni = 7.5 * 0.00125 + 2.5 * 0.00125 + 0.4 * 0.035 + 0.1 * 0.003  # SCM440, SCM420, SUH35, SUS440B
    cr = (7.5 + 2.5 + 2.5) * 0.0105 + 0.4 * 0.08 + 0.4 * 0.21 + 0.1 * 0.17  # SCM/SCr, SUH11, SUH35, SUS440B
    co = 0.08 * 0.125  # exhaust valve-seat inserts
    assert mass == pytest.approx(52.43)
    assert (ni, cr, co) == pytest.approx((0.0268, 0.26425, 0.01))
    doc = yaml.safe_load((INSTANCE / "instance.yaml").read_text())
    comp = doc["streams"]["engine_ferrous"]["composition"]
    assert comp["Ni"] == pytest.approx(ni / mass, rel=1e-5)
    assert comp["Cr"] == pytest.approx(cr / mass, rel=1e-5)
    assert comp["Co"] == pytest.approx(co / mass, rel=1e-5)
    # 2020 engine output: 4.5 M engines x 52.43 kg = 235.935 kt
    assert doc["nodes"]["engine_production"]["series"][2020] == pytest.approx(4.5e6 * mass / 1e6)
    # the script that writes these numbers agrees with the YAML
    assert _local("composition").main(check=True) == 0


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@pytest.mark.parametrize("year", [2020, 2035])
def test_first_life_eol_split_by_hand(results, year):
    """Flows out of the first life: normal(15.6, 4.68) lifetime, timing 'end':
    outflow(a) = P * (S(a-1) - S(a)), S(x) = Phi((15.6 - x) / 4.68), S(-1) = 1; then the
    end-of-life split of 'current' and remanufacturing's fixed coefficients."""
    res = results["current"]
    s = res.system
    a = year - 2020
    S = lambda x: 1.0 if x < 0 else _phi((15.6 - x) / 4.68)
    out_total = 235.935 * (S(a - 1) - S(a))
    t = year - 2020
    F = res.flows_array

    def flow(src, tgt):
        e = [ed.id for ed in s.edges if s.nodes[ed.source].name == src and s.nodes[ed.target].name == tgt]
        assert len(e) == 1, (src, tgt)
        return float(F[t, e[0], :].sum())

    reuse, reman, export = 0.07005, 0.021015, 0.2995
    recycle = 1 - reuse - reman - export
    assert flow("engine_eol[1]", "engines[2]") == pytest.approx(reuse * out_total, rel=1e-9)
    assert flow("engine_eol[1]", "remanufacturing[1]") == pytest.approx(reman * out_total, rel=1e-9)
    assert flow("engine_eol[1]", "export_for_reuse") == pytest.approx(export * out_total, rel=1e-9)
    assert flow("engine_eol[1]", "elv_scrap_recovery") == pytest.approx(recycle * out_total, rel=1e-9)
    assert flow("engine_eol[1]", "elv_landfill") == pytest.approx(0.0, abs=1e-15)
    assert flow("remanufacturing[1]", "engines[2]") == pytest.approx(0.9 * reman * out_total, rel=1e-9)
    assert flow("remanufacturing[1]", "elv_scrap_recovery") == pytest.approx(0.1 * reman * out_total, rel=1e-9)
    assert flow("reman_new_parts_1", "engines[2]") == pytest.approx(0.05 * reman * out_total, rel=1e-9)
    if year == 2020:
        # what leaves in the year of entry: the normal's mass below age 0 (Phi(-3.33) = 4.29e-4)
        assert out_total / 235.935 == pytest.approx(4.2906e-4, rel=1e-4)


def test_dilution_convention(results):
    """Ni, Cr, Co reaching carbon-steel remelting never reach carbon-steel products:
    99 % of Ni and Co, 90 % of Cr are booked as dilution, the rest as slag."""
    res = results["current"]
    s = res.system
    F = res.flows_array
    rc = s.node_id("remelting[carbon]")
    inflow = F[:, s.in_edges(rc), :].sum(axis=1)  # (T, C)
    out = {s.nodes[s.edges[e].target].name: F[:, e, :] for e in s.out_edges(rc)}
    busy = inflow.sum(axis=1) > 1e-9
    for c, el in enumerate(ELEMENTS):
        if el == "Fe":
            continue
        np.testing.assert_allclose(out["steel_market[carbon]"][busy, c], 0.0, atol=1e-15)
        tc = {"Ni": 0.99, "Cr": 0.90, "Co": 0.99}[el]
        np.testing.assert_allclose(out["dilution_loss"][busy, c], tc * inflow[busy, c], rtol=1e-9)


# ---------------------------------------------------------------- fate tracing ---------------
def test_trace_agrees_with_simulation(headline):
    from circopt.trace import trace

    fate = trace(circopt.load(INSTANCE, "recycling_only"))  # no remanufacturing: no new parts
    assert fate.share_sum_error() < 1e-9
    s = fate.summary.set_index(["element", "indicator"])["value"]
    for el in ELEMENTS:
        assert s[(el, "in_use_after_50y")] == pytest.approx(headline["recycling_only"].loc[el, "in_use"], rel=1e-9)


# ---------------------------------------------------------------- helper scripts -------------
def test_sensitivity_groups_cover_every_range():
    sensitivity = _local("sensitivity")
    system = circopt.load(INSTANCE)
    groups = sensitivity.parameter_groups(system.ranges)
    keys = [k for ks in groups.values() for k in ks]
    assert sorted(keys) == sorted(system.ranges)
    assert (INSTANCE / "sensitivity.csv").is_file()


# ---------------------------------------------------------------- optimiser ------------------
def _three_type_losses(res) -> float:
    cum = res.cumulative_losses()
    sel = cum[cum.loss_type.isin(metrics.LOSS_TYPES) & (cum.element == "total")]
    return float(sel.value.sum())


def test_optimised_losses_not_above_circular(results):
    pytest.importorskip("circopt.model")
    opt = circopt.optimise(circopt.load(INSTANCE), objective="losses")
    circ = results["circular"]
    # circular's shares lie inside the bounds, so the optimum cannot lose more
    assert _three_type_losses(opt) <= _three_type_losses(circ) * (1 + 1e-6)


def test_optimised_audit():
    opt = circopt.optimise(circopt.load(INSTANCE), objective="losses")
    assert opt.max_relative_imbalance <= 1e-9


def test_per_element_optimum_not_above_circular_or_weighted(headline):
    """optimise_elements.py: the optimum for element X loses no more of X than 'circular'
    (whose shares lie within the bounds) nor than the optimum of the weighted sum (another
    feasible mix); every run's audit closes."""
    pytest.importorskip("circopt.model")
    opt = _local("optimise_elements")
    system = circopt.load(INSTANCE)
    weights = opt.runs(system)
    m0 = opt.initial_masses(system)
    assert weights["weighted"] == pytest.approx({el: 1.0 / m0[el] for el in ELEMENTS})
    ind = {}
    for run, w in weights.items():
        res = opt.optimise(system, w)  # asserts the audit <= 1e-9
        assert res.max_relative_imbalance <= 1e-9
        ind[run] = metrics.indicators(res)
    for el in ELEMENTS:
        own = ind[el].loc[el, "losses"]
        assert own <= headline["circular"].loc[el, "losses"] * (1 + 1e-6), el
        assert own <= ind["weighted"].loc[el, "losses"] * (1 + 1e-6), el
        for other in ELEMENTS:
            assert own <= ind[other].loc[el, "losses"] * (1 + 1e-6), (el, other)
