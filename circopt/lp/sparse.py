"""Small sparse-matrix helpers shared by the LP's modules."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def row_abs_max(M: sp.csr_matrix | sp.csc_matrix, empty: float = 0.0, data: np.ndarray | None = None) -> np.ndarray:
    """Largest |entry| of each row of a CSR matrix (each column of a CSC one); ``empty`` where
    there is none. ``data`` replaces the matrix's values (same sparsity)."""
    vals = np.abs(M.data if data is None else data)
    counts = np.diff(M.indptr)
    out = np.full(len(counts), float(empty))
    ne = counts > 0
    if ne.any():
        out[ne] = np.maximum.reduceat(vals, M.indptr[:-1][ne])
    return out
