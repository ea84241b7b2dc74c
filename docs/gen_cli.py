"""Generate docs/cli.md from the CLI's own help: `python docs/gen_cli.py` (tests/test_docs.py checks it is current)."""

from __future__ import annotations

import argparse
from pathlib import Path

from circopt.cli import _parser


OUTPUTS = """## Outputs, errors and exit codes

Every command checks its options and its `--out` target before any work (`circopt.io`):

* a folder output (`simulate`, `optimise`, `trace`, the studies) is a new path, an empty folder, or a folder
  circopt wrote before: it holds the marker file `.circopt-output` (JSON: tool, version, command), and is then
  replaced whole and atomically (written into `.NAME.tmp-PID-XXXX` beside it, then renamed). Refused: the
  instance folder, a folder holding it or inside it, a non-empty folder without the marker, an existing file,
  a symbolic link, `.` or any folder holding the working directory, an empty path, a path whose parent is a
  file, a place that cannot be written;
* the report (`report --out FILE.html`) is a new file, an empty file, or a page circopt wrote (the comment
  `<!-- circopt-output {...} -->` right after its doctype); a folder or any other file is refused;
* while a command runs, `.NAME.lock` beside the target (its PID inside) makes a second command writing to
  the same place stop at once with "another circopt run (pid N) is writing there"; the lock of a process
  that no longer exists is taken over, and temporary folders of killed runs (marked, PID gone) are removed
  by the next run into the same place.

Exit codes: 0 done; 1 a problem with the instance, an option or the output, or an operating-system error
(disk full, permission), told in one line (`circopt: ...`); 2 a malformed command line (argparse's usage
and one error line); 3 an optimum written but numerically unreliable (verified on the unscaled model);
4 an internal error of circopt (one line; `CIRCOPT_DEBUG=1` shows the traceback); 130 interrupted (Ctrl-C),
143 terminated (`kill`). Output piped into a program that stops reading (`| head`) ends quietly.""".splitlines()


def render() -> str:
    p = _parser()
    out = ["# CLI reference", "", "Generated from `circopt --help` by `python docs/gen_cli.py`; do not edit by hand.", "",
           "```", p.format_help().rstrip(), "```", "", *OUTPUTS, ""]
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    seen = set()
    for name, sp in sub.choices.items():
        if id(sp) in seen:
            continue
        seen.add(id(sp))
        out += [f"## circopt {name}", "", "```", sp.format_help().rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    Path(__file__).with_name("cli.md").write_text(render())
    print("wrote docs/cli.md")
