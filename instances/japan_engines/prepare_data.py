"""Build the instance's derived data tables from the shared data dossier (run once; the
outputs in data/ are committed, so the instance needs no outside data at run time).

    python instances/japan_engines/prepare_data.py --shared PATH/TO/DOSSIER/data

Writes
  data/product_lifetimes.csv   product, mean_years, sd_years, source_id
  data/eol_recovery_rate.csv   year + one column per product (2020-2075)
and prints the product-parameter mappings that instance.yaml holds (fabrication yield,
fabrication-scrap recovery, obsolete share, export-for-reuse share, sector splits), so the
arithmetic behind each number is reproducible.

Every value is PAULIUK2017_MATRACE_GLOBAL (Japan rows; EoL recovery is MaTrace's global
'Basic' path) except the special-steel split (JISF_NEWS automotive share + estimate).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
YEARS = range(2020, 2071)  # the model years (50 years after the production year)

# the 8 categories of this instance -> MaTrace Global sectors (EXIOBASE p28-p36, p45)
SECTORS = {
    "construction": ["Construction work"],
    "machinery": ["Machinery and equipment n.e.c."],
    "motor_vehicles": ["Motor vehicles, trailers and semi-trailers"],
    "electrical": ["Electrical machinery and apparatus n.e.c.",
                   "Radio, television and communication equipment and apparatus",
                   "Office machinery and computers"],
    "other_transport": ["Other transport equipment"],
    "fabricated_metal": ["Fabricated metal products, except machinery and equipment"],
    "furniture_other": ["Furniture; other manufactured goods n.e.c."],
    "precision": ["Medical, precision and optical instruments, watches and clocks"],
}
# weights of the electrical aggregate: MaTrace D split of Japanese EAF steel, domestic,
# renormalised (japan_steel_end_use.csv / matrace_global_japan_scrap_sector_split.csv)
D_SPLIT = {  # sector -> share of domestically used scrap-based steel
    "Construction work": 0.4055, "Machinery and equipment n.e.c.": 0.2538,
    "Motor vehicles, trailers and semi-trailers": 0.1837,
    "Electrical machinery and apparatus n.e.c.": 0.0249,
    "Radio, television and communication equipment and apparatus": 0.0196,
    "Office machinery and computers": 0.0067, "Other transport equipment": 0.0452,
    "Fabricated metal products, except machinery and equipment": 0.0283,
    "Furniture; other manufactured goods n.e.c.": 0.0177,
    "Medical, precision and optical instruments, watches and clocks": 0.0146,
}
# JISF_NEWS: special steel CY2023, domestic orders 10.316 Mt, of which automotive 4.258 Mt
SPECIAL_AUTOMOTIVE = round(4.258 / 10.316, 4)


def weights(cat: str) -> dict[str, float]:
    secs = SECTORS[cat]
    tot = sum(D_SPLIT[s] for s in secs)
    return {s: D_SPLIT[s] / tot for s in secs}


def wmean(values: dict[str, float], cat: str) -> float:
    return sum(w * values[s] for s, w in weights(cat).items())


def main(shared: Path) -> None:
    par = pd.read_csv(shared / "matrace_global_steel_parameters.csv")
    jp = par[par.region == "Japan"]

    def by_sector(parameter: str) -> dict[str, float]:
        sub = jp[jp.parameter == parameter]
        return dict(zip(sub["product"], sub["value"].astype(float)))

    lam = by_sector("fabrication_yield")
    xi = by_sector("fabrication_scrap_recovery_rate")
    omega = by_sector("eol_share_obsolete_stock")
    export = by_sector("eol_share_export_for_reuse_total")
    tau = by_sector("product_lifetime_mean")

    print("# product parameters (PAULIUK2017_MATRACE_GLOBAL, Japan; electrical = D-weighted mean of 3 sectors)")
    for name, d in (("fabrication yield", lam), ("fabrication-scrap recovery", xi),
                    ("obsolete (hibernating) share", omega), ("export-for-reuse share", export),
                    ("lifetime mean", tau)):
        print(f"{name}:")
        for cat in SECTORS:
            print(f"  {cat}: {round(wmean(d, cat), 4)}")

    # lifetimes: the dossier's 8-category table (normal, sd = 0.3 mean)
    lt = pd.read_csv(shared / "japan_steel_product_lifetimes_8cat.csv")
    names = {"Construction": "construction", "Machinery": "machinery", "Motor vehicles": "motor_vehicles",
             "Electrical & electronic equipment": "electrical", "Other transport": "other_transport",
             "Fabricated metal products": "fabricated_metal", "Furniture & other goods": "furniture_other",
             "Precision instruments": "precision"}
    lt["product"] = lt["category"].map(names)
    # the dossier gives 13.9 y for the electrical aggregate, but its stated weights
    # (0.0160/0.0126/0.0043 = the D split) give 13.44 y: recomputed here from the Japan taus
    el = lt["product"] == "electrical"
    lt.loc[el, "mean_years"] = round(wmean(tau, "electrical"), 2)
    lt.loc[el, "sd_years"] = round(0.3 * wmean(tau, "electrical"), 3)
    lt[["product", "mean_years", "sd_years", "source_id"]].to_csv(HERE / "data/product_lifetimes.csv",
                                                                  index=False, lineterminator="\n")

    # EoL scrap recovery ('Basic' path), D-weighted for the electrical aggregate
    rr = pd.read_csv(shared / "matrace_global_eol_recovery_rate_basic_yearly.csv")
    wide = rr.pivot(index="year", columns="product", values="value").loc[list(YEARS)]
    out = pd.DataFrame({"year": list(YEARS)})
    for cat in SECTORS:
        w = weights(cat)
        out[cat] = sum(wide[s].to_numpy() * wt for s, wt in w.items()).round(6)
    with open(HERE / "data/eol_recovery_rate.csv", "w") as fh:
        fh.write("# EoL steel-scrap recovery rate gamma2 ('Basic' path), PAULIUK2017_MATRACE_GLOBAL "
                 "(MaTrace_Global_InData.xlsx Parameter_MaTrace); electrical = D-weighted mean of electrical "
                 "machinery, radio/TV and office machinery\n")
        out.to_csv(fh, index=False, lineterminator="\n")

    # sector splits
    print("carbon-steel split (D split, domestic, renormalised):")
    for cat, secs in SECTORS.items():
        print(f"  {cat}: {round(sum(D_SPLIT[s] for s in secs), 4)}")
    print(f"special-steel split: motor_vehicles {SPECIAL_AUTOMOTIVE} (JISF_NEWS); the rest in D proportions:")
    rest = 1 - SPECIAL_AUTOMOTIVE
    d_other = 1 - D_SPLIT["Motor vehicles, trailers and semi-trailers"]
    for cat, secs in SECTORS.items():
        if cat == "motor_vehicles":
            continue
        print(f"  {cat}: {round(sum(D_SPLIT[s] for s in secs) / d_other * rest, 4)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True, help="folder of the sourced data dossier (the raw tables)")
    main(Path(ap.parse_args().shared))
