"""Build the derived data tables of the global_aluminium instance from the shared data dossier.

    python instances/global_aluminium/prepare_data.py [--shared /work/shared/data]

The outputs in data/ (and the three EV-path scenario files) are committed, so the instance
does not need the dossier at run time; this script documents every number's arithmetic.
Rerun it after changing any constant below, then `circopt check instances/global_aluminium`.

Writes
  data/alloys.csv                      alloy family: nominal composition, window (envelope of its grades), fab yield
  data/products.csv                    product: alloy recipe, lifetime, composition (the product's nominal mix)
  data/history_inflow.csv              year 1900-2019, one column per product (Mt/yr entering use)
  data/car_sales.csv                   car sales (M/yr) and Al per car (kg) 1950-2050, by powertrain
  data/dismantling_tc.csv              product: element-wise coefficients of the dismantled wheels
  data/sorting_tc.csv                  product: element-wise coefficients of alloy sorting into the 6 pools
  data/sorting_limits.csv              year x product: today's sorted share and the deployment ceiling
  data/sorting_path.csv                year x product: the 'sorting' scenario's sorted share
  data/paths/<path>/powertrain_shares.csv, product_demand.csv, alloy_demand.csv, fab_split.csv
  scenarios/baseline_pledges.yaml, scenarios/baseline_netzero.yaml   (file overrides for the EV paths)

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
CHANNELS = [*ELEMENTS, "other"]
ALLOYS = ["sc", "pc", "w1", "w3", "w5", "w6"]
CARS = ["ICEV", "HEV", "PHEV", "BEV", "FCEV"]
PRODUCTS = [*CARS, "other_transport", "building", "packaging", "electrical", "machinery", "consumer_durables",
            "other"]
PATHS = {"steps": "STEPS", "pledges": "APS", "netzero": "NZE"}

# -- alloy families: member grades of data/al_alloy_compositions.csv (ALLOY_A380, JIS_H5302, ASM_A356, AA_TEAL) --
FAMILY_GRADES = {
    "sc": ["380.0 (A380 family)", "ADC12"],  # secondary (die-)casting alloys
    "pc": ["A356.0"],  # primary casting alloys (wheels, structural castings)
    "w1": ["1050A"],  # 1xxx foil and conductor (1100 lists Si+Fe jointly, left out)
    "w3": ["3104", "3003"],  # 3xxx can body and general sheet
    "w5": ["5182", "5052", "5083"],  # 5xxx can end, auto inner, plate
    "w6": ["6063", "6061"],  # 6xxx extrusions and auto sheet
}
ALLOY_SOURCES = {"sc": "ALLOY_A380, JIS_H5302", "pc": "ASM_A356", "w1": "AA_TEAL", "w3": "AA_TEAL",
                 "w5": "AA_TEAL, MAKEITFROM_5182", "w6": "AA_TEAL"}
PRODUCT_SOURCES = "BILLY2023, DENG2025_USAL, estimate"
#: an element a grade does not list is held to the Aluminum Association 'others, each' limit
OTHERS_EACH_MAX = 0.05  # wt %; recalled AA convention (estimate)

#: fabrication yield: share of cast-house metal that ends in products; the rest is new scrap [estimate]
FAB_YIELD = {"sc": 0.90, "pc": 0.90, "w1": 0.88, "w3": 0.80, "w5": 0.82, "w6": 0.85}

# -- product recipes: share of the product's Al in each alloy family --------------------------------
# Cars: BILLY2023 component shares (2020) x alloy split within component, aggregated (DATA.md B2):
# wrought / primary castings / secondary castings. FCEV: estimate (BEV-like, no source).
CAR_CLASSES = {"ICEV": (0.448, 0.279, 0.273), "HEV": (0.465, 0.279, 0.256), "PHEV": (0.487, 0.279, 0.234),
               "BEV": (0.619, 0.279, 0.102), "FCEV": (0.600, 0.279, 0.121)}
# split of car wrought metal into 3xxx (heat exchangers) / 5xxx (inner panels, structure) / 6xxx
# (outer panels, extrusions, battery housings) [estimate]
CAR_WROUGHT = {"ICEV": (0.15, 0.30, 0.55), "HEV": (0.15, 0.30, 0.55), "PHEV": (0.10, 0.25, 0.65),
               "BEV": (0.10, 0.25, 0.65), "FCEV": (0.10, 0.25, 0.65)}
# other sectors: cast share = DENG2025_USAL (US+Canada shipments, derived); split of castings into
# secondary/primary and of wrought into 1xxx/3xxx/5xxx/6xxx [estimate]
SECTOR_RECIPE = {  # sc, pc, w1, w3, w5, w6
    "other_transport": (0.120, 0.044, 0.0, 0.125, 0.334, 0.377),   # cast 0.164
    "building": (0.011, 0.0, 0.05, 0.15, 0.05, 0.739),               # cast 0.011
    "packaging": (0.0, 0.0, 0.30, 0.55, 0.15, 0.0),                  # cast 0
    "electrical": (0.080, 0.033, 0.60, 0.05, 0.0, 0.237),            # cast 0.113
    "machinery": (0.280, 0.080, 0.0, 0.096, 0.224, 0.320),           # cast 0.36
    "consumer_durables": (0.180, 0.036, 0.157, 0.353, 0.118, 0.156),  # cast 0.216
    "other": (0.500, 0.126, 0.075, 0.112, 0.0, 0.187),                # cast 0.626
}
#: alloys a product does not contain get this share: a zero-flow edge would carry a zero
#: composition and break the composition rule at the pools (see README, 'workarounds')
TRACE_SHARE = 1e-6

# -- lifetimes (normal; mean, sd in years) --------------------------------------------------------
LIFETIME = {  # DENG2025_USAL (US proxy for global); cars BILLY2023 (mean of the 5 regions, sd = mean/4)
    "car": (14.9, 3.725), "other_transport": (35.0, 10.0), "building": (70.0, 23.0), "packaging": (1.0, 0.0),
    "electrical": (50.0, 16.0), "machinery": (40.0, 13.0), "consumer_durables": (20.0, 6.0), "other": (35.0, 10.0),
}

# -- end of life -----------------------------------------------------------------------------------
#: cars: wheels (component G8, 80 % primary castings) are dismantled before shredding at 0.9
#: (BILLY2023); the share of the car's primary-cast metal dismantled = 0.9 * 0.8 * G8 / pc share
G8_SHARE, G8_PC, WHEEL_DISMANTLING = 0.1677, 0.8, 0.9
#: today's sorted share of the collected, shredded scrap [estimate]: building profiles and cables are
#: largely collected apart; cars and the rest go to the shredder unsorted (BILLY2023: alloy sorting 0 in 2020)
SORT_TODAY = {p: 0.0 for p in PRODUCTS} | {"building": 0.5, "electrical": 0.5}
#: ceiling of the sorted share (deployment limit for the optimiser) [estimate, from BILLY2023 'High': 0.5 in
#: 2030, 0.65 in 2040, 0.8 in 2050]
SORT_CEILING = {2020: 0.0, 2025: 0.2, 2030: 0.5, 2040: 0.65, 2050: 0.8}
#: 'sorting' scenario: BILLY2023 'Medium' alloy-sorting rate, car-weighted over regions (derived):
#: NA/EU/JP+KR 0.27/0.53/0.80 and China/RoW 0.17/0.33/0.50 in 2030/2040/2050, weights 0.45/0.55 (estimate)
SORT_PATH = {2020: 0.0, 2030: 0.45 * 0.2667 + 0.55 * 0.1667, 2040: 0.45 * 0.5333 + 0.55 * 0.3333,
             2050: 0.45 * 0.8 + 0.55 * 0.5}

# -- solid-state electrolysis ----------------------------------------------------------------------
#: first year at industrial scale (LOOPARTS: after late 2028, LU2022_SSE dossier entry) and the growth
#: limit of the SSE capacity (Mt/yr per year) [estimate: a few 50-100 kt/yr plants a year]
SSE_START, SSE_GROWTH = 2029, 0.25
#: electricity per kg of SSE aluminium: "less than half" (LU2022_SSE) / "one third or less"
#: (KAKEN_21H04610) of Hall-Heroult's ~14 kWh/kg (EA_HYDRO) -> 4.7 kWh/kg [derived/estimate]
SSE_KWH_PER_KG_AL, SSE_AL_YIELD = 4.7, 0.96
#: CO2 per kWh implied by primary smelting: (17.4 - 1.5 anode) / 14 kWh (BILLY2023, SINTEF_BLOG) [derived]
GRID_CO2 = (17.4 - 1.5) / 14.0
#: 'sse' scenario: share of the shredded car scrap sent to SSE [estimate], kept under the capacity path
SSE_PATH = {2028: 0.0, 2040: 0.2, 2050: 0.3}

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
def alloy_table(shared: Path) -> pd.DataFrame:
    """Nominal composition (mean of the grades' typical values, mass fraction) and window (envelope
    of the grades' limits) per alloy family."""
    comp = pd.read_csv(shared / "al_alloy_compositions.csv")
    rows = []
    for fam, grades in FAMILY_GRADES.items():
        row = {"alloy": fam, "grades": "; ".join(grades), "fab_yield": FAB_YIELD[fam]}
        for el in ELEMENTS:
            typ, lo, hi = [], [], []
            for g in grades:
                r = comp[(comp.alloy == g) & (comp.element == el)]
                if r.empty:
                    typ.append(OTHERS_EACH_MAX / 2)
                    lo.append(0.0)
                    hi.append(OTHERS_EACH_MAX)
                else:
                    r = r.iloc[0]
                    typ.append(float(r.typical_wt_pct_estimate))
                    lo.append(0.0 if pd.isna(r.min_wt_pct) else float(r.min_wt_pct))
                    hi.append(float(r.max_wt_pct))
            row[el] = float(f"{np.mean(typ) / 100:.8g}")
            row[f"{el}_min"] = float(f"{min(lo) / 100:.8g}")
            row[f"{el}_max"] = float(f"{max(hi) / 100:.8g}")
        rows.append(row)
    return pd.DataFrame(rows)


def recipes() -> pd.DataFrame:
    rows = []
    for p in CARS:
        w, pc, sc = CAR_CLASSES[p]
        w3, w5, w6 = CAR_WROUGHT[p]
        rows.append([p, sc, pc, 0.0, w * w3, w * w5, w * w6])
    for p, r in SECTOR_RECIPE.items():
        rows.append([p, *r])
    df = pd.DataFrame(rows, columns=["product", *ALLOYS]).set_index("product")
    df = df.div(df.sum(axis=1), axis=0)
    # trace shares for absent alloys, taken from the product's largest alloy
    for p in df.index:
        zero = df.loc[p] < TRACE_SHARE
        big = df.loc[p].idxmax()
        df.loc[p, zero] = TRACE_SHARE
        df.loc[p, big] = 1.0 - df.loc[p].drop(big).sum()
    return df


def product_table(rec: pd.DataFrame, alloys: pd.DataFrame) -> pd.DataFrame:
    a = alloys.set_index("alloy")[ELEMENTS]
    comp = rec[ALLOYS].to_numpy() @ a.loc[ALLOYS].to_numpy()
    df = rec.copy()
    for k, el in enumerate(ELEMENTS):
        df[el] = comp[:, k]  # the product's nominal composition (streams + assembly nominal), full precision
    al = 1.0 - comp.sum(axis=1)
    df["sse_energy"] = SSE_KWH_PER_KG_AL * SSE_AL_YIELD * al  # kWh per kg of feed = TWh/Mt
    df["sse_co2"] = df["sse_energy"] * GRID_CO2
    life = [LIFETIME["car"] if p in CARS else LIFETIME[p] for p in df.index]
    df["lifetime_mean"] = [x[0] for x in life]
    df["lifetime_sd"] = [x[1] for x in life]
    return df.reset_index()


# -- cars --------------------------------------------------------------------------------------------
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


def alloy_demand_and_split(dem: pd.DataFrame, rec: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cast-house demand per alloy (Mt/yr, before fabrication losses) and the fabrication split:
    the share of each alloy's cast-house output that goes to each product (the rest is new scrap)."""
    need = {a: dem.mul(rec[a], axis=1) for a in ALLOYS}  # Mt of alloy a in products, by product
    alloy_dem = pd.DataFrame({a: need[a].sum(axis=1) / FAB_YIELD[a] for a in ALLOYS}, index=dem.index)
    rows = []
    for a in ALLOYS:
        tot = need[a].sum(axis=1)
        for y in dem.index:
            r = {"year": int(y), "alloy": a}
            for p in PRODUCTS:
                r[p] = FAB_YIELD[a] * need[a].loc[y, p] / tot[y]
            rows.append(r)
    return alloy_dem, pd.DataFrame(rows)


# -- end-of-life coefficients ----------------------------------------------------------------------------
def dismantling_tc(prod: pd.DataFrame, alloys: pd.DataFrame) -> pd.DataFrame:
    """Element-wise share of a collected product's metal that leaves as dismantled wheels (pure
    primary-casting alloy): d * r_pc * x_pc[k] / x_p[k]."""
    a = alloys.set_index("alloy")
    rows = []
    for _, r in prod.iterrows():
        p = r["product"]
        d = WHEEL_DISMANTLING * G8_PC * G8_SHARE / r["pc"] if p in CARS else TRACE_SHARE
        row = {"product": p, "dismantled_share_of_pc": d}
        for ch in CHANNELS:
            xp = 1 - sum(r[e] for e in ELEMENTS) if ch == "other" else r[ch]
            xa = 1 - sum(a.loc["pc", e] for e in ELEMENTS) if ch == "other" else a.loc["pc", ch]
            row[f"wheels_{ch}"] = d * r["pc"] * xa / xp
        rows.append(row)
    return pd.DataFrame(rows)


def sorting_tc(prod: pd.DataFrame, alloys: pd.DataFrame, dis: pd.DataFrame) -> pd.DataFrame:
    """Element-wise split of the shredded residue of each product into the six alloy pools
    (perfect alloy-family sorting): r'_a x_a[k] / sum_b r'_b x_b[k], with r' the recipe after
    the dismantled wheels."""
    a = alloys.set_index("alloy")
    xa = {al: np.array([*(a.loc[al, e] for e in ELEMENTS), 1 - sum(a.loc[al, e] for e in ELEMENTS)]) for al in ALLOYS}
    rows = []
    for (_, r), (_, d) in zip(prod.iterrows(), dis.iterrows()):
        res = {al: r[al] for al in ALLOYS}
        res["pc"] = r["pc"] * (1 - d["dismantled_share_of_pc"])
        total = sum(res[al] * xa[al] for al in ALLOYS)
        row = {"product": r["product"]}
        for al in ALLOYS:
            tc = res[al] * xa[al] / total
            for k, ch in enumerate(CHANNELS):
                row[f"{al}_{ch}"] = tc[k]
        rows.append(row)
    return pd.DataFrame(rows)


def sse_path() -> pd.DataFrame:
    rows = []
    for y in YEARS:
        share = float(interp(SSE_PATH, [y])[0])
        for p in PRODUCTS:
            rows.append({"year": int(y), "product": p, "sse": share if p in CARS else 0.0})
    return pd.DataFrame(rows)


def sse_capacity_block() -> str:
    out = ["  # BEGIN generated by prepare_data.py (SSE capacity path)"]
    for y in YEARS:
        if y >= SSE_START:
            cap = SSE_GROWTH * (y - SSE_START + 1)
            out.append(f"  - {{type: flow, source: sort, target: sse_cell, max: {cap:.4g}, years: [{y}, {y}], "
                       "description: SSE capacity path}")
    out.append("  # END generated")
    return "\n".join(out) + "\n"


def sorting_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, path = [], []
    for y in YEARS:
        ceil = float(interp(SORT_CEILING, [y])[0])
        share = float(interp(SORT_PATH, [y])[0])
        for p in PRODUCTS:
            today = SORT_TODAY[p]
            rows.append({"year": int(y), "product": p, "today": today, "ceiling": max(today, ceil)})
            path.append({"year": int(y), "product": p, "sorted": today + (1 - today) * share})
    return pd.DataFrame(rows), pd.DataFrame(path)


# ==================================================================================================
def fmt(df: pd.DataFrame, path: Path, exact: bool = False) -> None:
    """Write a table; ``exact`` writes the shortest exact decimal (compositions and element-wise
    coefficients must round-trip exactly: the loader compares compositions to 1e-12)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format=None if exact else "%.12g")  # None: shortest exact repr


def streams_block(alloys: pd.DataFrame, prod: pd.DataFrame) -> str:
    """The generated part of instance.yaml's ``streams:`` (same decimal strings as the CSVs)."""
    out = ["  # BEGIN generated by prepare_data.py (streams; do not edit by hand)"]
    for _, r in alloys.iterrows():
        comp = ", ".join(f"{el}: {r[el]!r}" for el in ELEMENTS)
        out.append(f"  alloy_{r['alloy']}: {{composition: {{{comp}}}, source: [{ALLOY_SOURCES[r['alloy']]}]}}")
    for _, r in prod.iterrows():
        comp = ", ".join(f"{el}: {r[el]!r}" for el in ELEMENTS)
        out.append(f"  product_{r['product']}: {{composition: {{{comp}}}, source: [{PRODUCT_SOURCES}]}}")
    out.append("  # END generated")
    return "\n".join(out) + "\n"


def write_block(block: str) -> None:
    """Replace the generated block of instance.yaml that starts with the block's first line."""
    yml = HERE / "instance.yaml"
    text = yml.read_text()
    start = text.index(block.splitlines()[0])
    end = text.index("  # END generated", start) + len("  # END generated\n")
    yml.write_text(text[:start] + block + text[end:])


def scenario_overrides(path: str) -> str:
    """YAML of a scenario that swaps the EV-path-dependent tables (demand and fabrication split)."""
    lines = [f"# generated by prepare_data.py: EV path {PATHS[path]} (tables under data/paths/{path}/)",
             "description: >",
             f"  Baseline practice (today's sorting, no SSE) with the IEA {PATHS[path]} EV sales-share path",
             (f"  ({EV_PATH[path][2030]:.0%} EV sales in 2030, {EV_PATH[path][2040]:.0%} in 2040; powertrain "
              f"split as in data/paths/{path}/powertrain_shares.csv)."),
             "nodes:", "  casthouse:", "    outputs:"]
    for a in ALLOYS:
        lines.append(f"      {a}: {{demand: {{file: data/paths/{path}/alloy_demand.csv}}}}")
    lines += ["  fab:", "    to:"]
    for p in PRODUCTS:
        lines.append(f"      assembly[product={p}]: {{file: data/paths/{path}/fab_split.csv}}")
    return "\n".join(lines) + "\n"


def main(shared: Path) -> None:
    data = HERE / "data"
    alloys = alloy_table(shared)
    rec = recipes()
    prod = product_table(rec, alloys)
    fmt(alloys, data / "alloys.csv", exact=True)
    fmt(prod, data / "products.csv", exact=True)
    write_block(streams_block(alloys, prod))
    write_block(sse_capacity_block())
    fmt(sse_path(), data / "sse_path.csv")
    content = car_content(shared)
    dis = dismantling_tc(prod, alloys)
    fmt(dis, data / "dismantling_tc.csv", exact=True)
    fmt(sorting_tc(prod, alloys, dis), data / "sorting_tc.csv", exact=True)
    lim, path_tab = sorting_tables()
    fmt(lim, data / "sorting_limits.csv")
    fmt(path_tab, data / "sorting_path.csv")
    recp = rec.copy()
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
        alloy_dem, split = alloy_demand_and_split(dem, recp)
        alloy_dem.insert(0, "unit", "Mt")
        fmt(alloy_dem.rename_axis("year").reset_index(), folder / "alloy_demand.csv")
        fmt(split, folder / "fab_split.csv")
        if key != "steps":
            name = {"pledges": "baseline_pledges", "netzero": "baseline_netzero"}[key]
            (HERE / "scenarios" / f"{name}.yaml").write_text(scenario_overrides(key))
        print(f"{key}: demand 2020 {d.loc[2020, 'total']:.2f} Mt, 2040 {d.loc[2040, 'total']:.2f} Mt; "
              f"cars 2020 {dem.loc[2020, CARS].sum():.2f}, 2040 {dem.loc[2040, CARS].sum():.2f} Mt")
    print(prod.round(5).to_string())
    print(alloys.round(5).to_string())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="/work/shared/data", help="the shared data dossier folder")
    main(Path(ap.parse_args().shared))
