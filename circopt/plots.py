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
    "surplus": "#d62728", "hibernation": "#bcbd22", "unspecified": "#aaaaaa",
}
KIND_COLOURS = {"source": "#1f77b4", "process": "#9edae5", "stock": "#2ca02c", "split": "#ff7f0e",
                "blend": "#9467bd", "sink": "#7f7f7f"}
#: colours of in-use states (stock families), none of which is a loss type's colour
STATE_PALETTE = ("#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#98df8a", "#aec7e8", "#c5b0d5", "#ffbb78",
                 "#393b79", "#637939", "#8c6d31", "#5254a3", "#8ca252", "#bd9e39", "#6b6ecf", "#b5cf6b",
                 "#7b4173", "#3182bd", "#31a354", "#756bb1")
#: the two runs a report compares
RUN_COLOURS = {"baseline": "#555555", "simulation": "#555555", "optimum": "#1f77b4", "optimised": "#1f77b4"}


def state_colours(names) -> dict[str, str]:
    """One colour per in-use state, the same in every figure: states are coloured by the
    position of their family (the name before ``[`` or ``/``) in sorted order."""
    fams = sorted({_family(n) for n in names})
    pal = {f: STATE_PALETTE[i % len(STATE_PALETTE)] for i, f in enumerate(fams)}
    return {n: pal[_family(n)] for n in names}


def _family(name: str) -> str:
    return name.split("[")[0].split("/")[0]


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
    cols = _state_shades(list(in_use.columns))
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


def _state_shades(names: list[str]) -> list:
    """A state's family colour, lightened for the second, third... member of the family."""
    import matplotlib.colors as mc

    base = state_colours(names)
    seen: dict[str, int] = defaultdict(int)
    out = []
    for n in names:
        k = seen[_family(n)]
        seen[_family(n)] += 1
        rgb = np.array(mc.to_rgb(base[n]))
        out.append(tuple(rgb + (1 - rgb) * min(0.7, 0.18 * k)))
    return out


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


def _is_sink(label: str) -> bool:
    return label.endswith(")") and label.split(" (")[0] in LOSS_COLOURS


def sankey_layout(links: pd.DataFrame) -> dict:
    """Columns and heights of a Sankey, shared by the static and the interactive drawing.

    Nodes sit in columns by network depth (longest path, ignoring back edges); sinks in the
    last column; a flow that goes back (reuse, recycling loops) leaves its source into a
    "name ↻" node and comes back from a "↻ name" node before its target, so every flow is a
    band of its true width. Within a column nodes are ordered by the mean height of what feeds
    them (fewer crossings). Returns ``links`` (with the loop nodes), ``depth``, ``y0``, ``size``,
    ``height``, ``maxd``, ``sinks``.
    """
    nodes = list(dict.fromkeys([*links.source, *links.target]))
    succ, preds = defaultdict(list), defaultdict(list)
    for a, b in zip(links.source, links.target):
        succ[a].append(b)
        preds[b].append(a)
    depth = {n: 0 for n in nodes}
    order = _topo_order(nodes, succ)
    pos = {n: i for i, n in enumerate(order)}
    for n in order:
        for m in succ[n]:
            if pos[m] > pos[n]:
                depth[m] = max(depth[m], depth[n] + 1)
    for n in nodes:  # pure sources sit just before their first target
        if not preds[n] and succ[n]:
            depth[n] = max(0, min(depth[m] for m in succ[n]) - 1)
    sinks = [n for n in nodes if _is_sink(n)]
    maxd = max(depth.values()) + (1 if sinks else 0)
    back = [(a, b, v) for a, b, v in zip(links.source, links.target, links.value) if depth[b] <= depth[a]]
    if back:
        fwd = links[[depth[b] > depth[a] for a, b in zip(links.source, links.target)]]
        extra = []
        for a, b, v in back:
            out_node, in_node = f"{a} ↻", f"↻ {a}"
            depth[out_node] = depth[a] + 1
            depth[in_node] = max(depth[b] - 1, 0)
            extra += [(a, out_node, v), (in_node, b, v)]
        links = (pd.concat([fwd, pd.DataFrame(extra, columns=["source", "target", "value"])], ignore_index=True)
                 .groupby(["source", "target"], as_index=False, sort=False)["value"].sum())
        nodes = list(dict.fromkeys([*links.source, *links.target]))
        maxd = max(maxd, max(depth[n] for n in nodes if n not in sinks) + 1)
    for n in sinks:
        depth[n] = maxd
    size = {n: max(links[links.target == n].value.sum(), links[links.source == n].value.sum()) for n in nodes}
    cols = defaultdict(list)
    for n in nodes:
        cols[depth[n]].append(n)
    total = max(sum(size[n] for n in ns) for ns in cols.values())
    gap = 0.03 * total
    y0: dict[str, float] = {}
    for d in sorted(cols):  # order each column by where its inputs come from (barycentre)
        def centre(n):
            ins = links[links.target == n]
            known = [(y0[a] + size[a] / 2, v) for a, v in zip(ins.source, ins.value) if a in y0]
            w = sum(v for _, v in known)
            return sum(y * v for y, v in known) / w if w > 0 else -1.0
        ns = sorted(cols[d], key=lambda n: (_is_sink(n), centre(n)))
        y = 0.0
        for n in ns:
            y0[n] = y
            y += size[n] + gap
    height = max(y0[n] + size[n] for n in nodes) + gap
    return {"links": links, "depth": depth, "y0": y0, "size": size, "height": height, "maxd": maxd,
            "sinks": sinks, "nodes": nodes}


def _node_colour(n: str, system, sinks) -> str:
    if n in sinks:
        return LOSS_COLOURS[n.split(" (")[0]]
    if "↻" in n:
        return "#2ca02c"
    kinds = {nd.family: nd.kind for nd in system.nodes}
    fam = n.split("[")[0]
    if kinds.get(fam) == "stock":
        return state_colours([nd.family for nd in system.nodes if nd.kind == "stock"])[fam]
    return KIND_COLOURS.get(kinds.get(fam), "#9edae5")


def _link_colour(a: str, b: str, sinks) -> str:
    if b in sinks:
        return LOSS_COLOURS.get(b.split(" (")[0], "#1f77b4")
    return "#2ca02c" if "↻" in a or "↻" in b else "#1f77b4"


def sankey_figure(result, year: int, element: str = "total", grouping="family", title: str | None = None,
                  min_share: float = 0.002):
    """Interactive plotly Sankey of one year, laid out like :func:`sankey_png` (same columns,
    order and colours; plotly only draws)."""
    import plotly.graph_objects as go

    lay = sankey_layout(sankey_links(result, year, element, grouping, min_share))
    nodes, links = lay["nodes"], lay["links"]
    idx = {n: i for i, n in enumerate(nodes)}
    unit = result.system.unit
    xs = [0.01 + 0.98 * lay["depth"][n] / max(1, lay["maxd"]) for n in nodes]
    ys = [min(0.99, max(0.01, (lay["y0"][n] + lay["size"][n] / 2) / lay["height"])) for n in nodes]
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        node=dict(label=nodes, color=[_node_colour(n, result.system, lay["sinks"]) for n in nodes], pad=10,
                  thickness=14, x=xs, y=ys, hovertemplate="%{label}: %{value:.4g} " + unit + "/yr<extra></extra>"),
        link=dict(source=[idx[a] for a in links.source], target=[idx[b] for b in links.target],
                  value=links.value.tolist(),
                  color=[_hex_alpha(_link_colour(a, b, lay["sinks"]), 0.35) for a, b in zip(links.source, links.target)],
                  hovertemplate="%{source.label} → %{target.label}: %{value:.4g} " + unit + "/yr<extra></extra>")))
    fig.update_layout(title=title or f"{element} flows in {year} ({unit}/yr)", font_size=11, height=600,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def _hex_alpha(colour: str, alpha: float) -> str:
    c = colour.lstrip("#")
    return f"rgba({int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha})"


def sankey_png(result, year: int, element: str = "total", grouping="family", ax=None,
               title: str | None = None, min_share: float = 0.002):
    """Static Sankey (matplotlib) of :func:`sankey_layout`: bands proportional to flow, labels
    moved apart where small nodes would pile them up; links below ``min_share`` of the largest
    are not drawn."""
    plt = _plt()
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MPath

    links = sankey_links(result, year, element, grouping, min_share)
    if ax is None:
        fig, ax = plt.subplots(figsize=(14, 7))
    else:
        fig = ax.figure
    if links.empty:
        ax.text(0.5, 0.5, "no flows", ha="center")
        return fig
    lay = sankey_layout(links)
    links, depth, y0, size, sinks = lay["links"], lay["depth"], lay["y0"], lay["size"], lay["sinks"]
    width = 0.15
    for n in lay["nodes"]:
        ax.add_patch(Rectangle((depth[n], y0[n]), width, size[n], color=_node_colour(n, result.system, sinks)))
    _sankey_labels(ax, fig, lay, width)
    out_off, in_off, starts = defaultdict(float), defaultdict(float), {}
    links = links.assign(_ya=[y0[b] for b in links.target], _yb=[y0[a] for a in links.source])
    for r in links.sort_values(["_ya"]).itertuples():  # outgoing bands ordered by their target's height
        starts[(r.source, r.target)] = y0[r.source] + out_off[r.source]
        out_off[r.source] += r.value
    codes = [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4, MPath.LINETO, MPath.CURVE4,
             MPath.CURVE4, MPath.CURVE4, MPath.CLOSEPOLY]
    for r in links.sort_values(["_yb"]).itertuples():
        a, b, v = r.source, r.target, r.value
        xa, xb = depth[a] + width, depth[b]
        ya, yb = starts[(a, b)], y0[b] + in_off[b]
        in_off[b] += v
        xm = (xa + xb) / 2
        verts = [(xa, ya), (xm, ya), (xm, yb), (xb, yb), (xb, yb + v), (xm, yb + v), (xm, ya + v), (xa, ya + v),
                 (xa, ya)]
        ax.add_patch(PathPatch(MPath(verts, codes), facecolor=_link_colour(a, b, sinks), alpha=0.3, lw=0))
    ax.set_xlim(-0.2, lay["maxd"] + 1.4)
    ax.set_ylim(lay["height"], -0.03 * lay["height"])
    ax.axis("off")
    ax.set_title(title or f"{element} flows in {year} ({result.system.unit}/yr)")
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


def _sankey_labels(ax, fig, lay, width, fontsize: float = 7.5) -> None:
    """Labels beside their node, pushed apart within a column so that none overlap; a node
    too small to see gets a thin leader line to its label."""
    depth, y0, size = lay["depth"], lay["y0"], lay["size"]
    ax_h_pt = fig.get_size_inches()[1] * 72 * 0.9
    step = lay["height"] * 1.15 * (fontsize + 1.5) / ax_h_pt  # one text line in data units
    lines = {n: _wrap(n).count("\n") + 1 for n in lay["nodes"]}
    cols = defaultdict(list)
    for n in lay["nodes"]:
        cols[depth[n]].append(n)
    for d, ns in cols.items():
        ns = sorted(ns, key=lambda n: y0[n] + size[n] / 2)
        want = [y0[n] + size[n] / 2 for n in ns]
        ys = list(want)
        for i in range(1, len(ys)):  # push down, then pull back up from the bottom
            ys[i] = max(ys[i], ys[i - 1] + step * (lines[ns[i - 1]] + lines[ns[i]]) / 2)
        over = ys[-1] - lay["height"] if ys else 0
        if over > 0:
            ys = [y - over for y in ys]
            for i in range(len(ys) - 2, -1, -1):
                ys[i] = min(ys[i], ys[i + 1] - step * (lines[ns[i]] + lines[ns[i + 1]]) / 2)
        for n, y, w in zip(ns, ys, want):
            x = d + width + 0.04
            if abs(y - w) > step / 2:
                ax.plot([d + width, x + 0.02], [w, y], lw=0.5, color="#999999")
            ax.text(x + 0.03, y, _wrap(n), va="center", fontsize=fontsize, linespacing=0.95, gid=n)


def _wrap(label: str, width: int = 13) -> str:
    """Break a long label at '_' or ' ' so that it stays within its column."""
    if len(label) <= width:
        return label
    lines, cur = [], ""
    for tok in label.replace("_", "_\x00").replace(" ", " \x00").split("\x00"):
        if cur and len(cur) + len(tok) > width:
            lines.append(cur.rstrip())
            cur = ""
        cur += tok
    lines.append(cur.rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# time series, rankings, Pareto
# ---------------------------------------------------------------------------------------
def plot_series(results: dict, what: str = "losses", element: str = "total", loss_type=None,
                node: str | None = None, ax=None, title: str | None = None, cumulative: bool = False,
                label: str | None = None):
    """One line per run: losses (optionally of one type, or of a list of types), a stock, or a
    flow into ``node``. The axis carries the unit: a stock in the instance's unit (``kt``), a
    flow per year (``kt/yr``), a cumulative flow in the unit."""
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    unit = None
    types = [loss_type] if isinstance(loss_type, str) else list(loss_type or [])
    for i, (name, res) in enumerate(results.items()):
        unit = res.system.unit
        if what == "losses":
            t = res.losses[res.losses.element == element]
            if types:
                t = t[t.loss_type.isin(types)]
            y = t.groupby("year")["value"].sum().reindex(res.system.years, fill_value=0.0)
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
        ax.plot(y.index, y.to_numpy(), label=name, lw=2, color=RUN_COLOURS.get(name, f"C{i}"),
                ls="--" if name in ("baseline", "simulation") else "-")
    label = label or (", ".join(types) if types else what)
    per_year = what != "stocks" and not cumulative
    ax.set_ylabel(f"{'cumulative ' if cumulative else ''}{label} ({unit}{'/yr' if per_year else ''})")
    ax.set_xlabel("year")
    ax.set_title(title or f"{label}, {element}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
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


def plot_bars(t: pd.DataFrame, title: str, unit: str = ""):
    """Horizontal bars of a table (one bar group per row, one bar per column)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(t) + 2))
    t.plot.barh(ax=ax)
    ax.set_title(title)
    if unit:
        ax.set_xlabel(f"cumulative ({unit})")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_histograms(table: pd.DataFrame, cols: list[str], units: dict[str, str] | None = None):
    """One histogram per requested column (every one of them, in rows of four)."""
    plt = _plt()
    units = units or {}
    cols = [c for c in cols if c in table.columns] or [c for c in table.columns if c.startswith("losses/")]
    n = max(1, len(cols))
    ncol = min(4, n)
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.3 * nrow), squeeze=False)
    for ax, c in zip(axes.ravel(), cols):
        ax.hist(table[c].dropna(), bins=min(30, max(5, len(table) // 5)), color="#1f77b4")
        ax.set_title(c, fontsize=9)
        ax.set_xlabel(units.get(c, ""), fontsize=8)
        ax.set_ylabel("samples", fontsize=8)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
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
