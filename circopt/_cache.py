"""Structures derived from a System once (edge orders, index maps): kept with the System itself
(:meth:`circopt.system.System.cached`), so a System built anew (``dataclasses.replace``, another
scenario) derives its own."""

from __future__ import annotations

from typing import Any, Callable


def derived(system: Any, key: str, build: Callable[[Any], Any]) -> Any:
    """``build(system)``, computed on the first call for this System and ``key`` only."""
    return system.cached(key, lambda: build(system))
