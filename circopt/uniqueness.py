"""Moved to :mod:`circopt.studies.uniqueness`; this name stays importable."""

from .studies.uniqueness import *  # noqa: F401,F403
from .studies.uniqueness import (  # noqa: F401
    REL_RANGE,
    __all__,
    _dual_degenerate,
    _groups,
    _restrict_to_optimal_face,
    format_report,
    report,
)
