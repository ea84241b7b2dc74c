"""One self-contained HTML page per study: description, sources, tables, figures, audit.

Figures are embedded as base64 PNG (static) and, when plotly is installed, one interactive
Sankey with plotly.js inlined, so the page opens offline in any browser.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from . import plots
from .errors import CircoptError
from .system import TOTAL


def _img(fig, alt: str) -> str:
    data = base64.b64encode(plots.figure_png_bytes(fig)).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/><figcaption>{html.escape(alt)}</figcaption></figure>'


def _table(df: pd.DataFrame, max_rows: int = 60) -> str:
    return df.head(max_rows).to_html(index=False, float_format=lambda v: f"{v:.6g}", border=0, classes="tbl")


def build_report(system, scenario: str | None = None, objective=None, trace_source: str | None = None,
                 interactive: bool = True) -> str:
    """Run the study and return the HTML page as a string."""
    from .simulate import simulate
    from .trace import pulse_sources, trace

    res = simulate(system)
    opt = None
    if objective is not None:
        from .model import optimise

        opt = optimise(system, objective=objective)
    s = system
    parts = [f"<h1>{html.escape(s.name)}{' — ' + html.escape(scenario) if scenario else ''}</h1>",
             f"<p>{html.escape(s.description)}</p>",
             f"<p>Years {s.years[0]}–{s.years[-1]}, unit {html.escape(s.unit)}, elements "
             f"{html.escape(', '.join(s.elements))}; {len(s.nodes)} nodes, {len(s.edges)} streams; "
             f"instance hash {s.content_hash}.</p>"]
    # audit
    a = res.audit
    worst = a.sort_values("relative", ascending=False).head(5)
    ok = res.max_relative_imbalance <= 1e-9
    parts.append(f'<h2>Mass-balance audit</h2><p class="{"ok" if ok else "bad"}">Largest relative imbalance '
                 f"(any node, element, year): {res.max_relative_imbalance:.2e} — "
                 f"{'closed (≤ 1e-9)' if ok else 'NOT CLOSED'}.</p>" + _table(worst))
    # losses
    cum = res.cumulative_losses().pivot(index="loss_type", columns="element", values="value").reset_index()
    parts.append("<h2>Cumulative losses and outflows by type (simulation)</h2>" + _table(cum))
    if opt is not None:
        cum_o = opt.cumulative_losses().pivot(index="loss_type", columns="element", values="value").reset_index()
        parts.append(f"<h2>Optimised ({html.escape(str(objective))}): cumulative losses</h2>" + _table(cum_o))
        parts.append(f"<p>Objective {opt.objective:.6g}; terms {html.escape(str(opt.objective_terms))}; "
                     f"audit {opt.max_relative_imbalance:.2e}.</p>")
        if opt.duals is not None and len(opt.duals):
            b = opt.duals[opt.duals.get("binding", True) == True]  # noqa: E712
            parts.append("<h3>Binding constraints and their value (duals)</h3>" + _table(b, 30))
    # figures
    figs = []
    for y in sorted({int(s.years[0]), int(s.years[len(s.years) // 2]), int(s.years[-1])}):
        figs.append(_img(plots.sankey_png(res, y), f"Sankey of {y} (total mass)"))
    series = {"simulation": res} | ({"optimised": opt} if opt is not None else {})
    figs.append(_img(plots.plot_series(series, "losses"), "Losses and outflows per year (all types)"))
    if any(n.loss == "surplus" for n in s.nodes if n.kind == "sink"):
        figs.append(_img(plots.plot_series(series, "losses", loss_type="surplus"), "Scrap surplus per year"))
    if any(n.kind == "stock" for n in s.nodes):
        figs.append(_img(plots.plot_series(series, "stocks"), "In-use stocks"))
    try:
        ids = pulse_sources(s, trace_source)
    except CircoptError:
        ids = []
    if ids:
        fate = trace(s, source=s.nodes[ids[0]].family if trace_source is None else trace_source)
        for el in [*s.elements, TOTAL]:
            if el in set(fate.table.element):
                figs.append(_img(plots.plot_fate(fate, el), f"Fate of the {fate.year} input: {el}"))
        parts.append("<h2>Fate summary</h2>" + _table(fate.summary, 80))
    parts.append("<h2>Figures</h2>" + "".join(figs))
    if interactive:
        try:
            fig = plots.sankey_figure(res, int(s.years[-1]))
            parts.append("<h2>Interactive Sankey</h2>" + fig.to_html(full_html=False, include_plotlyjs=True))
        except ImportError:  # plotly is optional
            pass
    # decisions
    if res.decisions is not None and len(res.decisions):
        d = res.decisions[res.decisions.year == int(s.years[-1])]
        parts.append(f"<h2>Decisions in {int(s.years[-1])} (simulation)</h2>" + _table(d))
    # sources
    used = sorted({sid for ids_ in s.node_sources.values() for sid in ids_})
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(s.sources.get(k, 'estimate'))}</td></tr>"
                   for k in used)
    parts.append(f"<h2>Sources</h2><table class='tbl'><tr><th>id</th><th>citation</th></tr>{rows}</table>")
    if res.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in res.notes) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "img{max-width:100%}.tbl{border-collapse:collapse;font-size:12px}.tbl td,.tbl th{padding:2px 8px;"
             "border-bottom:1px solid #ddd}.ok{color:#2a7}.bad{color:#c22;font-weight:bold}figure{margin:1em 0}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(s.name)} — circopt report"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(path, page: str, instance_dir: str | Path | None = None) -> Path:
    """Write the page atomically, marked as circopt's (an HTML comment after the doctype).

    ``path``: a file path or a held :class:`circopt.io.OutputTarget`. An existing file is replaced only if
    circopt wrote it (it carries the marker) or it is empty; a folder is refused (:mod:`circopt.io`).
    """
    from .io import mark_html, write_file

    return write_file(path, mark_html(page, "report"), instance_dir, "report")
