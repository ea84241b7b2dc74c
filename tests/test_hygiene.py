"""No process-wide side effects: importing circopt loads no heavy library and changes nothing global; the
HiGHS banner is kept off stdout without touching file descriptors; no matplotlib backend is chosen; the
public verbs show their real signatures. Each check runs in a fresh interpreter."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import circopt

from .conftest import ROOT


def _run(code: str, **env) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {"PYTHONPATH": str(ROOT)} | env
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=e, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_import_circopt_loads_no_heavy_library():
    r = _run("import sys, circopt; print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'pyomo', 'matplotlib', "
             "'highspy', 'plotly', 'yaml') if m in sys.modules))")
    assert r.stdout.strip() == "[]"


def test_check_loads_neither_pyomo_nor_plotting():
    r = _run("import sys; from circopt.cli import main; main(['check', 'instances/toy']); "
             "print(sorted(m for m in ('pyomo', 'matplotlib', 'highspy', 'plotly', 'scipy.optimize', 'scipy.fft', "
             "'scipy.special') "
             "if m in sys.modules))")
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_highs_banner_kept_off_stdout_without_dup2():
    code = ("import os\n"
            "def no(*a, **k): raise AssertionError('a file descriptor was redirected')\n"
            "os.dup2 = no; os.dup = no\n"
            "from circopt._highs import new_highs\n"
            "h = new_highs(); h2 = new_highs()\n"
            "print('output_flag', h.getOptionValue('output_flag')[1])\n")
    r = _run(code)
    assert r.stdout == "output_flag False\n"  # no "Running HiGHS ..." line


def test_optimise_prints_nothing_but_its_report(tmp_path):
    r = _run(f"from circopt.cli import main; main(['optimise', 'instances/toy', '--out', {str(tmp_path / 'o')!r}])")
    assert "HiGHS" not in r.stdout and r.stdout.startswith("optimise: toy")


def test_plots_choose_no_backend():
    code = ("import matplotlib\n"
            "def no(*a, **k): raise AssertionError('matplotlib.use called')\n"
            "matplotlib.use = no\n"
            "import pandas as pd\n"
            "from circopt import plots\n"
            "fig = plots.plot_ranking(pd.DataFrame({'lever': ['a', 'b'], 'improvement': [2.0, 1.0]}))\n"
            "print(len(plots.figure_png_bytes(fig)) > 1000, matplotlib.get_backend().lower())\n")
    r = _run(code, MPLBACKEND="agg")
    assert r.stdout.split() == ["True", "agg"]


def test_public_verbs_show_real_signatures_and_docstrings():
    for f, arg in ((circopt.optimise, "objective"), (circopt.simulate, "shares"), (circopt.load, "scenario")):
        params = inspect.signature(f).parameters
        assert arg in params and "args" not in params, f
        assert f.__doc__ and len(f.__doc__) > 40
    import importlib

    importlib.import_module("circopt.simulate")  # the submodule does not hide the function
    assert callable(circopt.simulate) and circopt.simulate.__module__ == "circopt.simulate"
    assert set(circopt.__all__) <= set(dir(circopt))


def test_strong_components_agree_with_scipy():
    """`circopt check` finds closed loops without scipy's graph module: same components on random graphs."""
    import random

    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.csgraph as csg

    from circopt.network import _strong_components

    rng = random.Random(7)
    for _ in range(200):
        n, m = rng.randint(1, 25), rng.randint(0, 70)
        edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(m)]
        succ = [[] for _ in range(n)]
        for a, b in edges:
            succ[a].append(b)
        g = sp.coo_matrix((np.ones(m), ([a for a, _ in edges], [b for _, b in edges])), shape=(n, n))
        k, label = csg.connected_components(g, directed=True, connection="strong")
        ref = sorted(tuple(np.flatnonzero(label == c).tolist()) for c in range(k))
        assert sorted(tuple(c) for c in _strong_components(succ)) == ref, edges


def test_tracked_files_name_no_path_outside_the_repository():
    """The repository rebuilds on its own: no tracked file points at a machine's folders or at the
    project's data outside the repository (copies under instances/*/data are cited by source id)."""
    import re

    r = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if r.returncode != 0:
        import pytest

        pytest.skip("not a git checkout")
    # an absolute folder of a machine (at the start of a path, not inside a URL), or the project's
    # shared folder; written so that this file does not match itself
    bad = re.compile(rb"""(?:^|[\s"'`(=,])/(?:work|home|root|Users|check)/|\.\./shared|shared/(?:seed|data)/""")
    hits = []
    for name in r.stdout.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        for k, line in enumerate(path.read_bytes().splitlines(), 1):
            if bad.search(line):
                hits.append(f"{name}:{k}")
    assert hits == []
