"""The HTML report leads with the answer, reads (units, no raw numbers), and is one
self-contained page with every figure embedded; rendered in a real browser."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import circopt
from circopt import readable as rd
from circopt.cli import main
from circopt.report import sankey_years, title_of

from .browser import chromium, render


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.h2, self.scripts_src, self.ids, self.stack = [], [], [], {}, []
        self.figures, self._fig = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
            if self._fig is not None:
                self._fig["img"] += 1
        if tag == "figure":
            self._fig = {"img": 0, "caption": ""}
        if tag == "script" and a.get("src"):
            self.scripts_src.append(a["src"])
        if a.get("id"):
            self.ids[a["id"]] = ""
        self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        if tag == "figure" and self._fig is not None:
            self.figures.append(self._fig)
            self._fig = None
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, i in self.stack:
            if i:
                self.ids[i] += data
        if self.stack and self.stack[-1][0] == "h2":
            self.h2.append(data.strip())
        if self._fig is not None and any(t == "figcaption" for t, _ in self.stack):
            self._fig["caption"] += data


def _page(tmp_path, *args) -> tuple[str, _Collect]:
    out = tmp_path / "report.html"
    assert main(["report", *args, "--out", str(out)]) == 0
    text = out.read_text()
    p = _Collect()
    p.feed(text)
    return text, p


def test_report_embeds_every_figure_with_its_caption(tmp_path):
    text, p = _page(tmp_path, "instances/toy")
    assert len(p.imgs) >= 6
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # every figure holds its own image (or plot) and caption
    assert all(f["caption"].strip() for f in p.figures)
    assert not p.scripts_src  # nothing loaded from the network
    for section in ("Headline", "Figures", "Sources", "Mass-balance audit"):
        assert section in p.h2
    assert "closed (≤ 1e-9)" in text


def test_report_leads_with_the_answer(tmp_path):
    text, p = _page(tmp_path, "instances/toy", "--objective", "losses")
    # the order: headline, decisions, limits, then figures
    pos = [text.index(f"id='{k}'") for k in ("headline", "decisions", "binding", "figures")]
    assert pos == sorted(pos)
    s = circopt.load("instances/toy")
    base = circopt.optimise(s, "losses", fix=circopt.simulate(s)).objective
    best = circopt.optimise(s, "losses").objective
    head = p.ids["headline"]
    assert rd.num(base, "kt") in head and rd.num(best, "kt") in head
    assert rd.pct((best - base) / base) in head
    assert "minimise the cumulative losses to dissipation, process, dilution" in head
    assert "{" not in head  # no Python dict
    assert p.ids["decisions"].count("kt") >= 3
    # no raw e-notation from tiny solver noise, no negative zero
    visible = re.sub(r"data:[^'\"]+|<script.*?</script>", "", text.split("id='audit'")[0], flags=re.S)
    assert not re.search(r"\de-1\d", visible) and "−0 " not in visible and ">-0<" not in visible


def test_numbers_read():
    assert rd.num(1.02923e-17) == "0"
    assert rd.num(-0.0) == "0"
    assert rd.num(12345.678, "kt") == "12,346 kt"  # large numbers keep their integer digits
    assert rd.num(0.000123456) == "1.235e−4"
    assert rd.num(-4.8525, "kt") == "−4.853 kt"
    assert rd.pct(-0.0918) == "−9.2 %"


def test_title_and_sankey_years_come_from_the_instance():
    s = circopt.load("instances/japan_engines")
    title, sub = title_of(s)
    assert title.startswith("Fate of the ferrous material") and "japan_engines" in sub
    res = circopt.simulate(s)
    years = sankey_years(res)
    # never the last year by default, never a year whose Sankey is one bar
    assert 1 <= len(years) <= 2 and int(s.years[-1]) not in years
    assert all(len(circopt.plots.sankey_links(res, y, min_share=0.002)) >= 4 for y in years)
    # the toy (10 years): the year most material leaves use, an interior year, comes first
    toy = circopt.simulate(circopt.load("instances/toy"))
    out = pd.Series(toy.flows_array[:, [e.id for e in toy.system.edges if e.rule == "stock"], :].sum(axis=(1, 2)),
                    index=toy.system.years)
    assert 2020 < int(out.idxmax()) < 2029 and sankey_years(toy)[0] == int(out.idxmax())


@pytest.mark.parametrize("instance", ["japan_engines", "japan_engine_system", "global_aluminium"])
def test_flagship_report_in_a_real_browser(instance, tmp_path):
    if chromium() is None:
        pytest.skip("chromium is not installed and could not be installed (.ci/run installs it with apt-get)")
    out = tmp_path / f"{instance}.html"
    assert main(["report", f"instances/{instance}", "--objective", "losses", "--out", str(out)]) == 0
    dom, console = render(out)
    assert console == [], f"console messages: {console[:5]}"
    p = _Collect()
    p.feed(dom)
    for section in ("headline", "decisions", "binding"):
        assert p.ids.get(section, "").strip(), f"section {section} missing or empty"
    assert "optimum" in p.ids["headline"] and "baseline" in p.ids["headline"]
    assert "js-plotly-plot" in dom  # the interactive Sankey was drawn by the browser
    assert Path(out).stat().st_size < 20e6


def test_limits_read_as_words():
    assert rd._limit_words("nodes.engine_eol.shares.reuse (max share 0.1401)") == \
        "engine_eol: shares.reuse (max share 0.1401)"
    origin = ("instances/x/instance.yaml: constraints[0] {name: rebuild_capacity, type: capacity, node: core_pool, "
              "route: reman, initial: 9.0, source: ['FNF_BLOG', 'estimate']}")
    assert rd._limit_words(origin) == "constraint rebuild_capacity (capacity of core_pool.reman)"
