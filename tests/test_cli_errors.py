"""No traceback for a user's mistake: every bad option value is a named case with its one-line message,
checked before any work (nothing loaded, nothing written); OS errors, interruptions and broken pipes
end in one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import circopt
import circopt.instance
from circopt.cli import EXIT_INTERRUPTED, main

from .conftest import ROOT

# (case id, argv, exit code, fragment of the message); "@" is replaced by the output folder
BAD_OPTIONS = [
    ("time_limit_nan", ["optimise", "instances/toy", "--time-limit", "nan"], 2,
     "--time-limit: expected a positive number of seconds, got 'nan'"),
    ("time_limit_negative", ["optimise", "instances/toy", "--time-limit", "-1"], 2, "got '-1'"),
    ("time_limit_zero", ["optimise", "instances/toy", "--time-limit", "0"], 2, "positive number of seconds"),
    ("time_limit_inf", ["optimise", "instances/toy", "--time-limit", "inf"], 2, "got 'inf'"),
    ("time_limit_text", ["optimise", "instances/toy", "--time-limit", "soon"], 2, "got 'soon'"),
    ("samples_zero", ["sweep", "instances/toy", "--samples", "0"], 2, "--samples: expected a whole number >= 1"),
    ("samples_negative", ["sweep", "instances/toy", "--samples", "-5"], 2, "got '-5'"),
    ("samples_fraction", ["sweep", "instances/toy", "--samples", "2.5"], 2, "got '2.5'"),
    ("workers_zero", ["sweep", "instances/toy", "--workers", "0"], 2, "--workers: expected a whole number >= 1"),
    ("workers_negative", ["sweep", "instances/toy", "--workers", "-2"], 2, "--workers"),
    ("seed_negative", ["sweep", "instances/toy", "--seed", "-1"], 2, "--seed: expected a whole number >= 0"),
    ("points_one", ["pareto", "instances/toy", "--objectives", "losses,energy", "--points", "1"], 2,
     "--points: expected a whole number >= 2"),
    ("budget_negative", ["combine", "instances/toy", "--budget", "-3"], 2, "--budget: expected a finite number"),
    ("budget_nan", ["combine", "instances/toy", "--budget", "nan"], 2, "got 'nan'"),
    ("year_text", ["trace", "instances/toy", "--year", "2025.5"], 2, "--year"),
    ("executor_unknown", ["sweep", "instances/toy", "--executor", "gpu"], 2, "invalid choice: 'gpu'"),
    ("objective_unknown", ["optimise", "instances/toy", "--objective", "happiness"], 1,
     "--objective: unknown objective 'happiness'"),
    ("objective_weight_nan", ["optimise", "instances/toy", "--objective", "losses=nan"], 1,
     "weight of 'losses' must be a finite number"),
    ("objective_weight_text", ["optimise", "instances/toy", "--objective", "losses=much"], 1,
     "weight of 'losses' is not a number"),
    ("trace_objective_unknown", ["trace", "instances/toy", "--objective", "nope"], 1, "unknown objective 'nope'"),
    ("report_objective_unknown", ["report", "instances/toy", "--objective", "nope"], 1, "unknown objective"),
    ("pareto_one_objective", ["pareto", "instances/toy", "--objectives", "losses"], 1, "--objectives takes two"),
    ("pareto_three_objectives", ["pareto", "instances/toy", "--objectives", "losses,energy,cost"], 1,
     "--objectives takes two"),
    ("compare_no_scenarios", ["compare", "instances/toy", "--scenarios", " , "], 1, "--scenarios: expected"),
    ("grid_malformed", ["sweep", "instances/toy", "--grid", "x"], 1, "--grid: expected 'range=v1:v2:v3"),
    ("grid_not_numbers", ["sweep", "instances/toy", "--grid", "a=1:b"], 1, "--grid: values of 'a' are not numbers"),
    ("grid_nan", ["sweep", "instances/toy", "--grid", "a=1:nan"], 1, "--grid: values of 'a' must be finite"),
    ("sensitivity_samples_zero", ["sensitivity", "instances/toy", "--samples", "0"], 2, "--samples: expected a whole"),
    ("sensitivity_workers_zero", ["sensitivity", "instances/toy", "--workers", "0"], 2, "--workers: expected a whole"),
    ("sensitivity_seed_negative", ["sensitivity", "instances/toy", "--seed", "-3"], 2, "--seed: expected a whole"),
    ("missing_out", ["simulate", "instances/toy"], 2, "the following arguments are required: --out"),
]


@pytest.mark.parametrize("argv,code,fragment", [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_option_is_one_clear_line_before_any_work(argv, code, fragment, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    if "--out" not in argv and argv != ["simulate", "instances/toy"]:
        argv = [*argv, "--out", str(out)]

    def no_work(*a, **k):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(circopt, "load", no_work)
    monkeypatch.setattr(circopt.instance, "load", no_work)
    if code == 2:  # argparse: usage line + one error line, exit 2
        with pytest.raises(SystemExit) as ei:
            main(argv)
        assert ei.value.code == 2
    else:
        assert main(argv) == code
    err = capsys.readouterr().err
    assert fragment in err, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith(("circopt", "usage")) or "error:" in ln]
    assert any(fragment in ln for ln in lines)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_instance_folder_is_one_line(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_keyboard_interrupt_is_one_line_exit_130(tmp_path, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(circopt, "simulate", interrupted)
    assert main(["simulate", "instances/toy", "--out", str(tmp_path / "o")]) == EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.startswith("circopt: interrupted") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # no output, no lock, no temporary folder


def test_os_error_is_one_line(tmp_path, capsys, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", "instances/toy/data/production.csv")

    monkeypatch.setattr(circopt, "load", denied)
    monkeypatch.setattr(circopt.instance, "load", denied)
    assert main(["simulate", "instances/toy", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err == "circopt: cannot complete the operation on instances/toy/data/production.csv: Permission denied\n"


def test_internal_error_is_one_line_with_exit_4(tmp_path, capsys, monkeypatch):
    def bug(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(circopt, "simulate", bug)
    monkeypatch.delenv("CIRCOPT_DEBUG", raising=False)
    assert main(["simulate", "instances/toy", "--out", str(tmp_path / "o")]) == 4
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: division by zero)" in err and err.count("\n") == 1
    monkeypatch.setenv("CIRCOPT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["simulate", "instances/toy", "--out", str(tmp_path / "o")])


def test_broken_pipe_is_quiet():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = ("import sys; sys.argv = ['circopt', 'check', 'instances/toy']; "
            "from circopt.cli import entry; entry()")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # the reader goes away (like `| head -0`)
    err = p.stderr.read().decode()
    assert p.wait() == 0
    assert err == ""


def test_sigterm_releases_the_output(tmp_path):
    """`kill PID` during a run: one line, exit 143, no lock or temporary folder left behind."""
    import signal
    import time

    from .edge_instances import write_edge

    inst = write_edge("no_stock", tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    code = "import sys; from circopt.cli import entry; sys.argv = ['circopt'] + sys.argv[1:]; entry()"
    p = subprocess.Popen([sys.executable, "-c", code, "sweep", str(inst), "--samples", "100000", "--executor",
                          "inprocess", "--out", str(tmp_path / "sw")], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (tmp_path / ".sw.lock").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 143
    assert "circopt: terminated" in err and "Traceback" not in err
    assert sorted(q.name for q in tmp_path.iterdir()) == ["edge_no_stock"]
