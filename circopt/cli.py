"""Command-line interface: ``circopt VERB INSTANCE [options]``.

Verbs: ``check``, ``simulate``, ``optimise``, ``explain``, ``trace``, ``report``, and the studies
``prioritise``, ``combine``, ``compare``, ``pareto``, ``sweep``, ``sensitivity``. Every verb validates the instance first
and writes nothing if anything is wrong (exit code 1, every problem listed); outputs are
written atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .errors import CircoptError, InstanceErrors
from .system import BOUNDARIES

OBJECTIVES = ("losses", "surplus", "primary", "energy", "co2", "cost")
#: exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130
#: exit code of an unexpected failure inside circopt (a bug to report, not a mistake of the user's); 3 is a
#: written optimum that is numerically unreliable
EXIT_INTERNAL = 4


def _number(text: str, what: str, minimum: float, strict: bool, integer: bool):
    """An argparse type: a finite number (integer if asked) above ``minimum`` (or at least it)."""
    try:
        v = int(text) if integer else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")) or (v <= minimum if strict else v < minimum):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def _type(what: str, minimum: float, strict: bool = False, integer: bool = False):
    def parse(text: str):
        return _number(text, what, minimum, strict, integer)

    parse.__name__ = what  # argparse names the type in its own messages
    return parse


SECONDS = _type("a positive number of seconds", 0.0, strict=True)
BUDGET = _type("a finite number >= 0", 0.0)
COUNT = _type("a whole number >= 1", 1, integer=True)
POINTS = _type("a whole number >= 2", 2, integer=True)
SEED = _type("a whole number >= 0", 0, integer=True)


OUT_HELP = ("output folder: a new or empty one, or one circopt wrote before (replaced atomically); never the "
            "instance or a folder holding other files")

BOUNDARY_HELP = ("view of exported material: domestic (default; lost to the region) or global (export nodes "
                 "pass it on to their declared fate abroad)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="circopt", description="Dynamic MFA and circular-economy policy optimisation "
                                "for metals.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    for add in _PARSERS:
        add(sub)
    return p


def _instance_args(q, boundary: bool = True) -> None:
    """The instance folder (and the ``--boundary`` view) every verb that reads an instance takes first."""
    q.add_argument("instance", help="instance folder")
    if boundary:
        q.add_argument("--boundary", choices=BOUNDARIES, help=BOUNDARY_HELP)


def _p_check(sub) -> None:
    c = sub.add_parser("check", help="validate an instance (and its scenarios); exit 1 listing every problem")
    c.add_argument("instance", help="instance folder")
    c.add_argument("--scenario", help="check this scenario only (default: the base and every scenario)")


def _p_simulate(sub) -> None:
    s = sub.add_parser("simulate", help="simulate with the instance's (or a scenario's) shares")
    _instance_args(s)
    s.add_argument("--scenario", help="named scenario (scenarios/NAME.yaml)")
    s.add_argument("--out", required=True, help=OUT_HELP)
    s.add_argument("--parquet", action="store_true", help="also write Parquet tables")
    s.add_argument("--decisions", help="impose these decisions exactly (a decisions.csv or an output folder of "
                   "'optimise'): reproduces that run's flows")


def _p_optimise(sub) -> None:
    o = sub.add_parser("optimise", aliases=["optimize"], help="optimise decisions with the LP (Pyomo + HiGHS)")
    _instance_args(o)
    o.add_argument("--objective", default="losses",
                   help=f"objective name or weighted sum 'a=1,b=0.1' of {', '.join(OBJECTIVES)} or indicator:NAME "
                   "(an instance's indicator; default losses)")
    o.add_argument("--then", action="append", default=[], metavar="OBJECTIVE",
                   help="then optimise this objective with the earlier optima held (lexicographic; repeatable)")
    o.add_argument("--slack", type=float, default=1e-6,
                   help="how far a held optimum may move: value + slack x max(|value|, 1) (default 1e-6)")
    o.add_argument("--epsilon", action="append", default=[], metavar="TERM=VALUE",
                   help="hold a term at or below a value (repeatable), e.g. --epsilon surplus=400")
    o.add_argument("--uniqueness", action="store_true",
                   help="also report whether the optimum is unique: each lever's range over all optima "
                   "(2 re-solves per lever)")
    o.add_argument("--scenario", help="named scenario (scenarios/NAME.yaml)")
    o.add_argument("--out", required=True, help=OUT_HELP)
    o.add_argument("--time-limit", type=SECONDS, help="solver time limit in seconds (> 0)")
    o.add_argument("--parquet", action="store_true", help="also write Parquet tables")


def _p_explain(sub) -> None:
    ex = sub.add_parser("explain", help="the binding bounds of an optimum and what each is worth (reads binding.csv "
                        "of an 'optimise --out' folder)")
    ex.add_argument("outdir", help="output folder of 'circopt optimise'")
    ex.add_argument("--top", type=int, default=10, help="how many binding bound families to show (default 10)")


def _p_trace(sub) -> None:
    t = sub.add_parser("trace", help="trace where a pulse of one year's input ends up (MaTrace view)")
    _instance_args(t)
    t.add_argument("--scenario", help="named scenario (scenarios/NAME.yaml)")
    t.add_argument("--objective", help="trace under the optimum's decisions for this objective (its route shares and "
                   "allocation fractions, year by year)")
    t.add_argument("--source", help="source node or family the pulse enters at (default: the instance's trace.source)")
    t.add_argument("--year", type=int, help="year the pulse enters (default: the first model year)")
    t.add_argument("--out", required=True, help="output folder: fate.csv, fate_summary.csv, summary.json")


def _p_report(sub) -> None:
    r = sub.add_parser("report", help="one self-contained HTML page: description, sources, tables, figures, audit")
    _instance_args(r)
    r.add_argument("--scenario", help="named scenario (scenarios/NAME.yaml)")
    r.add_argument("--objective", help="also optimise for this objective and report it")
    r.add_argument("--out", required=True, help="the HTML file to write (a new file, or one circopt wrote)")


def _p_prioritise(sub) -> None:
    pr = sub.add_parser("prioritise", aliases=["prioritize"], help="rank the instance's levers: each alone, all, "
                        "greedy order, shadow prices")
    _instance_args(pr)
    pr.add_argument("--objective", default="losses", help="objective (default losses)")
    pr.add_argument("--scenario", help="named scenario")
    pr.add_argument("--out", required=True, help="output folder: prioritise.csv, shadow_prices.csv, prioritise.png")


def _p_combine(sub) -> None:
    cb = sub.add_parser("combine", help="best combination of levers under a budget (MILP), and the frontier")
    _instance_args(cb)
    cb.add_argument("--budget", type=BUDGET, required=True, help="total adoption cost allowed (>= 0)")
    cb.add_argument("--objective", default="losses", help="objective (default losses)")
    cb.add_argument("--scenario", help="named scenario")
    cb.add_argument("--out", required=True, help="output folder: combine.csv, combine.png")


THEN_HELP = "then optimise this objective with the earlier optima held (lexicographic; repeatable)"


def _p_compare(sub) -> None:
    cp = sub.add_parser("compare", help="scenarios side by side, with differences from the first")
    _instance_args(cp)
    cp.add_argument("--trace", action="store_true",
                    help="compare the scenarios' fate traces (MaTrace view: fate_summary indicators) instead of runs")
    cp.add_argument("--scenarios", required=True, help="comma-separated scenario names ('base' for none)")
    cp.add_argument("--objective", help="optimise each scenario for this objective (default: simulate)")
    cp.add_argument("--then", action="append", default=[], metavar="OBJECTIVE", help=THEN_HELP)
    cp.add_argument("--out", required=True, help="output folder: compare.csv, compare.png")


def _p_pareto(sub) -> None:
    pa = sub.add_parser("pareto", help="ε-constraint front between two objectives")
    _instance_args(pa)
    pa.add_argument("--objectives", required=True, help="two objectives, e.g. losses,energy")
    pa.add_argument("--points", type=POINTS, default=5, help="number of points (>= 2, default 5)")
    pa.add_argument("--scenario", help="named scenario")
    pa.add_argument("--out", required=True, help="output folder: pareto.csv, pareto.png")


def _p_sweep(sub) -> None:
    sw = sub.add_parser("sweep", help="Monte Carlo over the instance's ranges (or a grid), in parallel")
    _instance_args(sw, boundary=False)
    sw.add_argument("--samples", type=COUNT, default=20, help="number of Monte-Carlo samples (>= 1, default 20)")
    sw.add_argument("--grid", help="a grid instead: 'range=v1:v2:v3;other=...'")
    sw.add_argument("--seed", type=SEED, default=0, help="random seed (>= 0, default 0)")
    sw.add_argument("--objective", help="optimise each point for this objective (default: simulate)")
    sw.add_argument("--then", action="append", default=[], metavar="OBJECTIVE", help=THEN_HELP)
    sw.add_argument("--scenario", help="named scenario")
    sw.add_argument("--executor", default="processes", choices=["inprocess", "processes", "dask"],
                    help="where the points run (default processes)")
    sw.add_argument("--workers", type=COUNT, help="local processes (>= 1, default: all cores)")
    sw.add_argument("--scheduler", help="Dask scheduler address (implies --executor dask)")
    sw.add_argument("--indicators", help="comma-separated indicators to plot, e.g. losses/Ni,surplus/total "
                    "(default: every losses/surplus/primary/objective one)")
    sw.add_argument("--out", required=True, help="output folder: sweep.csv, sweep_summary.csv, sweep.png")


def _p_sensitivity(sub) -> None:
    se = sub.add_parser("sensitivity", help="global sensitivity over the instance's ranges (SALib: Morris, Sobol) "
                        "or one at a time, with robustness of the lever ranking")
    _instance_args(se, boundary=False)
    se.add_argument("--method", default="morris", choices=["morris", "sobol", "oat"],
                    help="morris (elementary effects), sobol (S1, ST) or oat (one at a time); default morris")
    se.add_argument("--samples", type=COUNT, help="Morris trajectories (default 10) or Sobol base sample size "
                    "(a power of two, default 64); runs: r x (factors + 1), N x (factors + 2); oat: ignored")
    se.add_argument("--indicators", help="comma-separated indicators (default: objective or losses/total, losses per "
                    "element, the instance's indicators); e.g. losses/Ni,energy,indicator:NAME,decision:NODE.ROUTE")
    se.add_argument("--objective", help="optimise every run for this objective (default: simulate)")
    se.add_argument("--scenario", help="named scenario")
    se.add_argument("--group", action="append", default=[], metavar="NAME=RANGE,RANGE",
                    help="ranges analysed as one factor (SALib groups; repeatable)")
    se.add_argument("--exclude", action="append", default=[], metavar="RANGE",
                    help="keep this range at its nominal value (repeatable)")
    se.add_argument("--executor", default="processes", choices=["local", "inprocess", "processes", "dask"],
                    help="where the runs go (default processes); the numbers are the same on each")
    se.add_argument("--workers", type=COUNT, help="processes or local Dask workers (default: all cores / 2)")
    se.add_argument("--scheduler", help="Dask scheduler address (implies --executor dask)")
    se.add_argument("--seed", type=SEED, default=0, help="random seed of the design and the bootstrap (default 0)")
    se.add_argument("--out", required=True, help="output folder: indices.csv, samples.csv, failures.csv, "
                    "robustness.csv, robustness.txt, sensitivity.png, summary.json")


#: the verbs' parsers, in the order ``circopt --help`` lists them
_PARSERS = (_p_check, _p_simulate, _p_optimise, _p_explain, _p_trace, _p_report, _p_prioritise, _p_combine,
            _p_compare, _p_pareto, _p_sweep, _p_sensitivity)


def _load(args, scenario):
    from .instance import load

    return load(args.instance, scenario, boundary=getattr(args, "boundary", None))


def parse_objective(text: str):
    """'losses' -> 'losses'; 'surplus=1,primary=0.01' -> {'surplus': 1.0, 'primary': 0.01}."""
    if "=" not in text and "," not in text:
        name = text.strip()
        if name not in OBJECTIVES and not name.startswith("indicator:"):
            raise CircoptError(f"--objective: unknown objective '{name}'; expected one of {', '.join(OBJECTIVES)}")
        return name
    out = {}
    for part in text.split(","):
        name, _, w = part.partition("=")
        name = name.strip()
        if name not in OBJECTIVES and not name.startswith("indicator:"):
            raise CircoptError(f"--objective: unknown objective '{name}'; expected one of {', '.join(OBJECTIVES)}")
        try:
            out[name] = float(w) if w else 1.0
        except ValueError:
            raise CircoptError(f"--objective: weight of '{name}' is not a number ({w!r})") from None
        if out[name] != out[name] or abs(out[name]) == float("inf"):
            raise CircoptError(f"--objective: weight of '{name}' must be a finite number ({w!r})")
    return out


def parse_epsilon(items: Sequence[str]) -> dict[str, float] | None:
    """['surplus=400', 'energy=1e4'] -> {'surplus': 400.0, 'energy': 10000.0}."""
    out = {}
    for text in items:
        name, sep, val = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CircoptError(f"--epsilon: expected TERM=VALUE, got {text!r}")
        parse_objective(name)  # a known term
        try:
            out[name] = float(val)
        except ValueError:
            raise CircoptError(f"--epsilon: value of '{name}' is not a number ({val!r})") from None
    return out or None


def _formats(args) -> tuple[str, ...]:
    return ("csv", "parquet") if getattr(args, "parquet", False) else ("csv",)


def _prepare(args):
    """Check the options, then validate and hold the command's ``--out`` (:mod:`circopt.io`) until the command
    ends; writers given the same path (``Result.to_dir(args.out)``, ``write_report``...) write through it."""
    from .io import hold, prepare_output

    if args.verb == "check":
        return None
    _preflight(args)
    if getattr(args, "out", None) is None:
        return None
    kind = "file" if args.verb == "report" else "dir"
    return hold(prepare_output(args.out, getattr(args, "instance", None), kind, command=args.verb))


def _simulate(*args, **kwargs):
    """:func:`circopt.simulate`, imported when first called."""
    from . import simulate

    return simulate(*args, **kwargs)


def _failure(e: BaseException) -> int:
    """The exit code of a failed command, after one clear message on stderr: 1 for a problem with the
    instance, an option, the output or the system (disk full, permission); 130 when interrupted; 4 for an
    internal error. ``SystemExit`` and a closed pipe pass through."""
    if isinstance(e, (SystemExit, BrokenPipeError, GeneratorExit)):
        raise e  # the console script ends quietly on a closed pipe
    if isinstance(e, InstanceErrors):
        print(f"circopt: {len(e.errors)} problem(s) in the instance; nothing written:", file=sys.stderr)
        for err in e.errors:
            print(f"  - {err}", file=sys.stderr)
        return 1
    if isinstance(e, CircoptError):
        print(f"circopt: {e}", file=sys.stderr)
        return 1
    if isinstance(e, KeyboardInterrupt):
        print("circopt: interrupted; an output not yet complete was not written (the previous one, if any, is "
              "intact)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(e, OSError):
        from .io import os_error_message

        print(f"circopt: {os_error_message(e)}", file=sys.stderr)
        return 1
    if isinstance(e, MemoryError):
        print("circopt: out of memory; try a smaller instance, fewer years or fewer samples", file=sys.stderr)
        return 1
    return _internal_error(e)


def _internal_error(e: BaseException) -> int:
    import os

    if os.environ.get("CIRCOPT_DEBUG"):
        raise e
    text = str(e)
    text = text if len(text) <= 300 else text[:300] + "..."
    print(f"circopt: internal error ({type(e).__name__}: {text}); please report it with the command that "
          "caused it (CIRCOPT_DEBUG=1 shows the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


def _preflight(args) -> None:
    """Every option checked before any work: objectives, scenario lists, grids, optional packages (the
    numbers are checked by their argparse types)."""
    import importlib.util

    if getattr(args, "objective", None):
        parse_objective(args.objective)
    if args.verb == "pareto":
        objs = [x for x in args.objectives.split(",") if x.strip()]
        for x in objs:
            parse_objective(x)
        if len(objs) != 2:
            raise CircoptError(f"--objectives takes two names, e.g. losses,energy (got {args.objectives!r})")
    if args.verb == "compare" and not any(x.strip() for x in args.scenarios.split(",")):
        raise CircoptError(f"--scenarios: expected comma-separated scenario names ('base' for none), got "
                           f"{args.scenarios!r}")
    if args.verb == "sweep" and args.grid:
        _parse_grid(args.grid)
    if getattr(args, "parquet", False) and not (importlib.util.find_spec("pyarrow")
                                                or importlib.util.find_spec("fastparquet")):
        raise CircoptError("--parquet needs pyarrow (pip install pyarrow)")
    if args.verb in ("report", "prioritise", "prioritize", "combine", "compare", "pareto", "sweep") and \
            importlib.util.find_spec("matplotlib") is None:
        raise CircoptError(f"circopt {args.verb} draws figures and needs matplotlib (pip install 'circopt[plots]')")


def _parse_grid(text: str) -> dict[str, list[float]]:
    grid: dict[str, list[float]] = {}
    for part in text.split(";"):
        k, _, vals = part.partition("=")
        if not k.strip() or not vals.strip():
            raise CircoptError(f"--grid: expected 'range=v1:v2:v3;other=...', got {part!r}")
        try:
            values = [float(v) for v in vals.split(":")]
        except ValueError:
            raise CircoptError(f"--grid: values of '{k.strip()}' are not numbers ({vals!r})") from None
        if any(v != v or abs(v) == float("inf") for v in values):
            raise CircoptError(f"--grid: values of '{k.strip()}' must be finite numbers ({vals!r})")
        grid[k.strip()] = values
    return grid


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 a problem reported in one clear message, 2 bad usage,
    3 an optimum written but numerically unreliable, 4 an internal error, 130 interrupted). Options are checked before any work, the output target before any
    computation."""
    from . import __version__

    args = _parser().parse_args(argv)
    _one_line_warnings()
    if args.version:
        print(f"circopt {__version__}")
        return 0
    if not args.verb:
        _parser().print_help()
        return 2
    target = None
    try:
        target = _prepare(args)  # options, then the --out target (validated, locked): before any work
        return _ACTIONS[args.verb](args)
    except BaseException as e:  # every failure ends in one line and an exit code (see _failure)
        return _failure(e)
    finally:
        if target is not None:
            target.release()


def _run_check(args) -> int:
    from . import load
    from .instance import scenario_names

    return _check(args, load, scenario_names)


def _run_simulate(args) -> int:
    t0 = time.perf_counter()
    res = _simulate(_load(args, args.scenario), decisions=args.decisions)  # circopt.simulate, imported here
    res = res.annotated(run_seconds=round(time.perf_counter() - t0, 3))
    res.to_dir(args.out, formats=_formats(args))
    _report(res, args.out)
    return 0


def _run_optimise(args) -> int:
    import warnings

    from .lp.solution import NumericalWarning
    from .lp.solve import optimise

    objective = parse_objective(args.objective)
    with warnings.catch_warnings():  # said once below, with the exit status
        warnings.simplefilter("ignore", NumericalWarning)
        res = optimise(_load(args, args.scenario), objective=objective, time_limit=args.time_limit,
                       then=[parse_objective(o) for o in args.then], slack=args.slack,
                       epsilon=parse_epsilon(args.epsilon), uniqueness=args.uniqueness)
    res.to_dir(args.out, formats=_formats(args))
    _report(res, args.out)
    _explain(args.out)
    if res.status not in ("optimal", "nothing to decide"):  # verified on the unscaled model: not a
        # solution to rely on
        print(f"circopt: warning: {res.notes[-1]}", file=sys.stderr)
        return 3
    return 0


def _run_explain(args) -> int:
    return _explain(args.outdir, top=args.top)


def _run_report(args) -> int:
    from .report import build_report, write_report

    objective = parse_objective(args.objective) if args.objective else None
    system = _load(args, args.scenario)
    path = write_report(args.out, build_report(system, args.scenario, objective=objective))
    print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _run_trace(args) -> int:
    from .trace import trace

    objective = parse_objective(args.objective) if args.objective else None
    fate = trace(_load(args, args.scenario), source=args.source, year=args.year, objective=objective)
    fate.to_dir(args.out)
    summ = fate.summary
    fams = sorted({n.split("[")[0] for n in fate.pulse})
    pulse = (fate.pulse if len(fate.pulse) <= 3 else
             f"{sum(fate.pulse.values()):g} {fate.result.system.unit} into {len(fate.pulse)} members of "
             f"{', '.join(fams)} (weighted by their series)")
    print(f"trace: {fate.result.system.name}, pulse {pulse} in {fate.year}; "
          f"shares sum to 1 within {fate.share_sum_error():.1e}; "
          f"max relative imbalance {fate.result.max_relative_imbalance:.2e}")
    for r in summ[summ.indicator.str.startswith("in_use_after_50y")].itertuples():
        print(f"  {r.element}: {r.value:.4f} in use after 50 years")
    print(f"written to {args.out}")
    return 0


def _check(args, load, scenario_names) -> int:
    """``circopt check``: load the base and every scenario (or the one named) with every check a
    later step would make (constraints, levers, trace settings) and run the simulation; list every
    problem and note."""
    import warnings

    from .errors import CircoptWarning

    names = [args.scenario] if args.scenario else [None, *scenario_names(args.instance)]
    problems = 0
    for name in names:
        label = f"scenario {name}" if name else "base instance"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CircoptWarning)  # listed below as notes
                sysm = load(args.instance, name)
                notes = [*sysm.notes, *_notes(sysm), *_simulation_notes(sysm)]
            print(f"OK  {label}: {len(sysm.nodes)} nodes, {len(sysm.edges)} streams, "
                  f"{sysm.years[0]}-{sysm.years[-1]}, elements {', '.join(sysm.elements)}")
            for note in notes:
                print(f"    note: {note}")
        except InstanceErrors as e:
            problems += len(e.errors)
            print(f"ERR {label}: {len(e.errors)} problem(s)")
            for err in e.errors:
                print(f"  - {err}")
        except CircoptError as e:
            problems += 1
            print(f"ERR {label}: {e}")
    return 1 if problems else 0


def _explain(outdir, top: int = 10) -> int:
    """Print the binding bounds of an optimisation's output folder (its binding.csv)."""
    from pathlib import Path

    import pandas as pd

    from .bounds import format_binding

    path = Path(outdir) / "binding.csv"
    if not path.exists():
        raise CircoptError(f"{path}: no such file (explain reads the output folder of 'circopt optimise')")
    print(format_binding(pd.read_csv(path), top=top))
    lev = Path(outdir) / "binding_levers.csv"
    if lev.exists():
        for r in pd.read_csv(lev).itertuples():
            print(f"  lever {r.lever}: {r.status} ({r.binding_rows}/{r.rows} rows bind, objective change "
                  f"{r.objective_change:+.6g} per step)")
    summ = Path(outdir) / "summary.json"
    if top and summ.exists():
        import json

        from .uniqueness import format_report

        rep = json.loads(summ.read_text()).get("uniqueness")
        if rep:
            print(format_report(rep))
    return 0


def _one_line_warnings() -> None:
    """A deprecated spelling in an instance is said once, on one line (not a traceback-like pair)."""
    import warnings

    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text not in seen:
            seen.add(text)
            print(f"circopt: {category.__name__}: {text}", file=sys.stderr)

    warnings.showwarning = show


def _simulation_notes(system) -> list[str]:
    """Run the simulation, as ``simulate`` would: its refusals (a stock-driven stock that would need
    a negative inflow, a blend that cannot meet a demand, ...) are problems of the instance and
    raise; an instance without baseline shares is for optimisation only, which a note says."""
    from .simulate import simulate

    bare = sorted({system.nodes[e.source].family for e in system.edges if e.rule == "route" and e.coef is None})
    if bare:
        return [f"not simulated: split(s) {', '.join(bare[:3])} have no 'baseline' shares (optimisation only)"]
    from .errors import SimulationError

    try:
        simulate(system)
    except SimulationError as e:
        raise SimulationError(f"simulate refuses: {e}") from None
    return []


def _notes(system) -> list[str]:
    """Things that are allowed but worth a look: a split's baseline share outside the bounds the
    optimiser is given (the simulation follows the baseline; the optimiser will not)."""
    out = []
    for e in system.edges:
        if e.rule != "route" or e.coef is None:
            continue
        bad = (e.coef < e.lo - 1e-12) | (e.coef > e.hi + 1e-12)
        if bad.any():
            t = int(bad.argmax())
            out.append(f"{system.nodes[e.source].name}: baseline share of '{e.label}' {e.coef[t]:.6g} is outside the "
                       f"optimiser's bounds [{e.lo[t]:.6g}, {e.hi[t]:.6g}] in {int(system.years[t])} "
                       f"({int(bad.sum())} years)")
    return out


def _study(args) -> int:
    """A study verb: run it, write its tables and chart to ``--out``, say what it found."""
    from .terminal import print_study

    st = _STUDIES[args.verb](args)
    st.to_dir(args.out)
    print_study(st)
    print(f"written to {args.out}")
    return 0


def _prioritise(args):
    from .studies import prioritise

    return prioritise(_load(args, args.scenario), objective=parse_objective(args.objective), progress=True)


def _combine(args):
    from .studies import combine

    return combine(_load(args, args.scenario), budget=args.budget, objective=parse_objective(args.objective),
                   progress=True)


def _compare(args):
    from .studies import compare

    names = [None if s.strip() in ("base", "") else s.strip() for s in args.scenarios.split(",")]
    return compare(args.instance, names, objective=parse_objective(args.objective) if args.objective else None,
                   boundary=args.boundary, trace=args.trace, **_then(args))


def _pareto(args):
    from .studies import pareto

    objs = [parse_objective(o) for o in args.objectives.split(",")]
    if len(objs) != 2:
        raise CircoptError("--objectives takes two names, e.g. losses,energy")
    return pareto(_load(args, args.scenario), tuple(objs), points=args.points, progress=True)


def _sweep(args):
    from .studies import sweep

    grid = _parse_grid(args.grid) if args.grid else None
    return sweep(args.instance, samples=args.samples, grid=grid, scenario=args.scenario,
                 objective=parse_objective(args.objective) if args.objective else None, seed=args.seed,
                 executor="dask" if args.scheduler else args.executor, workers=args.workers, scheduler=args.scheduler,
                 indicators=[c.strip() for c in args.indicators.split(",")] if args.indicators else None,
                 **_then(args))


def _then(args) -> dict:
    """``then=`` for a study's optimisations (``--then``; needs ``--objective``)."""
    if not args.then:
        return {}
    if not args.objective:
        raise CircoptError("--then needs --objective (the first stage)")
    return {"then": [parse_objective(o) for o in args.then]}


#: study verb (and its alias) -> the function that runs the study
_STUDIES = {"prioritise": _prioritise, "prioritize": _prioritise, "combine": _combine, "compare": _compare,
            "pareto": _pareto, "sweep": _sweep}


def _sensitivity(args) -> int:
    from .sensitivity import sensitivity

    groups = {}
    for text in args.group:
        name, sep, members = text.partition("=")
        if not sep or not name.strip() or not members.strip():
            raise CircoptError(f"--group: expected NAME=RANGE,RANGE, got {text!r}")
        groups[name.strip()] = [m.strip() for m in members.split(",") if m.strip()]
    inds = [i.strip() for i in args.indicators.split(",") if i.strip()] if args.indicators else None
    st = sensitivity(args.instance, args.method, args.samples, indicators=inds,
                     objective=parse_objective(args.objective) if args.objective else None, scenario=args.scenario,
                     executor="dask" if args.scheduler else args.executor, workers=args.workers,
                     scheduler=args.scheduler, seed=args.seed, groups=groups or None, exclude=args.exclude)
    st.to_dir(args.out)
    m = st.meta
    print(f"sensitivity ({m['method']}): {m['instance']}, {m['runs']} runs + nominal, {len(m['factors'])} factors, "
          f"{m['seconds']:.1f} s ({m['runs_per_second']:.2f} runs/s), failed runs {m['failed_runs']}, "
          f"max relative imbalance {m['max_relative_imbalance']:.2e}")
    if len(st.indices):
        from .sensitivity import MAIN_INDEX

        main = st.indices[(st.indices["index"] == MAIN_INDEX[m["method"]]) & (st.indices["rank"] <= 5)]
        for ind, g in main.groupby("indicator", sort=False):
            print(f"  {ind}: " + ", ".join(f"{r.factor} {r.value:.3g}" for r in g.itertuples()))
    print(st.text)
    print(f"written to {args.out}")
    return 1 if st.refused else 0


#: verb (and its alias) -> the function that runs it
_ACTIONS = {
    "check": _run_check, "simulate": _run_simulate, "optimise": _run_optimise, "optimize": _run_optimise,
    "explain": _run_explain, "trace": _run_trace, "report": _run_report, "sensitivity": _sensitivity,
    **dict.fromkeys(_STUDIES, _study),
}


def _report(res, out) -> None:
    s = res.summary()
    line = f"{s['engine']}: {s['instance']}"
    if s.get("scenario"):
        line += f" [{s['scenario']}]"
    line += f", {s['years'][0]}-{s['years'][1]}, max relative imbalance {s['max_relative_imbalance']:.2e}"
    if "objective" in s:
        line += f", objective {s['objective']:.6g}"
    if s.get("status") not in ("ok", "optimal", None):
        line += f", status: {s['status']}"
    print(line)
    for st in (s.get("lexicographic") or {}).get("stages", []):
        held = f", then held at {st['held_at']:.9g}" if "held_at" in st else ""
        print(f"  stage {st['stage']}: {st['objective']} = {st['value']:.9g}{held}")
    for note in s.get("notes", []):
        print(f"  note: {note}")
    print(f"written to {out}")


def _terminated(signum, frame) -> None:  # pragma: no cover - a signal handler of the console script
    print("circopt: terminated; an output not yet complete was not written", file=sys.stderr)
    raise SystemExit(128 + signum)


def entry() -> None:  # pragma: no cover - the console script
    import os
    import signal

    # the command draws into files only: no GUI backend, unless the user chose one
    os.environ.setdefault("MPLBACKEND", "Agg")
    # `kill` (SIGTERM) unwinds like Ctrl-C: the lock is released and a half-written output removed
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = main()
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        sys.exit(code)
    except BrokenPipeError:  # output piped into `head` and the like
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    entry()
