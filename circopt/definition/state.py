"""The state of one load: what has been read and built so far, and the problems found.

Each step of the loader (:mod:`.schema`, :mod:`.compositions`, :mod:`.expand`, :mod:`.nodes`,
:mod:`.derive`) reads and extends a :class:`Loading`; only :func:`.load.build_system` turns it
into a :class:`~circopt.system.System`, complete, once every step has passed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InstanceError, InstanceErrors
from ..system import Axes, Blend, Edge, Node
from .compositions import CompositionTable
from .files import InstanceFiles
from .params import Params
from .schema import DEPRECATED


@dataclass
class Loading(Axes):
    doc: dict
    folder: Path
    yml: str  # the instance file as named in messages
    boundary: str = "domestic"
    files: InstanceFiles | None = None
    scenario: str | None = None
    from_folder: bool = False  # loaded from an instance folder (load), not built from a document (build)
    errors: list[InstanceError] = field(default_factory=list)
    # the header (schema.header)
    elements: list[str] = field(default_factory=list)
    years: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    timing: str = "end"
    dims: dict[str, list] = field(default_factory=dict)
    ctx: Params | None = None
    sources: dict[str, str] = field(default_factory=dict)  # source id -> citation
    streams: dict[str, np.ndarray] = field(default_factory=dict)  # named compositions (T, C)
    #: named composition tables (a table, a recipe): a node family picks its row by a dimension value
    tables: dict[str, CompositionTable] = field(default_factory=dict)
    # the network (expand, nodes)
    nodes: list[Node] = field(default_factory=list)
    family_nodes: dict[str, list[int]] = field(default_factory=dict)
    family_dims: dict[str, list[str]] = field(default_factory=dict)
    node_sources: dict[str, list[str]] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    blends: list[Blend] = field(default_factory=list)
    #: blend index -> {input node or family: {output: share (T,)}}, matched to inputs by derive
    alloc_specs: dict[int, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)

    def __post_init__(self):
        self.files = self.files or InstanceFiles(self.folder)

    def where(self, key: str) -> str:
        return f"{self.yml}: {key}"

    def err(self, key: str, problem: str, value: Any = None, expected: Any = None) -> None:
        self.errors.append(InstanceError(self.where(key), problem, value, expected))

    def deprecated(self, old: str, where: str = "") -> None:
        warnings.warn(f"{self.yml}: {where + ': ' if where else ''}'{old}' is deprecated, write "
                      f"'{DEPRECATED[old]}'", FutureWarning, stacklevel=4)

    def fail_if_errors(self) -> None:
        if self.errors:
            raise InstanceErrors(self.errors)

    def edge(self, src: int, tgt: int, label: str, rule: str, key: str, **kw) -> Edge:
        e = Edge(id=len(self.edges), source=src, target=tgt, label=label, rule=rule, where=self.where(key), **kw)
        self.edges.append(e)
        return e
