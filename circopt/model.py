"""The optimisation engine's public names (compatibility module): the LP itself is the package
:mod:`circopt.lp`, one idea per module (see its documentation for the model: columns, flow
map, row families, objectives, user constraints, hand-over and post-solve).

``from circopt.model import optimise, build_model, solve, OptModel, NumericalWarning`` keeps
working; new code imports from :mod:`circopt.lp` modules (e.g. :mod:`circopt.lp.solve`).
"""

from __future__ import annotations

from .lp.build import as_system, build_model
from .lp.highs import HIGHS_OPTIONS, Handover, handover
from .lp.index import (
    C_ALLOC,
    C_CAP,
    C_LEFT,
    C_ROUTE,
    C_STATE,
    C_SUPPLY,
    COL_KINDS,
    DECISION_KINDS,
    DROP_REL,
    INF,
    RK,
    ROW_KINDS,
    OptModel,
)
from .lp.objective import OBJECTIVE_OPTIONS, OBJECTIVES, parse_epsilon, parse_objective
from .lp.pyomo_model import pyomo_model
from .lp.select import channel_weights, year_window, years_mask
from .lp.solution import NumericalWarning, build_result
from .lp.solve import optimise, solve
from .lp.user_rows import CONSTRAINT_TYPES, member_nodes, validate_constraints
from .terms import DEFAULT_LOSS_TYPES

__all__ = [
    "COL_KINDS",
    "CONSTRAINT_TYPES",
    "C_ALLOC",
    "C_CAP",
    "C_LEFT",
    "C_ROUTE",
    "C_STATE",
    "C_SUPPLY",
    "DECISION_KINDS",
    "DEFAULT_LOSS_TYPES",
    "DROP_REL",
    "HIGHS_OPTIONS",
    "INF",
    "OBJECTIVES",
    "OBJECTIVE_OPTIONS",
    "RK",
    "ROW_KINDS",
    "NumericalWarning",
    "OptModel",
    "build_model",
    "optimise",
    "solve",
]

# The private names other modules (and other branches) imported from this module before the
# split, kept as aliases of their public names in circopt.lp; do not add new uses.
_RK = RK
_Handover = Handover
_handover = handover
_result = build_result
_as_system = as_system
_parse_objective = parse_objective
_parse_epsilon = parse_epsilon
_validate_constraints = validate_constraints
_members = member_nodes
_years_mask = years_mask
_window = year_window
_channel_weights = channel_weights
_pyomo_model = pyomo_model
