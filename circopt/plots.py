"""Pictures of results: fate over time, Sankey diagrams, time series, lever rankings, Pareto fronts.

matplotlib draws the static figures (PNG); plotly the interactive Sankey (HTML). The
engines never draw; every function here takes a Result (or a table) and returns a figure.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

LOSS_COLOURS = {
    "dissipation": "#8c564b", "process": "#7f7f7f", "dilution": "#e377c2", "export": "#17becf", "exported": "#17becf",
    "surplus": "#d62728", "hibernation": "#bcbd22", "other": "#aaaaaa",
}
KIND_COLOURS = {"source": "#1f77b4", "process": "#9edae5", "stock": "#2ca02c", "split": "#ff7f0e",
                "blend": "#9467bd", "sink": "#7f7f7f"}


def _plt():
    """pyplot, imported when a figure is first drawn. circopt never chooses the backend: pyplot's
    own rules apply (``MPLBACKEND``, the notebook's inline backend, Agg when there is no display);
    the ``circopt`` command sets ``MPLBACKEND=Agg`` for itself when it is unset."""
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------------------
# fate over time
# ---------------------------------------------------------------------------------------
def plot_fate(fate, element: str = "total", ax=None, title: str | None = None, group=None):
    """Stacked area: share of the pulse in use by stock (and life), then cumulative losses by type.

    ``group`` maps an in-use state (e.g. ``products[construction,carbon]``) to the label it is
    drawn under (e.g. ``construction``); states with the same label are summed.
    """
    plt = _plt()
    t = fate.table[fate.table.element == element]
    if group is not None:
        t = t.assign(state=[group(s) if k == "in_use" else s for s, k in zip(t.state, t.kind)])
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 5))
    else:
        fig = ax.figure
    in_use = t[t.kind == "in_use"].pivot_table(index="year", columns="state", values="share", aggfunc="sum")
    losses = t[t.kind == "loss"].pivot_table(index="year", columns="state", values="share", aggfunc="sum")
    years = np.sort(t.year.unique())  # every year of the trace, with or without a stock
    in_use = in_use.reindex(years, fill_value=0.0)
    in_use = in_use.loc[:, in_use.max() > 1e-6]
    cmap = plt.get_cmap("tab20")
    cols = [cmap(i % 20) for i in range(in_use.shape[1])]
    stack = [in_use[c].to_numpy() for c in in_use.columns]
    labels = [f"in use: {c}" for c in in_use.columns]
    colours = list(cols)
    for c in losses.columns:
        if losses[c].max() > 1e-9:
            stack.append(losses[c].reindex(years, fill_value=0).to_numpy())
            labels.append(f"loss: {c}")
            colours.append(LOSS_COLOURS.get(c, "#999999"))
    ax.stackplot(years, *stack, labels=labels, colors=colours, alpha=0.9)
    ax.set_xlim(years[0] - (years[0] == years[-1]) * 0.5, years[-1] + (years[0] == years[-1]) * 0.5)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of the {fate.year} pulse ({element})")
    ax.set_title(title or f"Fate of the {fate.year} input: {element}")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# Sankey
# ---------------------------------------------------------------------------------------
def _group(name: str, grouping) -> str:
    """``family`` collapses dimension members; ``none`` keeps every node; a mapping or a
    callable renames families (e.g. ``{"legacy_ICEV": "use"}``) after collapsing them."""
    if grouping == "none":
        return name
    fam = name.split("[")[0]
    if callable(grouping):
        return grouping(fam)
    if isinstance(grouping, dict):
        return grouping.get(fam, fam)
    return fam


def sankey_links(result, year: int, element: str = "total", grouping="family",
                 min_share: float = 0.0) -> pd.DataFrame:
    """Links of a year's system (``source, target, value``) with nodes grouped (``family``
    collapses dimension members; a mapping or callable also renames families) and sinks shown
    by loss type."""
    s = result.system
    f = result.flows
    f = f[(f.year == year) & (f.element == element)]
    kinds = {n.name: n for n in s.nodes}
    rows = defaultdict(float)
    for r in f.itertuples():
        if r.value <= 0:
            continue
        a = _group(r.source, grouping)
        tn = kinds[r.target]
        b = f"{tn.loss} ({_group(r.target, 'family')})" if tn.kind == "sink" else _group(r.target, grouping)
        if a == b:
            continue
        rows[(a, b)] += r.value
    df = pd.DataFrame([(a, b, v) for (a, b), v in rows.items()], columns=["source", "target", "value"])
    if min_share > 0 and len(df):
        df = df[df.value >= min_share * df.value.max()]
    return df


def sankey_figure(result, year: int, element: str = "total", grouping="family", title: str | None = None):
    """Interactive plotly Sankey of one year (losses coloured by type)."""
    import plotly.graph_objects as go

    links = sankey_links(result, year, element, grouping)
    labels = list(dict.fromkeys([*links.source, *links.target]))
    idx = {n: i for i, n in enumerate(labels)}
    fam_kind = {n.family: n.kind for n in result.system.nodes}
    colours = []
    for lab in labels:
        loss = lab.split(" (")[0]
        if loss in LOSS_COLOURS and lab.endswith(")"):
            colours.append(LOSS_COLOURS[loss])
        else:
            colours.append(KIND_COLOURS.get(fam_kind.get(lab.split("[")[0], "process"), "#cccccc"))
    fig = go.Figure(go.Sankey(
        node=dict(label=labels, color=colours, pad=14, thickness=14),
        link=dict(source=[idx[a] for a in links.source], target=[idx[b] for b in links.target],
                  value=links.value.tolist(),
                  hovertemplate="%{source.label} → %{target.label}: %{value:.4g} " + result.system.unit)))
    fig.update_layout(title=title or f"{result.system.name}: {element} flows in {year} ({result.system.unit}/yr)",
                      font_size=11, height=560)
    return fig


def sankey_png(result, year: int, element: str = "total", grouping="family", ax=None,
               title: str | None = None):
    """Static Sankey (matplotlib): nodes in columns by network depth, bands proportional to flow;
    flows that go back (reuse, recycling loops) leave into a "name ↻" node and come back from a
    "↻ name" node before their target, so every flow is a band of its true width."""
    plt = _plt()
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MPath

    links = sankey_links(result, year, element, grouping)
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 6.5))
    else:
        fig = ax.figure
    if links.empty:
        ax.text(0.5, 0.5, "no flows", ha="center")
        return fig
    nodes = list(dict.fromkeys([*links.source, *links.target]))
    # depth: longest path from a node without inputs, ignoring back edges (cycles)
    succ = defaultdict(list)
    for a, b in zip(links.source, links.target):
        succ[a].append(b)
    depth = {n: 0 for n in nodes}
    order = _topo_order(nodes, succ)
    pos = {n: i for i, n in enumerate(order)}
    for n in order:
        for m in succ[n]:
            if pos[m] > pos[n]:
                depth[m] = max(depth[m], depth[n] + 1)
    # pure sources sit just before their first target, not all in the first column
    preds = defaultdict(list)
    for a, b in zip(links.source, links.target):
        preds[b].append(a)
    for n in nodes:
        if not preds[n] and succ[n]:
            depth[n] = max(0, min(depth[m] for m in succ[n]) - 1)
    sinks = [n for n in nodes if n.endswith(")") and n.split(" (")[0] in LOSS_COLOURS]
    maxd = max(depth.values()) + (1 if sinks else 0)
    for n in sinks:
        depth[n] = maxd
    # a loop (reuse, recycling) is drawn as bands, not arcs: the returning flow leaves its
    # source into a "↻ name" node and enters its target from a "↻ name" node placed before it
    back = [(a, b, v) for a, b, v in zip(links.source, links.target, links.value) if depth[b] <= depth[a]]
    if back:
        fwd = links[[depth[b] > depth[a] for a, b in zip(links.source, links.target)]]
        extra = []
        for a, b, v in back:
            out_node, in_node = f"{a} ↻", f"↻ {a}"
            depth[out_node] = depth[a] + 1
            depth[in_node] = max(depth[b] - 1, 0)
            extra += [(a, out_node, v), (in_node, b, v)]
        links = pd.concat([fwd, pd.DataFrame(extra, columns=["source", "target", "value"])], ignore_index=True)
        nodes = list(dict.fromkeys([*links.source, *links.target]))
        maxd = max(maxd, max(depth[n] for n in nodes if n not in sinks) + 1)
        for n in sinks:
            depth[n] = maxd
    size = {n: max(links[links.target == n].value.sum(), links[links.source == n].value.sum()) for n in nodes}
    total = max(sum(size[n] for n in nodes if depth[n] == d) for d in set(depth.values()))
    gap = 0.02 * total
    y0 = {}
    cols = defaultdict(list)
    for n in nodes:
        cols[depth[n]].append(n)
    height = total + gap * max(len(v) for v in cols.values())
    for ns in cols.values():
        y = 0.0
        for n in ns:
            y0[n] = y
            y += size[n] + gap
    width = 0.15
    fam_kind = {n.family: n.kind for n in result.system.nodes}
    for n in nodes:
        loss = n.split(" (")[0]
        colour = (LOSS_COLOURS[loss] if n in sinks else "#2ca02c" if "↻" in n
                  else KIND_COLOURS.get(fam_kind.get(n.split("[")[0]), "#cccccc"))
        ax.add_patch(Rectangle((depth[n], y0[n]), width, size[n], color=colour))
        ax.text(depth[n] + width + 0.03, y0[n] + size[n] / 2, n, va="center", fontsize=7)
    out_off = defaultdict(float)
    in_off = defaultdict(float)
    links = links.assign(_ya=[y0[b] for b in links.target], _yb=[y0[a] for a in links.source])
    ordered = links.sort_values(["_ya"]).itertuples()
    starts = {}
    for r in ordered:  # outgoing bands ordered by their target's height
        starts[(r.source, r.target)] = y0[r.source] + out_off[r.source]
        out_off[r.source] += r.value
    for r in links.sort_values(["_yb"]).itertuples():
        a, b, v = r.source, r.target, r.value
        xa, xb = depth[a] + width, depth[b]
        ya = starts[(a, b)]
        yb = y0[b] + in_off[b]
        in_off[b] += v
        xm = (xa + xb) / 2
        verts = [(xa, ya), (xm, ya), (xm, yb), (xb, yb), (xb, yb + v), (xm, yb + v), (xm, ya + v), (xa, ya + v),
                 (xa, ya)]
        codes = [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4, MPath.LINETO, MPath.CURVE4,
                 MPath.CURVE4, MPath.CURVE4, MPath.CLOSEPOLY]
        tn = b.split(" (")[0]
        colour = (LOSS_COLOURS.get(tn, "#1f77b4") if b in sinks else "#2ca02c" if "↻" in a or "↻" in b
                  else "#1f77b4")
        ax.add_patch(PathPatch(MPath(verts, codes), facecolor=colour, alpha=0.3, lw=0))
    ax.set_xlim(-0.2, maxd + 1.2)
    ax.set_ylim(height, -gap)
    ax.axis("off")
    ax.set_title(title or f"{result.system.name}: {element} flows in {year} ({result.system.unit}/yr)")
    fig.tight_layout()
    return fig


def _topo_order(nodes, succ):
    seen, order = set(), []

    def visit(n, stack):
        if n in seen or n in stack:
            return
        stack.add(n)
        for m in succ[n]:
            visit(m, stack)
        stack.discard(n)
        seen.add(n)
        order.append(n)

    for n in nodes:
        visit(n, set())
    return order[::-1]


# ---------------------------------------------------------------------------------------
# time series, rankings, Pareto
# ---------------------------------------------------------------------------------------
def plot_series(results: dict, what: str = "losses", element: str = "total", loss_type: str | None = None,
                node: str | None = None, ax=None, title: str | None = None, cumulative: bool = False):
    """One line per scenario: losses (optionally of one type), a stock, or a flow into ``node``."""
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    unit = None
    for name, res in results.items():
        unit = res.system.unit
        if what == "losses":
            t = res.losses[res.losses.element == element]
            if loss_type:
                t = t[t.loss_type == loss_type]
            y = t.groupby("year")["value"].sum()
        elif what == "stocks":
            t = res.stocks[res.stocks.element == element]
            if node:
                t = t[t.node == node]
            y = t.groupby("year")["value"].sum()
        elif what == "inflow":
            t = res.flows[(res.flows.element == element) & (res.flows.target.str.split("[").str[0] == node)]
            y = t.groupby("year")["value"].sum()
        else:
            raise ValueError(f"unknown series '{what}'; expected losses, stocks or inflow")
        if cumulative:
            y = y.cumsum()
        ax.plot(y.index, y.to_numpy(), label=name, lw=2)
    label = loss_type or what
    ax.set_ylabel(f"{'cumulative ' if cumulative else ''}{label} ({unit}{'' if cumulative else '/yr'})")
    ax.set_title(title or f"{label}, {element}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_ranking(table: pd.DataFrame, value: str = "improvement", label: str = "lever", ax=None,
                 title: str = "Lever ranking"):
    """Horizontal bars, best first."""
    plt = _plt()
    t = table.sort_values(value, ascending=True)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(t) + 1.5))
    else:
        fig = ax.figure
    ax.barh(t[label].astype(str), t[value], color="#2ca02c")
    ax.set_xlabel(value)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pareto(table: pd.DataFrame, x: str, y: str, ax=None, title: str | None = None):
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    else:
        fig = ax.figure
    t = table.sort_values(x)
    ax.plot(t[x], t[y], "o-", color="#1f77b4")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"Pareto front: {x} vs {y}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save(fig, path: str | Path) -> Path:
    """Save a matplotlib or plotly figure (PNG/SVG for matplotlib, HTML for plotly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(fig, "write_html"):
        fig.write_html(str(path), include_plotlyjs="cdn" if path.suffix == ".html" else True)
    else:
        fig.savefig(path, dpi=130, bbox_inches="tight")
        _plt().close(fig)
    return path


def figure_png_bytes(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()
