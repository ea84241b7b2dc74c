"""Figures: the Sankey's links add up to the flows they group; figures render."""

from __future__ import annotations

import pytest

import circopt
from circopt import plots
from circopt.trace import trace


@pytest.fixture(scope="module")
def res():
    return circopt.simulate(circopt.load("instances/toy"))


def test_sankey_links_group_families_and_losses(res):
    links = sankey_links = plots.sankey_links(res, 2025)
    row = links[(links.source == "eol") & (links.target == "dissipation (landfill)")]
    # eol[1] landfills 10 and eol[2] 3 kt in 2025
    assert float(row.value.iloc[0]) == pytest.approx(13)
    # reuse: eol[1] -> in_use[2] appears as eol -> in_use
    assert float(sankey_links[(links.source == "eol") & (links.target == "in_use")].value.iloc[0]) == pytest.approx(30)
    # element view
    ni = plots.sankey_links(res, 2025, element="Ni")
    assert float(ni[(ni.source == "remelting") & (ni.target == "process (slag)")].value.iloc[0]) == pytest.approx(0.87)


def test_sankey_figures_render(res, tmp_path):
    fig = plots.sankey_figure(res, 2025)
    # the interactive Sankey draws the static one's layout: the same nodes, loops through "eol ↻"
    lay = plots.sankey_layout(plots.sankey_links(res, 2025, min_share=0.002))
    assert list(fig.data[0].node.label) == lay["nodes"]
    assert {"eol ↻", "↻ eol"} <= set(fig.data[0].node.label)
    static = {t.get_gid() for t in plots.sankey_png(res, 2025).axes[0].texts}  # the label before wrapping
    assert static == set(fig.data[0].node.label)
    # a loop is drawn as two bands of the reused flow's width (30 kt of eol -> in_use in 2025)
    links = lay["links"].set_index(["source", "target"]).value
    assert links[("eol", "eol ↻")] == pytest.approx(30) and links[("↻ eol", "in_use")] == pytest.approx(30)
    html = plots.save(fig, tmp_path / "s.html")
    assert "Sankey" in html.read_text() or "sankey" in html.read_text()
    png = plots.save(plots.sankey_png(res, 2025), tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_fate_and_series_plots(res, tmp_path):
    fate = trace(res.system, source="production")
    fig = plots.plot_fate(fate, "Ni")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "loss: process" in labels and "in use: in_use/life1" in labels
    plots.save(fig, tmp_path / "fate.png")
    fig2 = plots.plot_series({"base": res}, "losses", loss_type="surplus")
    line = fig2.axes[0].get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(
        res.losses.query("loss_type == 'surplus' and element == 'total' and year == 2029").value.sum())


def test_static_sankey_draws_loops_as_bands(res):
    # reuse (eol -> in_use, 30 kt in 2025) goes back in the network: drawn through "eol ↻" / "↻ eol"
    fig = plots.sankey_png(res, 2025)
    labels = {t.get_gid() for t in fig.axes[0].texts}
    assert {"eol ↻", "↻ eol", "in_use", "dissipation (landfill)"} <= labels
    grouped = plots.sankey_links(res, 2025, grouping={"remelting": "recycling", "secondary": "recycling"})
    assert "recycling" in set(grouped.source)
