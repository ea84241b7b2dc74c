"""Headless Chromium for the report tests and docs/screenshots.py: render a page, collect
what its scripts print to the console, take a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[^\]]*\] (.*)$")


def chromium() -> str | None:
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _run(page: Path, extra: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="circopt-chromium-") as prof:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={prof}", *extra, Path(page).resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)


def render(page: Path, budget_ms: int = 20000) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and every console message they wrote (errors,
    uncaught exceptions, warnings)."""
    p = _run(page, ["--dump-dom", f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw"])
    console = [m.group(1) for line in p.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return p.stdout, console


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2400) -> Path:
    """A PNG of the page's first ``height`` pixels at ``width``."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page, [f"--screenshot={png}", f"--window-size={width},{height}", "--virtual-time-budget=20000",
                "--run-all-compositor-stages-before-draw"])
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {page}")
    return png
