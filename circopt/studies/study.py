"""A study's tables (:class:`Study`) and the headline indicators of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import terms
from ..flowrules import edge_kind
from ..system import EXPORTED, TOTAL
from ..terminal import Progress as _Progress  # noqa: F401 (circopt.studies._Progress)

LOSS_TYPES = ("dissipation", "process", "dilution")


def indicators(res) -> dict[str, float]:
    """Headline numbers of a Result: losses (the three loss types) per element and in total,
    exported (export nodes) and lost to the region (losses + exported: the domestic boundary
    view) per element, each loss type, surplus, primary supply, energy, CO2, cost, the instance's
    indicators (``indicator:NAME``), objective."""
    s = res.system
    cum = res.cumulative_losses()
    out: dict[str, float] = {}
    for el in [*s.elements, TOTAL]:
        sel = cum[(cum.element == el) & cum.loss_type.isin(LOSS_TYPES)]
        out[f"losses/{el}"] = float(sel.value.sum())
        exp = float(cum[(cum.element == el) & (cum.loss_type == EXPORTED)].value.sum())
        out[f"exported/{el}"] = exp
        out[f"lost_to_region/{el}"] = out[f"losses/{el}"] + exp
    for r in cum[cum.element == TOTAL].itertuples():
        out[f"{r.loss_type}/total"] = float(r.value)
    F = res.flows_array
    primary = sum(float(F[:, e, :].sum()) for i in range(len(s.nodes)) for e in s.out_edges(i)
                  if edge_kind(s, s.edges[e]) == "free")
    out["primary/total"] = primary
    out.setdefault("surplus/total", 0.0)
    tv = terms.values(res)  # the objective terms and the instance's declared indicators (indicator:NAME)
    out.update({f"{k}/total": tv[k] for k in ("energy", "co2", "cost")})
    out.update({k: v for k, v in tv.items() if k.startswith(terms.INDICATOR)})
    if res.objective is not None:
        out["objective"] = float(res.objective)
    out["max_relative_imbalance"] = res.max_relative_imbalance
    return out


def objective_tolerance(res, *values: float) -> float:
    """Differences of objectives below this are solver noise, not results: 1e-7 of the larger of
    the objectives compared and of the largest flow of the run times its number of years (HiGHS
    meets bounds to ~1e-9 of the largest flow per row; an objective adds up many rows)."""
    F = res.flows_array
    flow_scale = float(abs(F).sum(axis=2).max()) * F.shape[0] if F.size else 0.0
    return 1e-7 * max([1e-300, flow_scale, *(abs(v) for v in values if v is not None and np.isfinite(v))])


@dataclass
class Study:
    """A study's tables (``table`` the main one) and the runs behind them."""

    kind: str
    table: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    runs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dir(self, out: str | Path, chart: bool = True) -> Path:
        from ..result import write_atomic

        tables = {self.kind: self.table, **self.tables}
        files = {}
        if chart:
            files[f"{self.kind}.png"] = self.chart_png()
        return write_atomic(out, tables, {"study": self.kind, **_jsonable_meta(self.meta)}, files=files)

    def chart_png(self) -> bytes:
        from .. import plots

        if self.kind == "prioritise":
            fig = plots.plot_ranking(self.table[self.table.run == "alone"], value="improvement", label="lever",
                                     title=f"Each lever alone: improvement of {self.meta.get('objective')}")
        elif self.kind == "pareto":
            f, g = self.meta["objectives"]
            fig = plots.plot_pareto(self.table, f, g)
        elif self.kind == "whatif":
            x = self.table.columns[0]
            fig = plots.plot_pareto(self.table, x, "objective", title=f"Objective against {x}")
        elif self.kind == "combine":
            fig = plots.plot_pareto(self.table, "budget", "objective", title="Best objective against budget")
        elif self.kind == "compare":
            t = self.table.set_index("indicator").drop(
                columns=[c for c in self.table.columns if c.startswith(("diff", "rel_"))] + ["unit"], errors="ignore")
            t = t[t.index.str.startswith(("losses/", "surplus/", "primary/", "lost_after_50y/", "exported_after_50y/"))]
            fig = plots.plot_bars(t, "What-if comparison", unit=self.meta.get("unit", ""))
        else:  # sweep
            fig = plots.plot_histograms(self.table, self.meta.get("plot", self.meta.get("indicators", [])),
                                        units=self.meta.get("units", {}))
        return plots.figure_png_bytes(fig)


def _jsonable_meta(meta: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else str(v))
            for k, v in meta.items()}
