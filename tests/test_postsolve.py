"""Post-solve: the state columns recomputed by forward substitution over years (no
factorisation of the whole convolution) agree with one sparse LU, and balances close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

import circopt
from circopt.lp.postsolve import _WholeLU, _YearBlocks
from circopt.model import build_model, solve

ROOT = Path(__file__).resolve().parents[1]


def test_forward_substitution_by_hand():
    """Year 0: 2 y0 + y1 = 4, y0 - y1 = -1 -> y0 = 1, y1 = 2; year 1: y2 = 3 + 0.5 y0 -> 3.5.
    Rows and columns are given out of year order."""
    B = sp.csr_matrix(np.array([[-0.5, 0.0, 1.0],
                                [2.0, 1.0, 0.0],
                                [1.0, -1.0, 0.0]]))
    row_t, col_t = np.array([1, 0, 0]), np.array([0, 0, 1])
    y = _YearBlocks.make(B, row_t, col_t).solve(np.array([3.0, 4.0, -1.0]))
    np.testing.assert_allclose(y, [1.0, 2.0, 3.5], rtol=1e-15)
    # a row that reaches a later year's column is not causal: one LU of the whole block instead
    B2 = B.tolil()
    B2[1, 2] = 1.0
    assert isinstance(_YearBlocks.make(B2.tocsr(), row_t, col_t), _WholeLU)
    # a same-year loop without outlet is singular: nothing is returned
    assert _YearBlocks.make(sp.csr_matrix(np.array([[1.0, -1.0], [1.0, -1.0]])), np.zeros(2, int),
                            np.zeros(2, int)) is None


def test_japan_engines_post_solve_by_year():
    om = build_model(circopt.load(str(ROOT / "instances" / "japan_engines")), "losses")
    res = solve(om)
    solver = om._polish_cache[1]
    assert isinstance(solver, _YearBlocks) and len(solver.blocks) == om.system.T
    assert res.max_relative_imbalance <= 1e-9
    dep = np.flatnonzero(~om._polish_cache[3])
    B = om.A_polish.tocsc()[:, dep].tocsr()
    rhs = np.random.default_rng(1).random(len(dep))
    y_lu = _WholeLU.make(B).solve(rhs)
    y_bl = _YearBlocks.make(B, om.row_t[om.polish_rows], om.col_t[dep]).solve(rhs)
    assert np.abs(y_bl - y_lu).max() <= 1e-10 * np.abs(y_lu).max()
