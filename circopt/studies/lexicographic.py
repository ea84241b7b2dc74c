"""Lexicographic optimisation: the optimum of one objective held (within a slack) while the next is optimised.

    circopt.optimise(system, "surplus", then=["primary", "energy"], slack=1e-6)

Stage 1 minimises ``objective``. Each later stage minimises its own objective with every earlier
stage's term held by an epsilon row (``epsilon[term]``: the term at most its optimum plus
``slack x max(|optimum|, 1)``, in the term's units) -- a held stage must therefore be one term
(a name of :data:`circopt.terms.TERMS` or ``indicator:NAME``); the last stage may be a weighted sum.
The Result is the last stage's, with ``extra["lexicographic"]``: per stage its objective, the
optimum found and the bound it was then held at.
"""

from __future__ import annotations

from typing import Any

from ..errors import InstanceError

__all__ = ["hold_bound", "optimise_lexicographic"]


def hold_bound(value: float, slack: float) -> float:
    """The bound a stage's optimum is held at: ``value + slack x max(|value|, 1)``."""
    return float(value) + float(slack) * max(abs(float(value)), 1.0)


def _single_term(objective: Any, where: str) -> tuple[str, dict]:
    """(term name, its options) of a stage that later stages hold."""
    if isinstance(objective, str):
        return objective, {}
    if isinstance(objective, dict) and len(objective) == 1:
        name, val = next(iter(objective.items()))
        opts = {k: v for k, v in val.items() if k != "weight"} if isinstance(val, dict) else {}
        return str(name), opts
    if isinstance(objective, (list, tuple)) and len(objective) == 1:
        return str(objective[0]), {}
    raise InstanceError(where, "a stage that later stages hold must be one objective term", objective,
                        expected="a name such as 'surplus' or 'indicator:NAME' (only the last stage may be a sum)")


def optimise_lexicographic(system, objective: Any, then: list, slack: float = 1e-6, epsilon: dict | None = None,
                           uniqueness: bool = False, **kwargs: Any):
    """Optimise ``objective``, then each of ``then`` in turn with the earlier optima held (see the module)."""
    from ..lp.solve import optimise

    if isinstance(then, (str, dict)):
        then = [then]
    if not isinstance(slack, (int, float)) or isinstance(slack, bool) or not slack >= 0:
        raise InstanceError("slack", "expected a number >= 0", slack)
    stages = [objective, *then]
    held = dict(epsilon or {})
    log = []
    res = None
    for k, stage in enumerate(stages):
        last = k == len(stages) - 1
        res = optimise(system, objective=stage, epsilon=dict(held) or None, uniqueness=uniqueness and last, **kwargs)
        entry = {"stage": k + 1, "objective": stage if isinstance(stage, str) else dict(stage)
                 if isinstance(stage, dict) else list(stage), "value": float(res.objective)}
        if k < len(stages) - 1:
            name, opts = _single_term(stage, f"lexicographic stage {k + 1}")
            if name in held:
                raise InstanceError(f"lexicographic stage {k + 1}", f"'{name}' is already held (an earlier stage or "
                                    "epsilon)", stage, expected="each term once")
            value = float(res.objective_terms[name])  # the term itself (a stage's weight scales the objective)
            bound = hold_bound(value, slack)
            held[name] = {"max": bound, **opts} if opts else bound
            entry.update(term=name, term_value=value, held_at=bound)
        log.append(entry)
    res = res.annotated(lexicographic={"stages": log, "slack": float(slack)})
    return res
