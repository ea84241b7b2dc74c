"""Build this instance's data tables (run once; the outputs in data/ are committed).

    python instances/japan_engine_system/prepare_data.py [--shared PATH_TO_SHARED_DATA]

With ``--shared`` (the project's data dossier folder) the dossier rows this instance uses are
copied into data/ first (dossier_*.csv, powertrain_shares.csv); without it the copies already in
data/ are used. Then it writes

  data/new_engines.csv         year, value: ferrous engine mass in new cars with an engine [kt]
  data/history_inflow.csv      year, value: the same for the cohorts 1990-2019 (initial parc)
  data/eol_recovery_rate.csv   year, value: EoL steel-scrap recovery of motor vehicles 2020-2050
  data/replacement_demand.csv  year, value: engines that fail while the car lives on [kt]

The replacement demand is the instance's own failure flow (``engine_exit[life=1] ->
failed_engines``), read from a circopt simulation of the instance: the market's demand and the
failed engines it replaces are the same mass by construction (tests/test_japan_engine_system.py
checks it). The failure flow does not depend on any decision, so one pass is enough.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
YEARS = range(2020, 2051)
KG_PER_ENGINE = 52.43          # ferrous parts of one engine (instances/japan_engines README section 2)
SALES = 4.5e6                  # new cars per year 2020-2050 (DATA.md A8; JADA2023: 4.2-5.0 M)
SALES_HISTORY = 5.0e6          # typical pre-COVID level (JADA2023), used for 1990-2019 (estimate)


def copy_dossier(shared: Path) -> None:
    """Copy the dossier rows this instance uses (with their source ids) into data/."""
    steel = shared / "steel_cu"
    costs = pd.read_csv(steel / "costs_energy.csv")
    keep = costs["source"].isin(["CAT_REMAN_TT", "LIU_JIE_DIESEL", "JBTOOLS2022", "WEBCARTOP2022",
                                 "ENGINESWAP_BLOG2024", "TBRENTAL2018", "BUNSHUN2022", "ESTIMATE_THIS_DOSSIER",
                                 "EU_SFEP2012", "IEEFA_FACTSHEET", "GTI_DOE", "GAP"])
    costs[keep].to_csv(DATA / "dossier_costs_energy.csv", index=False)
    market = pd.read_csv(steel / "engine_reuse_reman_market.csv")
    keep = market["source"].isin(["JAPRA_SEIBIKAI", "WEBCARTOP2022", "FNF_BLOG", "GAP"])
    market[keep].to_csv(DATA / "dossier_market.csv", index=False)
    pt = pd.read_csv(shared / "powertrain_sales_share_scenarios_billy2023.csv")
    pt = pt[(pt["region"] == "Japan and South Korea") & pt["scenario"].isin(["SP", "SUS"])]
    pt[["scenario", "powertrain", "year", "value", "source_id", "location", "status"]].to_csv(
        DATA / "powertrain_shares.csv", index=False)


def bev_share(scenario: str) -> pd.Series:
    pt = pd.read_csv(DATA / "powertrain_shares.csv")
    bev = pt[(pt["scenario"] == scenario) & (pt["powertrain"] == "BEV")].set_index("year")["value"]
    return pd.Series(np.interp(list(YEARS), bev.index, bev.values), index=list(YEARS))


def write_series(name: str, years, values, comment: str) -> None:
    path = DATA / name
    with open(path, "w") as fh:
        fh.write(f"# {comment}\n")
        pd.DataFrame({"year": list(years), "value": np.round(values, 6)}).to_csv(fh, index=False)


def engines_and_history() -> None:
    for scen, name in (("SP", "new_engines.csv"), ("SUS", "new_engines_fast_bev.csv")):
        kt = SALES * (1.0 - bev_share(scen).values) * KG_PER_ENGINE / 1e6
        write_series(name, YEARS, kt, f"kt of engine ferrous mass in new cars with an engine (ICEV, HEV, PHEV): "
                     f"{SALES / 1e6} M cars x (1 - BEV share, BILLY2023 {scen}, Japan and South Korea) x "
                     f"{KG_PER_ENGINE} kg")
    hist = range(1990, 2020)
    write_series("history_inflow.csv", hist, np.full(len(hist), SALES_HISTORY * KG_PER_ENGINE / 1e6),
                 f"kt: {SALES_HISTORY / 1e6} M new cars per year (JADA2023 pre-COVID level; estimate before 2010) "
                 f"x {KG_PER_ENGINE} kg; BEV share ~0 before 2020")
    rec = pd.read_csv(HERE.parent / "japan_engines" / "data" / "eol_recovery_rate.csv", comment="#")
    rec = rec[rec["year"].between(2020, 2050)]
    write_series("eol_recovery_rate.csv", rec["year"], rec["motor_vehicles"].values,
                 "EoL steel-scrap recovery of motor vehicles ('Basic' path), PAULIUK2017_MATRACE_GLOBAL "
                 "(copied from instances/japan_engines/data/eol_recovery_rate.csv)")


def replacement_demand(scenario_files=(("replacement_demand.csv", None),
                                       ("replacement_demand_fast_bev.csv", "fast_bev"))) -> None:
    import circopt

    for name, scen in scenario_files:
        if not (DATA / name).exists():  # a placeholder so that the instance loads
            write_series(name, YEARS, np.zeros(len(YEARS)), "placeholder")
        res = circopt.simulate(circopt.load(HERE, scen))
        f = res.flows
        sel = (f["source"] == "engine_exit[1]") & (f["target"] == "failed_engines") & (f["element"] == "total")
        kt = f[sel].set_index("year")["value"].reindex(list(YEARS)).values
        write_series(name, YEARS, kt, "kt/yr of engines that fail while the car lives on (the instance's "
                     "engine_exit[1] -> failed_engines flow; see prepare_data.py)" +
                     (f", scenario {scen}" if scen else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, help="the data dossier folder (copies the rows used)")
    args = ap.parse_args()
    if args.shared:
        copy_dossier(args.shared)
    engines_and_history()
    replacement_demand()


if __name__ == "__main__":
    main()
