"""The parametric model API (circopt.lp.params): a built LP re-parameterised by one number of one
user constraint, as copies; the built models are never changed (whatif used to overwrite them)."""

from __future__ import annotations

import numpy as np
import pytest

import circopt
from circopt.lp.build import build_model
from circopt.lp.highs import handover
from circopt.lp.params import NotAffineError, affine_in, handover_at

from .netgen import write_sources
from .test_studies import DOC

CON = {"type": "share", "node": "eol", "route": "reuse"}
BASE = [{"type": "share", "node": "eol", "route": "landfill", "min": 0.5}]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    return circopt.build(DOC, write_sources(tmp_path_factory.mktemp("params")))


def _build(system, v):
    return build_model(system, objective="losses", constraints=[*BASE, {**CON, "max": v}])


def test_copies_at_a_value_equal_a_build_there_and_leave_the_builds_alone(system):
    oms = [_build(system, v) for v in (0.0, 0.1, 0.2)]
    before = [(o.A.toarray().copy(), o.row_lb.copy(), o.row_ub.copy()) for o in oms]
    fam = affine_in(oms, [0.0, 0.1, 0.2])
    # one row moves: reuse <= max x input, the input a constant 100 t: its upper bound, 100 x max
    assert len(fam.rows_changed) == 1 and len(fam.cols_changed) == 0
    at = fam.at(0.3)
    ref = _build(system, 0.3)
    assert at is not fam.base and at.A is not fam.base.A
    np.testing.assert_allclose(at.A.toarray(), ref.A.toarray(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(at.row_lb, ref.row_lb)
    np.testing.assert_array_equal(at.row_ub, ref.row_ub)
    i = int(fam.rows_changed[0])
    assert fam.dA.nnz == 0 and fam.d_row_ub[i] == pytest.approx(100.0)
    assert at.row_ub[i] == pytest.approx(30.0) and fam.base.row_ub[i] == 0.0  # 100 t x 0.3; the build at 0 keeps 0
    for o, (A, lb, ub) in zip(oms, before):  # nothing written into the builds
        np.testing.assert_array_equal(o.A.toarray(), A)
        np.testing.assert_array_equal(o.row_lb, lb)
        np.testing.assert_array_equal(o.row_ub, ub)
    hl0 = handover(fam.base)
    hl = handover_at(hl0, fam.numbers(0.3))
    assert hl is not hl0
    np.testing.assert_array_equal(hl.A.toarray(), at.A.toarray())
    np.testing.assert_array_equal(hl0.A.toarray(), before[0][0])  # the first hand-over keeps the first build's


def test_a_model_that_is_not_affine_in_the_value_is_refused(system):
    # the third build is at 0.2 but called 0.25: not the interpolation of the first two
    oms = [_build(system, v) for v in (0.0, 0.1, 0.2)]
    with pytest.raises(NotAffineError) as e:
        affine_in(oms, [0.0, 0.1, 0.25])
    assert e.value.reason == "model"
