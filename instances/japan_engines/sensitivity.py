"""One-at-a-time sensitivity of the 50-year losses to every range in instance.yaml.

    python instances/japan_engines/sensitivity.py [--scenario NAME ...]

By default it runs the base instance ('current') and 'current_physical' (the same system
under the physical-loss convention, where Ni, Cr, Co in carbon steel are not booked as
dilution), because the two conventions respond to different parameters.

For each parameter (or group of keys that express one assumption, e.g. the reuse share of
lives 1 and 2) the instance is rebuilt with the low and then the high value of its range
(``circopt.instance.set_dotted`` on the document, ``circopt.build``, ``circopt.simulate``)
and the cumulative 2020-2070 losses of the three loss types (dissipation + process +
dilution, share of the initial mass of each element) are compared with the base run.
Writes ``sensitivity.csv`` (one row per parameter, setting and element) and prints a
markdown table of the changes in percentage points.

Note: only the ``baseline`` shares of splits are varied. The optimiser's ``shares`` bounds
of remanufacturing's 'rebuilt' route (fixed at 0.9) are left as they are; simulation does
not read them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
import circopt
from circopt.instance import apply_range, helper_module, load_document, set_dotted


def _local(name: str):
    """This instance folder's helper module (see circopt.instance.helper_module)."""
    return helper_module(HERE, name)


indicators = _local("metrics").indicators

EL = ["Fe", "Ni", "Cr", "Co"]

#: keys of 'ranges' varied together (one assumption written in several places)
GROUPS = {
    "reuse share of end-of-use engines (lives 1, 2)": ["nodes.engine_eol.baseline.reuse.1",
                                                       "nodes.engine_eol.baseline.reuse.2"],
    "remanufacturing share (lives 1, 2)": ["nodes.engine_eol.baseline.reman.1", "nodes.engine_eol.baseline.reman.2"],
    "rebuilt fraction of a remanufactured core": ["nodes.remanufacturing.baseline.rebuilt.1",
                                                  "nodes.remanufacturing.baseline.rebuilt.2"],
    "new parts per unit of remanufactured core": ["nodes.reman_new_parts_1.ratio", "nodes.reman_new_parts_2.ratio"],
    "Fe remelting yield (and 'other')": ["nodes.remelting.to.steel_market.Fe", "nodes.remelting.to.steel_market.other"],
    "Ni, Co remelting yield (both routes)": ["nodes.remelting.to.dilution_loss.Ni.carbon",
                                             "nodes.remelting.to.dilution_loss.Co.carbon",
                                             "nodes.remelting.to.steel_market.Ni.special",
                                             "nodes.remelting.to.steel_market.Co.special"],
}
LABELS = {
    "first_life_lifetime": "first-life engine lifetime (mean 13.3-15.6 y, sd = 0.3 mean)",
    "later_life_lifetime": "later-life engine lifetime (mean 6-10 y, sd = 0.3 mean)",
    "streams.engine_ferrous.composition.Ni": "engine Ni content",
    "streams.engine_ferrous.composition.Cr": "engine Cr content",
    "streams.engine_ferrous.composition.Co": "engine Co content",
    "nodes.engine_production.series.2020": "engines produced in 2020",
    "nodes.engine_eol.baseline.export": "export share of used cars (all lives)",
    "nodes.alloy_sorting.baseline.dismantle": "share of recycled engines dismantled into sorted parts",
    "nodes.remelting.to.dilution_loss.Cr.carbon": "Cr yield into carbon steel (rest to slag)",
    "nodes.remelting.to.steel_market.Cr.special": "Cr yield of the alloy-steel route",
    "nodes.eol_scrap.to.remelting[grade=special].special": "old special-steel scrap kept apart by grade (sigma)",
}


def parameter_groups(ranges: dict) -> dict[str, list[str]]:
    """Every range key exactly once: in a group or on its own."""
    grouped = {k for keys in GROUPS.values() for k in keys}
    missing = [k for k in grouped if k not in ranges]
    if missing:
        raise KeyError(f"GROUPS name keys that are not in 'ranges': {missing}")
    out = dict(GROUPS)
    for k in ranges:
        if k not in grouped:
            out[LABELS.get(k, k)] = [k]
    return out


def convention_key(doc: dict, key: str) -> str:
    """Under the physical-loss convention (a '*_physical' scenario: the carbon route's
    dilution coefficient of an element is 0), an element's yield into carbon steel sits at
    ``steel_market.<el>.carbon`` instead of ``dilution_loss.<el>.carbon``: vary that key."""
    prefix = "nodes.remelting.to.dilution_loss."
    if key.startswith(prefix) and key.endswith(".carbon"):
        el = key[len(prefix):-len(".carbon")]
        if doc["nodes"]["remelting"]["to"]["dilution_loss"][el]["carbon"] == 0:
            return f"nodes.remelting.to.steel_market.{el}.carbon"
    return key


def losses(doc: dict, folder: Path) -> pd.Series:
    return indicators(circopt.simulate(circopt.build(doc, folder)))["losses"]


def run(scenario: str | None = None) -> pd.DataFrame:
    doc, folder, _ = load_document(HERE, scenario)
    system = circopt.build(doc, folder)
    base = indicators(circopt.simulate(system))["losses"]
    recs = []
    for label, keys in parameter_groups(system.ranges).items():
        for setting in ("low", "high"):
            d = doc
            for k in keys:
                rng = system.ranges[k]
                if rng["kind"] == "factor":  # one assumption in several keys, scaled together
                    d = apply_range(d, rng, rng[setting])
                    continue
                d = set_dotted(d, convention_key(doc, k), rng[setting])
            with np.errstate(all="ignore"):
                val = losses(d, folder)
            for el in EL:
                recs.append({"scenario": scenario or "current", "parameter": label, "keys": " ".join(keys), "setting": setting,
                             "values": " ".join(f"{system.ranges[k][setting]:g}" for k in keys),
                             "element": el, "losses_base": base[el], "losses": val[el],
                             "change_pp": 100 * (val[el] - base[el])})
    return pd.DataFrame.from_records(recs)


def markdown(df: pd.DataFrame) -> str:
    lines = ["| parameter (low / high) | " + " | ".join(f"{el} low / high (pp)" for el in EL) + " |",
             "|---|" + "---:|" * len(EL)]
    order = (df.assign(a=df.change_pp.abs()).groupby("parameter", sort=False)["a"].max()
             .sort_values(ascending=False).index)
    for p in order:
        sub = df[df.parameter == p]
        vals = sub[sub.element == "Fe"]
        rng = " / ".join(vals.set_index("setting").loc[["low", "high"], "values"])
        cells = []
        for el in EL:
            s = sub[sub.element == el].set_index("setting")["change_pp"]
            cells.append(" / ".join(f"{round(s[k], 2) + 0.0:+.2f}" for k in ("low", "high")))
        lines.append(f"| {p} ({rng}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", nargs="*", default=[None, "current_physical"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    frames = []
    for sc in args.scenario:
        df = run(sc)
        frames.append(df)
        base = df.drop_duplicates("element").set_index("element")["losses_base"]
        print(f"\n#### {sc or 'current'}: base 50-year losses (3 types): "
              + ", ".join(f"{el} {100 * base[el]:.2f} %" for el in EL) + "\n")
        print(markdown(df))
    allr = pd.concat(frames, ignore_index=True)
    allr.to_csv(HERE / "sensitivity.csv", index=False, float_format="%.8g", lineterminator="\n")
    print(f"\n{allr.parameter.nunique()} parameters x {len(frames)} scenario(s), "
          f"{time.perf_counter() - t0:.1f} s; written sensitivity.csv")
