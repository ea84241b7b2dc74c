"""Build the five-region aluminium instance (issue 15) from the tables in data/.

    python instances/regional_aluminium/prepare_regions.py

Reads (all inside this folder):
  data/global/*.csv     the global_aluminium instance's product table, alloy recipes, registered alloy
                        limits, fabrication yields, 1900-2019 inflow history and the three demand paths
                        (copied; their sources are in sources.csv)
  data/dossier/*.csv    the project's regional dossier: regions, regional demand 2020, EV paths and
                        car lifetimes / ELV collection of BILLY2023, IAI 2020 production, stock data
Writes:
  data/recipes.csv         product x alloy: mass share (the instance mixes each product's composition from
                           it at the alloys' typical compositions, composition 'product_mix')
  data/alloy_typical.csv   alloy: typical composition per element (composition table 'alloy_typical')
  data/products.csv        product: lifetime (non-car), collection, shredding, pick-up
  data/regions_products.csv region x product: lifetime, collection (regional where sourced)
  data/xrf_tc.csv          product: element-wise coefficients of XRF/LIBS sorting
  data/history.csv         year x region x product: inflow history (long table)
  data/demand_<path>.csv   year x region x product demand (three EV paths)
  data/alloy_demand_<path>.csv  year x region: cast-house demand per alloy

instance.yaml and scenarios/*.yaml are hand-edited sources (no longer generated). data/trade_baseline.csv
(2020 scrap exports as a share of the scrap each region offers for melting) is data: the exports
(USGS_VIA_YUENSENG, EUWID_2022, destination splits estimate) divided by offered_2020_Mt, the flow
sort -> market per region in 2020 of a simulation of the instance with every export share at 0 (with
the shares in place the 2020 offer is unchanged, as trade acts after the market). Re-derive it after a
change upstream of `market`: set the shares to 0, `circopt simulate instances/regional_aluminium --out
DIR`, sum DIR/flows.csv over source sort[REGION,*] -> target market[REGION,*] in 2020, divide.

Every constant names its source id (sources.csv) or says `estimate` (ranges in README.md).
Masses Mt, compositions mass fractions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
YEARS = np.arange(2020, 2051)
ELEMENTS = ["Si", "Fe", "Cu", "Mg"]
REGIONS = ["CN", "EU", "NAM", "JK", "RW"]  # NAM: the dossier's NA ("NA" reads as missing in CSV)
BILLY_REGION = {"CN": "China", "EU": "Europe", "NAM": "North America", "JK": "Japan and South Korea",
                "RW": "Rest of the world"}
PATHS = {"steps": "SP", "pledges": "SUS", "netzero": "NZE"}  # IEA path of the global demand -> BILLY2023 path
PRODUCTS = ["car_ICE", "car_PHEV", "car_BEV", "other_transport", "building", "packaging", "electrical", "other"]
CARS = ["car_ICE", "car_PHEV", "car_BEV"]
MIXED = [*CARS, "other_transport", "other"]  # shredded: only cast alloys accept them in practice
#: product -> products of the global instance it aggregates
AGG = {"car_ICE": ["ICEV", "HEV"], "car_PHEV": ["PHEV"], "car_BEV": ["BEV", "FCEV"],
       "other_transport": ["LCV_ICE", "LCV_EV", "other_transport"], "building": ["building"],
       "packaging": ["packaging"], "electrical": ["electrical"],
       "other": ["machinery", "consumer_durables", "other"]}
#: alloy of this instance -> the global instance's alloys it stands for (same product use)
ALLOYS = {"AA1050": ["AA1050", "AA8011"], "AA3104": ["AA3003", "AA3104"],
          "AA5182": ["AA5052", "AA5182", "AA5754", "AA5083"],
          "AA6061": ["AA6016", "AA6061", "AA6082", "AA6111", "AA7075", "AA2024"], "AA6063": ["AA6063"],
          "A356": ["A356", "AlSi10Mg"], "A380": ["A380", "ADC12", "AlSi9Cu3", "C319", "C413"]}
WROUGHT = ["AA1050", "AA3104", "AA5182", "AA6061", "AA6063"]

# ---------------------------------------------------------------- regional demand 2020 (Mt, all metal)
#: CN: 38.5 Mt primary (ANTAIKE_2020) + ~5.5 Mt secondary (estimate 4-8); NA 11.05 (AA_NA2021, derived);
#: EU 12 (EA_2014 level held, estimate 11-14); JK: Japan 3.67 (JAA_FY2020) + Korea 1.5 (estimate
#: 1.2-2.0, gap in the dossier); RW: the rest of the 86.2 Mt world total (CRU_IAI2022)
TOTAL_2020 = {"CN": 44.0, "EU": 12.0, "NAM": 11.05, "JK": 5.2}
WORLD_2020 = 86.2
#: end-use split (transport incl. cars, building, packaging, electrical, other): CN CHINA_2017 (seen);
#: NA AA_REVIEW2015 transport/building/packaging (seen), electrical/other estimate; JK JAA_FY2020 transport,
#: JMB_2005 packaging and building (seen), rest estimate; EU estimate; RW: the world split (start of RAS)
SPLIT = {"CN": [0.25, 0.32, 0.08, 0.18, 0.17], "NAM": [0.36, 0.12, 0.18, 0.08, 0.26],
         "JK": [0.39, 0.114, 0.135, 0.08, 0.281], "EU": [0.40, 0.24, 0.17, 0.07, 0.12]}
#: passenger-car aluminium 2020 by region: car sales 2020 (million, estimate from OICA registrations:
#: CN 20, EU 12, NA 16, JK 6.2, RW 23.6; +-10 %) x Al per car 2018 (BILLY2023 input data, seen)
CAR_SALES = {"CN": 20.0, "EU": 12.0, "NAM": 16.0, "JK": 6.2, "RW": 23.6}
AL_PER_CAR = {"CN": 120, "EU": 169, "NAM": 194, "JK": 144, "RW": 145}
#: demand growth 2020 -> 2030 (Mt) of CRU_IAI2022: CN +12.3, NA +5.1, EU +4.8, rest of Asia +8.6; the
#: 2.5 Mt not assigned by region go to RW, rest of Asia split JK +0.5 / RW +8.1 (estimate)
GROWTH_2030 = {"CN": 12.3, "EU": 4.8, "NAM": 5.1, "JK": 0.5, "RW": 10.6}
#: share of world inflow to use by region before 2020 (estimate; 2008 CRU_VIA_STERLITE seen-low:
#: CN 0.33, Europe 0.24, NA 0.16, Asia incl. CN 0.54); 2019 = the 2020 regional shares
HIST_ANCHORS = {1900: [0.00, 0.40, 0.45, 0.01], 1950: [0.01, 0.33, 0.48, 0.03], 1970: [0.03, 0.30, 0.40, 0.08],
                1980: [0.05, 0.28, 0.32, 0.10], 1990: [0.07, 0.27, 0.30, 0.10], 2000: [0.14, 0.25, 0.26, 0.09],
                2008: [0.33, 0.24, 0.16, 0.08]}  # CN, EU, NA, JK; RW = rest
#: building lifetime by region (mean, years): DENG2025_USAL 70 (US, seen) for NA; Chinese buildings are
#: young and short-lived: 35 (estimate 25-45); EU, JK, RW 50 (estimate 40-70); sd = mean / 3
BUILDING_LIFE = {"CN": 35.0, "EU": 50.0, "NAM": 70.0, "JK": 50.0, "RW": 50.0}
#: beverage-can collection by region (estimate; world 0.6-0.71 IAI_UTOKYO_CANS / ALSTORY): CN 0.9 (0.8-0.98),
#: EU 0.75 (0.65-0.8), NA 0.45 (0.4-0.5), JK 0.9 (0.85-0.95), RW 0.5 (0.4-0.7)
CAN_COLLECT = {"CN": 0.9, "EU": 0.75, "NAM": 0.45, "JK": 0.9, "RW": 0.5}
#: 2020 scrap exports (Mt) and destinations: NA ~1.75 (USGS_VIA_YUENSENG, annualised Jan-Aug; seen/estimate),
#: EU 0.95 extra-EU (EUWID_2022, seen); destination shares estimate (Malaysia, India, Korea, China, Turkey)
EXPORTS_2020 = {"NAM": (1.75, {"RW": 0.6, "JK": 0.2, "CN": 0.2}), "EU": (0.95, {"RW": 0.95, "CN": 0.05})}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name)


def alloys() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered windows of the seven alloys (min, max, typical per element) and fabrication."""
    spec = _read("global/alloy_specs_used.csv")
    spec = spec[spec.alloy.isin(ALLOYS) & spec.element.isin(ELEMENTS)].copy()
    fab = _read("global/fabrication.csv").set_index("alloy").loc[list(ALLOYS)]
    return spec, fab


def recipes() -> pd.DataFrame:
    """product x alloy: mass share (the global recipes aggregated to this instance's products, weighted
    by 2020 global demand, and to its alloys)."""
    rec = _read("global/recipes.csv").set_index("product")
    dem = _read("global/demand14_steps.csv").set_index("year").loc[2020]
    out = {}
    for p, members in AGG.items():
        w = np.array([dem[m] for m in members])
        mix = (rec.loc[members].T * (w / w.sum())).T.sum()
        out[p] = {a: mix[g].sum() for a, g in ALLOYS.items()}
    r = pd.DataFrame(out).T
    return r.div(r.sum(axis=1), axis=0)


def typical(spec: pd.DataFrame) -> pd.DataFrame:
    """alloy x element: the typical composition (the global instance's: midpoint of the registered
    limits, or half the maximum)."""
    return spec.pivot(index="alloy", columns="element", values="typical").loc[list(ALLOYS), ELEMENTS]


def products() -> pd.DataFrame:
    """Shredding, pick-up and non-car lifetimes per product (the global instance's values)."""
    glob = _read("global/products14.csv").set_index("product")
    rows = []
    for p, members in AGG.items():
        g = glob.loc[members[0]]
        rows.append({"product": p, "lifetime_mean": g.lifetime_mean, "lifetime_sd": g.lifetime_sd, "collect": g.collect,
                     "shred": g.shred, "pickup_Fe": g.pickup_Fe, "pickup_Cu": g.pickup_Cu})
    return pd.DataFrame(rows).set_index("product")


def xrf_tc(rec: pd.DataFrame, spec: pd.DataFrame, prod: pd.DataFrame) -> pd.DataFrame:
    """XRF/LIBS sorting of a product's scrap: 90 % of the wrought pieces (STEINERT_LSS) to the wrought
    fraction with 5 % of the picked-up Fe and Cu, the rest to the cast fraction; both remelted at 0.95."""
    typ = typical(spec)
    rows = []
    for p in PRODUCTS:
        keep = 1 - prod.at[p, "pickup_Fe"] - prod.at[p, "pickup_Cu"]
        w_mass = rec.loc[p, WROUGHT].sum()
        row = {"product": p}
        for el in [*ELEMENTS, "other"]:
            if el == "other":
                tot = 1 - sum(rec.loc[p, a] * typ.loc[a].sum() for a in ALLOYS)
                wro = w_mass - sum(rec.loc[p, a] * typ.loc[a].sum() for a in WROUGHT)
                share = wro / tot
            else:
                alloy_el = keep * float(rec.loc[p] @ typ[el])
                pick = prod.at[p, f"pickup_{el}"] if f"pickup_{el}" in prod.columns else 0.0
                wro_el = keep * float(rec.loc[p, WROUGHT] @ typ.loc[WROUGHT, el])
                tot = alloy_el + pick
                share = (0.9 * wro_el + 0.05 * pick) / tot if tot > 0 else 0.9
                row[f"w_{el}"] = 0.95 * share
                row[f"c_{el}"] = 0.95 * (1 - share)
                continue
            row["w_other"] = 0.95 * 0.9 * share
            row["c_other"] = 0.95 * (1 - 0.9 * share)
        rows.append(row)
    return pd.DataFrame(rows)


def _ras(m: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int = 200) -> np.ndarray:
    """Iterative proportional fitting of a nonnegative matrix to row and column totals."""
    m = m.copy()
    for _ in range(n):
        m *= (rows / m.sum(axis=1))[:, None]
        m *= (cols / m.sum(axis=0))[None, :]
    return m


def shares_2020() -> pd.DataFrame:
    """region x product: share of the world's 2020 demand of each product (RAS-balanced to the
    regional totals and to the global instance's 2020 product demand)."""
    dem = _read("global/demand14_steps.csv").set_index("year").loc[2020]
    world = pd.Series({p: sum(dem[m] for m in AGG[p]) for p in PRODUCTS})
    cars_world = world[CARS].sum()
    car_al = {r: CAR_SALES[r] * AL_PER_CAR[r] for r in REGIONS}
    car_share = {r: car_al[r] / sum(car_al.values()) for r in REGIONS}
    totals = dict(TOTAL_2020, RW=WORLD_2020 - sum(TOTAL_2020.values()))
    wsplit = np.array([world[["car_ICE", "car_PHEV", "car_BEV", "other_transport"]].sum(), world.building,
                       world.packaging, world.electrical, world.other]) / world.sum()
    m = np.zeros((len(REGIONS), 6))  # cars, other_transport, building, packaging, electrical, other
    for i, r in enumerate(REGIONS):
        sp = np.array(SPLIT.get(r, wsplit)) * totals[r]
        cars = car_share[r] * cars_world
        m[i] = [cars, max(sp[0] - cars, 0.1 * sp[0]), *sp[1:]]
    cols = np.array([cars_world, world.other_transport, world.building, world.packaging, world.electrical,
                     world.other])
    fit = _ras(m, np.array([totals[r] for r in REGIONS]) * world.sum() / WORLD_2020, cols)
    out = pd.DataFrame(fit / cols, index=REGIONS,
                       columns=["cars", "other_transport", "building", "packaging", "electrical", "other"])
    return out


def growth(year: int) -> dict:
    """Regional demand factor relative to 2020 (CRU_IAI2022 increments to 2030, held after)."""
    f = min(max((year - 2020) / 10, 0.0), 1.0)
    totals = dict(TOTAL_2020, RW=WORLD_2020 - sum(TOTAL_2020.values()))
    return {r: 1 + f * GROWTH_2030[r] / totals[r] for r in REGIONS}


def powertrain(path: str) -> pd.DataFrame:
    """year x region: mass shares of car_ICE (ICEV+HEV), car_PHEV, car_BEV in new cars' aluminium:
    BILLY2023 sales shares x powertrain Al multipliers (P_Type: ICEV 0.99, HEV 1.2, PHEV 1.88 -> 1.72
    (2030) -> 1.4 (2050), BEV 1.97 -> 1.85 -> 1.6), interpolated between the scenario years."""
    df = _read("dossier/powertrain_sales_share_scenarios_billy2023.csv")
    df = df[df.scenario == PATHS[path]]
    mult = {"ICEV": lambda y: 0.99, "HEV": lambda y: 1.2,
            "PHEV": lambda y: np.interp(y, [2020, 2030, 2050], [1.88, 1.72, 1.4]),
            "BEV": lambda y: np.interp(y, [2020, 2030, 2050], [1.97, 1.85, 1.6])}
    rows = []
    for r in REGIONS:
        sub = df[df.region == BILLY_REGION[r]]
        for y in YEARS:
            s = {pt: np.interp(y, sub[sub.powertrain == pt].year, sub[sub.powertrain == pt].value) for pt in mult}
            m = {pt: s[pt] * mult[pt](y) for pt in mult}
            tot = sum(m.values())
            rows.append({"year": y, "region": r, "car_ICE": (m["ICEV"] + m["HEV"]) / tot,
                         "car_PHEV": m["PHEV"] / tot, "car_BEV": m["BEV"] / tot})
    return pd.DataFrame(rows)


def demand(path: str, sh: pd.DataFrame) -> pd.DataFrame:
    """year x region x product demand (Mt): the global path's product demand shared among regions
    (2020 shares moved by the regional growth factors), cars split by the regional powertrain path."""
    glob = _read(f"global/demand14_{path}.csv").set_index("year")
    pt = powertrain(path).set_index(["year", "region"])
    rows = []
    for y in YEARS:
        g = growth(y)
        for sector in sh.columns:
            w = {r: sh.at[r, sector] * g[r] for r in REGIONS}
            tot = sum(w.values())
            members = [m for p in CARS for m in AGG[p]] if sector == "cars" else AGG[sector]
            world = sum(glob.at[y, m] for m in members)
            for r in REGIONS:
                val = world * w[r] / tot
                if sector == "cars":
                    for p in CARS:
                        rows.append({"year": y, "region": r, "product": p, "value": val * pt.at[(y, r), p]})
                else:
                    rows.append({"year": y, "region": r, "product": sector, "value": val})
    out = pd.DataFrame(rows)
    out.insert(3, "unit", "Mt")
    return out


def history(sh: pd.DataFrame) -> pd.DataFrame:
    """year x region x product inflow 1900-2019: the global history by product times the region's share
    (HIST_ANCHORS up to 2008, then linear to the 2020 shares of the product)."""
    h = _read("global/history14.csv")
    inv = {m: p for p, ms in AGG.items() for m in ms}
    h["product"] = h["product"].map(inv)
    h = h.groupby(["year", "product"], as_index=False)["value"].sum()
    ay = sorted(HIST_ANCHORS)
    anchor = {r: [HIST_ANCHORS[y][i] if i < 4 else 1 - sum(HIST_ANCHORS[y]) for y in ay]
              for i, r in enumerate(REGIONS)}
    rows = []
    for _, row in h.iterrows():
        y, p = int(row.year), row["product"]
        sector = "cars" if p in CARS else p
        for r in REGIONS:
            if y <= 2008:
                s = np.interp(y, ay, anchor[r])
            else:
                s = np.interp(y, [2008, 2020], [anchor[r][-1], sh.at[r, sector]])
            rows.append({"year": y, "region": r, "product": p, "value": row.value * s})
    out = pd.DataFrame(rows)
    out.insert(3, "unit", "Mt")
    return out


def regions_products(prod: pd.DataFrame) -> pd.DataFrame:
    """region x product: lifetime and collection (cars: BILLY2023 regional lifetime means 2020, sd 25 %,
    ELV collection 2020; buildings and cans: BUILDING_LIFE, CAN_COLLECT; the rest: global values)."""
    bil = _read("dossier/car_lifetime_collection_sorting_billy2023.csv")
    rows = []
    for r in REGIONS:
        life = bil[(bil.parameter == "car_lifetime_mean") & (bil.scenario == "Medium")
                   & (bil.region == BILLY_REGION[r]) & (bil.year.astype(str) == "2020")].value.iloc[0]
        coll = bil[(bil.parameter == "elv_collection_rate") & (bil.region == BILLY_REGION[r])
                   & (bil.year.astype(str) == "2020")].value.iloc[0]
        for p in PRODUCTS:
            mean, sd, c = prod.at[p, "lifetime_mean"], prod.at[p, "lifetime_sd"], prod.at[p, "collect"]
            if p in CARS:
                mean, sd, c = life, 0.25 * life, coll
            elif p == "building":
                mean, sd = BUILDING_LIFE[r], BUILDING_LIFE[r] / 3
            elif p == "packaging":
                c = CAN_COLLECT[r]
            rows.append({"region": r, "product": p, "lifetime_mean": mean, "lifetime_sd": sd, "collect": c})
    return pd.DataFrame(rows)


def alloy_demand(dem: pd.DataFrame, rec: pd.DataFrame, fab: pd.DataFrame) -> pd.DataFrame:
    """year x region: cast-house demand per alloy (product demand x recipe / delivered)."""
    rows = []
    for (y, r), g in dem.groupby(["year", "region"]):
        d = g.set_index("product")["value"]
        row = {"year": y, "region": r, "unit": "Mt"}
        for a in ALLOYS:
            row[a] = float((d * rec.loc[d.index, a]).sum() / fab.at[a, "delivered"])
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    spec, fab = alloys()
    rec = recipes()
    prod = products()
    sh = shares_2020()
    prod.to_csv(DATA / "products.csv", float_format="%.10g")
    rec.rename_axis("product").to_csv(DATA / "recipes.csv", float_format="%.10g")
    typical(spec).rename_axis("alloy").to_csv(DATA / "alloy_typical.csv", float_format="%.10g")
    sh.rename_axis("region").to_csv(DATA / "shares_2020.csv", float_format="%.6g")
    xrf_tc(rec, spec, prod).to_csv(DATA / "xrf_tc.csv", index=False, float_format="%.10g")
    regions_products(prod).to_csv(DATA / "regions_products.csv", index=False, float_format="%.10g")
    history(sh).to_csv(DATA / "history.csv", index=False, float_format="%.8g")
    spec.to_csv(DATA / "alloy_specs_used.csv", index=False)
    fab.to_csv(DATA / "fabrication.csv", float_format="%.10g")
    for path in PATHS:
        dem = demand(path, sh)
        dem.to_csv(DATA / f"demand_{path}.csv", index=False, float_format="%.8g")
        alloy_demand(dem, rec, fab).to_csv(DATA / f"alloy_demand_{path}.csv", index=False, float_format="%.8g")


if __name__ == "__main__":
    main()
