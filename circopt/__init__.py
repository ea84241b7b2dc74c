"""circopt: dynamic material flow analysis and circular-economy policy optimisation for metals.

The public verbs::

    system = circopt.load("instances/toy", scenario=None)   # validated System
    result = circopt.simulate(system)                        # given shares -> Result
    result = circopt.optimise(system, objective="losses")    # Pyomo LP solved by HiGHS
    result.flows, result.stocks, result.losses, result.audit, result.to_dir("out")
    circopt.binding(result)                                  # which bounds bind, what each is worth
"""

from __future__ import annotations

__version__ = "0.1.0"

from .bounds import binding, binding_levers  # noqa: E402
from .decisions import Decisions, DecisionsError  # noqa: E402
from .errors import (  # noqa: E402
    CircoptError,
    InfeasibleError,
    InstanceError,
    InstanceErrors,
    SimulationError,
    SolverError,
    UnboundedError,
)
from .instance import build, load  # noqa: E402
from .result import Result  # noqa: E402
from .simulate import simulate  # noqa: E402
from .system import System  # noqa: E402


def optimise(*args, **kwargs):
    """Optimise a system (see :func:`circopt.model.optimise`)."""
    from .model import optimise as _optimise

    return _optimise(*args, **kwargs)


__all__ = [
    "CircoptError", "Decisions", "DecisionsError", "InfeasibleError", "binding", "binding_levers", "InstanceError", "InstanceErrors", "Result", "SimulationError",
    "SolverError", "System", "UnboundedError", "build", "load", "optimise", "simulate", "__version__",
]
