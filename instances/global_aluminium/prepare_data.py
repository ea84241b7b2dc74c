"""Build the derived data tables of the global_aluminium instance from the shared data dossier.

    python instances/global_aluminium/prepare_data.py --shared SHARED_DATA_FOLDER

The outputs in data/ are committed, so the instance
does not need the dossier at run time; this script documents every number's arithmetic.
Rerun it after changing any constant below, then `circopt check instances/global_aluminium`.

Writes (then run prepare_alloys.py, which builds the alloy-level tables and instance.yaml from these)
  data/history_inflow.csv              year 1900-2019, one column per product (Mt/yr entering use)
  data/car_sales.csv                   car sales (M/yr) and Al per car (kg) 1950-2050, by powertrain
  data/paths/<path>/powertrain_shares.csv, product_demand.csv   (12 products; LCVs are split off in prepare_alloys.py)

Every constant carries its source id (instance sources.csv) or `estimate`; the README lists the
estimates with low-high ranges.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
HIST_YEARS = np.arange(1900, 2020)
YEARS = np.arange(2020, 2051)
ALL_YEARS = np.arange(1900, 2051)

ELEMENTS = ["Si", "Fe", "Cu", "Mg", "Mn", "Zn"]
CARS = ["ICEV", "HEV", "PHEV", "BEV", "FCEV"]
PRODUCTS = [*CARS, "other_transport", "building", "packaging", "electrical", "machinery", "consumer_durables",
            "other"]
PATHS = {"steps": "STEPS", "pledges": "APS", "netzero": "NZE"}


# -- end of life -----------------------------------------------------------------------------------
#: cars: wheels (component G8, 80 % primary castings) are dismantled before shredding at 0.9
#: (BILLY2023); the share of the car's primary-cast metal dismantled = 0.9 * 0.8 * G8 / pc share
G8_SHARE, G8_PC, WHEEL_DISMANTLING = 0.1677, 0.8, 0.9

# -- solid-state electrolysis ----------------------------------------------------------------------
#: first year at industrial scale (LOOPARTS: after late 2028, LU2022_SSE dossier entry) and the growth
#: limit of the SSE capacity (Mt/yr per year) [estimate: a few 50-100 kt/yr plants a year]
SSE_START, SSE_GROWTH = 2029, 0.25
#: electricity per kg of SSE aluminium: "less than half" (LU2022_SSE) / "one third or less"
#: (KAKEN_21H04610) of Hall-Heroult's ~14 kWh/kg (EA_HYDRO) -> 4.7 kWh/kg [derived/estimate]
SSE_KWH_PER_KG_AL, SSE_AL_YIELD = 4.7, 0.96

# -- demand ----------------------------------------------------------------------------------------
#: total demand (primary + post-consumer recycled, CRU definition): 86.2 (2020) and 119.5 Mt (2030)
#: CRU_IAI2022; 2050 = +80 % on 2020 (IAI_MFM2021, derived 155.2); 2040 between [estimate]
DEMAND_REF = {2020: 86.2, 2030: 119.5, 2040: 145.0, 2050: 155.2}
#: end-use split 2017-2020 (China-weighted estimate of DATA_AL_HISTORY.md section 3); transport = cars + other
SECTOR_SHARE_2020 = {"transport": 0.25, "building": 0.279, "packaging": 0.129, "electrical": 0.155,
                     "machinery": 0.061, "consumer_durables": 0.072, "other": 0.054}
HIST_COLUMNS = {"transport": "inflow_transport_Mt", "building": "inflow_building_construction_Mt",
                "packaging": "inflow_packaging_Mt", "electrical": "inflow_electrical_Mt",
                "machinery": "inflow_machinery_equipment_Mt", "consumer_durables": "inflow_consumer_durables_Mt",
                "other": "inflow_other_Mt"}

# -- cars ------------------------------------------------------------------------------------------
#: passenger-car production, million/yr: BTS_NTS2000 (1961-1998), STATISTA_OICA etc. (2000-2023, seen);
#: 1950/1955/1965/1975/1985 = WARDS_FACT637 all vehicles x 0.76 (car share 1961-1991, derived)
CAR_ANCHORS = {1950: 10.58 * 0.76, 1955: 13.63 * 0.76, 1961: 11.391, 1965: 24.27 * 0.76, 1971: 26.453,
               1975: 33.11 * 0.76, 1981: 27.407, 1985: 44.91 * 0.76, 1991: 35.287, 1994: 35.73, 1995: 36.111,
               1996: 37.318, 1997: 38.474, 1998: 37.286, 2000: 41.22, 2001: 39.83, 2002: 41.36, 2003: 41.97,
               2004: 44.55, 2005: 47.05, 2006: 49.92, 2007: 53.2, 2008: 52.84, 2009: 47.77, 2010: 58.24,
               2011: 59.9, 2012: 63.08, 2013: 65.75, 2014: 67.78, 2015: 68.54, 2016: 72.11, 2017: 73.46,
               2018: 70.47, 2019: 67.15, 2020: 55.73, 2021: 56.85, 2022: 61.4, 2023: 68.15,
               # projection [estimate]: +~1 %/yr to 2030, slower after
               2030: 75.0, 2040: 82.0, 2050: 86.0}
#: Al per car before 1975 [estimate]; 1975-2018 = mean of BILLY2023 observed regional fleet averages;
#: 2020-2050 = mean of BILLY2023 'Medium' regional reference contents (derived)
CONTENT_EARLY = {1950: 20.0, 1960: 26.0, 1970: 33.0}
#: powertrain multiplier on the reference content: BILLY2023 P_Type; FCEV 1.6 [estimate]
MULTIPLIER = {"ICEV": {2000: 1.0, 2010: 0.99}, "HEV": {2000: 1.2},
              "PHEV": {2020: 1.8786, 2030: 1.7191, 2040: 1.5595, 2050: 1.4},
              "BEV": {2020: 1.97, 2030: 1.8467, 2040: 1.7233, 2050: 1.6}, "FCEV": {2020: 1.6}}

#: EV (BEV+PHEV) share of car sales. History: IEA_NZE2021 2.5 % (2019, seen); 2020-2023 recalled
#: (IEA GEVO: ~4 %, 9 %, 14 %, 18 %) [estimate]; 2024 20 % and 2025 25 % IEA_GEVO2025 (seen).
#: Paths: IEA_GEVO2024/2025 STEPS 40 % (2030), 50 % (2035); APS 45 % (2030), 67 % (2035);
#: NZE 65 % (2030), 95 % (2035); 2040 STEPS 58 %, APS 78 % (dossier estimates); 2050 and NZE 2040 [estimate]
EV_COMMON = {2009: 0.0, 2011: 0.001, 2013: 0.003, 2015: 0.006, 2017: 0.012, 2018: 0.02, 2019: 0.025,
             2020: 0.04, 2021: 0.09, 2022: 0.14, 2023: 0.18, 2024: 0.20, 2025: 0.25}
EV_PATH = {"steps": {2030: 0.40, 2035: 0.50, 2040: 0.58, 2050: 0.70},
           "pledges": {2030: 0.45, 2035: 0.67, 2040: 0.78, 2050: 0.90},
           "netzero": {2030: 0.65, 2035: 0.95, 2040: 0.99, 2050: 0.99}}
#: BEV share of EV sales: 0.65 before 2020, 0.70 in 2020-2025 (IEA, recalled) [estimate]; then the
#: unweighted regional means of BILLY2023 SP / SUS / NZE (derived)
BEV_OF_EV = {"steps": {2030: 0.636, 2040: 0.637, 2050: 0.638},
             "pledges": {2030: 0.714, 2040: 0.745, 2050: 0.749},
             "netzero": {2030: 0.892, 2035: 0.934, 2040: 0.964, 2050: 1.0}}
#: HEV share of sales: history [estimate]; 2030+ BILLY2023 SP / SUS / NZE regional means (derived);
#: NZE 2040 set to 0 so that the powertrain shares sum to 1 with EV 0.99 and FCEV 0.01
HEV_COMMON = {1999: 0.0, 2000: 0.001, 2005: 0.005, 2010: 0.01, 2015: 0.02, 2019: 0.03, 2020: 0.035, 2025: 0.05}
HEV_PATH = {"steps": {2030: 0.070, 2040: 0.070, 2050: 0.070},
            "pledges": {2030: 0.070, 2035: 0.055, 2040: 0.040, 2050: 0.030},
            "netzero": {2030: 0.033, 2035: 0.028, 2040: 0.0, 2050: 0.0}}
#: FCEV share of sales (<= 1 % through 2040, DATA.md B6) [estimate]
FCEV = {2015: 0.0, 2020: 0.0002, 2030: 0.003, 2040: 0.01, 2050: 0.01}


def interp(anchors: dict, years) -> np.ndarray:
    xs = np.array(sorted(anchors), float)
    return np.interp(np.asarray(years, float), xs, np.array([anchors[int(x)] for x in xs], float))


# ==================================================================================================


def car_content(shared: Path) -> pd.Series:
    """Reference Al content per car (kg, ICEV reference) for 1950-2050."""
    obs = pd.read_csv(shared / "al_content_observed_billy2023.csv")
    obs = obs.groupby("year").value.mean()  # unweighted mean of the 5 regions
    ref = pd.read_csv(shared / "al_content_per_car_billy2023.csv")
    ref = ref[ref.scenario == "Medium"].groupby("year").value.mean()
    anchors = dict(CONTENT_EARLY)
    anchors.update({int(y): float(v) for y, v in obs.items()})
    anchors.update({int(y): float(v) for y, v in ref.items() if y >= 2020})
    return pd.Series(interp(anchors, ALL_YEARS), index=ALL_YEARS)


def powertrain_shares(path: str) -> pd.DataFrame:
    ev = interp({**EV_COMMON, **EV_PATH[path]}, ALL_YEARS)
    bev = interp({2019: 0.65, 2020: 0.70, 2025: 0.70, **BEV_OF_EV[path]}, ALL_YEARS)
    hev = interp({**HEV_COMMON, **HEV_PATH[path]}, ALL_YEARS)
    fcev = interp(FCEV, ALL_YEARS)
    df = pd.DataFrame({"BEV": ev * bev, "PHEV": ev * (1 - bev), "HEV": hev, "FCEV": fcev}, index=ALL_YEARS)
    df["ICEV"] = 1.0 - df.sum(axis=1)
    if (df["ICEV"] < -1e-12).any():
        raise ValueError(f"{path}: powertrain shares exceed 1 in {list(df.index[df.ICEV < 0])}")
    df["ICEV"] = df["ICEV"].clip(lower=0.0)
    return df[CARS]


def car_demand(path: str, content: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Al entering use in new cars, Mt/yr by powertrain (1950-2050), and the per-car table."""
    sales = pd.Series(interp(CAR_ANCHORS, ALL_YEARS), index=ALL_YEARS)
    sales[sales.index < 1950] = 0.0
    shares = powertrain_shares(path)
    kg = pd.DataFrame({p: content * interp(MULTIPLIER[p], ALL_YEARS) for p in CARS}, index=ALL_YEARS)
    mt = shares.mul(sales, axis=0) * kg / 1000.0  # M cars x kg = kt -> Mt
    table = pd.DataFrame({"year": ALL_YEARS, "car_sales_million": sales.values,
                          "al_reference_kg": content.values})
    for p in CARS:
        table[f"share_{p}"] = shares[p].values
        table[f"kg_{p}"] = kg[p].values
    return mt, table


# -- sector history and projection --------------------------------------------------------------------
def history_and_demand(shared: Path, cars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inflow to use by product: history 1900-2019 and projection 2020-2050 (Mt/yr)."""
    h = pd.read_csv(shared / "al_history" / "al_inflow_to_use_by_sector_estimate_1900_2020.csv").set_index("year")
    hist = pd.DataFrame(index=HIST_YEARS)
    for p in CARS:
        hist[p] = cars.loc[HIST_YEARS, p].values
    other_t = h.loc[HIST_YEARS, HIST_COLUMNS["transport"]].values - hist[CARS].sum(axis=1).values
    if (other_t < -1e-9).any():
        bad = HIST_YEARS[other_t < 0]
        raise ValueError(f"cars exceed transport in history years {bad[:5]}")
    hist["other_transport"] = other_t
    for s in ("building", "packaging", "electrical", "machinery", "consumer_durables", "other"):
        hist[s] = h.loc[HIST_YEARS, HIST_COLUMNS[s]].values
    ref = pd.Series(interp(DEMAND_REF, YEARS), index=YEARS)
    growth = ref / DEMAND_REF[2020]
    cars_2020 = float(cars.loc[2020, CARS].sum())
    dem = pd.DataFrame(index=YEARS)
    for p in CARS:
        dem[p] = cars.loc[YEARS, p].values
    dem["other_transport"] = (SECTOR_SHARE_2020["transport"] * DEMAND_REF[2020] - cars_2020) * growth
    for s in ("building", "packaging", "electrical", "machinery", "consumer_durables", "other"):
        dem[s] = SECTOR_SHARE_2020[s] * DEMAND_REF[2020] * growth
    return hist[PRODUCTS], dem[PRODUCTS]


def fmt(df: pd.DataFrame, path: Path, exact: bool = False) -> None:
    """Write a table; ``exact`` writes the shortest exact decimal (compositions and element-wise
    coefficients must round-trip exactly: the loader compares compositions to 1e-12)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format=None if exact else "%.12g")  # None: shortest exact repr


def main(shared: Path) -> None:
    """Demand paths and inflow history; the alloy-level tables and instance.yaml are built from these
    by prepare_alloys.py (issue 14)."""
    data = HERE / "data"
    content = car_content(shared)
    for key in PATHS:
        cars, table = car_demand(key, content)
        hist, dem = history_and_demand(shared, cars)
        if key == "steps":
            h = hist.copy()
            h.insert(0, "year", HIST_YEARS)
            h.insert(1, "unit", "Mt")
            fmt(h, data / "history_inflow.csv")
            fmt(table, data / "car_sales.csv")
        folder = data / "paths" / key
        fmt(powertrain_shares(key).loc[YEARS].rename_axis("year").reset_index(), folder / "powertrain_shares.csv")
        d = dem.copy()
        d["total"] = d.sum(axis=1)
        d.insert(0, "unit", "Mt")
        fmt(d.rename_axis("year").reset_index(), folder / "product_demand.csv")
        print(f"{key}: demand 2020 {d.loc[2020, 'total']:.2f} Mt, 2040 {d.loc[2040, 'total']:.2f} Mt; "
              f"cars 2020 {dem.loc[2020, CARS].sum():.2f}, 2040 {dem.loc[2040, CARS].sum():.2f} Mt")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, help="the project's shared data dossier folder (its data/)")
    main(Path(ap.parse_args().shared))
