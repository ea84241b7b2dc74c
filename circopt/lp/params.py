"""A built LP re-parameterised by one number of one user constraint, without touching the built model.

Every coefficient and bound a user constraint contributes is affine in its numbers (a share's
``max``, a capacity, a flow's ``min`` ...). :func:`affine_in` takes the models built at three
values ``v0, v1, v2`` of one number, derives the slope of each array from the first two and checks
it on the third. Then, for any value ``v``:

* :meth:`AffineModel.numbers` -- the arrays that move (:class:`Numbers`: the matrix, row and column
  bounds, the route share bounds the post-solve keeps routes within);
* :meth:`AffineModel.at` -- a new model at ``v`` (a shallow copy of the first build with those
  arrays; the index maps, names and post-solve caches are shared, the Pyomo model is the first
  build's and keeps its numbers);
* :func:`handover_at` -- the matching copy of the HiGHS hand-over (same scaling);
* :func:`set_highs_numbers` -- the changed coefficients and bounds written into a HiGHS instance
  that holds the hand-over's LP, so it re-solves warm from its last basis.

The built models and hand-overs are never changed; each value gets its own copies.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import CircoptError

__all__ = ["AffineModel", "NotAffineError", "Numbers", "affine_in", "handover_at", "set_highs_numbers"]


class NotAffineError(CircoptError):
    """The models at three values are not one affine family. ``reason``: ``"bound"`` (a bound is
    finite at one value and infinite at another) or ``"model"`` (the third build is not the
    interpolation of the first two, or the objective changes)."""

    def __init__(self, reason: str):
        super().__init__(f"the model is not affine in the value ({reason})")
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Numbers:
    """The numbers of a model that the value moves (instance units)."""

    A: sp.csr_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    route_room: tuple | None


@dataclasses.dataclass(frozen=True)
class AffineModel:
    """The models of one value of one number: ``base`` (built at ``v0``) plus ``(v - v0)`` x the slopes."""

    base: Any  # the OptModel built at v0 (never changed)
    v0: float
    dA: sp.coo_matrix  # slope of the matrix per unit of the value (its coordinates: the coefficients that move)
    dA_csr: sp.csr_matrix  # the same, row-wise
    d_row_lb: np.ndarray
    d_row_ub: np.ndarray
    d_col_lb: np.ndarray
    d_col_ub: np.ndarray
    d_room: tuple | None  # slopes of the route share bounds (min, max), or None
    rows_changed: np.ndarray  # rows whose coefficients or bounds move
    cols_changed: np.ndarray  # columns whose bounds move

    def numbers(self, v: float) -> Numbers:
        """The arrays at value ``v``."""
        b = self.base
        room = b.route_room
        if room is not None:
            rc, sel, lo, hi, grp = room
            room = (rc, sel, _at(lo, self.d_room[0], v, self.v0), _at(hi, self.d_room[1], v, self.v0), grp)
        return Numbers(A=(_csr(b.A) + (v - self.v0) * self.dA_csr).tocsr(),
                       row_lb=_at(b.row_lb, self.d_row_lb, v, self.v0), row_ub=_at(b.row_ub, self.d_row_ub, v, self.v0),
                       col_lb=_at(b.col_lb, self.d_col_lb, v, self.v0), col_ub=_at(b.col_ub, self.d_col_ub, v, self.v0),
                       route_room=room)

    def at(self, v: float, like: Any = None, numbers: Numbers | None = None):
        """A new model at ``v``: a shallow copy of ``like`` (default the first build; pass the model of
        the previous value to carry its post-solve caches) with the arrays of ``v``."""
        nums = numbers if numbers is not None else self.numbers(v)
        out = copy.copy(self.base if like is None else like)
        out.A, out.row_lb, out.row_ub, out.col_lb, out.col_ub = nums.A, nums.row_lb, nums.row_ub, nums.col_lb, nums.col_ub
        out.route_room = nums.route_room
        out.timings, out.notes = dict(out.timings), list(out.notes)
        return out


def affine_in(models: Sequence[Any], values: Sequence[float]) -> AffineModel:
    """The affine family through models built at three values (slopes from the first two, checked on
    the third to 1e-9 of the largest coefficient and 1e-12 on bounds); :class:`NotAffineError` if
    they are not one."""
    om, om1, om2 = models
    v0, v1, v2 = (float(v) for v in values[:3])
    A0, A1, A2 = (_csr(o.A) for o in models)
    D = (A1 - A0) / (v1 - v0)

    def slope(x0, x1):  # per unit of the value, where both bounds are finite
        both = np.isfinite(x0) & np.isfinite(x1)
        if not np.array_equal(np.isfinite(x0), np.isfinite(x1)):
            raise NotAffineError("bound")
        return np.where(both, np.subtract(x1, x0, where=both, out=np.zeros_like(x0)), 0.0) / (v1 - v0)

    d = {k: slope(getattr(om, k), getattr(om1, k)) for k in ("row_lb", "row_ub", "col_lb", "col_ub")}
    room = [o.route_room for o in models]
    d_room = None if room[0] is None else (slope(room[0][2], room[1][2]), slope(room[0][3], room[1][3]))
    scale = max(1.0, float(abs(A0).max()))
    same = all(np.allclose(np.nan_to_num(_at(getattr(om, k), d[k], v2, v0), posinf=0, neginf=0),
                           np.nan_to_num(getattr(om2, k), posinf=0, neginf=0), rtol=1e-12, atol=1e-12) for k in d)
    if (abs(A0 + (v2 - v0) * D - A2).max() > 1e-9 * scale or not same
            or any(not np.array_equal(o.c, om.c) for o in models[1:])
            or (d_room is not None and not (np.allclose(_at(room[0][2], d_room[0], v2, v0), room[2][2], atol=1e-12)
                                            and np.allclose(_at(room[0][3], d_room[1], v2, v0), room[2][3],
                                                            atol=1e-12)))):
        raise NotAffineError("model")
    D = D.tocoo()
    rows = np.unique(np.concatenate([D.row, np.nonzero(d["row_lb"])[0], np.nonzero(d["row_ub"])[0]]))
    cols = np.unique(np.concatenate([np.nonzero(d["col_lb"])[0], np.nonzero(d["col_ub"])[0]]))
    return AffineModel(om, v0, D, D.tocsr(), d["row_lb"], d["row_ub"], d["col_lb"], d["col_ub"], d_room, rows, cols)


def handover_at(hl: Any, nums: Numbers) -> Any:
    """A copy of the hand-over ``hl`` (of the first build) holding the numbers of another value; its
    scaling and HiGHS LP are the first build's (:func:`set_highs_numbers` moves a solver to the value)."""
    if hl.extra_vars or hl.extra_rows or hl.A.shape != nums.A.shape:
        raise CircoptError("a re-parameterised model has no hand-written rows or columns; build it without them")
    return dataclasses.replace(hl, A=nums.A, row_lb=nums.row_lb, row_ub=nums.row_ub, col_lb=nums.col_lb,
                               col_ub=nums.col_ub)


def set_highs_numbers(h: Any, hl: Any, fam: AffineModel, nums: Numbers) -> None:
    """Write the coefficients and bounds ``fam`` moves, at ``nums``, into HiGHS instance ``h`` (which holds
    ``hl``'s LP), in ``hl``'s scaling (rows by ``row_scale``, masses by ``col_scale``)."""
    rs, cs = hl.row_scale, hl.col_scale
    for i, j in zip(fam.dA.row, fam.dA.col):
        h.changeCoeff(int(i), int(j), float(nums.A[i, j] / rs[i]))
    for i in fam.rows_changed:
        h.changeRowBounds(int(i), float(nums.row_lb[i] / (rs[i] * cs)), float(nums.row_ub[i] / (rs[i] * cs)))
    for j in fam.cols_changed:
        h.changeColBounds(int(j), float(nums.col_lb[j] / cs), float(nums.col_ub[j] / cs))


def _at(x0: np.ndarray, d: np.ndarray, v: float, v0: float) -> np.ndarray:
    return np.where(np.isfinite(x0), x0 + (v - v0) * d, x0)


def _csr(A) -> sp.csr_matrix:
    return A.tocsr()
