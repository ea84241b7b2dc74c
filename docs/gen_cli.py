"""Generate docs/cli.md from the CLI's own help: `python docs/gen_cli.py` (tests/test_docs.py checks it is current)."""

from __future__ import annotations

import argparse
from pathlib import Path

from circopt.cli import _parser


def render() -> str:
    p = _parser()
    out = ["# CLI reference", "", "Generated from `circopt --help` by `python docs/gen_cli.py`; do not edit by hand.", "",
           "```", p.format_help().rstrip(), "```", ""]
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
