"""Global sensitivity of an instance's results to its ``ranges:``, with SALib doing the statistics
and the sweep executors (:func:`circopt.studies.map_jobs`) doing the work.

Methods
-------
* ``morris``: elementary effects (Morris screening). ``samples`` = number of trajectories *r*;
  *r* x (factors + 1) runs. Reports mu* (mean absolute effect, in the indicator's unit) with its
  bootstrap 95 % confidence half-width, mu and sigma (spread of the effects: interactions or
  non-linearity).
* ``sobol``: first-order (S1) and total (ST) variance-based indices with bootstrap 95 % confidence
  half-widths (Saltelli's scheme on a scrambled Sobol' sequence, ``calc_second_order=False``).
  ``samples`` = base sample size *N* (rounded up to a power of two); *N* x (factors + 2) runs.
* ``oat``: one at a time: every factor at its low and its high end with the others at their nominal
  values (the instance as written); 1 + 2 x factors runs. Reports the change of each indicator at
  each end and the swing.

A *factor* is one range of the instance or a group of ranges (``groups={"name": [range, ...]}``,
SALib's ``groups``: the index is the group's joint effect; the ranges of a group are still drawn
independently). Ranges are drawn uniformly in ``[low, high]``.

Every run is a simulation (``objective=None``) or an optimisation, built from the instance document
with the sampled values and solved cold. The what-if machinery (:func:`circopt.studies.whatif`)
re-uses a built model only when one number of a *constraint* changes affinely; the ranges change the
instance's data (lifetimes, yields, compositions ...), which changes the whole model, and a warm
start from another sample's basis could land on another optimal vertex of a degenerate LP, making
results depend on the executor. Cold solves keep every sample identical whatever the executor.

Every sample is audited (``max_relative_imbalance``; above 1e-9 the sample counts as failed). A
sample that fails (invalid input, infeasible, solver trouble, audit) stays in the sample table with
its ``status`` and ``error``; Morris and Sobol refuse to compute indices when any sample failed
(the estimators need every run) and say how many failed and why.
"""

from __future__ import annotations

import base64
import html
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CircoptError, InfeasibleError, InstanceError, SolverError

__all__ = ["METHODS", "Design", "SensitivityStudy", "analyse", "design", "evaluate", "robustness", "sensitivity",
           "sensitivity_section"]

METHODS = ("morris", "sobol", "oat")
AUDIT_TOL = 1e-9
MAIN_INDEX = {"sobol": "ST", "morris": "mu_star", "oat": "swing"}
MORRIS_LEVELS = 4
STATUS_COLUMNS = ["status", "error", "max_relative_imbalance", "seconds"]


# ---------------------------------------------------------------------------------------
# the design: factors and the sample matrix
# ---------------------------------------------------------------------------------------
@dataclass
class Design:
    """The runs of a sensitivity study: ``X`` (runs x ranges, in ``names`` order) and the SALib problem."""

    method: str
    problem: dict
    names: list[str]
    factors: dict[str, list[str]]  # factor (a range or a group) -> its ranges
    X: np.ndarray
    labels: list[str]  # per run: "sample" (morris/sobol) or "low:F" / "high:F" (oat)
    nominal: dict[str, float]
    samples: int
    seed: int
    notes: list[str] = field(default_factory=list)


def factors(system, groups: dict[str, list[str]] | None = None, exclude=()) -> dict[str, list[str]]:
    """Factor -> ranges: each group, then every range not in a group on its own (sorted); the
    ranges in ``exclude`` (names or shell patterns such as ``nodes.*.cost``, comma-separated allowed)
    stay at their nominal values."""
    from fnmatch import fnmatchcase

    patterns = [e.strip() for x in exclude for e in str(x).split(",") if e.strip()]
    unknown = sorted(p for p in patterns if not any(fnmatchcase(k, p) for k in (system.ranges or {})))
    exclude = {k for k in (system.ranges or {}) if any(fnmatchcase(k, p) for p in patterns)}
    if unknown:
        raise CircoptError(f"sensitivity exclude: {unknown} not ranges of the instance; ranges: {sorted(system.ranges)}")
    ranges = {k: v for k, v in (system.ranges or {}).items() if k not in set(exclude)}
    if not ranges:
        raise CircoptError(f"{system.name}: no ranges declared (add 'ranges:' to the instance)")
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for g, members in (groups or {}).items():
        unknown = [m for m in members if m not in ranges]
        if unknown or not members:
            raise CircoptError(f"sensitivity group '{g}': {unknown or 'no members'} not ranges of the instance; "
                               f"ranges: {sorted(ranges)}")
        twice = [m for m in members if m in seen]
        if twice:
            raise CircoptError(f"sensitivity group '{g}': {twice} already in another group")
        if g in ranges and members != [g]:
            raise CircoptError(f"sensitivity group name '{g}' is also a range name; choose another")
        seen.update(members)
        out[str(g)] = list(members)
    for name in sorted(ranges):
        if name not in seen:
            out[name] = [name]
    return out


def nominal_values(system, doc: dict, names=None) -> dict[str, float]:
    """Each range (of ``names``, default all) at the instance as written: the number itself (a value
    range) or factor 1."""
    from .ranges import nominal_value

    return {k: nominal_value(r, doc) for k, r in sorted(system.ranges.items()) if names is None or k in names}


def design(system, doc: dict, method: str, samples: int | None = None, seed: int = 0,
           groups: dict[str, list[str]] | None = None, exclude=()) -> Design:
    """The runs of ``method`` over the instance's ranges (drawn before any run: deterministic)."""
    if method not in METHODS:
        raise CircoptError(f"unknown sensitivity method '{method}'; expected one of {', '.join(METHODS)}")
    fac = factors(system, groups, exclude)
    names = sorted(r for rs in fac.values() for r in rs)
    bounds = [[system.ranges[k]["low"], system.ranges[k]["high"]] for k in names]
    flat = [r for rs in fac.values() for r in rs]
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    if any(len(rs) > 1 for rs in fac.values()):
        owner = {r: f for f, rs in fac.items() for r in rs}
        problem["groups"] = [owner[k] for k in names]
    nominal = nominal_values(system, doc, names)
    notes: list[str] = []
    if len(flat) != len(names):  # pragma: no cover - factors() guarantees it
        raise CircoptError("sensitivity: internal error, ranges missing from the factors")
    if method == "oat":
        rows, labels = [], []
        for f, rs in fac.items():
            for end in ("low", "high"):
                x = dict(nominal)
                x.update({r: system.ranges[r][end] for r in rs})
                rows.append([x[k] for k in names])
                labels.append(f"{end}:{f}")
        return Design(method, problem, names, fac, np.array(rows, float), labels, nominal, 0, seed, notes)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        n = int(samples or 64)
        n2 = 1 << max(0, (n - 1).bit_length())
        if n2 != n:
            notes.append(f"Sobol base sample size {n} rounded up to the power of two {n2}")
        X = sobol_sample.sample(problem, n2, calc_second_order=False, scramble=True, seed=seed)
        n = n2
    else:
        from SALib.sample import morris as morris_sample

        n = int(samples or 10)
        if n < 2:
            raise CircoptError("Morris needs at least 2 trajectories (--samples 2)")
        X = morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    return Design(method, problem, names, fac, np.asarray(X, float), ["sample"] * len(X), nominal, n, seed, notes)


# ---------------------------------------------------------------------------------------
# one run (top-level: process pools and Dask pickle it)
# ---------------------------------------------------------------------------------------
def _point(args) -> dict:
    """Build the instance with one parameter set, simulate or optimise it, and measure it."""
    doc, folder, ranges, params, objective, opt, decisions = args
    from .studies.sweep import run_sample

    t0 = time.perf_counter()
    rec: dict[str, Any] = dict(params)
    try:
        res = run_sample(doc, folder, ranges, params, objective, opt)
        rec.update(measure(res, decisions))
        imb = rec["max_relative_imbalance"]
        rec["status"], rec["error"] = "ok", ""
        if not np.isfinite(imb) or imb > AUDIT_TOL:
            rec["status"], rec["error"] = "audit", f"max relative imbalance {imb:.3g} > {AUDIT_TOL:g}"
    except InfeasibleError as e:
        rec["status"], rec["error"] = "infeasible", _message(e)
    except SolverError as e:
        rec["status"], rec["error"] = "solver", _message(e)
    except InstanceError as e:
        rec["status"], rec["error"] = "invalid input", _message(e)
    except Exception as e:  # noqa: BLE001 - a failed sample is reported, never dropped
        rec["status"], rec["error"] = "error", f"{type(e).__name__}: {_message(e)}"
    rec["seconds"] = round(time.perf_counter() - t0, 4)
    return rec


def _message(e: Exception) -> str:
    """The message on one line (lines joined by ' | ', e.g. an infeasible subset), at most 600 characters."""
    text = " | ".join(ln.strip() for ln in str(e).strip().splitlines() if ln.strip())
    return (text or type(e).__name__)[:600]


def measure(res, decisions: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every indicator of one Result: losses per element and type, primary, surplus (studies),
    energy / CO2 / cost and the instance's indicators (terms), the objective, ``decision:NODE.ROUTE``
    totals asked for, and each lever's status and value per step (optimisations with levers)."""
    from . import terms
    from .studies import indicators

    out: dict[str, Any] = dict(indicators(res))
    out.update(loss_shares(res, out))
    for name, v in terms.values(res).items():
        if name not in ("losses", "surplus", "primary"):  # = losses/total, surplus/total, primary/total
            out[name] = v
    for d in decisions:
        out[d] = at_year(res, d) if "@" in d else decision_total(res, d)
    if res.objective is not None and getattr(res.system, "levers", None):
        from .bounds import binding_levers

        for r in binding_levers(res).itertuples():
            out[f"lever:{r.lever}"] = r.status
            out[f"lever_change:{r.lever}"] = float(r.objective_change)
    return out


def loss_shares(res, ind: dict[str, float]) -> dict[str, float]:
    """``loss_share/EL``: cumulative losses of an element (the three loss types) over what the given
    (not decision-driven) sources brought in over the years -- MaTrace's share of the initial mass for
    a single-cohort instance; free sources (a primary diluent, whose amount the run decides) are left
    out of the denominator. NaN for an element no given source brings in."""
    s = res.system
    F = res.flows_array
    edges = [e for i, n in enumerate(s.nodes) if n.kind == "source" and not n.free for e in s.out_edges(i)]
    into = F[:, edges, :].sum(axis=(0, 1)) if edges else np.zeros(s.C)
    out = {}
    for c, el in enumerate(s.channels):
        if el in s.elements:
            out[f"loss_share/{el}"] = float(ind[f"losses/{el}"] / into[c]) if into[c] > 0 else float("nan")
    total = float(into.sum())
    out["loss_share/total"] = ind["losses/total"] / total if total > 0 else float("nan")
    return out


def at_year(res, name: str) -> float:
    """``KIND/ELEMENT@YEAR`` (``surplus/total@2040``, ``losses/Fe@2050``: what the sinks of that loss type --
    ``losses`` = dissipation, process and dilution -- receive in that year) or ``decision:NODE.ROUTE@YEAR``."""
    from .studies import LOSS_TYPES

    base, _, yr = name.rpartition("@")
    years = [int(y) for y in res.system.years]
    if not yr.isdigit() or int(yr) not in years:
        raise CircoptError(f"{name}: expected INDICATOR@YEAR with a model year ({years[0]}..{years[-1]})")
    if base.startswith("decision:"):
        return decision_total(res, base, int(yr))
    kind, _, el = base.partition("/")
    L = res.losses
    sel = L[(L.year == int(yr)) & (L.element == el)]
    sel = sel[sel.loss_type.isin(LOSS_TYPES)] if kind == "losses" else sel[sel.loss_type == kind]
    if el not in set(L.element) or (kind != "losses" and kind not in set(L.loss_type)):
        raise CircoptError(f"{name}: expected KIND/ELEMENT@YEAR with KIND losses or one of "
                           f"{sorted(set(L.loss_type))} and ELEMENT one of {sorted(set(L.element))}")
    return float(sel.value.sum())


def decision_total(res, name: str, year: int | None = None) -> float:
    """``decision:NODE.ROUTE``: the decision's flow summed over the years (or in ``year``; NODE a node
    or family)."""
    spec = name[len("decision:"):]
    node, _, route = spec.rpartition(".")
    dec = res.decisions
    if dec is None or not node:
        raise CircoptError(f"{name}: expected decision:NODE.ROUTE (a node or family and one of its decisions)")
    fam = dec.node.astype(str).str.split("[").str[0]
    sel = dec[((dec.node == node) | (fam == node)) & (dec.decision == route)]
    if not len(sel):
        raise CircoptError(f"{name}: no decision '{route}' at node '{node}'; decisions: "
                           f"{sorted(set(dec.node.astype(str) + '.' + dec.decision.astype(str)))[:12]}")
    if year is not None:
        sel = sel[sel.year.astype(int) == year]
    return float(sel.value.sum())


# ---------------------------------------------------------------------------------------
# running the design
# ---------------------------------------------------------------------------------------
class _Lines:
    """Progress on stderr: the one-line bar on a terminal, plain lines (every ~10 %) otherwise."""

    def __init__(self, total: int, label: str, enabled: bool = True):
        from .studies import _Progress

        self.tty = enabled and sys.stderr.isatty()
        self.bar = _Progress(total, label, self.tty)
        self.total, self.label, self.enabled, self.n, self.t0 = max(1, total), label, enabled, 0, time.perf_counter()
        self.next = 0

    def step(self):
        self.n += 1
        if self.tty:
            self.bar.step()
        elif self.enabled and (self.n >= self.next or self.n == self.total):
            el = time.perf_counter() - self.t0
            sys.stderr.write(f"{self.label}: {self.n}/{self.total} runs, {el:.1f} s, "
                             f"{self.n / max(el, 1e-9):.2f} runs/s\n")
            sys.stderr.flush()
            self.next = self.n + max(1, -(-self.total // 10))

    def done(self):
        if self.tty:
            self.bar.done()


def evaluate(path, des: Design, scenario: str | None = None, objective: Any = None, executor: str = "processes",
             workers: int | None = None, scheduler: str | None = None, progress: bool = True,
             decisions: tuple[str, ...] = (), **opt) -> pd.DataFrame:
    """The sample table: the nominal run (``run`` -1) and every run of the design, in design order,
    with inputs, indicators, ``status`` / ``error`` / ``max_relative_imbalance`` / ``seconds``."""
    from .instance import load, load_document
    from .studies import map_jobs

    system = load(path, scenario)
    doc, folder, _ = load_document(path, scenario)
    executor = "inprocess" if executor == "local" else executor
    params = [des.nominal] + [dict(zip(des.names, map(float, x))) for x in des.X]
    jobs = [(doc, folder, system.ranges, p, objective, opt, tuple(decisions)) for p in params]
    bar = _Lines(len(jobs), f"sensitivity ({des.method})", progress)
    out = map_jobs(_point, jobs, executor, workers, scheduler, bar)
    bar.done()
    table = pd.DataFrame.from_records(out)
    table.insert(0, "run", range(-1, len(jobs) - 1))
    table.insert(1, "design", ["nominal"] + list(des.labels))
    labels = []
    for k in des.names:  # a categorical factor: the choice drawn, beside its value
        if system.ranges[k]["kind"] == "choice":
            from .ranges import choice_label

            table[f"{k}:choice"] = [choice_label(system.ranges[k], x) for x in table[k]]
            labels.append(f"{k}:choice")
    for c in STATUS_COLUMNS:  # every run failed before it was measured: still a table
        if c not in table.columns:
            table[c] = np.nan
    front = ["run", "design", *des.names, *labels, *STATUS_COLUMNS]
    return table[front + [c for c in table.columns if c not in front]]


# ---------------------------------------------------------------------------------------
# the statistics
# ---------------------------------------------------------------------------------------
def default_indicators(table: pd.DataFrame, objective: Any) -> list[str]:
    """The objective (optimisations) and total losses, else losses per element and in total, and
    the instance's indicators."""
    cols = [c for c in table.columns if c not in STATUS_COLUMNS]
    head = ["objective"] if objective is not None and "objective" in cols else []
    head += ["losses/total"] + sorted(c for c in cols if c.startswith("losses/") and c != "losses/total")
    head += [c for c in cols if c.startswith("indicator:")]
    return [c for c in dict.fromkeys(head) if c in cols]


def failures(table: pd.DataFrame) -> pd.DataFrame:
    """Failed runs grouped by status and kind of error (numbers replaced by '#'): how many, the first
    run and its message."""
    cols = ["status", "error_kind", "runs", "first_run", "example"]
    bad = table[table.status != "ok"]
    if not len(bad):
        return pd.DataFrame(columns=cols)
    bad = bad.assign(error_kind=bad.error.astype(str).str.replace(r"[-+]?\d[\d.eE+-]*", "#", regex=True))
    g = bad.groupby(["status", "error_kind"], sort=False)
    out = g.run.agg(["count", "min"]).reset_index().rename(columns={"count": "runs", "min": "first_run"})
    out["example"] = g.error.first().to_numpy()
    return out[cols]


def analyse(des: Design, table: pd.DataFrame, indicators: list[str], units: dict[str, str] | None = None
            ) -> pd.DataFrame:
    """Tidy indices: one row per indicator, factor and index (``value``, ``conf`` = 95 % half-width),
    ``rank`` of the factor by the method's main index (ST, mu_star, swing) per indicator."""
    units = units or {}
    runs = table[table.run >= 0]
    missing = [i for i in indicators if i not in table.columns]
    if missing:
        avail = [c for c in table.columns if c not in [*des.names, *STATUS_COLUMNS, "run", "design"]]
        raise CircoptError(f"unknown indicator(s) {missing}; available: {avail}")
    bad = runs[runs.status != "ok"]
    if des.method != "oat" and len(bad):
        why = "; ".join(f"{r.runs} x {r.status}, e.g. {r.example}" for r in failures(bad).itertuples())
        raise CircoptError(f"{des.method}: {len(bad)} of {len(runs)} runs failed, indices not computed (the "
                           f"estimator needs every run): {why}")
    recs = []
    for ind in indicators:
        y = pd.to_numeric(runs[ind], errors="coerce").to_numpy(float)
        if des.method == "oat":
            base = float(pd.to_numeric(table.loc[table.run == -1, ind], errors="coerce").iloc[0])
            recs += _oat(des, runs, ind, base)
        elif np.nanstd(y) <= 1e-12 * max(1.0, float(np.nanmax(np.abs(y)))):
            names = ["S1", "ST"] if des.method == "sobol" else ["mu_star", "mu", "sigma"]
            recs += [{"indicator": ind, "factor": f, "index": n, "value": 0.0, "conf": 0.0, "note": "constant output"}
                     for f in des.factors for n in names]
        elif des.method == "sobol":
            recs += _sobol(des, ind, y)
        else:
            recs += _morris(des, ind, y)
    out = pd.DataFrame.from_records(recs, columns=["indicator", "factor", "index", "value", "conf", "note"])
    out.insert(0, "method", des.method)
    out["unit"] = ["1" if i in ("S1", "ST") else units.get(ind, "") for ind, i in zip(out.indicator, out["index"])]
    out["ranges"] = [" ".join(des.factors[f]) for f in out.factor]
    main = out[out["index"] == MAIN_INDEX[des.method]].copy()
    main["rank"] = (main.assign(v=main.value.fillna(-np.inf)).groupby("indicator").v
                    .rank(ascending=False, method="first").astype(int))
    rank = main.set_index(["indicator", "factor"])["rank"]
    out["rank"] = [int(rank.get((a, b), 0)) for a, b in zip(out.indicator, out.factor)]
    order = {ind: k for k, ind in enumerate(indicators)}  # the indicators in the order asked for
    out = out.assign(_o=out.indicator.map(order)).sort_values(["_o", "rank", "index"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def _sobol(des: Design, ind: str, y: np.ndarray) -> list[dict]:
    from SALib.analyze import sobol

    si = sobol.analyze(des.problem, y, calc_second_order=False, num_resamples=200, conf_level=0.95,
                       seed=des.seed)
    recs = []
    for k, f in enumerate(_salib_factors(des)):
        for n in ("S1", "ST"):
            recs.append({"indicator": ind, "factor": f, "index": n, "value": float(si[n][k]),
                         "conf": float(si[f"{n}_conf"][k]), "note": ""})
    return recs


def _morris(des: Design, ind: str, y: np.ndarray) -> list[dict]:
    from SALib.analyze import morris

    si = morris.analyze(des.problem, des.X, y, num_resamples=200, conf_level=0.95, num_levels=MORRIS_LEVELS,
                        seed=des.seed)
    recs = []
    for k, f in enumerate(si["names"]):
        recs.append({"indicator": ind, "factor": f, "index": "mu_star", "value": float(si["mu_star"][k]),
                     "conf": float(si["mu_star_conf"][k]), "note": ""})
        recs.append({"indicator": ind, "factor": f, "index": "mu", "value": float(si["mu"][k]), "conf": np.nan,
                     "note": ""})
        recs.append({"indicator": ind, "factor": f, "index": "sigma", "value": float(si["sigma"][k]),
                     "conf": np.nan, "note": ""})
    return recs


def _salib_factors(des: Design) -> list[str]:
    """Factor names in SALib's order (groups in order of first appearance, else the names)."""
    g = des.problem.get("groups")
    return list(dict.fromkeys(g)) if g else list(des.names)


def _oat(des: Design, runs: pd.DataFrame, ind: str, base: float) -> list[dict]:
    recs = []
    for f in des.factors:
        v = {}
        note = []
        for end in ("low", "high"):
            r = runs[runs.design == f"{end}:{f}"].iloc[0]
            v[end] = float(pd.to_numeric(pd.Series([r[ind]]), errors="coerce").iloc[0]) if r.status == "ok" else np.nan
            if r.status != "ok":
                note.append(f"{end}: {r.status}")
        n = "; ".join(note)
        recs += [{"indicator": ind, "factor": f, "index": "low_change", "value": v["low"] - base, "conf": np.nan,
                  "note": n},
                 {"indicator": ind, "factor": f, "index": "high_change", "value": v["high"] - base, "conf": np.nan,
                  "note": n},
                 {"indicator": ind, "factor": f, "index": "swing", "value": abs(v["high"] - v["low"]), "conf": np.nan,
                  "note": n}]
    return recs


# ---------------------------------------------------------------------------------------
# robustness: top drivers, lever ranking and active set across the samples
# ---------------------------------------------------------------------------------------
def lever_ranking(row: pd.Series, levers: list[str], rtol: float = 1e-9) -> str:
    """Levers ordered by the size of their value per step (``binding_levers`` objective_change: the
    objective's change when the lever's bounds move one step; its sign depends on whether the bound
    is a minimum or a maximum, so the size ranks them); equal sizes joined by ``=``."""
    vals = sorted(((-abs(float(row[f"lever_change:{lv}"])), lv) for lv in levers), key=lambda t: (t[0], t[1]))
    out = ""
    for k, (v, lv) in enumerate(vals):
        if k:
            prev = vals[k - 1][0]
            out += " = " if abs(v - prev) <= rtol * max(1.0, abs(v), abs(prev)) else " > "
        out += lv
    return out


def active_set(row: pd.Series, levers: list[str]) -> str:
    return "; ".join(f"{lv}: {row[f'lever:{lv}']}" for lv in levers)


def robustness(des: Design, table: pd.DataFrame, indices: pd.DataFrame | None, headline: str | None = None,
               top: int = 5) -> tuple[pd.DataFrame, str]:
    """``robustness.csv`` rows and a short text: the top drivers of ``headline`` (by the method's main
    index), and -- for optimisations of an instance with levers -- how often the lever ranking and the
    optimum's active set (each lever's ``binding_levers`` status) differ from the nominal run's, and
    for which inputs (``association``: share of changed runs with the input in the upper half of its
    range minus the share with it in the lower half; for OAT: the ends at which it changes)."""
    recs: list[dict] = []
    lines: list[str] = []
    runs = table[table.run >= 0]
    ok = runs[runs.status == "ok"]
    if len(runs) > len(ok):
        recs.append({"kind": "failed", "subject": "runs", "factor": "", "value": len(runs) - len(ok),
                     "detail": "; ".join(f"{r.runs} x {r.status}, e.g. {r.example}" for r in failures(runs).itertuples())})
        r, with_ = _association(des, runs, (runs.status != "ok").to_numpy(), "failed")
        recs += r
        lines.append(f"{len(runs) - len(ok)} of {len(runs)} runs failed (see failures.csv)"
                     + (f", most associated with {with_}" if with_ else "") + ".")
    main = MAIN_INDEX[des.method]
    if indices is not None and len(indices):
        headline = headline or str(indices.indicator.iloc[0])
        d = indices[(indices.indicator == headline) & (indices["index"] == main)].sort_values("rank").head(top)
        for r in d.itertuples():
            recs.append({"kind": "driver", "subject": headline, "factor": r.factor, "value": r.value,
                         "detail": f"rank {r.rank} by {main}" + (f" (± {r.conf:.3g})" if np.isfinite(r.conf) else "")})
        lines.append(f"Top drivers of {headline} ({des.method} {main}): " + ", ".join(
            f"{r.factor} {r.value:.3g}" + (f" ± {r.conf:.2g}" if np.isfinite(r.conf) else "") for r in d.itertuples())
            + ".")
    levers = [c[len("lever:"):] for c in table.columns if c.startswith("lever:")]
    nom = table[table.run == -1].iloc[0]
    if not levers:
        lines.append("Lever ranking and active set: not computed (needs --objective and levers: in the instance).")
    elif nom.status != "ok":
        lines.append(f"Lever ranking: the nominal run failed ({nom.status}: {nom.error}).")
    else:
        for what, fn in (("lever ranking", lever_ranking), ("active set", active_set)):
            r, ln = _changes(des, ok, nom, levers, what, fn)
            recs += r
            lines.append(ln)
        for lv in levers:
            diff = ok[f"lever:{lv}"] != nom[f"lever:{lv}"]
            counts = ok[f"lever:{lv}"].value_counts().to_dict()
            recs.append({"kind": "lever status", "subject": lv, "factor": "", "value": float(diff.mean()),
                         "detail": f"nominal '{nom[f'lever:{lv}']}'; " + ", ".join(f"{k}: {v}" for k, v in counts.items())})
    return pd.DataFrame.from_records(recs, columns=["kind", "subject", "factor", "value", "detail"]), "\n".join(lines)


def _changes(des: Design, ok: pd.DataFrame, nom: pd.Series, levers: list[str], what: str, fn) -> tuple[list, str]:
    base = fn(nom, levers)
    per = ok.apply(lambda r: fn(r, levers), axis=1) if len(ok) else pd.Series([], dtype=str)
    changed = (per != base).to_numpy()
    recs = [{"kind": what, "subject": "changed share", "factor": "", "value": float(changed.mean()) if len(ok) else 0.0,
             "detail": f"nominal: {base}; observed: " + "; ".join(f"{k} ({v} runs)" for k, v in per.value_counts().head(4).items())}]
    r, top = _association(des, ok, changed, what)
    n = int(changed.sum())
    text = f"The {what} at the nominal point is '{base}'; it differs in {n} of {len(ok)} runs ({100 * n / max(1, len(ok)):.1f} %)"
    return recs + r, text + (f", most associated with {top}" if n and top else "") + "."


def _association(des: Design, runs: pd.DataFrame, flag: np.ndarray, what: str) -> tuple[list[dict], str]:
    """Per factor: how ``flag`` (changed, failed) goes with it -- P(flag | factor in the upper half of its
    range) - P(flag | lower half); OAT: the ends at which the flag is raised. Rows and the top three."""
    recs, assoc = [], []
    for f, rs in des.factors.items():
        if des.method == "oat":
            ends = [e for e in ("low", "high") if (flag & (runs.design == f"{e}:{f}").to_numpy()).any()]
            v, det = float(len(ends)), (f"{what} at " + " and ".join(ends)) if ends else f"no {what}"
        else:
            u = np.mean([(runs[r] - _range_bounds(des, r)[0]) / np.ptp(_range_bounds(des, r)) for r in rs], axis=0)
            hi = u >= 0.5
            v = (float(flag[hi].mean()) if hi.any() else 0.0) - (float(flag[~hi].mean()) if (~hi).any() else 0.0)
            det = f"P({what} | upper half) - P({what} | lower half)"
        if v:
            assoc.append((abs(v), f, v))
        recs.append({"kind": f"{what} association", "subject": what, "factor": f, "value": v, "detail": det})
    assoc.sort(reverse=True)
    return recs, ", ".join(f"{f} ({v:+.2f})" for _, f, v in assoc[:3])


def _range_bounds(des: Design, r: str) -> np.ndarray:
    return np.asarray(des.problem["bounds"][des.names.index(r)], float)


# ---------------------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------------------
@dataclass
class SensitivityStudy:
    """The design, the sample table, the indices (empty when refused), robustness and notes."""

    design: Design
    table: pd.DataFrame
    indices: pd.DataFrame
    robustness: pd.DataFrame
    text: str
    meta: dict

    @property
    def refused(self) -> str | None:
        return self.meta.get("refused")

    def to_dir(self, out: str | Path) -> Path:
        """``indices.csv``, ``samples.csv``, ``failures.csv``, ``robustness.csv``, ``robustness.txt``,
        ``sensitivity.png`` and ``summary.json``, written atomically."""
        from .result import write_atomic

        tables = {"indices": self.indices, "samples": self.table, "failures": failures(self.table[self.table.run >= 0]),
                  "robustness": self.robustness}
        files = {"robustness.txt": (self.text + "\n").encode()}
        if len(self.indices):
            files["sensitivity.png"] = chart_png(self.indices, self.meta.get("title", ""))
        return write_atomic(out, tables, {"study": "sensitivity", **self.meta}, files=files)


def sensitivity(path, method: str = "morris", samples: int | None = None, indicators: list[str] | None = None,
                objective: Any = None, scenario: str | None = None, executor: str = "processes",
                workers: int | None = None, scheduler: str | None = None, seed: int = 0,
                groups: dict[str, list[str]] | None = None, exclude=(), progress: bool = True, **opt
                ) -> SensitivityStudy:
    """Global (``morris``, ``sobol``) or one-at-a-time (``oat``) sensitivity of ``indicators`` over
    the instance's ranges; every run simulated (``objective=None``) or optimised, in parallel on
    ``executor`` (``local``/``inprocess``, ``processes``, ``dask``). Deterministic for a ``seed``."""
    from .indicators import declared
    from .instance import load, load_document

    t0 = time.perf_counter()
    system = load(path, scenario)
    doc, _, digest = load_document(path, scenario)
    des = design(system, doc, method, samples, seed, groups, exclude)
    decisions = tuple(i for i in (indicators or []) if i.startswith("decision:") or "@" in i)
    years = {str(int(y)) for y in system.years}
    bad = [i for i in decisions if "@" in i and i.rpartition("@")[2] not in years]
    if bad:
        raise CircoptError(f"indicator(s) {bad}: expected INDICATOR@YEAR with a model year "
                           f"({min(years, key=int)}..{max(years, key=int)})")
    table = evaluate(path, des, scenario, objective, executor, workers, scheduler, progress, decisions, **opt)
    inds = list(indicators) if indicators else default_indicators(table, objective)
    units = {c: system.unit for c in table.columns if c.split("/")[0] in ("losses", "primary", "surplus", "dilution",
                                                                          "dissipation", "process", "export")}
    units.update({f"indicator:{k}": v["unit"] for k, v in declared(system).items()})
    units.update({d: system.unit for d in decisions})
    meta = {"method": method, "instance": system.name, "scenario": scenario, "instance_hash": digest,
            "objective": None if objective is None else str(objective), "samples": des.samples,
            "runs": int(len(des.X)), "seed": seed, "executor": executor, "indicators": inds,
            "factors": des.factors, "excluded": list(exclude), "notes": des.notes, "failed_runs": int((table[table.run >= 0].status != "ok").sum()),
            "nominal_status": str(table.status.iloc[0]),
            "max_relative_imbalance": float(pd.to_numeric(table.max_relative_imbalance, errors="coerce").max()),
            "title": f"{system.name}{' [' + scenario + ']' if scenario else ''}: {method}"}
    try:
        indices = analyse(des, table, inds, units)
    except CircoptError as e:
        if "indices not computed" not in str(e):
            raise
        indices, meta["refused"] = pd.DataFrame(), str(e)
    rob, text = robustness(des, table, indices if len(indices) else None, inds[0] if inds else None)
    if meta.get("refused"):
        text = f"{meta['refused']}\n{text}"
    meta["seconds"] = round(time.perf_counter() - t0, 3)
    meta["runs_per_second"] = round(len(table) / max(meta["seconds"], 1e-9), 4)
    return SensitivityStudy(des, table, indices, rob, text, meta)


# ---------------------------------------------------------------------------------------
# chart and HTML section
# ---------------------------------------------------------------------------------------
def chart(indices: pd.DataFrame, title: str = "", max_panels: int = 4, top: int = 15):
    """Ranked horizontal bars per indicator (up to ``max_panels``): Sobol S1 and ST, Morris mu*, OAT
    changes at the low and high ends; error bars = 95 % confidence half-widths."""
    from .plots import _plt

    plt = _plt()
    method = str(indices.method.iloc[0])
    inds = list(dict.fromkeys(indices.indicator))[:max_panels]
    nf = min(top, indices.factor.nunique())
    fig, axes = plt.subplots(1, len(inds), figsize=(5.2 * len(inds), 0.38 * nf + 1.8), squeeze=False)
    spec = {"sobol": [("S1", "#1f77b4"), ("ST", "#d62728")], "morris": [("mu_star", "#1f77b4")],
            "oat": [("low_change", "#1f77b4"), ("high_change", "#d62728")]}[method]
    for ax, ind in zip(axes[0], inds):
        sub = indices[indices.indicator == ind]
        order = (sub[sub["index"] == MAIN_INDEX[method]].sort_values("rank").factor.tolist())[:top][::-1]
        y = np.arange(len(order))
        h = 0.8 / len(spec)
        for k, (name, colour) in enumerate(spec):
            s = sub[sub["index"] == name].set_index("factor").reindex(order)
            err = s.conf.to_numpy(float) if method != "oat" else None
            ax.barh(y + (k - (len(spec) - 1) / 2) * h, s.value.to_numpy(float), height=h, color=colour,
                    xerr=None if err is None else np.nan_to_num(err), capsize=2, label=_label(name))
        ax.set_yticks(y)
        ax.set_yticklabels([_short(f) for f in order], fontsize=7)
        unit = sub[sub["index"] == spec[0][0]].unit.iloc[0]
        ax.set_xlabel({"sobol": "share of output variance (1)", "morris": f"mu* ({unit or 'indicator units'})",
                       "oat": f"change from nominal ({unit or 'indicator units'})"}[method], fontsize=8)
        ax.set_title(ind, fontsize=9)
        ax.axvline(0, color="#555", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def chart_png(indices: pd.DataFrame, title: str = "") -> bytes:
    from .plots import figure_png_bytes

    return figure_png_bytes(chart(indices, title))


def _label(name: str) -> str:
    return {"S1": "first order S1 (95 % CI)", "ST": "total ST (95 % CI)", "mu_star": "mu* (95 % CI)",
            "low_change": "range low end", "high_change": "range high end"}.get(name, name)


def _short(name: str, n: int = 48) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1):]


def sensitivity_section(out: str | Path, top: int = 12) -> str:
    """An HTML section (``<section>``) for the report from a ``circopt sensitivity --out`` folder:
    summary, chart, top indices, robustness text and failed runs."""
    out = Path(out)
    summ = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    if not summ:
        raise CircoptError(f"{out}: no summary.json (expected the output folder of 'circopt sensitivity')")
    parts = [f"<section><h2>Sensitivity ({html.escape(str(summ.get('method')))}) — "
             f"{html.escape(str(summ.get('title', '')))}</h2>",
             f"<p>{summ.get('runs')} runs (+ nominal) over {len(summ.get('factors', {}))} factors, seed "
             f"{summ.get('seed')}, objective {html.escape(str(summ.get('objective') or 'none (simulation)'))}; "
             f"failed runs: {summ.get('failed_runs')}; largest relative imbalance "
             f"{summ.get('max_relative_imbalance', float('nan')):.2e}.</p>"]
    if summ.get("refused"):
        parts.append(f'<p class="bad">{html.escape(summ["refused"])}</p>')
    png = out / "sensitivity.png"
    if png.exists():
        data = base64.b64encode(png.read_bytes()).decode()
        parts.append(f'<figure><img alt="sensitivity indices" src="data:image/png;base64,{data}"/>'
                     f"<figcaption>Ranked sensitivity indices with 95 % confidence intervals</figcaption></figure>")
    idx = out / "indices.csv"
    if idx.exists() and idx.stat().st_size > 1:
        t = pd.read_csv(idx)
        t = t[t["rank"] <= top].drop(columns=["ranges"], errors="ignore")
        parts.append(t.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="tbl"))
    txt = out / "robustness.txt"
    if txt.exists():
        parts.append("<h3>Robustness</h3>" + "".join(f"<p>{html.escape(ln)}</p>"
                                                      for ln in txt.read_text().splitlines() if ln.strip()))
    fail = out / "failures.csv"
    if fail.exists() and fail.stat().st_size > 1 and len(pd.read_csv(fail)):
        parts.append("<h3>Failed runs</h3>" + pd.read_csv(fail).to_html(index=False, border=0, classes="tbl"))
    return "".join(parts) + "</section>"
