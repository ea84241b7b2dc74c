"""combine when the levers act on small flows beside a huge unrelated one (the japan_engines
situation: 0.2 Mt of engines in a blend with a 20 Mt/yr scrap market).

One year. 1 t of end-of-life product A: reuse (no loss), recycling (10 % slag) or landfill;
the remelter also takes 20,000,000 t of unrelated scrap B (10 % slag: 2,000,000 t, whatever the
levers do). Losses = landfill + slag. Lever 'collect' (cost 5) lowers the compulsory landfill
share from 0.5 to 0.2; lever 'reuse' (cost 1) allows reuse up to 0.3 (baseline: none).

  budget 0  (none)     landfill 0.5, recycle 0.5 -> slag 0.05             losses 2,000,000.55
  budget 1  reuse      landfill 0.5, reuse 0.3, recycle 0.2 -> slag 0.02  losses 2,000,000.52
  budget 5  collect    landfill 0.2, recycle 0.8 -> slag 0.08             losses 2,000,000.28
  budget 6  both       landfill 0.2, reuse 0.3, recycle 0.5 -> slag 0.05  losses 2,000,000.25

HiGHS holds masses divided by a power of two near the largest flow (2^24 t here): its MIP's
default row tolerance (1e-6 of that, ~17 t) exceeds the whole 1 t of product: with it the MILP
let the product vanish (objective 2,000,000.00), chose no lever at any budget, and its 0.55 t gap
to the LP re-solve passed the old 1e-4 relative check silently. A big-M taken from the system's
flows (2e7 t) instead of the lever rows' own range (at most the 1 t into 'eol') would likewise let
an "unadopted" binary of 1e-6 relax a row by ~20 t.
"""

from __future__ import annotations

import copy
import importlib
import warnings

import numpy as np
import pytest

import circopt
from circopt import studies

from .netgen import write_sources
from .test_studies import DOC as LEVERS_DOC

BIG = 2e7
# tests/test_studies.py's levers instance (eol split, remelt, sinks, 'collect' and 'reuse'), with
# 1 t instead of 100 t of product and the unrelated scrap B into the remelter
DOC = copy.deepcopy(LEVERS_DOC)
DOC.pop("ranges")
DOC["name"], DOC["elements"] = "levers_beside_a_market", ["A", "B"]
DOC["streams"]["scrap"] = {"composition": {"B": 1.0}, "source": "estimate"}
DOC["nodes"]["eol_products"]["series"] = 1
DOC["nodes"]["market_scrap"] = {"kind": "source", "stream": "scrap", "series": BIG, "to": "remelt",
                                "source": "estimate"}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    # (the build warns that the masses span 2e7: that is the point)
    return circopt.build(DOC, write_sources(tmp_path_factory.mktemp("lvbig")))


def test_combine_resolves_small_levers_beside_a_huge_flow(system):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = studies.combine(system, budget=6, objective="losses")
    assert not [w for w in caught if "disagree" in str(w.message)]  # a MILP / LP mismatch warns: none here
    t = st.table.set_index("budget")
    slag_b = 0.1 * BIG
    expect = {0.0: ("(none)", 0.55), 1.0: ("reuse", 0.52), 5.0: ("collect", 0.28), 6.0: ("collect+reuse", 0.25)}
    for budget, (levers, losses) in expect.items():
        assert t.loc[budget, "levers"] == levers, budget
        assert t.loc[budget, "objective"] == pytest.approx(slag_b + losses, abs=1e-4), budget
        assert t.loc[budget, "milp_objective"] == pytest.approx(slag_b + losses, abs=0.02), budget
        assert t.loc[budget, "check"] == "milp = lp"
    assert t.loc[6.0, "improvement"] == pytest.approx(0.30, abs=1e-4)
    assert st.meta["best"] == "collect+reuse"


def test_big_m_is_the_lever_rows_own_range_not_the_market(system):
    """Each big-M, in tonnes, is at most the 1 t entering 'eol' (the rows' own range), far below
    the market's 2e7 t; and HiGHS's MIP is told the LP's tolerance."""
    C = importlib.import_module("circopt.studies.combine")
    lv = studies.levers(system)
    sw = C._switchable(system, lv, "losses", {})
    up, lo = C._big_m(sw, list(lv), False, False)
    rows = np.array(sw.switch)
    tonnes = sw.om.mass_scale * sw.hl.row_scale[rows]
    m_t = np.maximum(up[rows], lo[rows]) * tonnes
    assert sw.om.mass_scale >= 2**23  # the hand-over's unit is the market's scale
    # reuse's row 'reuse - 0 * total <= 0' needs at most 0.3 t (the ambitious 0.3 x 1 t);
    # collect's row 'landfill - 0.5 total >= 0' at most 0.5 x 1 t (its own negative side: 0.5 total)
    assert 0 < m_t.max() <= 1.0 * (1 + 1e-6)
    assert C.MIP_TOLERANCE <= 1e-9
