"""Build the alloy-level global_aluminium instance (issue 14) from the tables in data/.

    python instances/global_aluminium/prepare_alloys.py

Reads (all inside this folder):
  data/dossier/alloy_specs.csv       registered composition limits of real alloys (copied from the
                                     project's alloy dossier with its sources, data/dossier/dossier_sources.csv)
  data/paths/<path>/product_demand.csv, data/history_inflow.csv   demand and inflow history by product
                                     (built by prepare_data.py from the aluminium history dossier)
Writes:
  data/alloy_specs_used.csv          alloy x element: min, max (mass fraction), typical, source
  data/alloy_typical.csv             alloy: typical composition (one column per element; the instance's
                                     composition table 'alloy_typical')
  data/recipes.csv                   product x alloy: mass share of the product's aluminium (constant; the
                                     instance mixes the products' compositions from it, 'product_mix')
  data/products14.csv                product: lifetime, collection, shredding, pick-up, shredded composition, ...
  data/scrap_tc.csv                  product: element-wise coefficients of the clean class, sorting outputs
  data/history14.csv                 year x product: inflow history (long table)
  data/paths/<path>/demand14.csv     year x product demand (14 products, LCVs split off other transport)
  data/paths/<path>/alloy_demand14.csv  year x alloy: cast-house demand (gross of fabrication dross)

instance.yaml and scenarios/*.yaml are hand-edited files: the alloy windows written inline there were
copied once from data/alloy_specs_used.csv (the tests check that they agree), everything else is
referenced by file. A product's composition (its recipe at the alloys' typical compositions) is mixed
by the loader from data/recipes.csv and data/alloy_typical.csv.

Every constant names its source id (sources.csv) or says `estimate`; the README lists each
estimate with its range. Compositions are mass fractions; masses Mt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prepare_data import interp

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
YEARS = np.arange(2020, 2051)
ELEMENTS = ["Si", "Fe", "Cu", "Mg", "Mn", "Zn"]
CH = [*ELEMENTS, "other"]
PATHS = {"steps": "STEPS", "pledges": "APS", "netzero": "NZE"}

# ---------------------------------------------------------------- alloys (AA / EN / JIS registered limits)
#: instance name -> alloy name in data/dossier/alloy_specs.csv
ALLOYS = {
    "AA1050": "1050", "AA8011": "8011", "AA3003": "3003", "AA3104": "3104", "AA5052": "5052",
    "AA5182": "5182", "AA5754": "5754", "AA5083": "5083", "AA6016": "6016", "AA6061": "6061",
    "AA6063": "6063", "AA6082": "6082", "AA6111": "6111", "AA7075": "7075", "AA2024": "2024",
    "A356": "A356.0 (AlSi7Mg0.3)", "AlSi10Mg": "EN AC-43400 AlSi10Mg(Fe)", "A380": "A380.0",
    "ADC12": "ADC12 (JIS H 5302)", "AlSi9Cu3": "EN AC-46000 AlSi9Cu3(Fe)", "C319": "319.0", "C413": "413.0",
}
WROUGHT = [a for a in ALLOYS if a.startswith("AA")]
CAST = [a for a in ALLOYS if not a.startswith("AA")]
HIGH = ["AA7075", "AA2024"]  # Cu/Zn-rich wrought: XRT/XRF sorts them with the cast fraction
#: an element the standard does not list: wrought "others each <= 0.05 %" (AA convention, dossier note);
#: cast: 0.15 % (estimate, 0.05-0.25: NADCA "total others" 0.25-0.50)
MISSING_MAX = {"wrought": 0.0005, "cast": 0.0015}
#: fabrication yield (product / fabrication input); the rest is new scrap, remelted in-house into the
#: same alloy at 98 % (ALSTORY: melt loss < 2 %). Sheet 0.75 (0.6-0.85), auto sheet 0.6 (up to 50 %
#: stamping scrap, STEINERT_LSS via scrap_classes.csv), extrusions 0.85 (0.75-0.9), aerospace 0.5
#: (0.3-0.7), castings 0.9 (0.8-0.95): estimates except where named
FAB_YIELD = {a: 0.75 for a in WROUGHT} | {"AA6016": 0.6, "AA6111": 0.6, "AA5754": 0.6, "AA6063": 0.85,
                                          "AA6061": 0.85, "AA6082": 0.85, "AA7075": 0.5, "AA2024": 0.5} \
    | {a: 0.9 for a in CAST}
NEW_SCRAP_REMELT = 0.98  # ALSTORY

# ---------------------------------------------------------------- products and their alloys
CARS = ["ICEV", "HEV", "PHEV", "BEV", "FCEV"]
LCVS = ["LCV_ICE", "LCV_EV"]
PRODUCTS = [*CARS, *LCVS, "other_transport", "building", "packaging", "electrical", "machinery",
            "consumer_durables", "other"]
#: cars: wrought / primary cast / secondary cast, BILLY2023 (2020, component x alloy split); FCEV estimate
CAR_CLASSES = {"ICEV": (0.448, 0.279, 0.273), "HEV": (0.465, 0.279, 0.256), "PHEV": (0.487, 0.279, 0.234),
               "BEV": (0.619, 0.279, 0.102), "FCEV": (0.60, 0.279, 0.121),
               "LCV_ICE": (0.448, 0.279, 0.273), "LCV_EV": (0.619, 0.279, 0.102)}  # LCVs as cars: estimate
#: split of each class into alloys [estimate: typical uses in alloy_specs.csv 'typical_product']
CAR_WROUGHT_ICE = {"AA3003": 0.12, "AA5182": 0.10, "AA5754": 0.18, "AA6016": 0.20, "AA6111": 0.05,
                   "AA6061": 0.10, "AA6082": 0.10, "AA6063": 0.15}
CAR_WROUGHT_EV = {"AA3003": 0.08, "AA5182": 0.08, "AA5754": 0.14, "AA6016": 0.18, "AA6111": 0.04,
                  "AA6061": 0.10, "AA6082": 0.18, "AA6063": 0.20}
CAR_PRIMARY_CAST = {"A356": 0.75, "AlSi10Mg": 0.25}
CAR_SECONDARY_CAST = {"A380": 0.30, "ADC12": 0.30, "AlSi9Cu3": 0.25, "C319": 0.15}
#: other products: cast share DENG2025_USAL (US+Canada shipments); alloy split estimate
SECTOR = {
    "other_transport": (0.164, {"A356": 0.5, "A380": 0.5},
                        {"AA5083": 0.30, "AA5754": 0.15, "AA6082": 0.25, "AA6061": 0.15, "AA7075": 0.07, "AA2024": 0.08}),
    "building": (0.011, {"A380": 1.0}, {"AA6063": 0.70, "AA3003": 0.15, "AA5754": 0.05, "AA1050": 0.10}),
    "packaging": (0.0, {}, {"AA3104": 0.55, "AA5182": 0.15, "AA8011": 0.20, "AA1050": 0.10}),
    "electrical": (0.113, {"A380": 0.5, "C413": 0.5}, {"AA1050": 0.60, "AA6063": 0.25, "AA3003": 0.15}),
    "machinery": (0.36, {"A380": 0.4, "AlSi9Cu3": 0.3, "A356": 0.3},
                  {"AA6061": 0.35, "AA6082": 0.25, "AA5083": 0.15, "AA5052": 0.10, "AA2024": 0.05, "AA7075": 0.10}),
    "consumer_durables": (0.216, {"ADC12": 0.7, "C413": 0.3}, {"AA3003": 0.35, "AA5052": 0.25, "AA1050": 0.20,
                                                              "AA6063": 0.20}),
    "other": (0.626, {"A380": 0.5, "AlSi9Cu3": 0.3, "A356": 0.2}, {"AA6063": 0.5, "AA3003": 0.3, "AA5052": 0.2}),
}
#: clean scrap classes: fraction of each alloy of a product collected / dismantled apart and remelted
#: as its own class (the rest is shredded mixed, Zorba/Twitch)
WHEELS = 0.9 * 0.168 * 0.8  # BILLY2023: 0.9 of component G8 dismantled (16.8 % of car Al, 80 % primary cast)
CLEAN = {
    # wheels (A356) dismantled from cars and LCVs
    **{p: {"A356": None} for p in [*CARS, *LCVS]},
    "building": {"AA6063": 0.6},                     # extrusions (Toto-type), estimate 0.4-0.8
    "packaging": {"AA3104": 1.0, "AA5182": 1.0},     # UBC: cans are collected as cans (scrap_classes.csv UBC)
    "electrical": {"AA1050": 0.8},                   # EC wire (Talon-type), estimate 0.6-0.9
    "other_transport": {"AA6082": 0.3, "AA6061": 0.3, "AA5083": 0.3},  # profiles and plate, estimate 0.1-0.5
    "machinery": {"A380": 0.3, "AlSi9Cu3": 0.3, "A356": 0.3},          # old castings (Tense), estimate 0.1-0.5
    "consumer_durables": {"AA3003": 0.3, "AA5052": 0.3},               # old sheet (Taint/Tabor), estimate 0.1-0.5
    "other": {"A380": 0.3, "AlSi9Cu3": 0.3, "A356": 0.3},              # old castings, estimate 0.1-0.5
}
CLEAN_NAME = {**{p: "wheels" for p in [*CARS, *LCVS]}, "building": "extrusions", "packaging": "UBC",
              "electrical": "wire", "other_transport": "profiles_plate", "machinery": "old_cast",
              "consumer_durables": "old_sheet", "other": "old_cast"}
#: Fe and Cu picked up in shredding (fraction of the shredder's total input) [estimate: tramp_pickup.csv
#: gives 0.5-1.3 wt % Fe and 0.1-1.0 wt % Cu for shredded ELV Al, no sourced value; others lower]
PICKUP = {p: (0.009, 0.003) for p in [*CARS, *LCVS]} | {
    p: (0.006, 0.002) for p in ["other_transport", "machinery", "consumer_durables", "other", "electrical"]} | {
    "building": (0.003, 0.0005), "packaging": (0.002, 0.0)}
LIFETIME = {p: (14.9, 3.725) for p in CARS} | {p: (15.0, 3.75) for p in LCVS} | {  # cars BILLY2023; LCV estimate
    "other_transport": (35, 10), "building": (70, 23), "packaging": (1, 0), "electrical": (50, 16),
    "machinery": (40, 13), "consumer_durables": (20, 6), "other": (35, 10)}  # DENG2025_USAL
COLLECT = {p: 0.935 for p in [*CARS, *LCVS]} | {  # BILLY2023 (LCV: as cars, estimate)
    "other_transport": 0.90, "building": 0.90, "packaging": 0.60,  # ALSTORY
    "electrical": 0.85, "machinery": 0.90, "consumer_durables": 0.70, "other": 0.70}  # estimate
SHRED = {p: 0.85 for p in [*CARS, *LCVS, "other_transport", "machinery", "consumer_durables", "other"]} | {
    "building": 0.95, "packaging": 0.95, "electrical": 0.95}  # cars BILLY2023; rest estimate
#: what-if brackets for cars and LCVs (scenarios/bracket_*.yaml): collection 0.90-0.95, shredding recovery
#: 0.80-0.95 (estimate around BILLY2023's 0.935 / 0.85), mean lifetime -2 / +2 years (sd scaled alike;
#: estimate around BILLY2023's 14.9 y); other products keep their values
BRACKET = {"collect": (0.90, 0.95), "shred": (0.80, 0.95), "lifetime_mean": (-2.0, 2.0)}
#: LCVs and light trucks: share of 'other transport' aluminium [estimate 0.3-0.55] and their EV share of
#: sales by EV path [estimate: electric LCVs ~3 % of sales in 2023, IEA GEVO text recalled]
LCV_SHARE = 0.40
LCV_EV = {"steps": {2020: 0.01, 2023: 0.03, 2030: 0.15, 2040: 0.35, 2050: 0.50},
          "pledges": {2020: 0.01, 2023: 0.03, 2030: 0.22, 2040: 0.55, 2050: 0.75},
          "netzero": {2020: 0.01, 2023: 0.03, 2030: 0.35, 2040: 0.80, 2050: 0.95}}
LCV_EV_CONTENT = 1.3  # Al per electric LCV / per ICE LCV [estimate 1.1-1.6; cars 1.6-1.97 BILLY2023]

# ---------------------------------------------------------------- sorting (probability an alloy group
# reports to the output; the rest goes to the other output) [LIBS 90 % recovery, 99 % purity STEINERT_LSS;
# XRT removes 2xxx/7xxx RPN_STEINERT; heavy media (zorba -> twitch, 91-93 % Al) LMA_VESPER; values estimate]
XRF_TO_WROUGHT = {"wrought": 0.90, "high": 0.02, "cast": 0.01, "Fe": 0.05, "Cu": 0.05}
TWITCH_KEEP = {"wrought": 0.97, "high": 0.60, "cast": 0.97, "Fe": 0.50, "Cu": 0.20}  # heavy media: heavies out
MELT_YIELD = 0.95   # remelting shredded scrap, estimate 0.90-0.98
CLEAN_YIELD = 0.97  # remelting clean old scrap, estimate 0.95-0.98
DEMAG_MG = 0.15     # Mg left after demagging (chlorination / salt flux), estimate 0.05-0.5
#: 'sse' scenario: share of shredded car and LCV scrap to SSE (estimate; within the capacity path)
SSE_PATH = {2028: 0.0, 2040: 0.2, 2050: 0.3}
SSE_AL = 0.96       # LU2022_SSE: Al recovery
SSE_ELEMENT = 0.01  # element fraction reaching the cathode: 99.9 % Al product (LU2022_SSE), estimate 0.003-0.02


def alloy_specs() -> pd.DataFrame:
    """alloy x element: min, max, typical (midpoint, or half the max) as mass fractions."""
    spec = pd.read_csv(DATA / "dossier" / "alloy_specs.csv")
    rows = []
    for a, name in ALLOYS.items():
        sub = spec[spec.alloy == name].set_index("element")
        fam = "wrought" if a in WROUGHT else "cast"
        for el in ELEMENTS:
            if el in sub.index:
                lo = sub.at[el, "min_wt_pct"]
                hi = float(sub.at[el, "max_wt_pct"]) / 100
                lo = 0.0 if pd.isna(lo) else float(lo) / 100
                src = sub.at[el, "source"]
            else:
                lo, hi, src = 0.0, MISSING_MAX[fam], "estimate"
            typ = (lo + hi) / 2 if lo > 0 else hi / 2
            rows.append({"alloy": a, "family": fam, "element": el, "min": lo, "max": hi, "typical": typ,
                         "source": src, "registered_name": name})
    return pd.DataFrame(rows)


def typical(specs: pd.DataFrame) -> pd.DataFrame:
    t = specs.pivot(index="alloy", columns="element", values="typical")[ELEMENTS]
    t["other"] = 1.0 - t.sum(axis=1)
    return t.loc[list(ALLOYS)]


def recipes() -> pd.DataFrame:
    rec = pd.DataFrame(0.0, index=PRODUCTS, columns=list(ALLOYS))
    for p, (w, pc, sc) in CAR_CLASSES.items():
        wr = CAR_WROUGHT_EV if p in ("PHEV", "BEV", "FCEV", "LCV_EV") else CAR_WROUGHT_ICE
        for part, share in ((wr, w), (CAR_PRIMARY_CAST, pc), (CAR_SECONDARY_CAST, sc)):
            for a, f in part.items():
                rec.at[p, a] += share * f
    for p, (cast, cmix, wmix) in SECTOR.items():
        for a, f in cmix.items():
            rec.at[p, a] += cast * f
        for a, f in wmix.items():
            rec.at[p, a] += (1 - cast) * f
    assert np.allclose(rec.sum(axis=1), 1.0)
    return rec


def clean_fractions(rec: pd.DataFrame) -> pd.DataFrame:
    """product x alloy: fraction of the alloy's mass that leaves as the clean class."""
    f = pd.DataFrame(0.0, index=PRODUCTS, columns=list(ALLOYS))
    for p, m in CLEAN.items():
        for a, v in m.items():
            f.at[p, a] = min(1.0, WHEELS / rec.at[p, a]) if v is None else v
    return f


def element_tc(mass: pd.DataFrame, frac: pd.Series | pd.DataFrame) -> pd.Series:
    """Element-wise transfer coefficients of a fraction: sum_a m[a, ch] f[a] / sum_a m[a, ch]."""
    tot = mass.sum(axis=0)
    part = mass.mul(frac, axis=0).sum(axis=0)
    return (part / tot.where(tot > 0, 1.0)).where(tot > 0, 0.0)


def scrap_tables(rec: pd.DataFrame, typ: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """products14.csv (parameters, shredded composition) and scrap_tc.csv (element-wise coefficients)."""
    clean = clean_fractions(rec)
    prod_rows, tc_rows = [], []
    groups = pd.Series({a: ("high" if a in HIGH else "wrought" if a in WROUGHT else "cast") for a in ALLOYS})
    for p in PRODUCTS:
        mass = typ.mul(rec.loc[p], axis=0)  # alloy x channel, per unit of product
        tc_clean = element_tc(mass, clean.loc[p])
        shred_mass = mass.mul(1 - clean.loc[p], axis=0)
        fe, cu = PICKUP[p]
        # the shredder's input: shredded alloys (1 - fe - cu) + picked-up Fe and Cu (fixed ratios)
        s = shred_mass / shred_mass.values.sum() * (1 - fe - cu)
        s.loc["pickup_Fe"] = [fe if c == "Fe" else 0.0 for c in CH]
        s.loc["pickup_Cu"] = [cu if c == "Cu" else 0.0 for c in CH]
        grp = pd.concat([groups, pd.Series({"pickup_Fe": "Fe", "pickup_Cu": "Cu"})])
        to_w = grp.map(XRF_TO_WROUGHT)
        keep = grp.map(TWITCH_KEEP)
        row = {"product": p, "clean_class": CLEAN_NAME[p], "lifetime_mean": LIFETIME[p][0],
               "lifetime_sd": LIFETIME[p][1], "collect": COLLECT[p], "shred": SHRED[p], "pickup_Fe": fe,
               "pickup_Cu": cu, "clean_share": float((mass.sum(axis=1) * clean.loc[p]).sum())}
        vehicle = p in (*CARS, *LCVS)
        for key, (lo, hi) in BRACKET.items():
            for tag, v in (("low", lo), ("high", hi)):
                if key == "lifetime_mean":
                    m = LIFETIME[p][0] + (v if vehicle else 0.0)
                    row[f"lifetime_mean_{tag}"], row[f"lifetime_sd_{tag}"] = m, LIFETIME[p][1] * m / LIFETIME[p][0]
                else:
                    row[f"{key}_{tag}"] = v if vehicle else row[key]
        shred_comp = s.sum(axis=0)
        row.update({f"shred_{c}": shred_comp[c] for c in ELEMENTS})
        prod_rows.append(row)
        tc = {"product": p}
        for c in CH:
            tc[f"clean_{c}"] = tc_clean[c]
            tc[f"xrfw_{c}"] = element_tc(s, to_w)[c] * MELT_YIELD
            tc[f"xrfc_{c}"] = element_tc(s, 1 - to_w)[c] * MELT_YIELD
            tc[f"twitch_{c}"] = element_tc(s, keep)[c] * MELT_YIELD
        tc_rows.append(tc)
    return pd.DataFrame(prod_rows), pd.DataFrame(tc_rows)


def demand_tables(key: str, rec: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """14-product demand (LCVs split off other transport) and gross cast-house demand per alloy."""
    d = pd.read_csv(DATA / "paths" / key / "product_demand.csv").set_index("year")
    d = d.drop(columns=["unit", "total"])
    s = interp(LCV_EV[key], d.index.values)
    lcv = LCV_SHARE * d["other_transport"]
    ev_mass = s * LCV_EV_CONTENT / (s * LCV_EV_CONTENT + (1 - s))
    d["LCV_ICE"] = lcv * (1 - ev_mass)
    d["LCV_EV"] = lcv * ev_mass
    d["other_transport"] = d["other_transport"] - lcv
    d = d[PRODUCTS]
    net = d @ rec  # year x alloy, aluminium in products
    y = pd.Series(FAB_YIELD)
    y_eff = y / (1 - NEW_SCRAP_REMELT * (1 - y))  # closed-loop new scrap: only its melt loss leaves
    gross = net / y_eff[net.columns]
    return d, gross


def history(rec: pd.DataFrame) -> pd.DataFrame:
    h = pd.read_csv(DATA / "history_inflow.csv").drop(columns=["unit"]).set_index("year")
    h["LCV_ICE"] = LCV_SHARE * h["other_transport"]
    h["LCV_EV"] = 0.0
    h["other_transport"] = h["other_transport"] * (1 - LCV_SHARE)
    return h[PRODUCTS].reset_index().melt(id_vars="year", var_name="product", value_name="value")


def fmt(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=index, float_format="%.10g")


def main() -> None:
    specs = alloy_specs()
    typ = typical(specs)
    rec = recipes()
    prod, tc = scrap_tables(rec, typ)
    fmt(specs, DATA / "alloy_specs_used.csv")
    names = specs.drop_duplicates("alloy").set_index("alloy")["registered_name"]
    fmt(typ[ELEMENTS].assign(description=names[typ.index]).rename_axis("alloy").reset_index(),
        DATA / "alloy_typical.csv")
    fmt(rec.rename_axis("product").reset_index(), DATA / "recipes.csv")
    fmt(prod, DATA / "products14.csv")
    fmt(tc, DATA / "scrap_tc.csv")
    fmt(history(rec), DATA / "history14.csv")
    y = pd.Series(FAB_YIELD)
    fab = pd.DataFrame({"alloy": list(ALLOYS), "fab_yield": y[list(ALLOYS)].values,
                        "delivered": (y / (1 - NEW_SCRAP_REMELT * (1 - y)))[list(ALLOYS)].values})
    fmt(fab, DATA / "fabrication.csv")
    for key in PATHS:
        d, gross = demand_tables(key, rec)
        d.insert(0, "unit", "Mt")
        gross.insert(0, "unit", "Mt")
        fmt(d.rename_axis("year").reset_index(), DATA / "paths" / key / "demand14.csv")
        long = d[PRODUCTS].rename_axis("year").reset_index().melt(id_vars="year", var_name="product")
        long.insert(2, "unit", "Mt")
        fmt(long, DATA / "paths" / key / "demand14_long.csv")
        fmt(gross.rename_axis("year").reset_index(), DATA / "paths" / key / "alloy_demand14.csv")
        print(f"{key}: demand 2040 {d.loc[2040, PRODUCTS].sum():.1f} Mt, cast-house 2040 "
              f"{gross.loc[2040, list(ALLOYS)].sum():.1f} Mt")
    sse = pd.DataFrame([{"year": y, "product": p, "sse": float(interp(SSE_PATH, [y])[0]) if p in [*CARS, *LCVS]
                         else 0.0} for y in YEARS for p in PRODUCTS])
    fmt(sse, DATA / "sse_path14.csv")


if __name__ == "__main__":
    main()
