"""Property tests on random networks: mass is conserved per element and in total."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

import circopt

from .netgen import random_instance, write_sources


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=random_instance())
def test_random_networks_conserve_mass(doc, tmp_path_factory):
    folder = write_sources(tmp_path_factory.mktemp("net"))
    system = circopt.build(doc, folder)
    res = circopt.simulate(system)
    assert res.max_relative_imbalance <= 1e-9
    # global balance per channel: what sources put in = what sinks hold + what is in stock
    F = res.flows_array
    src_out = sum(F[:, e.id, :] for e in system.edges if system.nodes[e.source].kind == "source")
    sink_in = sum(F[:, e.id, :] for e in system.edges if system.nodes[e.target].kind == "sink")
    stock_end = res.stock_array[:, -1, :].sum(axis=0)
    lhs = src_out.sum(axis=0)
    rhs = sink_in.sum(axis=0) + stock_end
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9 * max(1.0, float(lhs.sum())))
    assert np.all(F >= -1e-9)
