"""The optimiser's parts, one idea per module (moved out of :mod:`circopt.model` as they are touched).

* :mod:`.verify` -- every solution checked on the unscaled model before it is called optimal;
* :mod:`.postsolve` -- the state columns recomputed from the decisions without a factorisation.
"""
