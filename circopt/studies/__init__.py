"""Policy studies on any instance: levers, prioritisation, combinations under a budget,
what-if comparisons, Pareto fronts, and sweeps / Monte Carlo that scale out.

Every study is a sequence of ordinary simulations or optimisations of the same System, so
every number it reports carries the same mass-balance audit.

Levers are declared in the instance::

    levers:
      reuse:
        description: Reuse of first-life engines
        cost: 1.0                     # adoption cost (for `combine`)
        baseline:  [{type: share, node: engine_eol, route: reuse, max: 0.10}]
        ambitious: [{type: share, node: engine_eol, route: reuse, max: 0.30}]

A lever's ``baseline`` / ``ambitious`` settings are lists of optimiser constraints (any type
of :data:`circopt.model.CONSTRAINT_TYPES`); "adopting" a lever swaps its baseline
constraints for its ambitious ones.

One idea per module: :mod:`.levers` (declared levers), :mod:`.study` (the :class:`Study` table
and a run's headline indicators), :mod:`.prioritise`, :mod:`.combine` (MILP under a budget),
:mod:`.compare` (scenarios side by side), :mod:`.pareto` (ε-constraint front), :mod:`.whatif`
(one constraint's number swept on a re-parameterised model), :mod:`.sweep` (Monte Carlo / grids)
with :mod:`.executors` (in process, process pool, Dask), :mod:`.lexicographic` and
:mod:`.uniqueness` (used by ``optimise(then=..., uniqueness=True)``).

The names below are imported on first use (``from circopt.studies import levers`` costs only
the levers module, which the instance checks need); each is the real object of its module.
A function shares its name with its module (``whatif`` in :mod:`.whatif`): the attribute of this
package is always the function; reach a module with ``importlib.import_module``.
"""

from __future__ import annotations

from .._lazy import install

#: public (and formerly module-level private) name -> submodule that defines it
_LAZY = {
    "LEVER_KEYS": "levers", "Lever": "levers", "levers": "levers", "lever_constraints": "levers",
    "LOSS_TYPES": "study", "Study": "study", "indicators": "study", "objective_tolerance": "study",
    "_jsonable_meta": "study",
    "prioritise": "prioritise", "_solve": "prioritise", "_row": "prioritise", "_lever_shadow_prices": "prioritise",
    "combine": "combine", "_budget_levels": "combine",
    "compare": "compare",
    "pareto": "pareto", "_term_value": "pareto",
    "whatif": "whatif", "_new_solver": "whatif",
    "sample_ranges": "sweep", "sweep": "sweep", "run_sample": "sweep", "_run_point": "sweep",
    "map_jobs": "executors", "_dask_map": "executors",
    "hold_bound": "lexicographic", "optimise_lexicographic": "lexicographic",
    "_Progress": "study",
}


install(__name__, {name: (module, name) for name, module in _LAZY.items()})

__all__ = ["LEVER_KEYS", "LOSS_TYPES", "Lever", "Study", "combine", "compare", "hold_bound", "indicators",
           "lever_constraints", "levers", "map_jobs", "objective_tolerance", "optimise_lexicographic", "pareto",
           "prioritise", "sample_ranges", "sweep", "whatif"]
