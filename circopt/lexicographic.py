"""Moved to :mod:`circopt.studies.lexicographic`; this name stays importable."""

from .studies.lexicographic import *  # noqa: F401,F403
from .studies.lexicographic import __all__, _single_term, hold_bound, optimise_lexicographic  # noqa: F401
