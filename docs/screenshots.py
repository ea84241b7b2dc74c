"""Refresh the screenshots of both flagship reports (docs/report_*.png).

    python docs/screenshots.py

Builds each report (`circopt report INSTANCE --objective losses`) into a temporary folder
and photographs its first screens in headless Chromium (tests/browser.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from circopt.cli import main  # noqa: E402
from tests.browser import screenshot  # noqa: E402

FLAGSHIPS = ("japan_engines", "global_aluminium")


def run() -> list[Path]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FLAGSHIPS:
            page = Path(tmp) / f"{name}.html"
            if main(["report", str(ROOT / "instances" / name), "--objective", "losses", "--out", str(page)]) != 0:
                print(f"the report of {name} failed; its screenshot is left as it was", file=sys.stderr)
                continue
            out.append(screenshot(page, ROOT / "docs" / f"report_{name}.png", width=1280, height=2200))
    return out


if __name__ == "__main__":
    for p in run():
        print(f"wrote {p.relative_to(ROOT)}")
