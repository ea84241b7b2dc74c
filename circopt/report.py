"""One self-contained HTML page per study that leads with the answer.

Order: the headline (objective in words, baseline against optimum on the objective's own
definition, in units, over the stated years and boundary), what the optimiser chose, what
stops each decision (binding limits with their worth), then the figures (baseline and
optimum side by side), the tables, the audit and the sources. Figures are embedded as
base64 PNG, with one interactive Sankey (plotly.js inlined) when plotly is installed, so the
page opens offline in any browser.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from . import readable as rd
from .errors import CircoptError
from .system import TOTAL

STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1180px;margin:1.5em auto;"
    "padding:0 1em;color:#222;line-height:1.4}h1{font-size:1.55em;margin-bottom:.2em}"
    "h2{margin-top:1.8em;border-bottom:2px solid #e5e5e5;padding-bottom:.2em}.sub{color:#666;margin-top:0}"
    "#headline{background:#f4f8fb;border:1px solid #cfe0ee;border-radius:8px;padding:1em 1.4em}"
    ".kpis{display:flex;gap:2.5em;flex-wrap:wrap;margin:.6em 0}.kpi .v{font-size:1.7em;font-weight:600}"
    ".kpi .l{color:#555;font-size:.85em}.good{color:#1a7f37}.bad{color:#c22;font-weight:bold}"
    ".ok{color:#1a7f37}img{max-width:100%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}"
    "figure{margin:1em 0;border:1px solid #eee;padding:.5em;border-radius:6px;background:#fff}"
    "figcaption{font-size:.88em;color:#444;margin-top:.3em}.tbl{border-collapse:collapse;font-size:13px;"
    "margin:.5em 0}.tbl td,.tbl th{padding:3px 9px;border-bottom:1px solid #e2e2e2;text-align:left}"
    ".tbl td.n{text-align:right;font-variant-numeric:tabular-nums}.tbl th{background:#f6f6f6}"
    ".tbl caption{text-align:left;font-weight:600;padding:.3em 0}.more{font-size:.85em;color:#555}"
    ".note{color:#555;font-size:.9em}"
)


def _img(fig, caption: str, alt: str | None = None) -> str:
    data = base64.b64encode(plots.figure_png_bytes(fig)).decode()
    return (f'<figure><img alt="{html.escape(alt or caption)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def title_of(system) -> tuple[str, str]:
    """A title from the instance's description (its first clause), and a subtitle naming it."""
    desc = " ".join((system.description or "").split())
    cut = min([i for i in (desc.find(": "), desc.find(". ")) if i > 0] or [len(desc)])
    title = desc[:cut].strip() if 0 < cut <= 200 else system.name.replace("_", " ").capitalize()
    if title.count("(") > title.count(")"):  # a clause cut inside parentheses: drop the open one
        title = title[:title.rfind("(")].strip()
    return title or system.name, f"instance {system.name}"


def sankey_years(res, min_links: int = 4) -> list[int]:
    """Years worth drawing: the peak of what leaves the in-use stocks (where the material is on
    the move, unless that is the first or last year) and the middle year, else the first year;
    a year whose Sankey would have fewer than ``min_links`` bands (one bar) is skipped."""
    s = res.system
    years = [int(y) for y in s.years]
    mid = years[len(years) // 2]
    stock_edges = [e.id for e in s.edges if e.rule == "stock"]
    cands = []
    if stock_edges:
        out = res.flows_array[:, stock_edges, :].sum(axis=(1, 2))
        peak = years[int(np.argmax(out))]
        if peak not in (years[0], years[-1]) and out.max() > 0:
            cands.append(peak)
    cands += [mid, years[0], years[len(years) // 4], years[(3 * len(years)) // 4]]
    chosen = []
    for y in dict.fromkeys(cands):
        if len(chosen) == 2 or (chosen and abs(y - chosen[0]) < 5):
            continue
        if len(plots.sankey_links(res, y, min_share=0.002)) >= min_links:
            chosen.append(y)
    return sorted(chosen) or [mid]


def build_report(system, scenario: str | None = None, objective=None, trace_source: str | None = None,
                 interactive: bool = True) -> str:
    """Run the study and return the HTML page as a string."""
    from .simulate import simulate

    base = simulate(system)
    opt = base_obj = None
    if objective is not None:
        from .model import optimise

        opt = optimise(system, objective=objective)
        base_obj = optimise(system, objective=objective, fix=base)  # the baseline on the same definition
    title, sub = title_of(system)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='sub'>{html.escape(sub)}{' — scenario ' + html.escape(scenario) if scenario else ''}; "
             f"{int(system.years[0])}–{int(system.years[-1])}; unit {html.escape(system.unit)}</p>"]
    parts.append(_headline(system, base, opt, base_obj, objective))
    if opt is not None:
        parts.append(_decisions(opt, base))
        parts.append(_binding(opt, objective))
    parts.append(_figures(system, base, opt, objective, trace_source, interactive))
    parts.append(_tables(system, base, opt, objective))
    parts.append(_audit_sources(system, base, opt))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)} — circopt "
            f"report</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


# ---------------------------------------------------------------------------------------
# the answer
# ---------------------------------------------------------------------------------------
def _by_type(res) -> pd.Series:
    c = res.cumulative_losses()
    return c[c.element == TOTAL].set_index("loss_type")["value"]


def _headline(system, base, opt, base_obj, objective) -> str:
    unit = system.unit
    if opt is None:
        bt = _by_type(base)
        kpis = "".join(f"<div class='kpi'><div class='v'>{rd.num(v, unit)}</div><div class='l'>{html.escape(k)}, "
                       f"cumulative</div></div>" for k, v in bt.sort_values(ascending=False).items())
        return ("<section id='headline'><h2>Headline</h2><p>Simulation of the instance's baseline shares, "
                f"{int(system.years[0])}–{int(system.years[-1])}: where the material goes, cumulative by type "
                f"(total mass).</p><div class='kpis'>{kpis}</div><p class='note'>Run with <code>--objective "
                "losses</code> (or another objective) to see the optimum against this baseline.</p></section>")
    ou = rd.objective_unit(objective, system)
    b, o = base_obj.objective, opt.objective
    diff = o - b
    rel = diff / b if b else float("nan")
    counted = rd.counted_loss_types(objective)
    indicator = any(str(k).startswith("indicator:") for k in rd.objective_terms(objective))
    bt, ot = _by_type(base), _by_type(opt)
    floor = 1e-9 * max(1.0, float(bt.abs().max()))
    others = [k for k in sorted(set(bt.index) | set(ot.index)) if k not in counted and
              max(abs(bt.get(k, 0.0)), abs(ot.get(k, 0.0))) > floor]
    other_txt = "; ".join(f"{html.escape(k)} {rd.num(bt.get(k, 0.0), unit)} → {rd.num(ot.get(k, 0.0), unit)}"
                          for k in others)
    binds = rd.what_binds(opt, objective)
    worth = binds[binds.worth.abs() > 0]
    top = worth[worth.category != "fixed share"].head(3)
    fixed = worth[worth.category == "fixed share"].head(2)
    limits = "".join(f"<li>{html.escape(r.limit)} ({html.escape(r.category)}"
                     f"{', lever ' + html.escape(r.lever) if r.lever != '—' else ''}): {rd.num(r.worth, ou)} "
                     f"{html.escape(r.per)}</li>" for r in top.itertuples())
    if len(fixed):
        limits += ("<li>shares the instance fixes (not decisions): " + "; ".join(
            f"{html.escape(r.limit)} {rd.num(r.worth, ou)} {html.escape(r.per)}" for r in fixed.itertuples())
            + "</li>")
    cls = "good" if diff < 0 else "bad" if diff > 0 else ""
    notes = [n for n in base_obj.notes if n.startswith("fix=")]
    return (
        "<section id='headline'><h2>Headline</h2>"
        f"<p><b>Objective:</b> {html.escape(rd.objective_words(objective, system))} ({html.escape(ou)}).</p>"
        "<div class='kpis'>"
        f"<div class='kpi'><div class='v'>{rd.num(b, ou)}</div><div class='l'>baseline (instance's shares)</div></div>"
        f"<div class='kpi'><div class='v'>{rd.num(o, ou)}</div><div class='l'>optimum</div></div>"
        f"<div class='kpi'><div class='v {cls}'>{rd.num(diff, ou)} ({rd.pct(rel)})</div>"
        "<div class='l'>optimum − baseline</div></div></div>"
        f"<p><b>Boundary:</b> the {len(system.nodes)} nodes of the instance; "
        + (f"the objective counts flows into sinks of type {html.escape(', '.join(counted) or '—')}. "
           + (f"Not counted, shown separately (baseline → optimum, cumulative): {other_txt}." if other_txt else "")
           if counted or not indicator else
           "the objective is the instance's own indicator (its channels and sinks in the line above). All channels "
           f"by sink type, for comparison (baseline → optimum, cumulative): {other_txt}.")
        + "</p>"
        + (f"<p><b>What limits it most</b> (objective change if the limit is relaxed):</p><ul>{limits}</ul>"
           if limits else "<p>No limit binds beyond the network's own balances.</p>")
        + (f"<p class='{'bad' if diff > 0 else 'note'}'>"
           + ("The optimum is worse than the baseline because the baseline is not a feasible choice for the "
              "optimiser: it " if diff > 0 else "The baseline itself ")
           + f"breaks {html.escape(_broken(notes[0]))} the optimiser must respect "
           f"(first: {html.escape(notes[0].split(': ', 2)[-1].split(';')[0])}; all in the notes).</p>" if notes else "")
        + "</section>")


def _broken(note: str) -> str:
    import re

    m = re.search(r"break (\d+) constraint", note)
    return f"{m.group(1)} constraint rows" if m else "constraint rows"


def _decisions(opt, base) -> str:
    t = rd.decision_table(opt, base)
    if t.empty:
        return "<section id='decisions'><h2>What the optimiser chose</h2><p>No decisions.</p></section>"
    unit = opt.system.unit
    changed = t[(t.change.abs() > 1e-6 * max(1.0, float(t.optimum.abs().max()))) | t.change.isna()]
    fig = _decision_figure(opt, base, changed.head(6))
    return ("<section id='decisions'><h2>What the optimiser chose</h2>"
            f"<p>{len(changed)} of {len(t)} decisions differ from the baseline. Shares are flow-weighted means over the "
            "years; flows are cumulative; bounds are the optimiser's share bounds (min–max over the years).</p>"
            + rd.table_html(t, units={"optimum": unit, "baseline": unit, "change": unit}, max_rows=15,
                            name="decisions")
            + (fig or "") + "</section>")


def _decision_figure(opt, base, rows: pd.DataFrame) -> str | None:
    plt = plots._plt()
    rows = rows[rows.kind.isin(["route", "allocation", "supply"])]
    if rows.empty:
        return None
    n = len(rows)
    ncol = min(3, n)
    fig, axes = plt.subplots((n + ncol - 1) // ncol, ncol, figsize=(4.2 * ncol, 2.8 * ((n + ncol - 1) // ncol)),
                             squeeze=False)
    s = opt.system
    bounds = {f"{node}: {route}": lohi for (node, route), lohi in rd.route_bounds(s).items()}
    for ax, r in zip(axes.ravel(), rows.itertuples()):
        node, dec = r.decision.split(": ", 1)
        col = "value" if r.kind == "supply" else "share"
        for name, res, st in (("baseline", base, "--"), ("optimum", opt, "-")):
            d = res.decisions
            g = d[(d.node == node) & (d.decision == dec)] if d is not None else None
            if g is not None and len(g):
                ax.plot(g.year, g[col], st, color=plots.RUN_COLOURS[name], label=name, lw=1.8)
        if r.decision in bounds:
            lo, hi = bounds[r.decision]
            ax.fill_between(s.years, lo, hi, color="#1f77b4", alpha=0.08, label="allowed")
        ax.set_title(r.decision, fontsize=8.5)
        ax.set_ylabel("share of the input" if col == "share" else f"supply ({s.unit}/yr)", fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0][0].legend(fontsize=7.5)
    fig.tight_layout()
    return _img(fig, "The decisions that change most, over time: optimum (solid) against the baseline (dashed); "
                     "the shaded band is what the optimiser may choose.")


def _binding(opt, objective) -> str:
    t = rd.what_binds(opt, objective)
    idle = t[t.worth.abs() <= 0]
    t = t[t.worth.abs() > 0]
    ou = rd.objective_unit(objective, opt.system)
    n_struct = int((opt.duals.binding & opt.duals.kind.isin(rd.STRUCTURAL_ROWS)).sum()) if opt.duals is not None else 0
    body = (rd.table_html(t, units={"worth": ou}, max_rows=20, name="binding_limits") if len(t)
            else "<p>No limit binds: the optimum is set by the network alone.</p>")
    d = opt.duals
    full = d[d.binding & ~d.kind.isin(rd.STRUCTURAL_ROWS)] if d is not None else pd.DataFrame()
    from .bounds import binding_levers

    lv = binding_levers(opt)
    levers = (rd.table_html(lv[["lever", "status", "binding_rows", "objective_change"]], units={"objective_change": ou},
                            name="levers", caption="The instance's levers: at a bound, or free inside them")
              if len(lv) else "")
    idle_txt = (f", and {len(idle)} limits that bind with no worth (moving them alone changes nothing: "
                f"{html.escape('; '.join(idle.limit.head(4)))}{' …' if len(idle) > 4 else ''})" if len(idle) else "")
    return ("<section id='binding'><h2>What stops each decision</h2>"
            "<p>Limits that bind at the optimum, grouped by the instance key that sets them, with their worth: the "
            "first-order change of the objective if the limit moved one step in every year (negative = the "
            f"objective would fall; circopt.binding). {n_struct:,} binding rows that only state mass balances are "
            f"left out{idle_txt}. " + (rd.csv_link(full, "binding_limit_rows") if len(full) else "") + "</p>"
            + body + levers + "</section>")


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def _figures(system, base, opt, objective, trace_source, interactive) -> str:
    runs = {"baseline": base} | ({"optimum": opt} if opt is not None else {})
    unit = system.unit
    out = ["<section id='figures'><h2>Figures</h2>"]
    counted = rd.counted_loss_types(objective) if objective is not None else ["dissipation", "process", "dilution"]
    present = sorted(set(base.losses.loss_type))
    rest = [k for k in present if k not in counted]
    pair = [_img(plots.plot_series(runs, "losses", loss_type=counted, label="counted losses",
                                   title=f"Counted losses ({', '.join(counted)})"),
                 f"Flows into the sinks the objective counts ({', '.join(counted)}), {unit}/yr, baseline against "
                 "optimum.")]
    if rest:
        pair.append(_img(_other_categories(runs, rest), "Flows into the other sinks (" + ", ".join(rest) + "), "
                         f"{unit}/yr — not counted by the objective; export leaves the system boundary."))
    pair.append(_img(plots.plot_series(runs, "losses", loss_type=counted, label="counted losses", cumulative=True,
                                       title="Counted losses, cumulative"),
                     f"The objective's losses added up year by year ({unit}): the gap at the end is the headline."))
    if any(n.kind == "stock" for n in system.nodes):
        pair.append(_img(plots.plot_series(runs, "stocks", title="Material in use (all stocks)", label="in-use stock"),
                         f"Material in use, all stocks ({unit}; a stock, not a flow)."))
    out.append("<div class='grid'>" + "".join(pair) + "</div>")
    out.append(_sankeys(system, runs, interactive))
    out.append(_fate(system, opt if opt is not None else base, trace_source))
    out.append("</section>")
    return "".join(out)


def _other_categories(runs, types):
    plt = plots._plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, res in runs.items():
        t = res.losses[(res.losses.element == TOTAL) & res.losses.loss_type.isin(types)]
        for k, g in t.groupby("loss_type"):
            y = g.groupby("year")["value"].sum()
            ax.plot(y.index, y.to_numpy(), "--" if name == "baseline" else "-", color=plots.LOSS_COLOURS.get(k),
                    label=f"{k} ({name})", lw=1.8)
    unit = next(iter(runs.values())).system.unit
    ax.set_ylabel(f"flow ({unit}/yr)")
    ax.set_xlabel("year")
    ax.set_title("Other sinks (not in the objective)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _sankeys(system, runs, interactive) -> str:
    years = sankey_years(runs.get("optimum", runs["baseline"]))
    out = []
    first, *other = list(runs)
    lead = "optimum" if "optimum" in runs else first
    later = []
    for y in years:
        for name, res in runs.items():
            fig = _img(plots.sankey_png(res, y, title=f"{name}: total flows in {y} ({system.unit}/yr)"),
                       f"Sankey of {y}, {name} (total mass, {system.unit}/yr; loops drawn through ↻ nodes; flows "
                       "below 0.2 % of the largest are not drawn).")
            (out if name == lead else later).append(fig)
    if later:
        out.append("<details><summary>The baseline's Sankeys of the same years</summary>" + "".join(later)
                   + "</details>")
    if interactive:
        try:
            name = "optimum" if "optimum" in runs else "baseline"
            fig = plots.sankey_figure(runs[name], years[0], title=f"{name}: total flows in {years[0]} "
                                      f"({system.unit}/yr)")
            out.append("<figure id='interactive-sankey'>" + fig.to_html(full_html=False, include_plotlyjs=True)
                       + f"<figcaption>Interactive Sankey of {years[0]} ({name}); hover for values in "
                       f"{html.escape(system.unit)}/yr.</figcaption></figure>")
        except ImportError:  # plotly is optional
            out.append("<p class='note'>Install the 'plots' extra for an interactive Sankey.</p>")
    return "<h3>Where the material flows</h3>" + "".join(out)


def _fate(system, res, trace_source) -> str:
    from .simulate import shares_from_decisions
    from .trace import pulse_sources, trace

    try:
        ids = pulse_sources(system, trace_source)
    except CircoptError as e:
        return f"<h3>Fate of one year's input</h3><p class='note'>No fate tracing: {html.escape(str(e))}</p>"
    shares = shares_from_decisions(system, res.decisions) if res.engine == "optimise" else None
    src = trace_source or (system.raw.get("trace") or {}).get("source") or system.nodes[ids[0]].family
    note = ""
    try:
        fate = trace(system, source=src, shares=shares)
    except CircoptError as e:
        if shares is None:
            return f"<h3>Fate of one year's input</h3><p class='note'>No fate tracing: {html.escape(str(e))}</p>"
        note = (f"<p class='note'>The pulse could not follow the optimum's shares ({html.escape(str(e))}); "
                "the baseline's fate is shown.</p>")
        fate, shares = trace(system, source=src), None
    run = "optimum" if shares is not None else "baseline"
    many = fate.table[fate.table.kind == "in_use"].state.nunique() > 10
    figs = [_img(plots.plot_fate(fate, el, group=plots._family if many else None),
                 f"Fate of the {fate.year} input of {src} ({run}): {el}, share of the pulse in use (by stock) and "
                 "cumulative losses (by type).")
            for el in [TOTAL, *system.elements] if el in set(fate.table.element)]
    summ = fate.summary[fate.summary.element == TOTAL]
    return ("<h3>Fate of one year's input</h3>" + note + "<div class='grid'>" + "".join(figs) + "</div>"
            + rd.table_html(summ, max_rows=30, name="fate_summary",
                            caption=f"Fate summary, total mass ({run}); every element in the CSV")
            + rd.csv_link(fate.summary, "fate_summary_all_elements"))


# ---------------------------------------------------------------------------------------
# tables, audit, sources
# ---------------------------------------------------------------------------------------
def _tables(system, base, opt, objective) -> str:
    counted = set(rd.counted_loss_types(objective)) if objective is not None else set()
    bt = base.cumulative_losses().pivot(index="loss_type", columns="element", values="value")
    rows = pd.DataFrame({"sink type": bt.index, "in objective": ["yes" if k in counted else "no" for k in bt.index],
                         "baseline": bt[TOTAL].to_numpy()})
    if opt is not None:
        ot = opt.cumulative_losses().pivot(index="loss_type", columns="element", values="value")
        rows["optimum"] = ot[TOTAL].reindex(bt.index).to_numpy()
        rows["change"] = rows["optimum"] - rows["baseline"]
    els = bt.reset_index().rename(columns={"loss_type": "sink type"})
    u = system.unit
    return ("<section id='tables'><h2>Cumulative flows into sinks</h2>"
            + rd.table_html(rows, units={"baseline": u, "optimum": u, "change": u}, name="sinks",
                            caption=f"By sink type, total mass, {int(system.years[0])}–{int(system.years[-1])}")
            + rd.table_html(els, units={c: u for c in els.columns if c != "sink type"}, name="sinks_by_element",
                            caption="Baseline, by element") + "</section>")


def _audit_sources(system, base, opt) -> str:
    parts = ["<section id='audit'><h2>Mass-balance audit</h2>"]
    for name, res in (("baseline", base), ("optimum", opt)):
        if res is None:
            continue
        ok = res.max_relative_imbalance <= 1e-9
        parts.append(f"<p class='{'ok' if ok else 'bad'}'>{name}: largest relative imbalance (any node, element, "
                     f"year) {res.max_relative_imbalance:.1e} — {'closed (≤ 1e-9)' if ok else 'NOT CLOSED'}.</p>")
    parts.append("</section>")
    used = sorted({sid for ids_ in system.node_sources.values() for sid in ids_})
    src = pd.DataFrame({"id": used, "citation": [system.sources.get(k, "estimate") for k in used]})
    parts.append("<section id='sources'><h2>Sources</h2>" + rd.table_html(src, max_rows=200, name="sources")
                 + "</section>")
    notes = list(dict.fromkeys([*base.notes, *(opt.notes if opt is not None else [])]))
    if notes:
        parts.append("<section id='notes'><h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                     + "</ul></section>")
    return "".join(parts)


def write_report(path, page: str, instance_dir: str | Path | None = None) -> Path:
    """Write the page atomically, marked as circopt's (an HTML comment after the doctype).

    ``path``: a file path or a held :class:`circopt.io.OutputTarget`. An existing file is replaced only if
    circopt wrote it (it carries the marker) or it is empty; a folder is refused (:mod:`circopt.io`).
    """
    from .io import mark_html, write_file

    return write_file(path, mark_html(page, "report"), instance_dir, "report")
