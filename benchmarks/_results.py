"""Write one section of benchmarks/RESULTS.md (between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``),
leaving the other sections as they are; the file is replaced atomically."""

from __future__ import annotations

import os
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"<!-- {name}:start -->\n{text}\n<!-- {name}:end -->"
    if f"<!-- {name}:start -->" in old:
        new = re.sub(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)
