"""Size and time of the regional aluminium optimum against the number of regions (issue 15).

The instance is instances/regional_aluminium restricted to its first k regions (k = 1 ... 5: CN,
+EU, +NAM, +JK, +RW): the dimension `region` keeps k values, the trade routes and ship families to
the regions left out are dropped with their constraints. Objective: minimum unmelted scrap (the first
stage of `circopt optimise --objective indicator:unmelted --then primary --then cost`). Phases as `circopt optimise`
reports them: validate+assemble (System -> numpy blocks), Pyomo build, hand-over to HiGHS, solve,
post-solve (balances, tables, verification); `load` is reading and expanding the instance.
HiGHS is run with its default choice (`choose`: dual simplex here), with the interior-point method
(`ipm`, crossover on) and with primal simplex, on the five-region model.

    python benchmarks/regions.py [--regions 1,2,3,4,5] [--solvers] [--update]

``--update`` rewrites the "regions" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from pathlib import Path

import circopt
from circopt.instance import load_document
from circopt.model import build_model, solve

ROOT = Path(__file__).resolve().parents[1]
INST = ROOT / "instances" / "regional_aluminium"
REGIONS = ["CN", "EU", "NAM", "JK", "RW"]
PHASES = ("validate+assemble", "pyomo_build", "handover", "solve", "postsolve")


def restricted(k: int) -> circopt.System:
    """The instance with its first ``k`` regions only."""
    doc, folder, _ = load_document(INST)
    doc = copy.deepcopy(doc)
    keep = REGIONS[:k]
    doc["dimensions"]["region"] = keep
    nodes = doc["nodes"]
    for r in REGIONS[k:]:
        nodes.pop(f"ship_{r}")
        del nodes["market"]["routes"][f"to_{r}"]
        del nodes["market"]["baseline"][f"to_{r}"]
        doc["ranges"].pop(f"nodes.ship_{r}.cost", None)
    for route in list(nodes["market"]["baseline"]):
        val = nodes["market"]["baseline"][route]
        if isinstance(val, dict):
            nodes["market"]["baseline"][route] = {o: v for o, v in val.items() if o in keep}
    cons = []
    for c in doc["constraints"]:
        text = str(c)
        if any(f"'{r}'" in text or f"[{r}," in text or f"_{r}'" in text or f"to_{r}" in text for r in REGIONS[k:]):
            continue
        if c.get("type") == "flow" and c.get("source", "").startswith("ship_") and c["source"][5:] not in keep:
            continue
        cons.append(c)
    doc["constraints"] = cons
    doc["indicators"] = _indicators_of(doc.get("indicators", []), nodes, REGIONS[k:])
    return circopt.build(doc, folder)


def _indicators_of(indicators: list, nodes: dict, dropped: list) -> list:
    """The declared indicators that still mean something with only the kept regions: those naming a
    dropped region (in a member index, a node or their own name) go, and so do sums over them."""
    def names_dropped(x) -> bool:
        text = str(x)
        return any(f"'{r}'" in text or f"_{r}_" in text or f"_{r}'" in text or f"[{r}" in text for r in dropped)

    out, gone = [], set()
    for ind in indicators:
        ind = copy.deepcopy(ind)
        if isinstance(ind.get("target"), list):
            ind["target"] = [t for t in ind["target"] if t in nodes]
        terms = ind.get("terms") or {}
        if names_dropped({k: v for k, v in ind.items() if k != "target"}) or any(t in gone for t in terms) \
                or (isinstance(ind.get("target"), str) and ind["target"] not in nodes):
            gone.add(ind.get("name"))
            continue
        out.append(ind)
    return out


def run(k: int, solver_options: dict | None = None) -> dict:
    t0 = time.perf_counter()
    system = restricted(k)
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    om = build_model(system, "indicator:unmelted")
    res = solve(om, solver_options=solver_options)
    total = time.perf_counter() - t1
    t = {p: float(om.timings.get(p, 0.0)) for p in PHASES}
    return {"regions": k, "columns": om.n_cols, "rows": om.n_rows, "nonzeros": int(om.A.nnz), "load_s": t_load,
            **{f"{p}_s": v for p, v in t.items()}, "optimise_s": total, "unmelted_Mt": res.objective,
            "status": res.status, "audit": f"{res.max_relative_imbalance:.0e}"}


def table(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[k]:.2f}" if isinstance(r[k], float) else f"{r[k]:,}" if isinstance(r[k], int)
                                       else str(r[k]) for k in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", default="1,2,3,4,5")
    ap.add_argument("--solvers", action="store_true", help="also solve the largest model with ipm and primal simplex")
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args()
    run(1)  # warm-up (imports, first Pyomo model): not recorded
    rows = [run(int(k)) for k in a.regions.split(",")]
    keys = ["regions", "columns", "rows", "nonzeros", "load_s", *(f"{p}_s" for p in PHASES), "optimise_s",
            "unmelted_Mt", "status", "audit"]
    text = table(rows, keys)
    print(text)
    alt = []
    if a.solvers:
        big = max(int(k) for k in a.regions.split(","))
        for label, opts in (("choose (default)", None), ("ipm + crossover", {"solver": "ipm"}),
                            ("simplex, primal", {"solver": "simplex", "simplex_strategy": 4}),
                            ("simplex, dual", {"solver": "simplex", "simplex_strategy": 1})):
            r = run(big, opts)
            alt.append({"solver": label, "regions": big, "solve_s": r["solve_s"], "optimise_s": r["optimise_s"],
                        "unmelted_Mt": r["unmelted_Mt"], "status": r["status"]})
        print(table(alt, list(alt[0])))
    if a.update:
        import highspy
        import pyomo
        from _results import write_section

        head = (f"## Regional aluminium: size and time against the number of regions (`benchmarks/regions.py`)\n\n"
                f"Run {time.strftime('%Y-%m-%d')} on {platform.node() or 'vm'} ({platform.machine()}, "
                f"{os.cpu_count()} cores, shared with other jobs), Python {platform.python_version()}, Pyomo "
                f"{pyomo.version.version}, highspy {getattr(highspy, '__version__', 'n/a')}.\n\n"
                f"Command: `python benchmarks/regions.py --solvers --update`\n\n"
                "instances/regional_aluminium restricted to its first k regions (CN, +EU, +NAM, +JK, +RW), "
                "2020-2050, objective minimum unmelted scrap (surplus + shipping loss; stage 1 of `--objective indicator:unmelted --then primary --then cost`); "
                "one run each. *load* = read and expand the instance (incl. the simulator's constant part is in "
                "validate+assemble); the other phases as `circopt optimise` reports them (summary.json `lp.timings`). "
                "Target: the five-region optimum < 60 s on two cores. *audit* = the result's largest relative "
                "imbalance (relative to max(in, out, 1e-12 x the largest flow)).\n\n")
        body = head + text + "\n"
        if alt:
            body += "\nHiGHS method on the largest model (same LP):\n\n" + table(alt, list(alt[0])) + "\n"
        a0, a1 = rows[0], rows[-1]
        body += (f"\nFrom {a0['regions']} to {a1['regions']} regions: columns x{a1['columns'] / a0['columns']:.1f}, "
                 f"nonzeros x{a1['nonzeros'] / a0['nonzeros']:.1f}, optimise time x"
                 f"{a1['optimise_s'] / a0['optimise_s']:.1f} (solve x{a1['solve_s'] / a0['solve_s']:.1f}, post-solve x"
                 f"{a1['postsolve_s'] / a0['postsolve_s']:.1f}); the Pyomo model is not built on this path (it is built "
                 "on demand, for users who extend the model), so pyomo_build is 0.\n")
        write_section("regions", body)


if __name__ == "__main__":
    main()
