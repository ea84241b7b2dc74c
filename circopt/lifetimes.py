"""Lifetime models (distributions), their discrete kernels, and the stock dynamics they drive.

Timing convention
-----------------
Time runs in discrete yearly steps ``t = 0, 1, ..., T-1``. Stocks are measured at the **end** of
a year; flows happen **during** a year. A cohort is what enters the stock in year ``c``; in year
``t`` it has age ``a = t - c`` (so it has age 0 in the year it enters). ``S(x) = P(L > x)`` is
the continuous survival function of the lifetime ``L`` (in years). Two timing modes turn it into
discrete kernels:

``timing="end"`` (default, ODYM-exact)
    Inflow counts as entering at the end of its year; survival kernel ``sf[a] = S(a)``. This is
    ODYM's ``DynamicStockModel.compute_sf`` (scipy ``.sf`` at ages 0, 1, 2, ...) and flodym's
    ``inflow_at="end"``. For a smooth lifetime, the mean exit age is recovered as
    ``sum_a (a - 0.5) * pdf[a]`` (outflow counted at mid-year).
``timing="middle"``
    Inflow enters in the middle of its year; ``sf[a] = S(a + 0.5)``. This is flodym 1.1's default
    (``inflow_at="middle"``, one quadrature point): flodym places year bounds half-way between the
    year labels and evaluates survival at ``bound[c + a + 1] - year[c] = a + 0.5``, which is exactly
    ``S(a + 0.5)`` for consecutive years. Here ``sum_a a * pdf[a]`` recovers the mean.

In both modes the outflow kernel is ``pdf[0] = 1 - sf[0]`` and ``pdf[a] = sf[a-1] - sf[a]``: what
leaves a cohort in its year of entry (the normal's mass below age 0, too) is outflow of that year,
as in ODYM's ``o_c[c, c] = i[c] * (1 - sf[c, c])``. The timing convention alone moves results by a
few per cent; compare like with like.

Stock equations (``i`` = inflow, ``sf_c``/``pdf_c`` = kernels of cohort ``c``)::

    stock[t]   = sum_{c <= t} i[c] * sf_c[t - c]
    outflow[t] = sum_{c <= t} i[c] * pdf_c[t - c]

so ``stock[t] - stock[t-1] = i[t] - outflow[t]`` (with ``stock[-1]`` = the initial stock's total).

Initial stock
-------------
An initial stock is an age structure ``stock0[a]`` measured at the **end of year -1** (the year
before the first model year); ``a = 0`` entered in year -1, age ``a`` entered in year ``-1 - a``.
In model year ``t`` that cohort has age ``a + 1 + t``; its survival is conditional on having
survived to age ``a``::

    stock_init[t]   = sum_a stock0[a] * sf[a + 1 + t] / sf[a]
    outflow_init[t] = sum_a stock0[a] * pdf[a + 1 + t] / sf[a]

(``sf``/``pdf`` in the chosen timing; this is ODYM's ``compute_evolution_initialstock``). For a
cohort-dependent lifetime, historic cohorts use the parameters of cohort 0 (the first model year).
A positive ``stock0[a]`` where ``sf[a] == 0`` is impossible and raises ``InstanceError``.

Distributions (parameters as in ODYM / flodym)
----------------------------------------------
* ``Fixed(mean)``: ``S(x) = 1 if x < mean else 0`` (ODYM: survives while age < mean).
* ``Normal(mean, sd)``: ``S(x) = Phi((mean - x) / sd)``; rejected if more than 1e-3 of the mass
  lies below age 0.
* ``FoldedNormal(mean, sd)``: ``|Y|`` with ``Y ~ N(mean, sd)`` (parameters of the normal *before*
  folding, as ODYM/flodym): ``S(x) = Phi((mean - x)/sd) + Phi((-mean - x)/sd)`` for ``x >= 0``.
* ``LogNormal(mean, sd)``: mean and sd of the lifetime itself, converted by moment matching to the
  underlying normal: ``sigma^2 = ln(1 + sd^2/mean^2)``, ``mu = ln(mean) - sigma^2/2`` (flodym's
  formula). NOTE: ODYM 1.x writes ``mean^2/sd^2`` where ``sd^2/mean^2`` belongs, so ODYM's
  lognormal has the requested mean but standard deviation ``mean^2/sd``; both agree only when
  ``mean == sd`` (the case in ODYM's own tests). ``LogNormal.from_odym(mean, sd)`` reproduces ODYM.
* ``Weibull(shape, scale)``: ``S(x) = exp(-(x/scale)^shape)`` (native parameters, as ODYM);
  ``Weibull.from_mean_sd`` solves the shape from the coefficient of variation via gamma functions.
* ``CustomPMF(pmf)``: ``pmf[k]`` = probability of leaving at age ``k``; ``1 - sum(pmf)`` never
  leaves. ``S(x) = 1 - sum_{k <= x} pmf[k]``; the outflow kernel *is* the pmf, so the timing
  mode does not change it.

An ``sd`` of 0 (normal, folded normal, lognormal) means a fixed lifetime ``S(x) = [x < mean]``,
evaluated without dividing by zero.

Parameters are scalars or 1-D sequences over cohorts (cohort-dependent lifetimes); a
``CustomPMF`` is cohort-dependent when its pmf is 2-D ``(n_cohorts, n_ages)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar, Literal

import numpy as np
import scipy  # scipy.special, .fft and .optimize load on first use (`circopt check` stays quick)

from circopt.errors import InstanceError

__all__ = [
    "CustomPMF",
    "Fixed",
    "FoldedNormal",
    "Lifetime",
    "LogNormal",
    "Normal",
    "StockFlows",
    "Timing",
    "Weibull",
    "inflow_driven",
    "initial_stock_flows",
    "make_lifetime",
    "outflow_kernel",
    "stock_driven",
    "survival_kernel",
]

Timing = Literal["end", "middle"]


def __getattr__(name: str):
    # the lifetime spec of an instance file is read by circopt.definition.lifetime; kept here by name
    if name == "make_lifetime":
        from .definition.lifetime import make_lifetime

        return make_lifetime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
_TIMING_OFFSET = {"end": 0.0, "middle": 0.5}
_NORMAL_NEGATIVE_MASS_MAX = 1e-3
_PMF_SUM_TOL = 1e-12


# --------------------------------------------------------------------------------------------
# parameter handling
# --------------------------------------------------------------------------------------------
def _param(value: object, where: str, *, positive: bool, allow_zero: bool = False) -> float | tuple:
    """Validate a scalar or 1-D parameter; return a float or a tuple of floats (hashable)."""
    if isinstance(value, (bool, str)):
        raise InstanceError(where, "must be a number or a list of numbers", value)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InstanceError(where, "must be a number or a list of numbers", value) from None
    if arr.ndim > 1:
        raise InstanceError(where, "must be a number or a 1-D list (one value per cohort)", value)
    if arr.ndim == 1 and arr.size == 0:
        raise InstanceError(where, "is an empty list", value, "a number or one value per cohort")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InstanceError(where, "must be finite" + _cohort_note(bad), value, "a finite number")
    if positive:
        bad = arr < 0 if allow_zero else arr <= 0
        if bad.any():
            expected = "a number >= 0" if allow_zero else "a number > 0"
            word = "negative" if allow_zero else "not positive"
            raise InstanceError(where, f"is {word}" + _cohort_note(bad), value, expected)
    if arr.ndim == 0:
        return float(arr)
    return tuple(float(v) for v in arr)


def _cohort_note(bad: np.ndarray) -> str:
    if np.ndim(bad) == 0:
        return ""
    idx = np.flatnonzero(bad)
    return f" (cohort index {idx[0]}" + (f" and {idx.size - 1} more)" if idx.size > 1 else ")")


def _as_array(p: float | tuple) -> np.ndarray:
    return np.asarray(p, dtype=float)


class Lifetime:
    """Base class of the lifetime models (frozen dataclasses, one per distribution).

    Subclasses implement ``_survival(x, params)`` where ``params`` maps each parameter name to an
    array broadcastable against ``x``.
    """

    _params: ClassVar[tuple[str, ...]] = ()

    # -- cohort handling ----------------------------------------------------------------------
    @property
    def n_cohorts(self) -> int | None:
        """Number of cohorts the parameters are given for, or ``None`` if cohort-independent."""
        lengths = {len(getattr(self, p)) for p in self._params if isinstance(getattr(self, p), tuple)}
        return lengths.pop() if lengths else None

    @property
    def cohort_dependent(self) -> bool:
        """True if any parameter varies by cohort."""
        return self.n_cohorts is not None

    def at_cohort(self, cohort_index: int) -> Lifetime:
        """The cohort-independent lifetime of cohort ``cohort_index``."""
        if not self.cohort_dependent:
            return self
        n = self.n_cohorts
        if not -n <= cohort_index < n:
            raise InstanceError(f"{type(self).__name__}.cohort_index", "is out of range", cohort_index, f"0..{n - 1}")
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[cohort_index] if isinstance(v, tuple) else v
        return type(self)(**kw)

    def _param_arrays(self, cohort_index: int | None, ndim_x: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self._params:
            v = _as_array(getattr(self, name))
            if v.ndim == 1:
                if cohort_index is not None:
                    v = v[cohort_index]
                else:  # one row per cohort, broadcast against x
                    v = v.reshape((-1,) + (1,) * ndim_x)
            out[name] = v
        return out

    def survival(self, x: np.ndarray, cohort_index: int | None = None) -> np.ndarray:
        """``S(x) = P(L > x)`` at ages ``x`` (years, any shape).

        For a cohort-dependent lifetime, ``cohort_index`` selects a cohort; with ``None`` the
        result has a leading cohort axis: shape ``(n_cohorts,) + x.shape``. Ignored otherwise.
        """
        x = np.asarray(x, dtype=float)
        params = self._param_arrays(cohort_index, x.ndim)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            s = self._survival(x, params)
        return np.clip(s, 0.0, 1.0)

    def _survival(self, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _fixed_step(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return (x < mean).astype(float)


@dataclass(frozen=True)
class Fixed(Lifetime):
    """Every unit leaves at age ``mean`` (years): ``S(x) = 1 if x < mean else 0`` (as ODYM)."""

    mean: float | tuple[float, ...]

    _params: ClassVar[tuple[str, ...]] = ("mean",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _param(self.mean, "Fixed.mean", positive=True))

    def _survival(self, x, p):
        return _fixed_step(x, p["mean"])


def _check_lengths(obj: Lifetime) -> None:
    lengths = {name: len(getattr(obj, name)) for name in obj._params if isinstance(getattr(obj, name), tuple)}
    if len(set(lengths.values())) > 1:
        name = type(obj).__name__
        raise InstanceError(
            f"{name}.{list(lengths)[-1]}",
            "per-cohort parameters have different lengths",
            lengths,
            "the same number of cohorts for every parameter",
        )


@dataclass(frozen=True)
class Normal(Lifetime):
    """Normally distributed lifetime: ``S(x) = Phi((mean - x) / sd)``.

    The mass below age 0 leaves in the year of entry (``pdf[0] = 1 - sf[0]``). A normal with more
    than 1e-3 of its mass below age 0 is rejected. ``sd = 0`` is a fixed lifetime.
    """

    mean: float | tuple[float, ...]
    sd: float | tuple[float, ...]

    _params: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _param(self.mean, "Normal.mean", positive=True))
        object.__setattr__(self, "sd", _param(self.sd, "Normal.sd", positive=True, allow_zero=True))
        _check_lengths(self)
        mean, sd = np.broadcast_arrays(_as_array(self.mean), _as_array(self.sd))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            neg_mass = np.where(sd > 0, scipy.special.ndtr(-mean / np.where(sd > 0, sd, 1.0)), 0.0)
        bad = neg_mass > _NORMAL_NEGATIVE_MASS_MAX
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0]) if bad.ndim else 0
            raise InstanceError(
                "Normal.sd",
                f"puts {float(neg_mass.ravel()[i]):.3g} of the lifetime mass at negative age "
                f"(mean {float(mean.ravel()[i]):g}, sd {float(sd.ravel()[i]):g})"
                + _cohort_note(bad)
                + "; use model 'folded_normal' or 'lognormal' instead",
                self.sd,
                f"at most {_NORMAL_NEGATIVE_MASS_MAX:g} of the mass below age 0 (sd <~ mean/3.1)",
            )

    def _survival(self, x, p):
        mean, sd = p["mean"], p["sd"]
        safe = np.where(sd > 0, sd, 1.0)
        return np.where(sd > 0, scipy.special.ndtr((mean - x) / safe), _fixed_step(x, mean))


@dataclass(frozen=True)
class FoldedNormal(Lifetime):
    """Folded normal ``|Y|``, ``Y ~ N(mean, sd)``: parameters of the normal *before* folding (ODYM).

    ``S(x) = Phi((mean - x)/sd) + Phi((-mean - x)/sd)`` for ``x >= 0``; ``sd = 0`` is fixed.
    """

    mean: float | tuple[float, ...]
    sd: float | tuple[float, ...]

    _params: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _param(self.mean, "FoldedNormal.mean", positive=True))
        object.__setattr__(self, "sd", _param(self.sd, "FoldedNormal.sd", positive=True, allow_zero=True))
        _check_lengths(self)

    def _survival(self, x, p):
        mean, sd = p["mean"], p["sd"]
        safe = np.where(sd > 0, sd, 1.0)
        folded = scipy.special.ndtr((mean - x) / safe) + scipy.special.ndtr((-mean - x) / safe)
        s = np.where(sd > 0, folded, _fixed_step(x, mean))
        return np.where(x < 0, 1.0, s)


@dataclass(frozen=True)
class LogNormal(Lifetime):
    """Lognormal lifetime given by the mean and sd *of the lifetime itself* (as ODYM/flodym).

    Underlying normal: ``sigma^2 = ln(1 + sd^2/mean^2)``, ``mu = ln(mean) - sigma^2/2``;
    ``S(x) = Phi((mu - ln x) / sigma)``. ``sd = 0`` is a fixed lifetime.
    """

    mean: float | tuple[float, ...]
    sd: float | tuple[float, ...]

    _params: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _param(self.mean, "LogNormal.mean", positive=True))
        object.__setattr__(self, "sd", _param(self.sd, "LogNormal.sd", positive=True, allow_zero=True))
        _check_lengths(self)

    @classmethod
    def from_odym(cls, mean: object, sd: object) -> LogNormal:
        """The lognormal ODYM 1.x computes for ``{'Type': 'LogNormal', 'Mean': mean, 'StdDev': sd}``.

        ODYM converts with ``sigma^2 = ln(1 + mean^2/sd^2)`` (ratio inverted), i.e. it builds the
        lognormal with the given mean and standard deviation ``mean^2/sd``.
        """
        m = _param(mean, "LogNormal.mean", positive=True)
        s = _param(sd, "LogNormal.sd", positive=True)
        return cls(mean=m, sd=_as_array(m) ** 2 / _as_array(s))

    def _survival(self, x, p):
        mean, sd = p["mean"], p["sd"]
        sigma2 = np.log1p((sd / mean) ** 2)
        sigma = np.sqrt(sigma2)
        mu = np.log(mean) - 0.5 * sigma2
        safe = np.where(sigma > 0, sigma, 1.0)
        logx = np.log(np.where(x > 0, x, 1.0))
        s = np.where(x > 0, scipy.special.ndtr((mu - logx) / safe), 1.0)
        return np.where(sigma > 0, s, _fixed_step(x, mean))


@dataclass(frozen=True)
class Weibull(Lifetime):
    """Weibull lifetime with native parameters: ``S(x) = exp(-(x/scale)^shape)`` for ``x >= 0``."""

    shape: float | tuple[float, ...]
    scale: float | tuple[float, ...]

    _params: ClassVar[tuple[str, ...]] = ("shape", "scale")

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _param(self.shape, "Weibull.shape", positive=True))
        object.__setattr__(self, "scale", _param(self.scale, "Weibull.scale", positive=True))
        _check_lengths(self)

    @classmethod
    def from_mean_sd(cls, mean: object, sd: object) -> Weibull:
        """The Weibull with the given mean and standard deviation (years).

        The shape ``k`` solves ``ln G(1 + 2/k) - 2 ln G(1 + 1/k) = ln(1 + (sd/mean)^2)`` (the
        coefficient of variation falls monotonically in ``k``); then
        ``scale = mean / G(1 + 1/k)``.
        """
        m = _param(mean, "Weibull.mean", positive=True)
        s = _param(sd, "Weibull.sd", positive=True, allow_zero=True)
        if isinstance(m, tuple) and isinstance(s, tuple) and len(m) != len(s):
            raise InstanceError("Weibull.sd", "has a different number of cohorts than mean", len(s), f"{len(m)}")
        mean_a, sd_a = np.broadcast_arrays(_as_array(m), _as_array(s))
        cv = sd_a / mean_a
        if (cv < 1e-4).any() or (cv > 50).any():
            raise InstanceError(
                "Weibull.sd",
                "gives a coefficient of variation sd/mean outside what a Weibull can fit",
                s,
                "1e-4 <= sd/mean <= 50 (use model 'fixed' for sd = 0)",
            )
        solved = {c: _weibull_shape(c) for c in np.unique(cv)}
        shape = np.vectorize(solved.__getitem__, otypes=[float])(cv)
        scale = mean_a / np.exp(scipy.special.gammaln(1.0 + 1.0 / shape))
        return cls(shape=shape if shape.ndim else float(shape), scale=scale if scale.ndim else float(scale))

    def _survival(self, x, p):
        xp = np.where(x > 0, x, 0.0)
        return np.exp(-((xp / p["scale"]) ** p["shape"]))


def _weibull_shape(cv: float) -> float:
    target = math.log1p(cv * cv)

    def f(log_k: float) -> float:
        k = math.exp(log_k)
        return scipy.special.gammaln(1 + 2 / k) - 2 * scipy.special.gammaln(1 + 1 / k) - target

    return math.exp(scipy.optimize.brentq(f, math.log(0.05), math.log(2e4), xtol=1e-14, rtol=1e-15))


@dataclass(frozen=True)
class CustomPMF(Lifetime):
    """A discrete lifetime: ``pmf[k]`` is the probability of leaving at age ``k`` (years).

    ``sum(pmf) <= 1``; the remainder never leaves. ``S(x) = 1 - sum_{k <= x} pmf[k]``, so
    ``pdf[k] == pmf[k]`` in either timing mode. A 2-D pmf ``(n_cohorts, n_ages)`` is
    cohort-dependent.
    """

    pmf: tuple[float, ...] | tuple[tuple[float, ...], ...]

    _params: ClassVar[tuple[str, ...]] = ("pmf",)

    def __post_init__(self) -> None:
        where = "CustomPMF.pmf"
        if isinstance(self.pmf, (str, bool)) or np.ndim(self.pmf) == 0:
            raise InstanceError(where, "must be a list of probabilities by age", self.pmf)
        try:
            arr = np.asarray(self.pmf, dtype=float)
        except (TypeError, ValueError):
            raise InstanceError(
                where, "must be a list of probabilities by age (or one list per cohort)", self.pmf
            ) from None
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
            raise InstanceError(where, "must be a non-empty list by age, or one list per cohort", self.pmf)
        if not np.isfinite(arr).all():
            raise InstanceError(where, "must be finite", self.pmf, "probabilities in [0, 1]")
        if (arr < 0).any():
            raise InstanceError(where, "has negative probabilities", self.pmf, "entries >= 0")
        total = arr.sum(axis=-1)
        if (total > 1 + _PMF_SUM_TOL).any():
            raise InstanceError(
                where,
                f"sums to {float(np.max(total)):.15g} > 1" + _cohort_note(total > 1 + _PMF_SUM_TOL),
                self.pmf,
                "probabilities summing to at most 1 (the remainder never leaves)",
            )
        value = tuple(map(float, arr)) if arr.ndim == 1 else tuple(tuple(map(float, r)) for r in arr)
        object.__setattr__(self, "pmf", value)

    @property
    def n_cohorts(self) -> int | None:
        return len(self.pmf) if isinstance(self.pmf[0], tuple) else None

    def at_cohort(self, cohort_index: int) -> Lifetime:
        if not self.cohort_dependent:
            return self
        return CustomPMF(self.pmf[cohort_index])

    def survival(self, x: np.ndarray, cohort_index: int | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        pmf = np.asarray(self.pmf, dtype=float)
        if pmf.ndim == 2 and cohort_index is not None:
            pmf = pmf[cohort_index]
        # S at integer age k is 1 - cumsum(pmf)[k]; a real age x uses floor(x); beyond the pmf
        # only the remainder (1 - sum) stays
        sf_int = np.clip(1.0 - np.cumsum(pmf, axis=-1), 0.0, 1.0)
        k = np.floor(x)
        idx = np.clip(k, 0, pmf.shape[-1] - 1).astype(np.intp)
        if pmf.ndim == 1:
            s = sf_int[idx]
        else:
            s = sf_int[:, idx]
        return np.where(k < 0, 1.0, s)


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
def _offset(timing: str) -> float:
    try:
        return _TIMING_OFFSET[timing]
    except (KeyError, TypeError):
        raise InstanceError("timing", "is not a known timing mode", timing, "'end' or 'middle'") from None


def survival_kernel(lt: Lifetime, n_ages: int, timing: Timing = "end") -> np.ndarray:
    """``sf[a] = S(a + offset)`` for ages ``a = 0..n_ages-1`` (offset 0 for "end", 0.5 for "middle").

    Shape ``(n_ages,)``, or ``(n_cohorts, n_ages)`` for a cohort-dependent lifetime.
    """
    ages = np.arange(int(n_ages), dtype=float) + _offset(timing)
    return lt.survival(ages)


def outflow_kernel(lt: Lifetime, n_ages: int, timing: Timing = "end") -> np.ndarray:
    """``pdf[0] = 1 - sf[0]``, ``pdf[a] = sf[a-1] - sf[a]``: share of a cohort leaving at age ``a``."""
    return _pdf_from_sf(survival_kernel(lt, n_ages, timing))


def _pdf_from_sf(sf: np.ndarray) -> np.ndarray:
    pdf = np.empty_like(sf)
    if sf.shape[-1] == 0:
        return pdf
    pdf[..., 0] = 1.0 - sf[..., 0]
    pdf[..., 1:] = sf[..., :-1] - sf[..., 1:]
    return pdf


# --------------------------------------------------------------------------------------------
# stock models
# --------------------------------------------------------------------------------------------
@dataclass
class StockFlows:
    """Stock (end of year), outflow and inflow (during the year); leading dims = series, last = time.

    ``stock_by_cohort`` / ``outflow_by_cohort`` are ``(..., time, cohort)`` (ODYM's ``s_c``/``o_c``)
    when requested; they cover the cohorts entering in model years only, not an initial stock.
    """

    stock: np.ndarray
    outflow: np.ndarray
    inflow: np.ndarray
    stock_by_cohort: np.ndarray | None = None
    outflow_by_cohort: np.ndarray | None = None


def _as_series(x: object, where: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise InstanceError(where, "must be an array with a time axis last", np.shape(arr))
    if not np.isfinite(arr).all():
        raise InstanceError(where, "contains NaN or infinite values", None, "finite numbers")
    return arr


def _cohort_kernels(lt: Lifetime, n_t: int, timing: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    sf = survival_kernel(lt, n_t, timing)
    if sf.ndim == 2 and sf.shape[0] != n_t:
        raise InstanceError(
            where,
            "has per-cohort lifetime parameters for a different number of years",
            sf.shape[0],
            f"{n_t} cohorts (one per model year)",
        )
    return sf, _pdf_from_sf(sf)


def initial_stock_flows(
    age_structure: np.ndarray, lt: Lifetime, n_years: int, timing: Timing = "end"
) -> tuple[np.ndarray, np.ndarray]:
    """Stock and outflow in model years ``0..n_years-1`` of a stock present before year 0.

    ``age_structure[..., a]`` is the stock of age ``a`` at the end of year -1 (entered in year
    ``-1 - a``). With ``w[a] = age_structure[a] / sf[a]`` (conditional survival)::

        stock[t]   = sum_a w[a] * sf[a + 1 + t]
        outflow[t] = sum_a w[a] * pdf[a + 1 + t]

    so ``sum(age_structure) = stock[-1 + n] + sum(outflow)``. Cohort-dependent lifetimes use
    cohort 0's parameters for these historic cohorts.
    """
    stock0 = _as_series(age_structure, "initial_stock")
    if (stock0 < 0).any():
        raise InstanceError("initial_stock", "has negative entries", float(stock0.min()), "stock >= 0")
    n_years = int(n_years)
    n_ages = stock0.shape[-1]
    lt0 = lt.at_cohort(0) if lt.cohort_dependent else lt
    sf = survival_kernel(lt0, n_ages + n_years + 1, timing)
    pdf = _pdf_from_sf(sf)
    impossible = (sf[:n_ages] <= 0) & (stock0 > 0).reshape(-1, n_ages).any(axis=0)
    if impossible.any():
        a = int(np.flatnonzero(impossible)[0])
        raise InstanceError(
            f"initial_stock[age {a}]",
            f"is positive but the lifetime gives survival 0 at age {a} (timing '{timing}'), so no such stock can exist",
            float(np.max(stock0[..., a])),
            "0 at ages the lifetime does not reach, or a longer lifetime",
        )
    from .stocks import cohorts_of_age_structure, hankel_flows

    return hankel_flows(cohorts_of_age_structure(stock0, sf), sf, pdf, n_years)


def inflow_driven(
    inflow: np.ndarray,
    lt: Lifetime,
    timing: Timing = "end",
    initial_stock: np.ndarray | None = None,
    cohort_arrays: bool = False,
) -> StockFlows:
    """Stock and outflow from inflow ``(..., T)`` (vectorised over leading dims).

    ``stock[t] = sum_{c<=t} inflow[c] * sf_c[t-c]``, ``outflow[t] = sum_{c<=t} inflow[c] *
    pdf_c[t-c]``, plus the initial stock's remainder and outflow (see ``initial_stock_flows``).
    Computed by the stock engine (:func:`circopt.stocks.causal_convolve`): a cohort-independent
    lifetime is a convolution along time (shifted sums, one matrix product for all series, or an
    FFT past 2,048 years); a cohort-dependent one uses the (T x T) cohort matrix.
    ``cohort_arrays=True`` adds ``stock_by_cohort``/``outflow_by_cohort`` ``(..., T, T)``
    [time, cohort].
    """
    from .stocks import causal_convolve, cohort_matrix

    x = _as_series(inflow, "inflow")
    n_t = x.shape[-1]
    sf, pdf = _cohort_kernels(lt, n_t, timing, "lifetime")
    if sf.ndim == 1:
        stock, outflow = causal_convolve(x, [sf, pdf])
        m_sf = m_pdf = None
    else:
        m_sf, m_pdf = cohort_matrix(sf, n_t), cohort_matrix(pdf, n_t)
        stock, outflow = x @ m_sf, x @ m_pdf
    result = StockFlows(stock=stock, outflow=outflow, inflow=x)
    if cohort_arrays:
        if m_sf is None:
            m_sf, m_pdf = (
                cohort_matrix(np.broadcast_to(sf, (n_t, n_t)), n_t),
                cohort_matrix(np.broadcast_to(pdf, (n_t, n_t)), n_t),
            )
        # [..., t, c] = inflow[..., c] * M[c, t]
        result.stock_by_cohort = x[..., None, :] * m_sf.T
        result.outflow_by_cohort = x[..., None, :] * m_pdf.T
    if initial_stock is not None:
        s0, o0 = initial_stock_flows(initial_stock, lt, n_t, timing)
        result.stock = result.stock + s0
        result.outflow = result.outflow + o0
    return result


#: round-off allowed on a stock-driven inflow before it counts as negative, relative to the largest
#: target stock of the series (one tolerance for the instance route and :func:`stock_driven`)
NEGATIVE_INFLOW_RTOL = 1e-9


def negative_inflow_tol(target: np.ndarray) -> np.ndarray:
    """The amount below zero a stock-driven inflow may reach by round-off (then read as 0):
    :data:`NEGATIVE_INFLOW_RTOL` x max(1, the series' largest |stock|), per series."""
    return NEGATIVE_INFLOW_RTOL * np.maximum(1.0, np.max(np.abs(target), axis=-1))


def stock_driven(
    stock: np.ndarray,
    lt: Lifetime,
    timing: Timing = "end",
    initial_stock: np.ndarray | None = None,
    negative_inflow: Literal["error", "clip"] = "error",
) -> StockFlows:
    """Inflow and outflow that make the stock follow ``stock`` ``(..., T)``.

    Year by year (vectorised over series)::

        inflow[t] = (stock[t] - sum_{c<t} inflow[c] * sf_c[t-c] - initial_remaining[t]) / sf_t[0]

    ``sf_t[0] == 0`` (nothing survives its year of entry) raises ``InstanceError``.

    Negative-inflow policy: a stock falling faster than its cohorts leave would need a negative
    inflow. ``negative_inflow="error"`` raises ``InstanceError`` naming the year index, series and
    amount; ``"clip"`` sets that inflow to 0 and the stock then stays *above* its target (the
    returned ``stock`` is the stock actually reached; no extra outflow is invented). Negative
    amounts within rounding (``1e-9 x`` the series' largest stock) are set to 0 under either
    policy. The returned ``outflow`` is the lifetime's outflow of the resulting inflows (plus the
    initial stock's), so the mass balance ``stock[t] - stock[t-1] = inflow[t] - outflow[t]`` holds.
    """
    target = _as_series(stock, "stock")
    if negative_inflow not in ("error", "clip"):
        raise InstanceError("negative_inflow", "is not a known policy", negative_inflow, "'error' or 'clip'")
    n_t = target.shape[-1]
    sf, _ = _cohort_kernels(lt, n_t, timing, "lifetime")
    sf0 = sf[:, 0] if sf.ndim == 2 else np.full(n_t, sf[0])
    if (sf0 <= 0).any():
        c = int(np.flatnonzero(sf0 <= 0)[0])
        raise InstanceError(
            "lifetime",
            f"lets nothing survive its year of entry (survival at age 0 is 0 for cohort {c}, "
            f"timing '{timing}'), so no inflow can build a stock",
            float(sf0[c]),
            "survival at age 0 > 0",
        )
    from .stocks import follow_target

    remaining = np.zeros(target.shape)  # stock at t of what was there before year 0
    init_outflow = 0.0
    if initial_stock is not None:
        remaining, init_outflow = initial_stock_flows(initial_stock, lt, n_t, timing)
    lead = np.broadcast_shapes(target.shape[:-1], remaining.shape[:-1])
    target = np.broadcast_to(target, lead + (n_t,))
    inflow, actual, events = follow_target(target, sf, remaining, negative_inflow_tol(target), negative_inflow)
    if events and events[-1][3] == "negative":
        t, idx, x, _ = events[-1]
        series = f" (series index {tuple(int(i) for i in idx)})" if idx else ""
        raise InstanceError(
            f"stock[year index {t}]",
            f"falls faster than its cohorts leave: it would need an inflow of {x:.6g}{series}",
            float(target[(*idx, t)]),
            "a stock reachable with inflow >= 0, or negative_inflow='clip'",
        )
    flows = inflow_driven(inflow, lt, timing)
    return StockFlows(stock=actual, outflow=flows.outflow + init_outflow, inflow=inflow)
