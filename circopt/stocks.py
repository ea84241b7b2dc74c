"""The stock engine: every stock and outflow equation of circopt, computed here only.

A cohort ``j`` entering a stock with inflow ``i[j]`` is, ``a`` years later, still in stock with
the survival kernel ``sf_j[a]`` and leaves with the outflow kernel ``pdf_j[a]`` (see
:mod:`circopt.lifetimes` for the kernels and timing modes)::

    stock[t]   = sum_{j<=t} i[j] * sf_j[t - j]
    outflow[t] = sum_{j<=t} i[j] * pdf_j[t - j]

Callers: the simulator (whole convolutions of every stock at once, or the outflow of earlier
cohorts one year at a time; stock-driven inflows), the optimiser's convolution rows
(:meth:`StockPlan.convolution_entries`), Result's stock recompute and audit, and the public
:func:`circopt.lifetimes.inflow_driven`.

Fast paths: a kernel that does not depend on the cohort is a convolution along time -- shifted
sums for short supports, else one matrix product for every series that shares the kernel
(sums of the terms themselves, so each value is exact to a few ulp of itself); a
cohort-dependent kernel uses the (cohort x time) matrix.

The plan of a System puts every stock node on one extended time axis starting ``H`` years
before the first model year, where ``H`` is the longest history (or initial-stock age
structure) of any stock; extended index ``k`` is calendar year ``years[0] - H + k``. Cohorts
before the first model year use the lifetime parameters of the first model cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .lifetimes import negative_inflow_tol, outflow_kernel, survival_kernel
from .system import System

#: kernels with at most this many non-zero ages are convolved by direct shifted sums: exact, and
#: faster than an FFT up to about 4 lags (measured at 1,000 series x 301 years)
DIRECT_SUPPORT_MAX = 4
#: a shared kernel on up to this many years is applied as one matrix product (a 2,048-year
#: matrix is 32 MiB); longer series use an FFT
TOEPLITZ_MAX = 2048
#: up to this many series share a kernel, each is convolved on its own (numpy's direct sum)
FEW_SERIES = 8


# --------------------------------------------------------------------------------------------
# convolution fast paths
# --------------------------------------------------------------------------------------------
def support(kernel: np.ndarray) -> int:
    """Number of ages up to the last non-zero entry of a kernel ``(..., ages)``."""
    nz = np.flatnonzero(np.any(kernel != 0, axis=tuple(range(kernel.ndim - 1))))
    return int(nz[-1]) + 1 if nz.size else 0


def causal_convolve(x: np.ndarray, kernels: list[np.ndarray]) -> list[np.ndarray]:
    """``y[..., t] = sum_{a<=t} kernel[..., a] * x[..., t-a]`` for each kernel, on ``x``'s last axis.

    A kernel is ``(ages,)`` or, one per series, broadcastable against ``x`` with ages last.
    Short supports use shifted sums; a shared kernel on up to :data:`TOEPLITZ_MAX` years one
    matrix product with its (lower-triangular Toeplitz) convolution matrix. Both sum the terms
    themselves, so a value is exact to a few ulp of *itself* (every term is >= 0 for inflows):
    a near-empty year stays near-empty, as the audit's relative test needs. Longer series
    use one FFT (O(T log T), accurate to round-off of the series' largest value).
    """
    n_t = x.shape[-1]
    sup = min(max(support(k) for k in kernels) if kernels else 0, n_t)
    kernels = [k[..., :sup] for k in kernels]
    if sup == 0:
        return [np.zeros(np.broadcast_shapes(x.shape, k.shape[:-1] + (1,))) for k in kernels]
    if sup <= DIRECT_SUPPORT_MAX:
        outs = []
        for k in kernels:
            y = x * k[..., 0:1]
            for lag in range(1, sup):
                kl = k[..., lag : lag + 1]
                if np.any(kl != 0.0):
                    y[..., lag:] += kl * x[..., : n_t - lag]
            outs.append(y)
        return outs
    if all(k.ndim == 1 for k in kernels):
        flat = x.reshape(-1, n_t)
        if flat.shape[0] <= FEW_SERIES:
            return [np.array([np.convolve(r, k)[:n_t] for r in flat]).reshape(x.shape) for k in kernels]
        if n_t <= TOEPLITZ_MAX:
            return [(flat @ convolution_matrix(k, n_t).T).reshape(x.shape) for k in kernels]
    import scipy.fft  # only past TOEPLITZ_MAX years (`circopt check` stays quick)

    n_fft = scipy.fft.next_fast_len(n_t + sup - 1, real=True)
    xf = scipy.fft.rfft(x, n_fft, axis=-1)
    return [scipy.fft.irfft(xf * scipy.fft.rfft(k, n_fft, axis=-1), n_fft, axis=-1)[..., :n_t] for k in kernels]


def convolution_matrix(kernel: np.ndarray, n_t: int) -> np.ndarray:
    """``(n_t, n_t)`` with ``M[t, j] = kernel[t - j]`` for ``t >= j`` (0 above the diagonal)."""
    k = np.zeros(n_t)
    m = min(n_t, kernel.shape[-1])
    k[:m] = kernel[:m]
    age = np.arange(n_t)[:, None] - np.arange(n_t)[None, :]
    return np.where(age >= 0, k[np.clip(age, 0, n_t - 1)], 0.0)


#: column blocks of :func:`triangular_product` (a block reads the rows up to its last column)
TRIANGULAR_BLOCK = 64


def triangular_product(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x @ m`` for an upper-triangular ``m`` (``m[j, k] = 0`` for ``j > k``, as a convolution
    matrix transposed): column block by column block, each with only the rows at or above its
    last column (about half the arithmetic of the full product; the same sums, as zeros add
    nothing)."""
    n = m.shape[1]
    if n <= 2 * TRIANGULAR_BLOCK:
        return x @ m
    out = np.empty((x.shape[0], n))
    for k0 in range(0, n, TRIANGULAR_BLOCK):
        k1 = min(n, k0 + TRIANGULAR_BLOCK)
        np.matmul(x[:, :k1], m[:k1, k0:k1], out=out[:, k0:k1])
    return out


def cohort_matrix(kernel_by_cohort: np.ndarray, n_t: int) -> np.ndarray:
    """``M[c, t] = kernel_c[t - c]`` for ``t >= c``, else 0 (``(T, T)``)."""
    m = np.zeros((n_t, n_t))
    for c in range(n_t):
        m[c, c:] = kernel_by_cohort[c, : n_t - c]
    return m


def hankel_flows(weights: np.ndarray, sf: np.ndarray, pdf: np.ndarray, n_years: int) -> tuple[np.ndarray, np.ndarray]:
    """Stock and outflow in years ``0..n_years-1`` of cohorts that entered before year 0:
    ``weights[..., a]`` entered in year ``-1 - a``, so ``stock[t] = sum_a w[a] * sf[a + 1 + t]``
    (Hankel views of the kernels, no copy)."""
    n_ages = weights.shape[-1]
    h_sf = np.lib.stride_tricks.sliding_window_view(sf[1:], n_years)[:n_ages]
    h_pdf = np.lib.stride_tricks.sliding_window_view(pdf[1:], n_years)[:n_ages]
    return weights @ h_sf, weights @ h_pdf


def cohorts_of_age_structure(age_structure: np.ndarray, sf: np.ndarray) -> np.ndarray:
    """Initial stock by age -> the inflow of each past cohort (``age_structure[a] / sf[a]``,
    conditional survival; 0 where nothing survives). Age ``a`` entered ``1 + a`` years ago."""
    n_ages = age_structure.shape[-1]
    return np.divide(age_structure, sf[:n_ages], out=np.zeros_like(age_structure, dtype=float),
                     where=sf[:n_ages] > 0)


def follow_target(target: np.ndarray, sf: np.ndarray, remaining: np.ndarray, tol: np.ndarray,
                  on_negative: str, gain: np.ndarray | None = None):
    """The stock-driven inflow: year by year (vectorised over leading dims)::

        x[t] = (target[t] - remaining[t]) / sf_t[0]

    ``sf``: the model cohorts' survival kernels, ``(T,)`` by age or ``(T, T)`` [cohort, age];
    ``remaining`` ``(..., T)``: the stock left in each year of what entered before year 0 (it is
    not changed); ``gain`` (T,): what one unit of ``x`` puts into the stock (1 by default). A
    negative ``x`` within ``tol`` (per series) is 0; a larger one is clipped to 0
    (``on_negative="clip"``) or stops the computation (``"error"``).

    Returns ``(x, stock reached, events)``; events are ``(t, series index, x, kind)`` with kind
    ``"clipped"``, or a last ``"negative"`` / ``"no_survival"`` where the computation stopped.
    """
    n_t = target.shape[-1]
    sf0 = sf[:, 0] if sf.ndim == 2 else np.full(n_t, sf[0])
    gain = np.ones(n_t) if gain is None else gain
    lead = np.broadcast_shapes(target.shape[:-1], remaining.shape[:-1])
    target = np.broadcast_to(target, lead + (n_t,))
    remaining = np.broadcast_to(remaining, lead + (n_t,)).copy()
    inflow, actual = np.zeros(lead + (n_t,)), np.zeros(lead + (n_t,))
    events: list[tuple] = []
    if (sf0 <= 0).any():
        events.append((int(np.flatnonzero(sf0 <= 0)[0]), (), 0.0, "no_survival"))
        return inflow, actual, events
    for t in range(n_t):
        x = (target[..., t] - remaining[..., t]) / sf0[t]
        neg = x < 0
        if neg.any():
            big = neg & (x < -tol / sf0[t])
            for idx in map(tuple, np.argwhere(big)):
                events.append((t, idx, float(x[idx]), "negative" if on_negative == "error" else "clipped"))
                if on_negative == "error":
                    return inflow, actual, events
            x = np.where(neg, 0.0, x)
        inflow[..., t] = x
        kern = (sf[t, : n_t - t] if sf.ndim == 2 else sf[: n_t - t]) * gain[t]
        actual[..., t] = remaining[..., t] + x * kern[0]
        remaining[..., t + 1 :] += x[..., None] * kern[1:]
    return inflow, actual, events


# --------------------------------------------------------------------------------------------
# the plan of a System
# --------------------------------------------------------------------------------------------
@dataclass
class StockPlan:
    H: int  # history length on the extended axis
    L: int  # H + T
    stocks: list[int]  # node ids of stock nodes, in order
    pdf: list[np.ndarray]  # per stock: (L,) by age, or (L, L) [cohort, age] when cohort-dependent
    sf: list[np.ndarray]
    hist_inflow: np.ndarray  # (S, L, C) inflow of history cohorts (zeros on model years)
    _matrices: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        S, L = len(self.stocks), self.L
        self.flat = np.array([k for k in range(S) if self.pdf[k].ndim == 1], int)
        self.by_cohort = np.array([k for k in range(S) if self.pdf[k].ndim == 2], int)
        self.pdf_flat = np.array([self.pdf[k] for k in self.flat]).reshape(len(self.flat), L)
        self.sf_flat = np.array([self.sf[k] for k in self.flat]).reshape(len(self.flat), L)
        # reversed outflow kernels: weights of cohorts 0..k-1 in year k are pdf_rev[:, L-1-k : L-1]
        self._pdf_rev = np.ascontiguousarray(self.pdf_flat[:, ::-1])
        groups: dict[bytes, list[int]] = {}  # stocks sharing one kernel share one matrix product
        for row, k in enumerate(self.flat):
            groups.setdefault(self.pdf_flat[row].tobytes() + self.sf_flat[row].tobytes(), []).append(int(k))
        self.groups = [np.array(g, int) for g in groups.values()]

    # ---- whole convolutions -------------------------------------------------------------
    def stock_levels(self, inflow_ext: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Stock on the extended axis: stock[s, k, c] = sum_{j<=k} inflow[s, j, c] * sf_j(k - j)."""
        return self._apply(inflow_ext, ("sf",), which)[0]

    def outflows(self, inflow_ext: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Outflow on the extended axis: sum_{j<=k} inflow[s, j, c] * pdf_j(k - j)."""
        return self._apply(inflow_ext, ("pdf",), which)[0]

    def levels_and_outflows(self, inflow_ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`stock_levels` and :meth:`outflows` of every stock in one pass (one matrix product
        per shared kernel)."""
        levels, outflows = self._apply(inflow_ext, ("sf", "pdf"), None)
        return levels, outflows

    def levels_and_before(self, inflow_ext: np.ndarray, which: np.ndarray | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`stock_levels` ``(n, L, C)`` and, year-major ``(L, n, C)`` as the same-year network
        adds it to its constants, the outflow of the cohorts that entered *before* each year (the
        age-0 term left out: ``sum_{j<k} inflow[s, j, c] * pdf_j(k - j)``) of the stocks ``which``,
        in one pass (the simulator's stages: the whole outflow is ``before + age0("pdf") * inflow``)."""
        levels, before = self._apply(inflow_ext, ("sf", "pdf_before"), which, year_major=(False, True))
        return levels, before

    def _kernel(self, kind: str, row: int) -> np.ndarray:
        if kind == "sf":
            return self.sf_flat[row]
        k = self.pdf_flat[row]
        if kind == "pdf_before":
            k = k.copy()
            k[0] = 0.0
        return k

    def _apply(self, inflow_ext: np.ndarray, kinds: tuple[str, ...], which: np.ndarray | None,
               year_major: tuple[bool, ...] | None = None) -> list[np.ndarray]:
        """Per kind, ``(S, L, C)`` for every stock, or ``(len(which), L, C)`` for the stocks
        ``which`` (``inflow_ext`` is always that of every stock, ``(S, L, C)``); a kind flagged in
        ``year_major`` comes as ``(L, len(which), C)``."""
        S, L = len(self.stocks), self.L
        which = np.arange(S) if which is None else np.asarray(which, int)
        year_major = year_major or (False,) * len(kinds)
        n, C = len(which), inflow_ext.shape[2]
        outs = [np.zeros((L, n, C) if ym else (n, L, C)) for ym in year_major]
        views = [o.transpose(1, 0, 2) if ym else o for o, ym in zip(outs, year_major)]  # (n, L, C) each
        pos = np.full(S, -1)
        pos[which] = np.arange(len(which))
        for group in self.groups:
            g = group[pos[group] >= 0]
            if not g.size:
                continue
            row = np.searchsorted(self.flat, g[0])
            kerns = [self._kernel(kind, row) for kind in kinds]
            if (len(g) * C > FEW_SERIES and L <= TOEPLITZ_MAX
                    and max(support(k) for k in kerns) > DIRECT_SUPPORT_MAX):
                key = (kinds, b"".join(k.tobytes() for k in kerns))
                if key not in self._matrices:  # one matrix per kernel, kept with the plan
                    self._matrices[key] = np.stack([convolution_matrix(k, L).T for k in kerns])
                sr, cr = np.repeat(g, C), np.tile(np.arange(C), len(g))
                x2 = inflow_ext[sr, :, cr]  # (n*C, L): one series per stock and channel
                live = np.flatnonzero(x2.any(axis=1))  # empty series (an absent element) stay 0
                xl = x2 if len(live) == len(x2) else x2[live]
                rows, chans = pos[sr[live]], cr[live]
                for out, ym, m in zip(outs, year_major, self._matrices[key]):
                    y = triangular_product(xl, m)
                    if ym:
                        out[:, rows, chans] = y.T
                    else:
                        out[rows, :, chans] = y
                continue
            x = np.ascontiguousarray(inflow_ext[g].transpose(0, 2, 1))  # (n, C, L)
            ys = causal_convolve(x, kerns)
            for view, y in zip(views, ys):
                view[pos[g]] = y.transpose(0, 2, 1)
        for s in self.by_cohort[pos[self.by_cohort] >= 0]:
            for view, kind in zip(views, kinds):
                view[pos[s]] = self._matrix(int(s), kind).T @ inflow_ext[s]
        return outs

    def _matrix(self, s: int, kind: str) -> np.ndarray:
        key = (s, kind)
        if key not in self._matrices:
            m = cohort_matrix((self.sf if kind == "sf" else self.pdf)[s], self.L)
            if kind == "pdf_before":
                np.fill_diagonal(m, 0.0)
            self._matrices[key] = m
        return self._matrices[key]

    # ---- one year at a time -------------------------------------------------------------
    def outflow_before(self, inflow_ext: np.ndarray, k: int) -> np.ndarray:
        """``(S, C)``: the outflow in extended year ``k`` of the cohorts that entered before it."""
        out = np.zeros((len(self.stocks), inflow_ext.shape[2]))
        if k == 0:
            return out
        if self.flat.size:
            w = self._pdf_rev[:, self.L - 1 - k : self.L - 1]  # (S1, k): pdf_s[k - j], j < k
            out[self.flat] = np.einsum("sj,sjc->sc", w, inflow_ext[self.flat, :k])
        j = np.arange(k)
        for s in self.by_cohort:
            out[s] = self.pdf[s][j, k - j] @ inflow_ext[s, :k]
        return out

    def age0(self, kind: str) -> np.ndarray:
        """``(S, L)``: survival (``kind="sf"``) or outflow kernel at age 0 of the cohort entering in
        each extended year (the part of a cohort's own year that the same-year network sees)."""
        ker = self.sf if kind == "sf" else self.pdf
        out = np.empty((len(self.stocks), self.L))
        for s, x in enumerate(ker):
            out[s] = x[0] if x.ndim == 1 else x[:, 0]
        return out

    def convolution_entries(self, s: int, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero terms of stock ``s``'s outflow in model years: ``(t, j, w)`` with
        ``outflow[t] += w * inflow[j]`` for model cohorts ``j <= t`` (the optimiser's rows)."""
        pdf = self.pdf[s]
        ti, tj = np.tril_indices(T)
        w = pdf[ti - tj] if pdf.ndim == 1 else pdf[self.H + tj, ti - tj]
        m = w != 0
        return ti[m], tj[m], w[m]

    # ---- stock-driven stocks ------------------------------------------------------------
    def driven_inflow(self, s: int, target: np.ndarray, inflow_ext: np.ndarray, gain: np.ndarray,
                      on_negative: str):
        """:func:`follow_target` for stock ``s`` (T,): its earlier cohorts are those of
        ``inflow_ext[s]`` before the first model year (history, or nothing in a traced pulse)."""
        T, H, sf = len(target), self.H, self.sf[s]
        tot = inflow_ext[s, :H].sum(axis=1)  # history cohorts, total over channels
        if H == 0:
            remaining = np.zeros(T)
        elif sf.ndim == 1:
            remaining = np.convolve(tot, sf)[H : H + T]
        else:
            j, t = np.arange(H)[:, None], np.arange(T)[None, :]
            remaining = tot @ sf[j, H + t - j]
        sf = sf[H:, :T] if sf.ndim == 2 else sf[:T]
        x, _, events = follow_target(target, sf, remaining, negative_inflow_tol(target), on_negative, gain)
        return x, [(t, amount, kind) for t, _, amount, kind in events]


def stock_plan(system: System) -> StockPlan:
    """The stocks' kernels and history cohorts (cached on the System)."""
    return system.cached("stock_plan", lambda: _stock_plan(system))


def _stock_plan(system: System) -> StockPlan:
    stocks = [i for i, n in enumerate(system.nodes) if n.kind == "stock"]
    H = 0
    for i in stocks:
        n = system.nodes[i]
        if n.history is not None:
            H = max(H, int(system.years[0] - n.history_years[0]))
    T, C = system.T, system.C
    L = H + T
    pdfs, sfs = [], []
    hist = np.zeros((len(stocks), L, C))
    for s, i in enumerate(stocks):
        n = system.nodes[i]
        p = outflow_kernel(n.lifetime, L, system.timing)
        f = survival_kernel(n.lifetime, L, system.timing)
        if p.ndim == 2:  # per model cohort -> per extended cohort
            rows = np.clip(np.arange(L) - H, 0, T - 1)
            p, f = p[rows], f[rows]
        pdfs.append(p)
        sfs.append(f)
        if n.history is not None:
            k0 = H - len(n.history_years)
            hist[s, k0:H] = n.history
    return StockPlan(H=H, L=L, stocks=stocks, pdf=pdfs, sf=sfs, hist_inflow=hist)
