"""Print the README's result tables (markdown) from fresh simulations.

    python instances/global_aluminium/report.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metrics

import circopt

PATHS = {"baseline": "STEPS", "baseline_pledges": "APS", "baseline_netzero": "NZE"}
SCENARIOS = ["baseline", "sorting", "sse", "sorting_sse"]


def ev_share(path: str, year: int) -> float:
    key = {"STEPS": "steps", "APS": "pledges", "NZE": "netzero"}[path]
    df = pd.read_csv(HERE / "data" / "paths" / key / "powertrain_shares.csv").set_index("year")
    return float(df.loc[year, ["BEV", "PHEV"]].sum())


def main() -> None:
    res, ind = {}, {}
    for name in [*PATHS, *SCENARIOS[1:], "sse_pledges", "sse_netzero", "sorting_pledges", "sorting_netzero"]:
        t = time.perf_counter()
        res[name] = circopt.simulate(HERE, scenario=name)
        ind[name] = metrics.indicators(res[name])
        print(f"<!-- {name}: {time.perf_counter() - t:.2f} s, imbalance {res[name].max_relative_imbalance:.2g} -->")
    b = ind["baseline"]
    st = res["baseline"].stocks
    stock2020 = float(st[(st.year == 2020) & (st.element == "total")].value.sum())
    print("\n| 2020 | model | sourced |\n|---|---|---|")
    print(f"| total demand (metal entering use), Mt | {b.demand[2020]:.1f} | 86.2 (CRU_IAI2022) |")
    print(f"| primary aluminium, Mt | {b.primary[2020]:.1f} (net of the composition booking: "
          f"{b.primary_net[2020]:.1f}) | 65.3 (IAI_2020PROD) |")
    print(f"| post-consumer scrap, Mt | {b.post_consumer_scrap[2020]:.1f} | 20 (2019, IAI_MFM2021) |")
    print(f"| new (pre-consumer) scrap, Mt | {b.new_scrap[2020]:.1f} | ~13.3 (2019, derived from IAI_MFM2021) |")
    print(f"| end-of-life outflow, Mt | {b.eol_outflow[2020]:.1f} | 25.8 (AL_HISTORY consistency check) |")
    print(f"| in-use stock, Gt | {stock2020 / 1000:.2f} | 1.2 (2021, IAI_STILLINUSE) |")
    print(f"| scrap surplus, Mt | {b.surplus[2020]:.2f} | none reported |")
    print(f"| energy, TWh (primary electricity, remelting, SSE, sorting) | {b.energy[2020]:.0f} | |")
    print(f"| CO2, Mt | {b.co2[2020]:.0f} | |")

    print("\n| 2040, baseline practice | EV share of car sales | scrap surplus (all sectors), Mt | "
          "automotive surplus (BILLY2023 balance), Mt | primary, Mt | demand, Mt |\n|---|---|---|---|---|---|")
    for name, path in PATHS.items():
        i = ind[name]
        print(f"| {name} ({path}) | {ev_share(path, 2040):.0%} | {i.surplus[2040]:.2f} | "
              f"{i.automotive_surplus[2040]:.2f} | {i.primary[2040]:.1f} | {i.demand[2040]:.1f} |")
    print("| seed (KAKEN_21K17918) | not reached | | 3.64 | | |")

    print("\n| scenario (STEPS) | surplus 2030 | 2040 | 2050 | cumulative 2020-2050 | primary 2040 | "
          "sorted 2040 | SSE feed 2040 | energy 2040, TWh | CO2 2040, Mt |\n|---|---|---|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        i = ind[name]
        print(f"| {name} | {i.surplus[2030]:.2f} | {i.surplus[2040]:.2f} | {i.surplus[2050]:.2f} | "
              f"{i.surplus.sum():.1f} | {i.primary[2040]:.1f} | {i.sorted[2040]:.1f} | {i.sse_feed[2040]:.2f} | "
              f"{i.energy[2040]:.0f} | {i.co2[2040]:.0f} |")
    print("\n| 2040 surplus, Mt | baseline | sorting | sse |\n|---|---|---|---|")
    for name, path in PATHS.items():
        suf = "" if name == "baseline" else name.replace("baseline", "")
        print(f"| {path} | {ind[name].surplus[2040]:.2f} | {ind['sorting' + suf].surplus[2040]:.2f} | "
              f"{ind['sse' + suf].surplus[2040]:.2f} |")
    sb = metrics.surplus_by_input(res["baseline"]).loc[2040]
    sb = sb[sb > 1e-6].sort_values(ascending=False)
    print("\nbaseline 2040 surplus by input:", ", ".join(f"{k} {v:.2f}" for k, v in sb.items()))
    cars = sum(v for k, v in sb.items() if any(f"[{c}]" in k for c in metrics.CARS))
    print(f"of which end-of-life cars: {cars:.2f} Mt")
    v = metrics.window_violations(res["baseline"])
    if len(v):
        g = v.groupby(["alloy", "element"]).agg(years=("year", "size"), mean=("actual", "mean"),
                                                 lo=("min", "first"), hi=("max", "first"))
        print("\nbaseline melt outside the windows (simulation follows the offers):\n" + g.to_string())
    print("\nyearly baseline indicators:\n" + b.loc[range(2020, 2051, 5)].round(2).T.to_string())
    print(f"\nmax |imbalance| over runs: {max(r.max_relative_imbalance for r in res.values()):.2g}; "
          f"years {int(np.min(b.index))}-{int(np.max(b.index))}")


if __name__ == "__main__":
    main()
