"""Every study runs from the CLI on both flagship instances and writes a table and a chart;
every flagship report embeds all its figures. (Slow: run by `pytest -m slow`.)"""

from __future__ import annotations

import pandas as pd
import pytest

from circopt.cli import main

from .test_report import _Collect

pytestmark = pytest.mark.slow

CASES = {
    # the case's own objective (total losses are the market's other scrap: the levers cannot move them);
    # prioritise with the boundary closed, where the levers lower it (README section 8). combine runs on
    # engine_losses too: its MILP is held to the LP's tolerance (the market's 20 Mt/yr sets the mass
    # scale) and its table's 'check' column says how each row was settled
    "japan_engines": {"objective": "indicator:engine_losses", "pareto": "indicator:engine_losses,primary",
                      "scenario": None, "compare": "recycling_only,current,circular",
                      "by_verb": {"prioritise": {"scenario": "current_closed"}}},
    "global_aluminium": {"objective": "primary", "pareto": "primary,energy", "scenario": "baseline",
                         "compare": "baseline,sorting,sse"},
}




# the LP of the alloy-level aluminium case takes ~10 s to build and 3-20 s per solve: its multi-solve studies
# (minutes each) run in the 'heavy' suite (`python -m pytest -m heavy`), outside CI's bounded slow step
_HEAVY = {("global_aluminium", "pareto"), ("global_aluminium", "sweep"), ("global_aluminium", "combine")}


@pytest.mark.parametrize("case,verb", [pytest.param(c, v, marks=pytest.mark.heavy) if (c, v) in _HEAVY else (c, v)
                                       for c in sorted(CASES)
                                       for v in ("prioritise", "combine", "compare", "pareto", "sweep")])
def test_study_cli_writes_table_and_chart(case, verb, tmp_path):
    c = {**CASES[case], **CASES[case].get("by_verb", {}).get(verb, {})}  # per-verb settings override the case's
    inst = f"instances/{case}"
    out = tmp_path / verb
    scen = ["--scenario", c["scenario"]] if c["scenario"] and verb != "compare" else []
    argv = {
        "prioritise": ["prioritise", inst, "--objective", c["objective"], *scen],
        "combine": ["combine", inst, "--objective", c["objective"], "--budget", "3", *scen],
        "compare": ["compare", inst, "--scenarios", c["compare"]],
        "pareto": ["pareto", inst, "--objectives", c["pareto"], "--points", "3", *scen],
        "sweep": ["sweep", inst, "--samples", "3", "--seed", "1", "--workers", "2", *scen],
    }[verb]
    assert main([*argv, "--out", str(out)]) == 0
    table = pd.read_csv(out / f"{verb}.csv")
    if verb == "pareto" and len(table) == 1:  # no trade-off: the one point, and the summary says so
        import json

        summary = json.loads((out / "summary.json").read_text())
        assert "collapses to one point" in json.dumps(summary)
    else:
        assert len(table) >= 2
    png = (out / f"{verb}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    if "max_relative_imbalance" in table.columns:
        assert table.max_relative_imbalance.dropna().max() <= 1e-9


@pytest.mark.parametrize("case", sorted(CASES))
def test_flagship_report_embeds_every_figure(case, tmp_path):
    out = tmp_path / "report.html"
    scen = ["--scenario", CASES[case]["scenario"]] if CASES[case]["scenario"] else []
    assert main(["report", f"instances/{case}", *scen, "--out", str(out)]) == 0
    p = _Collect()
    p.feed(out.read_text())
    assert len(p.imgs) >= 5 and all(src.startswith("data:image/png;base64,") for src in p.imgs)
    page = out.read_text()
    assert "Headline" in p.h2 and "Sources" in p.h2
    assert "<figure id='interactive-sankey'>" in page  # the interactive Sankey sits with the figures
    assert "closed (≤ 1e-9)" in page


def test_case_b_lexicographic_compare_reports_its_indicators(tmp_path):
    # case B's README tables are circopt commands on declared indicators: under the practice rule the
    # minimum surplus needs sorting or SSE (2040 surplus > 1 Mt without them, 0 with them), and the
    # second stage (cost) keeps the first stage's minimum
    out = tmp_path / "lex"
    assert main(["compare", "instances/global_aluminium", "--scenarios", "practice_noremedies,practice",
                 "--objective", "surplus", "--then", "cost", "--out", str(out)]) == 0
    t = pd.read_csv(out / "compare.csv").set_index("indicator")
    assert t.at["indicator:surplus_2040", "practice_noremedies"] > 1.0
    assert abs(t.at["indicator:surplus_2040", "practice"]) < 1e-5
    assert t.at["indicator:xrf_2040", "practice_noremedies"] == pytest.approx(0.0, abs=1e-9)
    assert t.at["indicator:xrf_2040", "practice"] > 1.0
    assert t.at["max_relative_imbalance", "practice"] <= 1e-9
