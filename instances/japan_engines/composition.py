"""Engine composition and the engine-side transfer coefficients, from the parts inventory.

    python instances/japan_engines/composition.py          # print the arithmetic
    python instances/japan_engines/composition.py --check  # and compare with instance.yaml

Each part of an engine (data/engine_parts.csv) has a grade whose composition is in
data/grade_compositions.csv (midpoint of the standard's min-max). Channels: ``Fe`` = iron
in cast-iron and carbon-steel parts, ``Fe_special`` = iron in the alloy (special-steel)
parts, Ni, Cr, Co, ``Cu`` (attached starter, alternator, sub-harness); the rest (C, Si,
Mn, Mo, N, ...) is circopt's 'other' channel. Transfer coefficients are, per channel, the
share of the engine's mass of that channel held in a group of parts: alloy parts (to the
alloy route when dismantled), cast-iron parts (to foundries), attached Cu parts (to copper
recycling), parts in the aluminium head (valves, seats).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ELEMENTS = ["Fe", "Fe_special", "Ni", "Cr", "Co", "Cu"]
CHANNELS = [*ELEMENTS, "other"]
DIGITS = 6  # significant digits written into instance.yaml


def parts_table() -> pd.DataFrame:
    parts = pd.read_csv(HERE / "data/engine_parts.csv", comment="#")
    comp = pd.read_csv(HERE / "data/grade_compositions.csv", comment="#")
    wt = comp.pivot_table(index="grade", columns="element", values="used_wt_pct", aggfunc="sum").fillna(0.0)
    wt["Fe"] = 100.0 - wt.sum(axis=1)
    rows = []
    for p in parts.itertuples():
        g = wt.loc[p.grade]
        kg = {el: p.mass_kg * g.get(el, 0.0) / 100.0 for el in ("Fe", "Ni", "Cr", "Co", "Cu")}
        if p.alloy_part:  # iron of alloy parts is its own channel
            kg["Fe_special"], kg["Fe"] = kg["Fe"], 0.0
        else:
            kg["Fe_special"] = 0.0
        kg["other"] = p.mass_kg - sum(kg.values())
        rows.append({"part": p.part, "grade": p.grade, "mass_kg": p.mass_kg, "alloy_part": p.alloy_part,
                     "in_al_head": p.in_al_head, "attached": p.attached, **kg})
    return pd.DataFrame(rows)


def engine_composition(t: pd.DataFrame | None = None) -> dict[str, float]:
    t = parts_table() if t is None else t
    total = t["mass_kg"].sum()
    return {el: float(t[el].sum() / total) for el in ELEMENTS}


def share_held(mask, t: pd.DataFrame) -> dict[str, float]:
    """Per channel, the share of the engine's mass of that channel held in the parts of ``mask``."""
    sel = t[mask]
    return {ch: float(sel[ch].sum() / t[ch].sum()) if t[ch].sum() > 0 else 0.0 for ch in CHANNELS}


def coefficients(t: pd.DataFrame | None = None) -> dict[str, dict[str, float]]:
    t = parts_table() if t is None else t
    return {"alloy": share_held(t.alloy_part == 1, t), "cast_iron": share_held(t.grade == "cast_iron", t),
            "attached_cu": share_held(t.attached == 1, t), "al_head": share_held(t.in_al_head == 1, t)}


def sig(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def main(check: bool) -> int:
    t = parts_table()
    pd.set_option("display.width", 200)
    print(t.round(5).to_string(index=False))
    total = t["mass_kg"].sum()
    print(f"\nmass per engine (ferrous parts + attached Cu): {total:.2f} kg")
    for el in CHANNELS:
        print(f"  {el:10s} {t[el].sum():9.5f} kg  = {t[el].sum() / total:.6g}")
    comp = engine_composition(t)
    co = coefficients(t)
    print("\ncomposition for instance.yaml:", {k: sig(v) for k, v in comp.items()})
    for k, v in co.items():
        print(f"share held in {k} parts:", {c: sig(x) for c, x in v.items()})
    if not check:
        return 0
    doc = yaml.safe_load((HERE / "instance.yaml").read_text())
    bad = []
    got = doc["compositions"]["engine"]["composition"]
    bad += [f"composition.{el}: {got[el]} != {sig(v)}" for el, v in comp.items() if abs(got[el] - sig(v)) > 1e-12]
    to = doc["nodes"]["part_dismantling"]["to"]
    for key, node_to in (("alloy", "remelting[grade=special]"), ("cast_iron", "foundry"),
                         ("attached_cu", "copper_recycling")):
        for ch, v in co[key].items():
            if v and abs(to[node_to].get(ch, 0.0) - sig(v)) > 1e-12:
                bad.append(f"part_dismantling -> {node_to} {ch}: {to[node_to].get(ch)} != {sig(v)}")
    print("\n" + ("\n".join(bad) if bad else "instance.yaml matches the parts inventory"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
