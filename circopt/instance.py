"""Instance files -> validated :class:`~circopt.system.System` (compatibility module).

The loader lives in :mod:`circopt.definition` (schema, scenarios, params, expand, nodes,
derive, load); this module keeps the names earlier versions exported. An instance is a
folder holding ``instance.yaml``, CSV tables beside it, a ``sources.csv`` bibliography and
optional ``scenarios/*.yaml`` overrides, documented key by key in ``docs/instance-format.md``.
"""

from __future__ import annotations

from .definition.dotted import apply_range, get_dotted, is_number, set_dotted
from .definition.load import build, load
from .definition.scenarios import apply_scenario, load_document, scenario_names
from .definition.schema import (
    BLEND_OUTPUT_KEYS,
    COMMON_KEYS,
    DEPRECATED,
    NODE_KEYS,
    PRICES,
    REMOVED_KEYS,
    STREAM_KEYS,
    SUM_TOL,
    TOP_KEYS,
    UNITS,
)
from .errors import InstanceError, InstanceErrors

__all__ = [
    "BLEND_OUTPUT_KEYS", "COMMON_KEYS", "DEPRECATED", "NODE_KEYS", "PRICES", "REMOVED_KEYS", "STREAM_KEYS",
    "SUM_TOL", "TOP_KEYS", "UNITS", "InstanceError", "InstanceErrors", "apply_range", "apply_scenario", "build",
    "get_dotted", "is_number", "load", "load_document", "scenario_names", "set_dotted",
]
