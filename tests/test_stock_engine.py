"""The one stock engine (circopt/stocks.py): its fast paths agree with the defining sums, and the
simulator's whole-array path (stages of stocks) agrees with its year-by-year path."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import circopt
from circopt import lifetimes as lt
from circopt.sameyear import SameYear
from circopt.stocks import causal_convolve, follow_target, stock_plan

sim = importlib.import_module("circopt.simulate")


def _direct(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The defining sum, term by term."""
    n = len(x)
    return np.array([sum(k[a] * x[t - a] for a in range(min(t + 1, len(k)))) for t in range(n)])


@pytest.mark.parametrize("n_series", [1, 40])
def test_convolution_paths_equal_the_defining_sum(n_series):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 100, (n_series, 60))
    k = lt.outflow_kernel(lt.Normal(12, 3), 60)
    (y,) = causal_convolve(x, [k])
    ref = np.array([_direct(r, k) for r in x])
    assert np.max(np.abs(y - ref)) <= 1e-12 * np.abs(ref).max()


def test_near_empty_years_keep_their_own_precision():
    # a huge cohort long gone and a tiny one now: the tiny year's outflow is exact to ~ulp of itself
    # (an FFT would leave round-off of the huge cohort, ~1e-10, on a value of 5e-7)
    x = np.zeros((20, 80))
    x[:, 0] = 1e6
    x[:, 70] = 1e-6
    k = np.full(80, 1e-30)  # long support: the matrix-product path
    k[:5] = 0.0
    k[5] = 0.5
    (y,) = causal_convolve(x, [k])
    assert np.allclose(y[:, 75], 1e-6 * 0.5 + 1e6 * 1e-30, rtol=1e-14, atol=0)
    assert np.all(y[:, :5] == 0.0)


def test_convolution_entries_are_the_outflow():
    s = circopt.load("instances/toy")
    plan = stock_plan(s)
    rng = np.random.default_rng(0)
    inflow = np.zeros_like(plan.hist_inflow)
    inflow[:, plan.H:] = rng.uniform(0, 5, inflow[:, plan.H:].shape)
    out = plan.outflows(inflow)[:, plan.H:]
    for k in range(len(plan.stocks)):
        ti, tj, w = plan.convolution_entries(k, s.T)
        rebuilt = np.zeros((s.T, s.C))
        np.add.at(rebuilt, ti, w[:, None] * inflow[k, plan.H + tj])
        np.testing.assert_allclose(rebuilt, out[k], rtol=1e-13, atol=1e-13)


def test_follow_target_by_hand():
    # fixed lifetime 2 (end timing): sf = [1, 1, 0, ...]; target 10, 10, 10, 10
    sf = lt.survival_kernel(lt.Fixed(2), 4)
    x, stock, events = follow_target(np.full(4, 10.0), sf, np.zeros(4), np.array(1e-9), "error")
    np.testing.assert_allclose(x, [10, 0, 10, 0])
    np.testing.assert_allclose(stock, [10, 10, 10, 10])
    assert events == []
    # falling faster than cohorts leave: reported at the year it happens
    _, _, events = follow_target(np.array([10.0, 2.0, 2.0]), sf[:3], np.zeros(3), np.array(1e-9), "error")
    assert events[-1][0] == 1 and events[-1][3] == "negative" and events[-1][2] == pytest.approx(-8.0)


@pytest.mark.parametrize("instance", ["instances/toy"])
def test_stages_agree_with_year_by_year(instance):
    s = circopt.load(instance)
    sh = sim.baseline_shares(s)
    plan = stock_plan(s)
    net = SameYear(s, sh, plan, None)
    stages = net.stock_stages()
    assert stages is not None  # no stock returns to itself within a year here
    series = sim._source_series(s, None, sh)
    b = net.source_constants(series)
    f1, _, (levels, outflows) = sim._by_stage(net, plan, plan.hist_inflow.copy(), b.copy(), stages)  # b is consumed
    inflow2 = plan.hist_inflow.copy()
    f2, _ = sim._year_by_year(net, plan, inflow2, b)
    assert np.max(np.abs(f1 - f2)) <= 1e-12 * np.abs(f2).max()
    assert np.abs(f2).max() > 0
    # the stages' levels and whole outflows (earlier cohorts by convolution + the age-0 part) are
    # the convolutions of the year-by-year inflows
    lv2, out2 = plan.levels_and_outflows(inflow2)
    scale = max(np.abs(lv2).max(), 1.0)
    assert np.max(np.abs(levels - lv2[:, plan.H:])) <= 1e-12 * scale
    assert np.max(np.abs(outflows - out2[:, plan.H:].transpose(1, 0, 2))) <= 1e-12 * scale  # year-major
    assert np.abs(out2[:, plan.H:]).max() > 0
