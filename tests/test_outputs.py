"""Outputs never destroy: every refused target is a named case with its message, and nothing on disk
changes; a previous circopt output is replaced atomically; killed runs and concurrent writers are handled."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import circopt
import circopt.instance
from circopt.cli import main
from circopt.io import MARKER, OutputError, OutputTarget, prepare_output, write_file

from .conftest import ROOT, copy_instance


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` (hidden ones included) with its bytes, or 'dir' / 'link'."""
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "link" if p.is_symlink() else "dir" if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A working folder holding an instance copy, a non-empty foreign folder, a file, an empty folder, a
    symbolic link and a previous circopt output."""
    _fresh_ws(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# (case id, argv after the verb's instance, expected fragment of the one-line message)
REFUSED = [
    ("instance_folder", ["simulate", "toy", "--out", "toy"], "is the instance folder toy"),
    ("instance_folder_absolute", ["simulate", "toy", "--out", "@/toy"], "is the instance folder"),
    ("parent_of_instance", ["simulate", "work/toy", "--out", "work"], "holds the instance folder"),
    ("inside_instance", ["simulate", "toy", "--out", "toy/results"], "is inside the instance folder"),
    ("instance_data_file", ["optimise", "toy", "--out", "toy/data/production.csv"], "is inside the instance"),
    ("non_empty_unmarked_folder", ["simulate", "toy", "--out", "mine"], "not empty and was not written by circopt"),
    ("existing_file", ["simulate", "toy", "--out", "notes.txt"], "is an existing file"),
    ("dot", ["simulate", "toy", "--out", "."], "is the working directory or holds it"),
    ("dot_slash", ["optimise", "toy", "--out", "./"], "is the working directory or holds it"),
    ("dotdot", ["trace", "toy", "--out", ".."], "is the working directory or holds it"),
    ("empty_string", ["simulate", "toy", "--out", ""], "an empty path is refused"),
    ("blank_string", ["simulate", "toy", "--out", "  "], "an empty path is refused"),
    ("parent_is_a_file", ["simulate", "toy", "--out", "notes.txt/out"], "is a file, not a folder"),
    ("grandparent_is_a_file", ["optimise", "toy", "--out", "notes.txt/a/b"], "is a file, not a folder"),
    ("symbolic_link", ["simulate", "toy", "--out", "link"], "is a symbolic link"),
    ("report_into_folder", ["report", "toy", "--out", "empty"], "is a folder; expected a file path"),
    ("report_into_foreign_file", ["report", "toy", "--out", "page.html"], "circopt did not write"),
    ("report_into_device", ["report", "toy", "--out", "/dev/null"], "is not a regular file"),
    ("report_into_instance", ["report", "toy", "--out", "toy/report.html"], "inside the instance folder"),
    ("study_into_foreign_folder", ["compare", "toy", "--scenarios", "base", "--out", "mine"], "not empty"),
    ("sweep_into_instance", ["sweep", "toy", "--samples", "2", "--out", "toy"], "is the instance folder"),
]


@pytest.mark.parametrize("argv,fragment", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_target_changes_nothing(ws, argv, fragment, capsys, monkeypatch):
    if argv[1] == "work/toy":  # an instance one level down, so that its parent is not the working folder
        (ws / "work").mkdir()
        os.rename(ws / "toy", ws / "work" / "toy")
    argv = [a.replace("@", str(ws)) for a in argv]
    before = snapshot(ws)
    monkeypatch.setattr(circopt, "load", _no_work)
    monkeypatch.setattr(circopt.instance, "load", _no_work)  # refused before any computation
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert fragment in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(ws) == before


def _no_work(*a, **k):
    raise AssertionError("the instance was loaded before the output was checked")


def test_unwritable_place_is_refused_up_front(ws, capsys, monkeypatch):
    before = snapshot(ws)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == ws / "ro" else real(p, m))
    (ws / "ro").mkdir()
    before = snapshot(ws)
    monkeypatch.setattr(circopt, "load", _no_work)
    monkeypatch.setattr(circopt.instance, "load", _no_work)
    assert main(["simulate", "toy", "--out", "ro/out"]) == 1
    assert "cannot write in" in capsys.readouterr().err
    assert snapshot(ws) == before


@pytest.mark.skipif(os.access("/sys", os.W_OK) and not os.path.ismount("/sys"), reason="needs a read-only /sys")
def test_system_folder_is_refused(ws, capsys):
    assert main(["simulate", "toy", "--out", "/sys/circopt-out"]) == 1
    assert "/sys" in capsys.readouterr().err
    assert not os.path.exists("/sys/circopt-out")


def test_new_empty_and_marked_folders_are_accepted(ws):
    assert main(["simulate", "toy", "--out", "a/b/new"]) == 0  # parents are created
    marker = json.loads((ws / "a/b/new" / MARKER).read_text())
    assert marker == {"command": "simulate", "tool": "circopt", "version": circopt.__version__}
    assert main(["simulate", "toy", "--out", "empty"]) == 0
    assert (ws / "empty" / "flows.csv").exists()
    # a previous circopt output is replaced whole: a file of the old output that the new one does not
    # write is gone, nothing is left beside it
    (ws / "empty" / "duals.csv").write_text("old\n")
    assert main(["simulate", "toy", "--scenario", "more_reuse", "--out", "empty"]) == 0
    assert not (ws / "empty" / "duals.csv").exists()
    assert json.loads((ws / "empty" / "summary.json").read_text())["scenario"] == "more_reuse"
    assert sorted(p.name for p in ws.iterdir() if p.name.startswith(".")) == []


def test_report_file_marker_rule(ws):
    from circopt.io import mark_html

    page = "<!DOCTYPE html><html><body>x</body></html>"
    p = write_file(ws / "r.html", mark_html(page), command="report")
    text = p.read_text()
    assert text.startswith("<!DOCTYPE html>\n<!-- circopt-output ")  # the marker, right after the doctype
    assert json.loads(text.split("circopt-output ", 1)[1].split(" -->")[0])["tool"] == "circopt"
    assert write_file(ws / "r.html", mark_html(page + "2")).read_text().endswith("2")  # replaced
    (ws / "blank.html").write_text("")
    assert write_file(ws / "blank.html", page).read_text() == page  # an empty file holds nothing to lose
    with pytest.raises(OutputError, match="circopt did not write"):
        write_file(ws / "page.html", page)
    assert (ws / "page.html").read_text().startswith("<!DOCTYPE html><p>someone else's")
    with pytest.raises(OutputError, match="circopt did not write"):
        write_file(ws / "notes.txt", "x")
    assert (ws / "notes.txt").read_text() == "precious\n"


def test_report_replaces_its_own_page(ws):
    from circopt.report import write_report

    write_report(ws / "r.html", "<!DOCTYPE html><p>old</p>")
    assert "<p>old</p>" in (ws / "r.html").read_text()
    write_report(ws / "r.html", "<!DOCTYPE html><p>new</p>")
    assert "<p>new</p>" in (ws / "r.html").read_text()
    assert sorted(q.name for q in ws.iterdir() if q.name.startswith(".r.html")) == []


def test_python_api_refuses_the_instance_folder(ws):
    res = circopt.simulate(circopt.load("toy"))
    before = snapshot(ws)
    for bad in ("toy", "toy/sub", ".", "mine", "notes.txt"):
        with pytest.raises(OutputError):
            res.to_dir(bad)
    assert snapshot(ws) == before


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_killed_runs_are_removed(ws):
    dead = _dead_pid()
    marked = {"tool": "circopt", "version": "0.1.0", "command": "simulate"}
    for name in (f".out.tmp-{dead}-abcd", f".out.old-{dead}-ef01"):
        (ws / name).mkdir()
        (ws / name / MARKER).write_text(json.dumps(marked))
        (ws / name / "flows.csv").write_text("partial\n")
    (ws / f".out.tmp-{dead}-beef").mkdir()  # no marker: not provably circopt's, kept
    (ws / f".out.tmp-{os.getppid()}-cafe").mkdir()  # a live process: kept
    (ws / f".out.tmp-{os.getppid()}-cafe" / MARKER).write_text(json.dumps(marked))
    assert main(["simulate", "toy", "--out", "out"]) == 0
    left = sorted(p.name for p in ws.iterdir() if p.name.startswith(".out"))
    assert left == sorted([f".out.tmp-{dead}-beef", f".out.tmp-{os.getppid()}-cafe"])


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from circopt.io import prepare_output
    t = prepare_output(sys.argv[1], command="test")
    def fill(d):
        (d / "flows.csv").write_text("half written\\n")
        print("writing", flush=True)
        time.sleep(120)
    t.write_dir(fill)
""")


def test_sigkill_during_write_then_next_run_cleans_up(ws):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, "out"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "writing"
        tmp = [q for q in ws.iterdir() if q.name.startswith(".out.tmp-")]
        assert len(tmp) == 1 and (ws / ".out.lock").exists()
        # a second writer while the first one lives: a clear error, nothing touched
        before = snapshot(ws)
        r = subprocess.run([sys.executable, "-m", "circopt.cli", "simulate", "toy", "--out", "out"],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 1
        assert f"another circopt run (pid {p.pid}) is writing there" in r.stderr
        assert snapshot(ws) == before
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert main(["simulate", "toy", "--out", "out"]) == 0  # stale lock taken over, temporary removed
    assert sorted(q.name for q in ws.iterdir() if q.name.startswith(".out")) == []
    assert pd.read_csv(ws / "out" / "flows.csv").shape[0] > 0


def test_held_lock_gives_clear_error_and_nothing_orphaned(ws, capsys):
    with prepare_output(ws / "out", command="test") as target:
        assert isinstance(target, OutputTarget)
        assert main(["simulate", "toy", "--out", "out"]) == 1
        assert f"another circopt run (pid {os.getpid()}) is writing there" in capsys.readouterr().err
    assert not (ws / ".out.lock").exists() and not (ws / "out").exists()


def test_lock_of_a_dead_process_is_taken_over(ws):
    (ws / ".out.lock").write_text(json.dumps({"pid": _dead_pid()}))
    assert main(["simulate", "toy", "--out", "out"]) == 0
    assert not (ws / ".out.lock").exists()


def test_disk_full_mid_write_keeps_old_output(ws, capsys, monkeypatch):
    assert main(["simulate", "toy", "--out", "out"]) == 0
    before = snapshot(ws)

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(a[0]) if a else None)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["simulate", "toy", "--scenario", "more_reuse", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err and err.count("\n") == 1
    assert snapshot(ws) == before  # old output intact, no temporary folder, no lock


def test_failed_run_leaves_no_created_parents(ws, capsys):
    (ws / "toy" / "instance.yaml").write_text("name: [broken\n")
    assert main(["simulate", "toy", "--out", "new/deeper/out"]) == 1
    assert not (ws / "new").exists()


def test_output_of_circopt_0_1_without_marker_is_replaced_but_not_with_foreign_files(ws, capsys):
    legacy = ws / "old"
    legacy.mkdir()
    (legacy / "summary.json").write_text(json.dumps({"circopt_version": "0.1.0", "instance": "toy"}))
    (legacy / "flows.csv").write_text("year\n")
    assert main(["simulate", "toy", "--out", "old"]) == 0
    assert (legacy / MARKER).exists()
    foreign = ws / "old2"
    foreign.mkdir()
    (foreign / "summary.json").write_text(json.dumps({"circopt_version": "0.1.0"}))
    (foreign / "my_notes.docx").write_text("precious")
    before = snapshot(ws)
    assert main(["simulate", "toy", "--out", "old2"]) == 1
    assert "not empty and was not written by circopt" in capsys.readouterr().err
    assert snapshot(ws) == before


SEGMENTS = ["toy", "..", ".", "mine", "notes.txt", "new", "empty", "link", "data", "page.html", "", "prev"]


def _fresh_ws(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    copy_instance("toy", root)
    (root / "mine").mkdir()
    (root / "mine" / "thesis.tex").write_text("precious\n")
    (root / "notes.txt").write_text("precious\n")
    (root / "empty").mkdir()
    (root / "page.html").write_text("<!DOCTYPE html><p>someone else's page</p>\n")
    (root / "link").symlink_to(root / "mine")
    (root / "prev").mkdir()
    (root / "prev" / MARKER).write_text(json.dumps({"tool": "circopt"}))
    (root / "prev" / "flows.csv").write_text("old\n")
    return root


def test_fuzz_output_paths_never_touch_anything_else(tmp_path, monkeypatch):
    """Random relative paths (with '..', '.', links, files, the instance) as a folder output: either refused
    with nothing changed, or written with everything outside the target unchanged."""
    import shutil as _shutil

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from circopt.io import write_folder

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4))
    def check(parts):
        root = tmp_path / "case"
        if root.exists():
            _shutil.rmtree(root)
        root.mkdir()
        ws = _fresh_ws(root / "a" / "b" / "c" / "w")  # four '..' stay inside root
        monkeypatch.chdir(ws)
        rel = "/".join(parts)
        rel = "." + rel if rel.startswith("/") else rel  # stay under the test folder
        before = snapshot(root)
        try:
            out = write_folder(rel, lambda d: (d / "result.csv").write_text("new\n"), instance_dir="toy")
        except OutputError:
            assert snapshot(root) == before, rel
            return
        out = Path(out)
        assert (out / MARKER).exists() and (out / "result.csv").read_text() == "new\n"
        assert not out.is_relative_to(ws / "toy") and not (ws / "toy").is_relative_to(out)
        after = snapshot(root)
        prefix = str(out.relative_to(root))
        for k, v in before.items():
            if k == prefix or k.startswith(prefix + "/"):
                assert k.startswith(("a/b/c/w/prev", "a/b/c/w/empty")) or v == "dir" and k == prefix, (rel, k)
                continue
            assert after.get(k) == v, (rel, k)
        assert not [k for k in after if ".tmp-" in k or k.endswith(".lock")], rel

    check()
