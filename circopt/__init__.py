"""circopt: dynamic material flow analysis and circular-economy policy optimisation for metals.

The public verbs::

    system = circopt.load("instances/toy", scenario=None)   # validated System
    result = circopt.simulate(system)                        # given shares -> Result
    result = circopt.optimise(system, objective="losses")    # Pyomo LP solved by HiGHS
    result.flows, result.stocks, result.losses, result.audit, result.to_dir("out")
    circopt.binding(result)                                  # which bounds bind, what each is worth
    circopt.prioritise(system), circopt.combine(system, budget=3), circopt.compare(path, [None, "s"]),
    circopt.pareto(system, ("losses", "energy")), circopt.whatif(system, constraint, "max", values),
    circopt.sweep(path, samples=20)                          # studies (circopt.studies), each a Study

``import circopt`` is cheap: the verbs and classes are the real objects of their modules (so
``help(circopt.optimise)`` shows its signature and documentation), imported the first time they are
used; numpy, pandas, scipy, Pyomo and matplotlib load only when needed.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._lazy import install  # noqa: E402
from .errors import (  # noqa: E402
    CircoptError,
    InfeasibleError,
    InstanceError,
    InstanceErrors,
    SimulationError,
    SolverError,
    UnboundedError,
)

#: public name -> (module, attribute), imported on first use
_LAZY = {
    "binding": ("bounds", "binding"),
    "binding_levers": ("bounds", "binding_levers"),
    "build": ("instance", "build"),
    "combine": ("studies", "combine"),
    "compare": ("studies", "compare"),
    "instance_dir": ("examples", "instance_dir"),
    "Decisions": ("decisions", "Decisions"),
    "DecisionsError": ("decisions", "DecisionsError"),
    "load": ("instance", "load"),
    "optimise": ("model", "optimise"),
    "pareto": ("studies", "pareto"),
    "prioritise": ("studies", "prioritise"),
    "OutputError": ("io", "OutputError"),
    "Result": ("result", "Result"),
    "simulate": ("simulate", "simulate"),
    "Study": ("studies", "Study"),
    "sweep": ("studies", "sweep"),
    "System": ("system", "System"),
    "whatif": ("studies", "whatif"),
}


install(__name__, _LAZY)

__all__ = [
    "CircoptError", "Decisions", "DecisionsError", "InfeasibleError", "InstanceError", "InstanceErrors", "OutputError", "Result",
    "SimulationError", "SolverError", "Study", "System", "UnboundedError", "binding", "binding_levers", "build", "combine",
    "compare", "instance_dir", "load", "optimise", "pareto", "prioritise", "simulate", "sweep", "whatif", "__version__",
]
