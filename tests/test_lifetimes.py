"""Tests of circopt.lifetimes: hand-worked numbers, ODYM's and flodym's conventions, properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from circopt.errors import InstanceError
from circopt.lifetimes import (
    CustomPMF,
    Fixed,
    FoldedNormal,
    Lifetime,
    LogNormal,
    Normal,
    StockFlows,
    Weibull,
    inflow_driven,
    initial_stock_flows,
    make_lifetime,
    outflow_kernel,
    stock_driven,
    survival_kernel,
)

SQRT2 = math.sqrt(2.0)


def phi_upper(z: float) -> float:
    """P(Z > z) for a standard normal, from math.erfc."""
    return 0.5 * math.erfc(z / SQRT2)


def close_rel(a: np.ndarray, b: np.ndarray, rel: float = 1e-12) -> bool:
    """|a - b| <= rel * max(1, max|b|): 1e-12 of the series' magnitude."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.max(np.abs(a - b)) <= rel * max(1.0, float(np.max(np.abs(b)))))


# ------------------------------------------------------------------------------------------------
# kernels: hand-worked numbers for every model
# ------------------------------------------------------------------------------------------------
def test_fixed_end_kernels_by_hand():
    np.testing.assert_array_equal(survival_kernel(Fixed(3), 5), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(outflow_kernel(Fixed(3), 5), [0, 0, 0, 1, 0])


def test_fixed_fractional_mean_end_vs_middle():
    # end: survives while a < 2.5 -> ages 0,1,2; middle: while a + 0.5 < 2.5 -> ages 0,1
    np.testing.assert_array_equal(survival_kernel(Fixed(2.5), 4, "end"), [1, 1, 1, 0])
    np.testing.assert_array_equal(survival_kernel(Fixed(2.5), 4, "middle"), [1, 1, 0, 0])
    np.testing.assert_array_equal(outflow_kernel(Fixed(2.5), 4, "middle"), [0, 0, 1, 0])


@pytest.mark.parametrize("timing,offset", [("end", 0.0), ("middle", 0.5)])
def test_normal_survival_closed_form(timing, offset):
    sf = survival_kernel(Normal(10, 2), 15, timing)
    for a in (0, 5, 9, 10, 12, 14):
        assert sf[a] == pytest.approx(phi_upper((a + offset - 10) / 2), rel=1e-13, abs=1e-300)
    # hand numbers: S(10) = 0.5, S(12) = P(Z > 1) = 0.158655253931457
    assert survival_kernel(Normal(10, 2), 13)[10] == pytest.approx(0.5, abs=1e-15)
    assert survival_kernel(Normal(10, 2), 13)[12] == pytest.approx(0.158655253931457, abs=1e-14)


@pytest.mark.parametrize("timing,offset", [("end", 0.0), ("middle", 0.5)])
def test_lognormal_survival_closed_form(timing, offset):
    mean, sd = 10.0, 5.0
    sigma2 = math.log(1 + (sd / mean) ** 2)
    mu = math.log(mean) - sigma2 / 2
    sf = survival_kernel(LogNormal(mean, sd), 30, timing)
    assert (timing == "end") == (sf[0] == 1.0)  # S(0) = 1 exactly
    for a in (1, 5, 8, 10, 20, 29):
        x = a + offset
        assert sf[a] == pytest.approx(phi_upper((math.log(x) - mu) / math.sqrt(sigma2)), rel=1e-12)
    # the median exp(mu) survives with probability 1/2
    assert LogNormal(mean, sd).survival(np.array([math.exp(mu)]))[0] == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("timing,offset", [("end", 0.0), ("middle", 0.5)])
def test_weibull_survival_closed_form(timing, offset):
    sf = survival_kernel(Weibull(shape=2, scale=10), 25, timing)
    for a in (0, 3, 5, 10, 20):
        assert sf[a] == pytest.approx(math.exp(-(((a + offset) / 10) ** 2)), rel=1e-14)
    assert survival_kernel(Weibull(2, 10), 11)[10] == pytest.approx(math.exp(-1), rel=1e-15)
    assert survival_kernel(Weibull(2, 10), 11)[5] == pytest.approx(math.exp(-0.25), rel=1e-15)


@pytest.mark.parametrize("timing,offset", [("end", 0.0), ("middle", 0.5)])
def test_folded_normal_survival_closed_form(timing, offset):
    mean, sd = 2.0, 3.0
    sf = survival_kernel(FoldedNormal(mean, sd), 12, timing)
    for a in range(12):
        x = a + offset
        expected = phi_upper((x - mean) / sd) + phi_upper((x + mean) / sd)
        assert sf[a] == pytest.approx(expected, rel=1e-13)
    assert survival_kernel(FoldedNormal(mean, sd), 1)[0] == 1.0  # |Y| > 0 almost surely


def test_weibull_from_mean_sd_reproduces_moments():
    wb = Weibull.from_mean_sd(10, 3)
    k, lam = wb.shape, wb.scale
    assert lam * math.gamma(1 + 1 / k) == pytest.approx(10, rel=1e-12)
    var = lam**2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)
    assert math.sqrt(var) == pytest.approx(3, rel=1e-10)
    # cv = 1 is the exponential distribution: shape 1, scale = mean
    expo = Weibull.from_mean_sd(7, 7)
    assert expo.shape == pytest.approx(1.0, rel=1e-10)
    assert expo.scale == pytest.approx(7.0, rel=1e-10)
    # per cohort
    wbc = Weibull.from_mean_sd([10, 7], [3, 7])
    assert wbc.cohort_dependent and wbc.n_cohorts == 2
    assert wbc.shape[0] == pytest.approx(k) and wbc.shape[1] == pytest.approx(1.0, rel=1e-10)


def test_custom_pmf_kernels_by_hand():
    lt = CustomPMF([0.1, 0.2, 0.3])  # 0.4 never leaves
    for timing in ("end", "middle"):
        np.testing.assert_allclose(survival_kernel(lt, 5, timing), [0.9, 0.7, 0.4, 0.4, 0.4], atol=1e-15)
        np.testing.assert_allclose(outflow_kernel(lt, 5, timing), [0.1, 0.2, 0.3, 0, 0], atol=1e-15)
    assert lt.survival(np.array([-1.0, 0.0, 1.7, 99.0])).tolist() == pytest.approx([1, 0.9, 0.7, 0.4])


def test_sd_zero_is_fixed_without_division_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lt in (Normal(5, 0), LogNormal(5, 0), FoldedNormal(5, 0)):
            for timing in ("end", "middle"):
                np.testing.assert_array_equal(survival_kernel(lt, 8, timing), survival_kernel(Fixed(5), 8, timing))


def test_cohort_dependent_kernels():
    lt = Normal(mean=[10, 20, 30], sd=2)
    assert lt.cohort_dependent and lt.n_cohorts == 3 and not Normal(10, 2).cohort_dependent
    sf = survival_kernel(lt, 40)
    assert sf.shape == (3, 40)
    np.testing.assert_array_equal(sf[1], survival_kernel(Normal(20, 2), 40))
    np.testing.assert_array_equal(lt.survival(np.arange(40.0), cohort_index=2), sf[2])
    assert lt.at_cohort(1) == Normal(20, 2)
    assert outflow_kernel(CustomPMF([[0.5, 0.5], [1.0, 0.0]]), 3).tolist() == [[0.5, 0.5, 0], [1, 0, 0]]


def test_lognormal_from_odym_matches_odym_formula():
    # ODYM 1.x: LT_LN = log(m / sqrt(1 + m*m/(s*s))), SG_LN = sqrt(log(1 + m*m/(s*s)))
    m, s = 10.0, 4.0
    lt_ln = np.log(m / np.sqrt(1 + m * m / (s * s)))
    sg_ln = np.sqrt(np.log(1 + m * m / (s * s)))
    odym_sf = scipy.stats.lognorm.sf(np.arange(50), s=sg_ln, loc=0, scale=np.exp(lt_ln))
    np.testing.assert_allclose(survival_kernel(LogNormal.from_odym(m, s), 50), odym_sf, rtol=1e-12, atol=1e-15)
    # and differs from the moment-matched LogNormal(m, s) unless m == s
    assert not np.allclose(survival_kernel(LogNormal(m, s), 50), odym_sf, atol=1e-3)
    np.testing.assert_allclose(
        survival_kernel(LogNormal.from_odym(20, 20), 50), survival_kernel(LogNormal(20, 20), 50), rtol=1e-13
    )


# ------------------------------------------------------------------------------------------------
# inflow-driven, initial stock, stock-driven: hand-worked
# ------------------------------------------------------------------------------------------------
def test_inflow_driven_fixed_by_hand():
    r = inflow_driven(np.array([10.0, 0.0, 5.0]), Fixed(2))
    assert isinstance(r, StockFlows)
    np.testing.assert_array_equal(r.stock, [10, 10, 5])  # cohort 0 leaves at age 2 (year 2)
    np.testing.assert_array_equal(r.outflow, [0, 0, 10])
    np.testing.assert_array_equal(r.inflow, [10, 0, 5])


def test_inflow_driven_custom_pmf_by_hand():
    # half leaves in the entry year, half in the next: sf = [0.5, 0], pdf = [0.5, 0.5]
    r = inflow_driven(np.array([10.0, 0.0, 5.0]), CustomPMF([0.5, 0.5]))
    np.testing.assert_allclose(r.stock, [5, 0, 2.5])
    np.testing.assert_allclose(r.outflow, [5, 5, 2.5])


def test_inflow_driven_cohort_arrays_by_hand():
    r = inflow_driven(np.array([10.0, 0.0, 5.0]), Fixed(2), cohort_arrays=True)
    # [time, cohort]
    np.testing.assert_array_equal(r.stock_by_cohort, [[10, 0, 0], [10, 0, 0], [0, 0, 5]])
    np.testing.assert_array_equal(r.outflow_by_cohort, [[0, 0, 0], [0, 0, 0], [10, 0, 0]])
    # cohort-dependent: cohort 0 lives 1 year, cohorts 1, 2 live 3 years
    r = inflow_driven(np.array([10.0, 4.0, 5.0]), Fixed([1, 3, 3]), cohort_arrays=True)
    np.testing.assert_array_equal(r.stock, [10, 4, 9])
    np.testing.assert_array_equal(r.outflow, [0, 10, 0])
    np.testing.assert_array_equal(r.stock_by_cohort, [[10, 0, 0], [0, 4, 0], [0, 4, 5]])


def test_initial_stock_by_hand():
    # ages 0 and 1 at the end of year -1 (entered years -1, -2); fixed lifetime 3
    s, o = initial_stock_flows(np.array([4.0, 2.0]), Fixed(3), 4)
    np.testing.assert_array_equal(s, [6, 4, 0, 0])
    np.testing.assert_array_equal(o, [0, 2, 4, 0])
    # conditional survival: sf = [0.5, 0.25, 0]; 8 of age 0 came from 16 entering in year -1
    s, o = initial_stock_flows(np.array([8.0]), CustomPMF([0.5, 0.25, 0.25]), 3)
    np.testing.assert_allclose(s, [4, 0, 0])
    np.testing.assert_allclose(o, [4, 4, 0])


def test_inflow_driven_with_initial_stock_by_hand():
    r = inflow_driven(np.array([10.0, 0.0, 5.0]), Fixed(2), initial_stock=np.array([3.0]))
    np.testing.assert_array_equal(r.stock, [13, 10, 5])
    np.testing.assert_array_equal(r.outflow, [0, 3, 10])


def test_initial_stock_at_impossible_age_raises():
    with pytest.raises(InstanceError, match=r"initial_stock\[age 2\].*survival 0"):
        initial_stock_flows(np.array([1.0, 0.0, 3.0]), Fixed(2), 5)
    # zero stock at an age the lifetime does not reach is fine
    s, _ = initial_stock_flows(np.array([1.0, 0.0, 0.0]), Fixed(2), 3)
    np.testing.assert_array_equal(s, [1, 0, 0])


def test_stock_driven_by_hand():
    r = stock_driven(np.array([10.0, 10.0, 12.0, 12.0, 9.0]), Fixed(2))
    np.testing.assert_array_equal(r.inflow, [10, 0, 12, 0, 9])
    np.testing.assert_array_equal(r.outflow, [0, 0, 10, 0, 12])
    np.testing.assert_array_equal(r.stock, [10, 10, 12, 12, 9])
    # sf = [0.5, 0]: every year's stock must be rebuilt, at twice its size
    r = stock_driven(np.array([5.0, 5.0, 5.0]), CustomPMF([0.5, 0.5]))
    np.testing.assert_allclose(r.inflow, [10, 10, 10])
    np.testing.assert_allclose(r.outflow, [5, 10, 10])


def test_stock_driven_with_initial_stock_by_hand():
    # initial stock [4, 2] leaves [6, 4, 0]; target 8 every year
    r = stock_driven(np.array([8.0, 8.0, 8.0]), Fixed(3), initial_stock=np.array([4.0, 2.0]))
    np.testing.assert_array_equal(r.inflow, [2, 2, 4])
    np.testing.assert_array_equal(r.outflow, [0, 2, 4])
    np.testing.assert_array_equal(r.stock, [8, 8, 8])


def test_stock_driven_falling_stock_error_and_clip():
    with pytest.raises(InstanceError, match=r"year index 1.*inflow of -6"):
        stock_driven(np.array([10.0, 4.0, 4.0]), Fixed(3))
    r = stock_driven(np.array([10.0, 4.0, 4.0, 4.0]), Fixed(3), negative_inflow="clip")
    np.testing.assert_array_equal(r.inflow, [10, 0, 0, 4])
    np.testing.assert_array_equal(r.stock, [10, 10, 10, 4])  # above target until cohort 0 leaves
    np.testing.assert_array_equal(r.outflow, [0, 0, 0, 10])
    # the error names the series
    with pytest.raises(InstanceError, match=r"series index \(1,\)"):
        stock_driven(np.array([[1.0, 1.0], [10.0, 4.0]]), Fixed(3))


def test_stock_driven_rounding_negative_is_not_an_error():
    stock = np.full(40, 1e6)
    r = stock_driven(stock, Normal(8, 2), negative_inflow="error")
    assert (r.inflow >= 0).all()
    assert close_rel(r.stock, stock)


def test_stock_driven_zero_survival_at_entry_raises():
    with pytest.raises(InstanceError, match="survival at age 0 is 0"):
        stock_driven(np.array([1.0, 1.0]), CustomPMF([1.0]))
    with pytest.raises(InstanceError, match="survival at age 0 is 0"):
        stock_driven(np.array([1.0, 1.0]), Fixed(0.3), timing="middle")


def test_vectorised_over_leading_dims():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, (2, 3, 50))
    lt = LogNormal(12, 5)
    r = inflow_driven(x, lt, "middle")
    assert r.stock.shape == (2, 3, 50)
    for i in range(2):
        for j in range(3):
            rij = inflow_driven(x[i, j], lt, "middle")
            assert close_rel(r.stock[i, j], rij.stock) and close_rel(r.outflow[i, j], rij.outflow)
    s = stock_driven(r.stock, lt, "middle")
    assert close_rel(s.inflow, x, 1e-9)


# ------------------------------------------------------------------------------------------------
# ODYM conventions (inline re-implementation of ODYM's DynamicStockModel loops)
# ------------------------------------------------------------------------------------------------
def odym_sf(lt: dict, n_t: int) -> np.ndarray:
    """ODYM's compute_sf for scalar parameters: sf[m, c] = ProbDist.sf(m - c)."""
    sf = np.zeros((n_t, n_t))
    for m in range(n_t):
        ages = np.arange(0, n_t - m)
        kind = lt["Type"]
        if kind == "Fixed":
            sf[m:, m] = np.multiply(1, ages < lt["Mean"])
        elif kind == "Normal":
            sf[m:, m] = scipy.stats.norm.sf(ages, loc=lt["Mean"], scale=lt["StdDev"])
        elif kind == "FoldedNormal":
            sf[m:, m] = scipy.stats.foldnorm.sf(ages, lt["Mean"] / lt["StdDev"], 0, scale=lt["StdDev"])
        elif kind == "LogNormal":
            mm, ss = lt["Mean"], lt["StdDev"]
            lt_ln = np.log(mm / np.sqrt(1 + mm * mm / (ss * ss)))
            sg_ln = np.sqrt(np.log(1 + mm * mm / (ss * ss)))
            sf[m:, m] = scipy.stats.lognorm.sf(ages, s=sg_ln, loc=0, scale=np.exp(lt_ln))
        elif kind == "Weibull":
            sf[m:, m] = scipy.stats.weibull_min.sf(ages, c=lt["Shape"], loc=0, scale=lt["Scale"])
    return sf


def odym_inflow_driven(i: np.ndarray, sf: np.ndarray):
    n_t = len(i)
    s_c = np.einsum("c,tc->tc", i, sf)
    o_c = np.zeros((n_t, n_t))
    o_c[1:, :] = -1 * np.diff(s_c, n=1, axis=0)
    o_c[np.diag_indices(n_t)] = i - np.diag(s_c)
    return s_c, o_c


ODYM_CASES = [
    ({"Type": "Fixed", "Mean": 7.0}, Fixed(7)),
    ({"Type": "Normal", "Mean": 12.0, "StdDev": 3.0}, Normal(12, 3)),
    ({"Type": "FoldedNormal", "Mean": 4.0, "StdDev": 6.0}, FoldedNormal(4, 6)),
    ({"Type": "LogNormal", "Mean": 12.0, "StdDev": 5.0}, LogNormal.from_odym(12, 5)),
    ({"Type": "LogNormal", "Mean": 20.0, "StdDev": 20.0}, LogNormal(20, 20)),
    ({"Type": "Weibull", "Shape": 1.7, "Scale": 11.0}, Weibull(1.7, 11)),
]


@pytest.mark.parametrize("odym_lt,lt", ODYM_CASES, ids=[c[0]["Type"] for c in ODYM_CASES])
def test_odym_inflow_driven_reproduced(odym_lt, lt):
    n_t = 40
    i = np.random.default_rng(2).uniform(0, 100, n_t)
    sf = odym_sf(odym_lt, n_t)
    s_c, o_c = odym_inflow_driven(i, sf)
    r = inflow_driven(i, lt, "end", cohort_arrays=True)
    assert close_rel(r.stock, s_c.sum(axis=1)) and close_rel(r.outflow, o_c.sum(axis=1))
    assert close_rel(r.stock_by_cohort, s_c) and close_rel(r.outflow_by_cohort, o_c)
    # ODYM's survival at age 0 is sf(0); the outflow is minus the change of survival
    np.testing.assert_allclose(survival_kernel(lt, n_t), sf[:, 0], rtol=1e-12, atol=1e-15)
    pdf = outflow_kernel(lt, n_t)
    assert pdf[0] == pytest.approx(1 - sf[0, 0], abs=1e-15)
    np.testing.assert_allclose(pdf[1:], -np.diff(sf[:, 0]), rtol=1e-12, atol=1e-15)


def test_odym_numbers_normal_worked_example():
    # Normal(mean 4, sd 1), inflow [1, 1, 1]: sf(0..2) = [P(Z > -4), P(Z > -3), P(Z > -2)]
    sf0, sf1, sf2 = phi_upper(-4), phi_upper(-3), phi_upper(-2)
    r = inflow_driven(np.ones(3), Normal(4, 1))
    np.testing.assert_allclose(r.stock, [sf0, sf0 + sf1, sf0 + sf1 + sf2], rtol=1e-14)
    np.testing.assert_allclose(
        r.outflow, [1 - sf0, (1 - sf0) + (sf0 - sf1), (1 - sf0) + (sf0 - sf1) + (sf1 - sf2)], rtol=1e-13
    )


def test_odym_stock_driven_and_initial_stock_reproduced():
    n_t = 30
    lt_odym, lt = {"Type": "Normal", "Mean": 8.0, "StdDev": 2.0}, Normal(8, 2)
    sf = odym_sf(lt_odym, n_t)
    s = np.linspace(100, 250, n_t)
    # ODYM compute_stock_driven_model (NegativeInflowCorrect=False)
    i = np.zeros(n_t)
    s_c = np.zeros((n_t, n_t))
    i[0] = s[0] / sf[0, 0]
    s_c[:, 0] = i[0] * sf[:, 0]
    for m in range(1, n_t):
        i[m] = (s[m] - s_c[m, :].sum()) / sf[m, m]
        s_c[m:, m] = i[m] * sf[m:, m]
    o = i - np.diff(s, prepend=0)
    r = stock_driven(s, lt)
    assert close_rel(r.inflow, i) and close_rel(r.outflow, o, 1e-11)
    # ODYM compute_evolution_initialstock: s_c[t, c] = stock0[c] * sf[t, c] / sf[switch, c]
    stock0_by_cohort = np.array([5.0, 3.0, 4.0, 6.0])  # cohorts 0..3, measured at the end of year 3
    switch = 3
    s_c_future = stock0_by_cohort * sf[switch:, :4] / sf[switch, :4]
    age_structure = stock0_by_cohort[::-1]  # age 0 = cohort 3
    st_, _ = initial_stock_flows(age_structure, lt, n_t - switch - 1)
    assert close_rel(st_, s_c_future[1:].sum(axis=1))


# ------------------------------------------------------------------------------------------------
# flodym agreement (flodym 1.1: inflow_at="end" = timing "end", default "middle" = timing "middle")
# ------------------------------------------------------------------------------------------------
flodym = pytest.importorskip("flodym")


def flodym_dims(n_t: int, n_s: int):
    return flodym.DimensionSet(
        dim_list=[
            flodym.Dimension(name="time", letter="t", items=list(range(n_t))),
            flodym.Dimension(name="series", letter="s", items=list(range(n_s))),
        ]
    )


FLODYM_CASES = [
    ("FixedLifetime", {"mean": 9.5}, Fixed(9.5)),
    ("NormalLifetime", {"mean": 15.0, "std": 4.0}, Normal(15, 4)),
    ("FoldedNormalLifetime", {"mean": 3.0, "std": 5.0}, FoldedNormal(3, 5)),
    ("LogNormalLifetime", {"mean": 15.0, "std": 7.0}, LogNormal(15, 7)),
    ("WeibullLifetime", {"weibull_shape": 2.3, "weibull_scale": 14.0}, Weibull(2.3, 14)),
]


@pytest.mark.parametrize("timing", ["end", "middle"])
@pytest.mark.parametrize("cls,kw,lt", FLODYM_CASES, ids=[c[0] for c in FLODYM_CASES])
def test_flodym_inflow_driven_agreement(cls, kw, lt, timing):
    n_t, n_s = 60, 4
    dims = flodym_dims(n_t, n_s)
    x = np.random.default_rng(3).uniform(0, 1000, (n_s, n_t))
    model = getattr(flodym, cls)(dims=dims, inflow_at=timing, **kw)
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=model)
    dsm.inflow.values[...] = x.T
    dsm.compute()
    r = inflow_driven(x, lt, timing)
    assert close_rel(r.stock, dsm.stock.values.T) and close_rel(r.outflow, dsm.outflow.values.T)
    np.testing.assert_allclose(survival_kernel(lt, n_t, timing), model.sf[:, 0, 0], rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("timing", ["end", "middle"])
def test_flodym_cohort_dependent_and_stock_driven_agreement(timing):
    n_t, n_s = 40, 3
    dims = flodym_dims(n_t, n_s)
    mean = np.linspace(8, 20, n_t)
    model = flodym.NormalLifetime(dims=dims, inflow_at=timing, mean=mean[:, None], std=2.5)
    x = np.random.default_rng(4).uniform(0, 50, (n_s, n_t))
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=model)
    dsm.inflow.values[...] = x.T
    dsm.compute()
    lt = Normal(mean, 2.5)
    r = inflow_driven(x, lt, timing)
    assert close_rel(r.stock, dsm.stock.values.T) and close_rel(r.outflow, dsm.outflow.values.T)
    sdsm = flodym.StockDrivenDSM(dims=dims, lifetime_model=model)
    sdsm.stock.values[...] = dsm.stock.values
    sdsm.compute()
    s = stock_driven(dsm.stock.values.T, lt, timing)
    assert close_rel(s.inflow, sdsm.inflow.values.T, 1e-10)
    assert close_rel(s.outflow, sdsm.outflow.values.T, 1e-10)


# ------------------------------------------------------------------------------------------------
# properties (hypothesis)
# ------------------------------------------------------------------------------------------------
@st.composite
def lifetimes(draw) -> Lifetime:
    kind = draw(st.sampled_from(["fixed", "normal", "folded", "lognormal", "weibull", "custom"]))
    mean = draw(st.floats(0.5, 60))
    if kind == "fixed":
        return Fixed(mean)
    if kind == "normal":
        return Normal(mean, draw(st.floats(0, mean / 3.2)))
    if kind == "folded":
        return FoldedNormal(mean, draw(st.floats(0, 3 * mean)))
    if kind == "lognormal":
        return LogNormal(mean, draw(st.floats(0, 2 * mean)))
    if kind == "weibull":
        return Weibull(draw(st.floats(0.3, 8)), draw(st.floats(0.5, 60)))
    pmf = np.array(draw(st.lists(st.floats(0, 1), min_size=1, max_size=30)))
    return CustomPMF(pmf / max(1.0, pmf.sum()) * draw(st.floats(0.5, 1)))


inflows = st.lists(st.floats(0, 1e4), min_size=1, max_size=120).map(np.array)


@settings(max_examples=60, deadline=None)
@given(lt=lifetimes(), timing=st.sampled_from(["end", "middle"]), n=st.integers(1, 400))
def test_kernels_are_valid(lt, timing, n):
    sf = survival_kernel(lt, n, timing)
    pdf = outflow_kernel(lt, n, timing)
    assert ((0 <= sf) & (sf <= 1)).all() and (pdf >= 0).all()
    assert (np.diff(sf) <= 0).all()  # survival never increases
    assert np.cumsum(pdf) == pytest.approx(1 - sf, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    lt=lifetimes(),
    x=inflows,
    timing=st.sampled_from(["end", "middle"]),
    init=st.lists(st.floats(0, 1e3), max_size=5),
)
def test_mass_conservation(lt, x, timing, init):
    init = np.array(init) if init else None
    if init is not None:
        sf = survival_kernel(lt, len(init), timing)
        init = np.where(sf > 0, init, 0.0)  # only ages the lifetime reaches
    r = inflow_driven(x, lt, timing, initial_stock=init)
    total_in = x.sum() + (init.sum() if init is not None else 0.0)
    assert total_in == pytest.approx(r.stock[-1] + r.outflow.sum(), rel=1e-10, abs=1e-8)
    # year by year: stock change = inflow - outflow
    prev = np.concatenate([[init.sum() if init is not None else 0.0], r.stock[:-1]])
    np.testing.assert_allclose(r.stock - prev, x - r.outflow, atol=1e-8 * max(1, total_in))


@settings(max_examples=40, deadline=None)
@given(
    mean=st.floats(2, 80),
    cv=st.floats(0.05, 0.3),
    x=st.lists(st.floats(0, 1e3), min_size=2, max_size=150).map(np.array),
    timing=st.sampled_from(["end", "middle"]),
    kind=st.sampled_from([Normal, LogNormal, Fixed]),
)
def test_fast_path_equals_cohort_matrix(mean, cv, x, timing, kind):
    n_t = len(x)
    args = (mean,) if kind is Fixed else (mean, cv * mean)
    fast = inflow_driven(x, kind(*args), timing, cohort_arrays=True)
    per_cohort = (np.full(n_t, mean),) + (() if kind is Fixed else (np.full(n_t, cv * mean),))
    slow = inflow_driven(x, kind(*per_cohort), timing, cohort_arrays=True)
    assert close_rel(fast.stock, slow.stock) and close_rel(fast.outflow, slow.outflow)
    assert close_rel(fast.stock_by_cohort, slow.stock_by_cohort)
    assert close_rel(fast.stock_by_cohort.sum(axis=-1), fast.stock)


@settings(max_examples=40, deadline=None)
@given(
    mean=st.floats(5, 40),
    cv=st.floats(0.1, 0.8),
    kind=st.sampled_from(["normal", "lognormal", "weibull"]),
)
def test_mean_is_recovered_on_long_horizons(mean, cv, kind):
    # smooth on the scale of a year (sd >= 1.5 years) so the yearly discretisation is accurate
    cv = max(cv, 1.5 / mean)
    if kind == "normal":
        cv = min(cv, 0.3)
        lt = Normal(mean, cv * mean)
    elif kind == "lognormal":
        lt = LogNormal(mean, cv * mean)
    else:
        lt = Weibull.from_mean_sd(mean, cv * mean)
    n = int(mean * 60) + 200
    ages = np.arange(n)
    end = outflow_kernel(lt, n, "end")
    middle = outflow_kernel(lt, n, "middle")
    # end: outflow counted at mid-year, half a year after the end-of-year entry -> age a - 0.5
    assert (end * (ages - 0.5)).sum() == pytest.approx(mean, abs=0.02 + 1e-3 * mean)
    assert (middle * ages).sum() == pytest.approx(mean, abs=0.02 + 1e-3 * mean)


@settings(max_examples=30, deadline=None)
@given(lt=lifetimes(), timing=st.sampled_from(["end", "middle"]), x=inflows)
def test_stock_driven_inverts_inflow_driven(lt, timing, x):
    sf0 = survival_kernel(lt, 1, timing)[0]
    if sf0 < 1e-3:
        return
    r = inflow_driven(x, lt, timing)
    s = stock_driven(r.stock, lt, timing, negative_inflow="clip")
    scale = max(1.0, float(np.max(x)))
    np.testing.assert_allclose(s.stock, r.stock, atol=1e-8 * scale)
    np.testing.assert_allclose(s.outflow, r.outflow, atol=1e-6 * scale / sf0)


# ------------------------------------------------------------------------------------------------
# building from instance files, and bad parameters
# ------------------------------------------------------------------------------------------------
W = "instances/toy/instance.yaml: nodes.in_use.lifetime"


def test_make_lifetime_builds_every_model():
    assert make_lifetime({"model": "fixed", "mean": 12}, where=W) == Fixed(12)
    assert make_lifetime({"model": "normal", "mean": 12, "sd": 3}, where=W) == Normal(12, 3)
    assert make_lifetime({"model": "folded_normal", "mean": 2, "sd": 3}, where=W) == FoldedNormal(2, 3)
    assert make_lifetime({"model": "LogNormal", "mean": 12, "sd": 3}, where=W) == LogNormal(12, 3)
    assert make_lifetime({"model": "weibull", "shape": 2, "scale": 9}, where=W) == Weibull(2, 9)
    assert make_lifetime({"model": "weibull", "mean": 10, "sd": 3}, where=W) == Weibull.from_mean_sd(10, 3)
    assert make_lifetime({"model": "custom", "pmf": [0.2, 0.8]}, where=W) == CustomPMF([0.2, 0.8])
    lt = make_lifetime({"model": "normal", "mean": [10, 11, 12], "sd": 2}, where=W, n_cohorts=3)
    assert lt.cohort_dependent and lt.mean == (10.0, 11.0, 12.0) and lt.sd == 2.0
    lt = make_lifetime({"model": "custom", "pmf": [[1, 0], [0, 1]]}, where=W, n_cohorts=2)
    assert lt.n_cohorts == 2


@pytest.mark.parametrize(
    "spec,path,fragment",
    [
        ({"mean": 3}, ".model", "missing"),
        ({"model": "gamma", "mean": 3}, ".model", "not a known lifetime model"),
        ({"model": "normal", "mean": 3}, ".sd", "missing"),
        ({"model": "normal", "mean": 30, "sd": 3, "shape": 2}, ".shape", "not a parameter"),
        ({"model": "normal", "mean": 30, "sd": -1}, ".sd", "negative"),
        ({"model": "normal", "mean": 0, "sd": 1}, ".mean", "not positive"),
        ({"model": "normal", "mean": 10, "sd": 5}, ".sd", "negative age.*folded_normal.*lognormal"),
        ({"model": "lognormal", "mean": "ten", "sd": 5}, ".mean", "number"),
        ({"model": "lognormal", "mean": float("nan"), "sd": 5}, ".mean", "finite"),
        ({"model": "lognormal", "mean": 10, "sd": float("inf")}, ".sd", "finite"),
        ({"model": "fixed", "mean": [5, 6]}, ".mean", "3 cohorts"),
        ({"model": "weibull", "shape": 0, "scale": 3}, ".shape", "not positive"),
        ({"model": "weibull", "shape": 2, "scale": -3}, ".scale", "not positive"),
        ({"model": "weibull", "mean": 10, "sd": 0}, ".sd", "coefficient of variation"),
        ({"model": "custom", "pmf": [0.5, -0.1]}, ".pmf", "negative"),
        ({"model": "custom", "pmf": [0.7, 0.4]}, ".pmf", "sums to"),
        ({"model": "normal", "mean": [30, -1, 30], "sd": 2}, ".mean", r"cohort index 1"),
    ],
)
def test_make_lifetime_errors_name_the_key(spec, path, fragment):
    with pytest.raises(InstanceError, match=fragment) as info:
        make_lifetime(spec, where=W, n_cohorts=3)
    assert info.value.where == W + path
    assert str(info.value).startswith(W + path)


def test_direct_construction_errors():
    with pytest.raises(InstanceError, match=r"Normal\.sd.*folded_normal"):
        Normal(2, 1)
    with pytest.raises(InstanceError, match=r"LogNormal\.mean"):
        LogNormal(-1, 1)
    with pytest.raises(InstanceError, match=r"CustomPMF\.pmf"):
        CustomPMF([0.5, 0.5 + 1e-9])
    assert CustomPMF([0.5, 0.5 + 1e-13]).pmf[1] > 0.5  # within the 1e-12 tolerance
    with pytest.raises(InstanceError, match="different lengths"):
        Normal([10, 11], [1, 1, 1])
    with pytest.raises(InstanceError, match="timing"):
        survival_kernel(Fixed(3), 4, timing="start")
    with pytest.raises(InstanceError, match="negative_inflow"):
        stock_driven(np.ones(3), Fixed(3), negative_inflow="spread")
    with pytest.raises(InstanceError, match="inflow.*NaN"):
        inflow_driven(np.array([1.0, np.nan]), Fixed(3))
    with pytest.raises(InstanceError, match="different number of years"):
        inflow_driven(np.ones(4), Fixed([3, 3]))
    # Normal within the 1e-3 negative-mass limit is accepted (mean/sd = 3.2 -> 6.9e-4)
    assert Normal(3.2, 1).sd == 1.0
