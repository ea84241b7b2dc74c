"""The round trip, measured: the largest deviation between a run and its re-run through the
other engine, relative to the run's largest value (flows, stocks, losses).

    python benchmarks/roundtrip.py [--random 50]

* LP -> simulation: simulate(system, decisions=optimise(system, objective)) against the optimum;
* simulation -> LP: optimise(system, fix=simulate(system)) against the simulation;
on the toy (several objectives), japan_engines (base and every scenario), japan_engine_system,
global_aluminium and random networks
(tests/netgen.py: lives, same-year loops, blends with two priced free sources and a window).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import numpy as np

import circopt
from circopt.instance import scenario_names
from circopt.model import optimise

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = [{"losses": 1, "primary": 0.01}, "losses", "primary", "energy", "cost"]


def deviation(a, b) -> float:
    out = 0.0
    for x, y in ((a.flows_array, b.flows_array), (a.stock_array, b.stock_array),
                 (a.losses["value"].to_numpy(), b.losses["value"].to_numpy())):
        if y.size:
            out = max(out, float(np.abs(x - y).max()) / max(float(np.abs(y).max()), 1e-300))
    return out


def both_ways(system, objective) -> tuple[float, float]:
    opt = optimise(system, objective)
    lp_to_sim = deviation(circopt.simulate(system, decisions=opt.decisions), opt)
    sim = circopt.simulate(system)
    sim_to_lp = deviation(optimise(system, objective, fix=sim), sim)
    return lp_to_sim, sim_to_lp


def random_networks(n: int) -> tuple[int, float, float]:
    from hypothesis import HealthCheck, given, settings

    sys.path.insert(0, str(ROOT))
    from tests.netgen import random_instance, write_sources

    folder = write_sources(Path(tempfile.mkdtemp()))
    worst = [0, 0.0, 0.0]

    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(random_instance())
    def run(doc):
        try:
            system = circopt.build(copy.deepcopy(doc), folder)
            a, b = both_ways(system, {"losses": 1.0, "primary": 0.01, "energy": 0.001})
        except circopt.CircoptError:
            return
        worst[0] += 1
        worst[1], worst[2] = max(worst[1], a), max(worst[2], b)

    run()
    return worst[0], worst[1], worst[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", type=int, default=50)
    args = ap.parse_args()
    print("| case | LP -> simulation | simulation -> LP |\n|---|---|---|")
    toy = circopt.load(str(ROOT / "instances" / "toy"))
    for obj in OBJECTIVES:
        a, b = both_ways(toy, obj)
        print(f"| toy, {obj} | {a:.1e} | {b:.1e} |")
    jp = ROOT / "instances" / "japan_engines"
    for scen in [None, *scenario_names(str(jp))]:
        a, b = both_ways(circopt.load(str(jp), scen), "losses")
        print(f"| japan_engines {scen or 'base'}, losses | {a:.1e} | {b:.1e} |")
    a, b = both_ways(circopt.load(str(ROOT / "instances" / "japan_engine_system")), "losses")
    print(f"| japan_engine_system, losses | {a:.1e} | {b:.1e} |")
    a, b = both_ways(circopt.load(str(ROOT / "instances" / "global_aluminium")), "primary")
    print(f"| global_aluminium, primary | {a:.1e} | {b:.1e} |")
    n, a, b = random_networks(args.random)
    print(f"| {n} random networks, losses + 0.01 primary + 0.001 energy (worst) | {a:.1e} | {b:.1e} |")


if __name__ == "__main__":
    main()
