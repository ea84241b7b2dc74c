"""Exceptions of circopt.

Every error a user can cause names *where* (file, key or node), *what* (the offending
value) and *what was expected*, so it can be fixed without reading circopt's code.
"""

from __future__ import annotations

#: the longest excerpt of an offending value quoted in a message (characters of its repr)
EXCERPT = 60


class Excerpt(str):
    """An already-quoted, shortened value: printed as it is (not repr'd again)."""

    def __repr__(self) -> str:
        return str(self)


def excerpt(value: object, limit: int = EXCERPT) -> Excerpt:
    """``repr(value)`` cut to ``limit`` characters (control characters escaped by repr), so that a
    message never quotes more than a short excerpt of what it was given (never a file's contents)."""
    if isinstance(value, Excerpt):
        return value
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still named by its type
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return Excerpt(text)


class CircoptError(Exception):
    """Base class of every error circopt raises on purpose."""


class InstanceError(CircoptError, ValueError):
    """An instance (files, keys, values) is invalid.

    Parameters
    ----------
    where:
        The file and key/node, e.g. ``"instances/toy/instance.yaml: nodes.in_use.lifetime.sd"``.
    problem:
        What is wrong, in the instance's words.
    value:
        The offending value (optional).
    expected:
        What would have been accepted (optional).
    """

    def __init__(self, where: str, problem: str, value: object = None, expected: str | None = None):
        self.where = where
        self.problem = problem
        self.value = value
        self.expected = expected
        msg = f"{where}: {problem}"
        if value is not None:
            msg += f" (got {excerpt(value)})"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)


class InstanceErrors(InstanceError):
    """Several instance problems found at once (``circopt check`` lists them all)."""

    def __init__(self, errors: list[InstanceError]):
        self.errors = list(errors)
        CircoptError.__init__(self, "\n".join(str(e) for e in self.errors))
        self.where = self.errors[0].where if self.errors else ""
        self.problem = f"{len(self.errors)} problems"
        self.value = None
        self.expected = None

    def __str__(self) -> str:  # one problem per line
        return "\n".join(str(e) for e in self.errors)


class CircoptWarning(UserWarning):
    """Something allowed but worth a look (e.g. data spanning more magnitudes than the solver resolves)."""


class SimulationError(CircoptError):
    """The simulation cannot proceed with the given shares (e.g. an allocation exceeds a demand)."""


class SolverError(CircoptError):
    """The solver did not return an optimal solution (time limit, numerical trouble, ...)."""


class InfeasibleError(SolverError):
    """The optimisation model has no feasible point; ``conflict`` names the constraints in conflict."""

    def __init__(self, message: str, conflict: list[str] | None = None):
        self.conflict = list(conflict or [])
        super().__init__(message)


class UnboundedError(SolverError):
    """The optimisation model is unbounded; ``direction`` names the free variables."""

    def __init__(self, message: str, direction: list[str] | None = None):
        self.direction = list(direction or [])
        super().__init__(message)
