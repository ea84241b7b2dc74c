"""The public verbs are the real functions: `help(circopt.optimise)` shows the signature and the docstring,
not `(*args, **kwargs)`; circopt.studies keeps every name it had as one module."""

from __future__ import annotations

import importlib
import inspect
import pydoc

import circopt

EXPECTED = {
    "load": ["path", "scenario", "boundary"],
    "simulate": ["system", "scenario", "shares", "pulse", "decisions"],
    "optimise": ["system", "objective", "scenario", "constraints", "solver_options", "fix", "weights", "epsilon",
                 "time_limit", "then", "slack", "uniqueness", "objective_options"],
    "binding": ["result", "tol"],
    "prioritise": ["system", "objective", "progress", "opt"],
    "combine": ["system", "budget", "objective", "budgets", "progress", "per_year", "opt"],
    "compare": ["path", "scenarios", "objective", "boundary", "trace", "opt"],
    "pareto": ["system", "objectives", "points", "progress", "opt"],
    "whatif": ["system", "constraint", "key", "values", "objective", "reuse", "progress", "opt"],
    "sweep": ["path", "samples", "grid", "scenario", "objective", "seed", "executor", "workers", "scheduler",
              "progress", "indicators", "opt"],
}


def test_verbs_have_their_real_signatures_and_docstrings():
    for name, params in EXPECTED.items():
        f = getattr(circopt, name)
        assert list(inspect.signature(f).parameters) == params, name
        assert f.__doc__ and len(f.__doc__) > 40, name
        assert f.__module__.startswith("circopt."), name
    text = pydoc.render_doc(circopt.optimise, renderer=pydoc.plaintext)
    assert "optimise(system" in text and "*args" not in text and "Optimise a system" in text
    assert circopt.whatif is circopt.studies.whatif and circopt.Study is circopt.studies.Study


def test_studies_names_survive_the_split_into_a_package():
    from circopt import studies

    names = ["LEVER_KEYS", "LOSS_TYPES", "Lever", "Study", "levers", "lever_constraints", "indicators",
             "objective_tolerance", "prioritise", "combine", "compare", "pareto", "whatif", "sample_ranges",
             "sweep", "map_jobs", "_Progress", "_run_point"]
    for n in names:
        assert getattr(studies, n) is not None, n
    assert studies.LOSS_TYPES == ("dissipation", "process", "dilution")
    # importing a submodule that shares a function's name leaves the package's attribute the function
    mod = importlib.import_module("circopt.studies.whatif")
    assert inspect.ismodule(mod) and inspect.isfunction(studies.whatif) and studies.whatif is mod.whatif
    # the old module paths are thin shims onto the package
    from circopt.lexicographic import hold_bound
    from circopt.uniqueness import format_report, report

    assert hold_bound(100.0, 1e-6) == 100.0 + 1e-4  # value + slack x max(|value|, 1)
    assert report is importlib.import_module("circopt.studies.uniqueness").report and callable(format_report)


def test_the_lever_check_imports_no_numeric_library():
    """The instance checks validate levers (`circopt check`): that costs the levers module, not the studies'
    numpy, pandas, scipy or HiGHS code."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys\nfrom circopt.studies import levers, lever_constraints\n"
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'highspy', 'pyomo', 'circopt.studies.study') "
            "if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "circopt", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.startswith("usage: circopt")
