"""Scenarios side by side (simulated, optimised or traced), with differences from the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..readable import indicator_unit
from .study import Study, indicators


def compare(path: str | Path, scenarios: list[str | None], objective: Any = None, boundary: str | None = None,
            trace: bool = False, **opt) -> Study:
    """Scenarios side by side (simulated, or optimised when ``objective`` is given), with the
    difference of each from the first (``diff_``) and relative to it (``rel_``: difference /
    first, NaN where the first is 0). With ``trace``, the indicators are those of each
    scenario's fate trace (``INDICATOR/ELEMENT`` from the fate summary; under the optimal
    shares when ``objective`` is given)."""
    from ..instance import load
    from ..simulate import simulate

    cols, runs = {}, {}
    for name in scenarios:
        system = load(path, name or None, boundary=boundary)
        if trace:
            from ..trace import trace as trace_pulse

            fate = trace_pulse(system, objective=objective, **opt)
            label = name or "base"
            runs[label] = fate.result
            cols[label] = {f"{r.indicator}/{r.element}": float(r.value) for r in fate.summary.itertuples()}
            continue
        if objective is None:
            res = simulate(system)
        else:
            from ..lp.solve import optimise

            res = optimise(system, objective=objective, **opt)
        label = name or "base"
        runs[label] = res
        cols[label] = indicators(res)
    table = pd.DataFrame(cols)
    table.index.name = "indicator"
    first = table.columns[0]
    labels = list(table.columns[1:])
    for c in labels:
        table[f"diff_{c}"] = table[c] - table[first]
    for c in labels:
        table[f"rel_{c}"] = (table[c] - table[first]) / table[first].where(table[first].abs() > 1e-12)
    unit = runs[first].system.unit
    table.insert(0, "unit", [indicator_unit(k, unit, objective) for k in table.index])
    return Study("compare", table.reset_index(), runs=runs, meta={"scenarios": [s or "base" for s in scenarios],
                                                                   "objective": str(objective), "unit": unit})
