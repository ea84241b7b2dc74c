"""The HTML report is one self-contained page with every figure embedded."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from circopt.cli import main


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.h2, self._in_h2, self.scripts_src = [], [], False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "h2":
            self._in_h2 = True
        if tag == "script" and a.get("src"):
            self.scripts_src.append(a["src"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data.strip())


def test_report_embeds_every_figure(tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", "instances/toy", "--out", str(out)]) == 0
    p = _Collect()
    p.feed(out.read_text())
    # 3 Sankeys + losses + surplus + stocks + fate for Fe, Ni, total
    assert len(p.imgs) == 9
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not p.scripts_src  # nothing loaded from the network
    for section in ("Mass-balance audit", "Figures", "Sources", "Interactive Sankey", "Fate summary"):
        assert section in p.h2
    assert "closed (≤ 1e-9)" in out.read_text()
