"""Lifetime kernels of every stock node on one extended time axis (history + model years).

Both engines read this: the simulator to convolve inflows year by year, the optimiser to
write the convolution rows. Computed once per System.

The extended axis starts ``H`` years before the first model year, where ``H`` is the
longest history (or initial-stock age structure) of any stock; extended index ``k``
is calendar year ``years[0] - H + k``. Cohorts before the first model year use the
lifetime parameters of the first model cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lifetimes import outflow_kernel, survival_kernel
from .system import System


@dataclass
class StockPlan:
    H: int  # history length on the extended axis
    L: int  # H + T
    stocks: list[int]  # node ids of stock nodes, in order
    pdf: list[np.ndarray]  # per stock: (L,) by age, or (L, L) [cohort, age] when cohort-dependent
    sf: list[np.ndarray]
    hist_inflow: np.ndarray  # (S, L, C) inflow of history cohorts (zeros on model years)

    def stock_levels(self, inflow_ext: np.ndarray) -> np.ndarray:
        """Stock on the extended axis: stock[s, k, c] = sum_{j<=k} inflow[s, j, c] * sf_j(k - j)."""
        return self._apply(inflow_ext, self.sf)

    def outflows(self, inflow_ext: np.ndarray) -> np.ndarray:
        """Outflow on the extended axis: sum_{j<=k} inflow[s, j, c] * pdf_j(k - j)."""
        return self._apply(inflow_ext, self.pdf)

    @staticmethod
    def _apply(inflow_ext: np.ndarray, kernels: list[np.ndarray]) -> np.ndarray:
        S, L, _ = inflow_ext.shape
        out = np.zeros_like(inflow_ext)
        for s in range(S):
            out[s] = _convolve(inflow_ext[s], kernels[s], L)
        return out


def _convolve(inflow: np.ndarray, kernel: np.ndarray, L: int) -> np.ndarray:
    """sum over cohorts j <= k of inflow[j, :] * kernel(j, k - j) for k < L."""
    if kernel.ndim == 1:
        out = np.empty_like(inflow)
        for c in range(inflow.shape[1]):
            out[:, c] = np.convolve(inflow[:, c], kernel[:L])[:L]
        return out
    k = np.arange(L)
    age = k[None, :] - k[:, None]  # [cohort, time]
    W = np.where(age >= 0, kernel[k[:, None], np.clip(age, 0, L - 1)], 0.0)  # (cohort, time)
    return W.T @ inflow


def stock_plan(system: System) -> StockPlan:
    cached = getattr(system, "_stock_plan", None)
    if cached is not None:
        return cached
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
    plan = StockPlan(H=H, L=L, stocks=stocks, pdf=pdfs, sf=sfs, hist_inflow=hist)
    system._stock_plan = plan
    return plan
