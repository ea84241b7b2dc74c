"""Optimise time against the horizon and the number of products: each phase of `optimise`.

The instance is the toy (instances/toy) with a longer horizon: production grows from 100 to
140 kt/yr, the first life has a Weibull lifetime (mean 12, sd 4, so every stock row is a
convolution over all earlier years), the second life a lognormal (mean 8, sd 6), and the two
alloys enter product stocks (lognormal, mean 15 and 30 years) whose inflow composition the
blend decides; their outflow is shredded (a process: its input balance is a per-element
convolution over all earlier years, the densest rows of the LP). The objective
is {losses: 1, primary: 0.01}. Phases: build (validation, flow map, rows), Pyomo model,
hand-over to HiGHS, solve, post-solve (balances closed, tables, verification).

    python benchmarks/horizon.py --horizons 56,112,224 --products 4,40 [--update]

Products: the synthetic aluminium-like instance of ``benchmarks/lp_build.py`` (one region,
``--products`` product families in use with two lives each, end-of-life splits, remelting,
a blend with windows and demands) at ``--products-years`` years, so that 10x products is 10x
the model at the same horizon.

``--update`` rewrites the "horizon" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import platform
import re
import time
from pathlib import Path

import numpy as np

import circopt
from circopt.instance import load_document
from circopt.lp.postsolve import _WholeLU, _YearBlocks
from circopt.model import build_model, solve

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "instances" / "toy"
PHASES = ("validate+assemble", "pyomo_build", "handover", "solve", "postsolve")


def toy_with_horizon(years: int) -> circopt.System:
    doc, folder, _ = load_document(TOY)
    doc = copy.deepcopy(doc)
    first, last = 2000, 2000 + years - 1
    doc["years"] = [first, last]
    nodes = doc["nodes"]
    nodes["production"]["series"] = {first: 100.0, last: 140.0, "fill": "interpolate"}
    nodes["in_use"]["lifetime"] = {"model": "weibull", "mean": 12, "sd": 4}
    nodes["in_use"]["later_lives"] = {"lifetime": {"model": "lognormal", "mean": 8, "sd": 6}}
    # the alloys go into product stocks whose inflow composition the blend decides: per-channel
    # convolution rows over all earlier years (the LP's densest part)
    for market, mean in (("alloy_market", 15), ("carbon_market", 30)):
        nodes[market] = {"kind": "stock", "lifetime": {"model": "lognormal", "mean": mean, "sd": mean / 2},
                         "to": "shredding", "source": "estimate"}
    nodes["shredding"] = {"kind": "process", "to": {"shredded": 0.97, "old_products": "rest"}, "energy": 0.2,
                          "source": "estimate"}
    nodes["shredded"] = {"kind": "sink", "loss": "export"}
    nodes["old_products"] = {"kind": "sink", "loss": "dissipation"}
    return circopt.build(doc, folder)


def run(years: int) -> dict:
    return run_system(toy_with_horizon(years), years)


def products_system(products: int, years: int, folder: Path) -> circopt.System:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from lp_build import make_instance

    import yaml

    inst = make_instance(folder / f"p{products}", years, 1, products)
    doc = yaml.safe_load((inst / "instance.yaml").read_text())
    doc["nodes"]["primary"].setdefault("co2", 1.0)  # priced like every free source (synthetic numbers)
    if "streams" in doc:
        doc["compositions"] = doc.pop("streams")
    (inst / "instance.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return circopt.load(inst)


def run_system(system: circopt.System, years: int) -> dict:
    t0 = time.perf_counter()
    om = build_model(system, {"losses": 1.0, "primary": 0.01})
    res = solve(om)
    total = time.perf_counter() - t0
    t = {k: float(om.timings.get(k, 0.0)) for k in PHASES}
    return {"years": years, "columns": om.n_cols, "rows": om.n_rows, "nonzeros": int(om.A.nnz),
            "total": total, **t, "imbalance": res.max_relative_imbalance, "status": res.status,
            **balance_recompute(om)}


def balance_recompute(om) -> dict:
    """The post-solve's balance recompute alone: one sparse LU of the whole dependent block (as
    before) against forward substitution by year (now), on the same rows, factorise + solve."""
    A = om.A_polish.tocsc()
    dep = np.flatnonzero(~om._polish_cache[3])
    B = A[:, dep].tocsr()
    rhs = np.random.default_rng(0).random(len(dep))
    t0 = time.perf_counter()
    y_lu = _WholeLU.make(B).solve(rhs)
    t1 = time.perf_counter()
    y_bl = _YearBlocks.make(B, om.row_t[om.polish_rows], om.col_t[dep]).solve(rhs)
    t2 = time.perf_counter()
    return {"lu": t1 - t0, "blocks": t2 - t1, "agree": float(np.abs(y_lu - y_bl).max() / np.abs(y_lu).max()),
            "polish_nnz": int(B.nnz)}


def phase_table(rows: list[dict], key: str) -> list[str]:
    head = f"| {key} | columns | rows | nonzeros | " + " | ".join(PHASES) + " | total | max imbalance | status |"
    out = [head, "|" + "---|" * (8 + len(PHASES) - 1)]
    for r in rows:
        out.append(f"| {r[key]} | {r['columns']:,} | {r['rows']:,} | {r['nonzeros']:,} | "
                   + " | ".join(f"{r[k]:.3f} s" for k in PHASES)
                   + f" | {r['total']:.3f} s | {r['imbalance']:.1e} | {r['status']} |")
    return out


def table(rows: list[dict]) -> str:
    out = phase_table(rows, "years")
    out += ["", "Balance recompute alone (factorise + solve the rows that define the state columns):", "",
            "| years | nonzeros of those rows | one sparse LU (before) | forward substitution by year (now) | "
            "max relative difference |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['years']} | {r['polish_nnz']:,} | {r['lu']:.4f} s | {r['blocks']:.4f} s | {r['agree']:.1e} |")
    return "\n".join(out)


def ratios(rows: list[dict], key: str = "years", label: str = "years") -> str:
    lines = []
    for a, b in zip(rows, rows[1:]):
        parts = ", ".join(f"{k} x{b[k] / a[k]:.1f}" for k in (*PHASES, "lu", "blocks") if a[k] > 0)
        lines.append(f"* {a[key]} -> {b[key]} {label} (x{b[key] / a[key]:.0f}; columns x{b['columns'] / a['columns']:.1f}, "
                     f"nonzeros x{b['nonzeros'] / a['nonzeros']:.1f}): {parts}")
    return "\n".join(lines)


def faster_than_model(rows: list[dict]) -> str:
    """The phases whose time grows more than 1.25 x the nonzeros from the first row to the last."""
    a, b = rows[0], rows[-1]
    grow = b["nonzeros"] / a["nonzeros"]
    fast = [k for k in PHASES if a[k] > 0 and b[k] / a[k] > 1.25 * grow]
    return ", ".join(fast) if fast else "none"


def products_table(rows: list[dict]) -> str:
    return "\n".join(phase_table(rows, "products"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--horizons", default="56,112,224")
    ap.add_argument("--products", default="4,40")
    ap.add_argument("--products-years", type=int, default=56)
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    import os
    import tempfile

    run(8)  # warm-up: imports (Pyomo, HiGHS) are not part of any horizon's time
    rows = [run(int(h)) for h in args.horizons.split(",")]
    prows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in args.products.split(","):
            prows.append({"products": int(p), **run_system(products_system(int(p), args.products_years, Path(tmp)),
                                                            args.products_years)})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body = (f"## Optimise time vs horizon (`benchmarks/horizon.py`)\n\n"
            f"The toy instance with a {args.horizons}-year horizon, reuse and product stocks whose outflow "
            "is a convolution over all earlier years (see the script), objective `{losses: 1, primary: 0.01}`, "
            "one run each after a warm-up run (imports excluded).\n\n"
            f"* date: {time.strftime('%Y-%m-%d')}\n"
            f"* machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}\n"
            f"* load average at the end: {load:.1f} on 2 cores (shared machine: absolute times are inflated, "
            "the growth ratios within one run are what to read)\n"
            f"* command: `python benchmarks/horizon.py --horizons {args.horizons} --products {args.products} "
            f"--products-years {args.products_years}`\n\n"
            f"{table(rows)}\n\nGrowth per doubling of the horizon:\n\n{ratios(rows)}\n\n"
            f"Against the number of products (the `benchmarks/lp_build.py` instance, one region, "
            f"{args.products_years} years):\n\n{products_table(prows)}\n\n"
            f"{ratios(prows, 'products', 'products')}\n\n"
            f"Faster than the model (time ratio > 1.25 x the nonzeros' ratio, end to end): horizon: "
            f"{faster_than_model(rows)}; products: {faster_than_model(prows)}.\n\n"
            "Reading: the model's nonzeros grow ~x3.7 per doubling of the horizon (each convolution row reaches "
            "every earlier year) and ~x10 with 10x products. The post-solve grows like the model or less (x2 per "
            "doubling of the horizon, ~x8 for 10x products); only the solve (and, on sub-second phases, timer "
            "noise on a loaded machine) grows faster. The balance recompute is a forward substitution over years "
            "with no fill-in by construction (work = the rows' nonzeros + the same-year blocks: up to 32 columns "
            "inverted together, larger ones by SuperLU). Before, a dense inverse and an SVD condition check of "
            "each year's block grew as n^3 with the products (29 s of post-solve at 40 products x 56 years, "
            "measured the same day); the 25 s (x34 per doubling) of issue 12 was the older whole-matrix LU on "
            "global_aluminium at 224 years.\n")
    print(body)
    if args.update:
        p = ROOT / "benchmarks" / "RESULTS.md"
        text = p.read_text()
        block = f"<!-- horizon:start -->\n{body}<!-- horizon:end -->\n"
        if "<!-- horizon:start -->" in text:
            text = re.sub(r"<!-- horizon:start -->.*?<!-- horizon:end -->\n", lambda _m: block, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + block
        p.write_text(text)


if __name__ == "__main__":
    main()
