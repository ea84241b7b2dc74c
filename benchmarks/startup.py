"""Start-up time of the command line: ``circopt check instances/toy`` and ``import circopt``, wall and CPU
time of fresh interpreters (best of N, as the machine may be shared), plus what each start imports.

    python benchmarks/startup.py [--repeats 7] [--write]

``--write`` replaces the ``startup`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "pandas", "pyarrow", "yaml", "scipy.special", "scipy.sparse", "scipy.fft", "scipy.optimize",
         "pyomo", "highspy", "matplotlib", "plotly")
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import circopt'": [sys.executable, "-c", "import circopt"],
    "circopt check instances/toy": [sys.executable, "-c", "import sys; from circopt.cli import entry; "
                                    "sys.argv = ['circopt', 'check', 'instances/toy']; entry()"],
}


def _env(root: Path = ROOT) -> dict:
    """As an installed package runs: bytecode cached (in a folder outside the tree, the first of the repeats
    fills it), even where the environment sets PYTHONDONTWRITEBYTECODE."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"circopt-startup-pycache-{tag}"
    return env | {"PYTHONPATH": str(root), "MPLBACKEND": "Agg", "PYTHONPYCACHEPREFIX": str(cache)}


def measure(cmd: list[str], repeats: int, root: Path = ROOT) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run); ``root`` is the circopt tree on PYTHONPATH."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=root, env=_env(root), stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (wall, cpu))
    return best


def imported(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(), capture_output=True, text=True,
                       check=True)
    return r.stdout.strip().splitlines()[-1].split() if r.stdout.strip() else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--baseline-label", default="before")
    ap.add_argument("--baseline", help="another circopt tree (e.g. `git archive` of an older commit, with its "
                    "instances/toy) measured in the same run, for a before/after under the same load")
    a = ap.parse_args()
    rows = []
    for label, cmd in CASES.items():
        wall, cpu = measure(cmd, a.repeats)
        rows.append((label, wall, cpu))
        print(f"{label:32s} wall {wall:.3f} s  cpu {cpu:.3f} s")
        if a.baseline and label != "python -c pass":
            wall, cpu = measure(cmd, a.repeats, Path(a.baseline).resolve())
            rows.append((f"{label} (baseline: {a.baseline_label})", wall, cpu))
            print(f"{rows[-1][0]:32s} wall {wall:.3f} s  cpu {cpu:.3f} s")
    mods_import = imported("import circopt")
    mods_check = imported("from circopt.cli import main\nmain(['check', 'instances/toy'])")
    load = os.getloadavg()[0]
    lines = ["<!-- startup:start -->", "## Start-up (`benchmarks/startup.py`)", "",
             f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores (load average "
             f"{load:.1f} when measured: a shared machine, so the best of {a.repeats} fresh interpreters), "
             f"Python {platform.python_version()}, bytecode cached as for an installed package.", "",
             f"Command: `python benchmarks/startup.py --repeats {a.repeats} --write"
             + (f" --baseline DIR --baseline-label '{a.baseline_label}'`" if a.baseline else "`"), "",
             "| command | best wall time | CPU time of that run |", "|---|---|---|"]
    lines += [f"| `{label}` | {wall:.3f} s | {cpu:.3f} s |" for label, wall, cpu in rows]
    lines += ["", f"`import circopt` imports: {', '.join(mods_import) or 'none of ' + ', '.join(HEAVY)}.",
              f"`circopt check instances/toy` imports: {', '.join(mods_check)}; not "
              f"{', '.join(m for m in HEAVY if m not in mods_check)}.", "",
              "On a busy machine the wall time is a multiple of the CPU time (other processes hold the cores); "
              "the CPU time is what the start takes on a free core. Of it, about 0.1 s is numpy, 0.35-0.4 s "
              "pandas (the instance loader reads CSV files with it), about 0.25 s scipy.sparse and its linear "
              "algebra (the simulation that `check` runs for each scenario), about 0.25 s the three loads and "
              "simulations themselves (base and two scenarios).", "<!-- startup:end -->"]
    text = "\n".join(lines)
    print(text)
    if a.write:
        path = ROOT / "benchmarks" / "RESULTS.md"
        old = path.read_text()
        pat = re.compile(r"<!-- startup:start -->.*?<!-- startup:end -->", re.S)
        new = pat.sub(lambda m: text, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + text + "\n"
        path.write_text(new)


if __name__ == "__main__":
    main()
