"""Case B (instances/global_aluminium) under uncertainty: its ranges load and act, and a small Sobol
study runs on a local Dask cluster with the same numbers as in process (slow: ~6 simulations of the
alloy-level instance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circopt import sensitivity as S
from circopt.instance import load, load_document
from circopt.ranges import apply

AL = Path(__file__).resolve().parents[1] / "instances" / "global_aluminium"
CARS = ["ICEV", "HEV", "PHEV", "BEV", "FCEV"]
GROUPS = {"vehicles": ["car_lifetime", "car_sales", "al_per_vehicle_ice", "al_per_vehicle_ev"],
          "market": ["ev_path", "casting_demand"],
          "scrap": ["tramp_fe", "tramp_cu", "sorting_recovery", "offer_rules"]}


@pytest.fixture(scope="module")
def al():
    system = load(AL)
    doc, folder, _ = load_document(AL)
    return system, doc, folder


def test_case_b_ranges_cover_the_issue_list(al):
    system, _, _ = al
    r = system.ranges
    for name in ("car_lifetime", "car_sales", "al_per_vehicle_ice", "al_per_vehicle_ev", "tramp_fe", "tramp_cu",
                 "sorting_recovery", "casting_demand", "nodes.sse_cell.energy", "nodes.sse_cell.cost"):
        assert r[name]["low"] < r[name]["high"], name
    assert r["ev_path"]["choices"] == ["baseline", "baseline_pledges", "baseline_netzero"]
    assert r["offer_rules"]["choices"] == ["practice", "wide"]
    # car lifetime 13.3-16.2 y around 14.9 y (BILLY2023's regional spread)
    assert 14.9 * r["car_lifetime"]["low"] == pytest.approx(13.3, abs=0.01)
    assert 14.9 * r["car_lifetime"]["high"] == pytest.approx(16.2, abs=0.01)


@pytest.mark.slow
def test_car_sales_scale_the_drawn_ev_path(al):
    system, doc, folder = al
    built = []
    for path in (0.5, 2.5):  # baseline (STEPS), baseline_netzero (NZE)
        d, scalings = apply(doc, system.ranges, {"ev_path": path, "car_sales": 1.1})
        ref = d["nodes"]["products"]["series"]
        assert scalings == [(ref["file"], "value", {"product": CARS}, [], 1.1)]
        built.append(ref["file"])
    assert built == ["data/paths/steps/demand14_long.csv", "data/paths/netzero/demand14_long.csv"]
    from circopt.ranges import build_sample

    s1 = build_sample(doc, folder, system.ranges, {"car_sales": 1.1, "ev_path": 2.5})
    s0 = build_sample(doc, folder, system.ranges, {"ev_path": 2.5})
    nze = pd.read_csv(AL / "data" / "paths" / "netzero" / "demand14_long.csv")
    for n0, n1 in zip(s0.nodes, s1.nodes):
        if n0.family == "products":
            p = n0.index["product"]
            want = nze[nze["product"] == p].set_index("year").value.reindex(s0.years.astype(int)).to_numpy()
            assert np.allclose(n0.series, want)
            assert np.allclose(n1.series, want * (1.1 if p in CARS else 1.0))


@pytest.mark.slow
def test_case_b_sobol_on_a_local_dask_cluster(tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        st = S.sensitivity(AL, "sobol", 1, indicators=["surplus/total@2040", "surplus/total"], executor="dask",
                           scheduler=cluster.scheduler_address, groups=GROUPS, exclude=["nodes.*"], seed=3,
                           progress=False)
    t = st.table
    assert len(t) == 1 + 1 * (len(GROUPS) + 2) and (t.status == "ok").all(), t[["status", "error"]]
    assert t.max_relative_imbalance.max() <= 1e-9
    assert set(t["ev_path:choice"]) <= {"baseline", "baseline_pledges", "baseline_netzero"}
    assert set(st.indices[st.indices["index"] == "ST"].factor) == set(GROUPS)
    assert t["surplus/total@2040"].std() > 0
    # the same run computed here, in process, gives the same numbers as on the cluster
    system = load(AL)
    doc, folder, _ = load_document(AL)
    row = t.iloc[-1]
    params = {k: float(row[k]) for k in st.design.names}
    rec = S._point((doc, folder, system.ranges, params, None, {}, ("surplus/total@2040",)))
    assert rec["status"] == "ok"
    assert rec["surplus/total@2040"] == row["surplus/total@2040"]
    assert rec["losses/total"] == row["losses/total"]
