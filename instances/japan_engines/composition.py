"""Engine composition and the part-dismantling transfer coefficients, from the parts inventory.

    python instances/japan_engines/composition.py          # print the arithmetic
    python instances/japan_engines/composition.py --check  # and compare with instance.yaml

Each ferrous part of an engine (data/engine_parts.csv) has a grade whose composition is
in data/grade_compositions.csv (midpoint of the standard's min-max). The engine's mass
fractions of Fe, Ni, Cr, Co are the mass-weighted sums over parts; the rest of the mass
(C, Si, Mn, Mo, N, ...) is circopt's 'other' channel. The part-dismantling coefficients
are, per channel, the share of the engine's mass of that channel held in alloy parts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ELEMENTS = ["Fe", "Ni", "Cr", "Co"]
DIGITS = 6  # significant digits written into instance.yaml


def parts_table() -> pd.DataFrame:
    parts = pd.read_csv(HERE / "data/engine_parts.csv", comment="#")
    comp = pd.read_csv(HERE / "data/grade_compositions.csv", comment="#")
    wt = comp.pivot_table(index="grade", columns="element", values="used_wt_pct", aggfunc="sum").fillna(0.0)
    wt["Fe"] = 100.0 - wt.sum(axis=1)
    rows = []
    for p in parts.itertuples():
        g = wt.loc[p.grade]
        kg = {el: p.mass_kg * g.get(el, 0.0) / 100.0 for el in ELEMENTS}
        kg["other"] = p.mass_kg - sum(kg.values())
        rows.append({"part": p.part, "grade": p.grade, "mass_kg": p.mass_kg, "alloy_part": p.alloy_part, **kg})
    return pd.DataFrame(rows)


def engine_composition(t: pd.DataFrame | None = None) -> dict[str, float]:
    t = parts_table() if t is None else t
    total = t["mass_kg"].sum()
    return {el: float(t[el].sum() / total) for el in ELEMENTS}


def dismantling_tc(t: pd.DataFrame | None = None) -> dict[str, float]:
    t = parts_table() if t is None else t
    alloy = t[t.alloy_part == 1]
    return {ch: float(alloy[ch].sum() / t[ch].sum()) for ch in [*ELEMENTS, "other"]}


def sig(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def main(check: bool) -> int:
    t = parts_table()
    pd.set_option("display.width", 160)
    print(t.round(5).to_string(index=False))
    total = t["mass_kg"].sum()
    print(f"\nferrous mass per engine: {total:.2f} kg")
    for el in [*ELEMENTS, "other"]:
        print(f"  {el:5s} {t[el].sum():9.5f} kg  = {t[el].sum() / total:.6g} of the ferrous mass")
    comp = engine_composition(t)
    tc = dismantling_tc(t)
    print("\ncomposition for instance.yaml:", {k: sig(v) for k, v in comp.items()})
    print("part_dismantling -> alloy scrap:", {k: sig(v) for k, v in tc.items()})
    if not check:
        return 0
    doc = yaml.safe_load((HERE / "instance.yaml").read_text())
    bad = []
    got = doc["streams"]["engine_ferrous"]["composition"]
    for el, v in comp.items():
        if abs(got[el] - sig(v)) > 1e-12:
            bad.append(f"streams.engine_ferrous.composition.{el}: {got[el]} != {sig(v)}")
    got = doc["nodes"]["part_dismantling"]["to"]["remelting[grade=special]"]
    for ch, v in tc.items():
        if abs(got[ch] - sig(v)) > 1e-12:
            bad.append(f"part_dismantling alloy TC {ch}: {got[ch]} != {sig(v)}")
    print("\n" + ("\n".join(bad) if bad else "instance.yaml matches the parts inventory"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
