"""The validated, expanded material system that both engines read.

A :class:`System` is plain data: a time grid, the tracked elements, and a network of
expanded nodes (one per combination of a family's dimensions) joined by edges. Every
parameter is already an array over the model years, so the engines never parse
anything and never loop over scalars they could take as arrays.

Channels
--------
Each stream is tracked per *channel*: the tracked elements plus ``other`` (the rest of
the mass). Total mass is the sum of the channels, so conserving every channel conserves
the total by construction. Tables report the tracked elements and ``total``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np

from .lifetimes import Lifetime

NODE_KINDS = ("source", "process", "stock", "split", "blend", "sink", "export")
LOSS_TYPES = ("dissipation", "process", "dilution", "export", "surplus", "hibernation", "unspecified")
#: the sink tag of an ``export`` node: material that leaves the region. It is neither in use
#: nor lost; results report it as kind ``exported``; the ``domestic`` boundary view counts it
#: as lost to the region, the ``global`` view sends it on to the node's declared fate abroad.
#: (``loss: export`` on a sink is the deprecated outlet of earlier versions: not counted by
#: default, reported as a loss type.)
EXPORTED = "exported"
BOUNDARIES = ("domestic", "global")
OTHER = "other"
TOTAL = "total"

_V = TypeVar("_V")


@dataclass(frozen=True)
class Node:
    """One expanded node. ``family`` is the name declared in the instance, ``index`` its
    position in the family's dimensions (e.g. ``{"life": 2}``), ``name`` the display name."""

    name: str
    family: str
    kind: str
    index: dict[str, Any] = field(default_factory=dict)
    where: str = ""  # file and key path for messages
    # kind-specific, all arrays over years (T,) or (T, C):
    series: np.ndarray | None = None  # source: total mass per year (None: free/filled)
    free: bool = False  # source: a decision (optimiser) / makes up blend demands (simulation baseline)
    cost: np.ndarray | None = None  # source: cost per unit
    max_series: np.ndarray | None = None  # source: upper bound per year when free
    composition: np.ndarray | None = None  # source: (T, C) mass fractions
    lifetime: Lifetime | None = None  # stock
    life: int = 1  # stock: which life this layer is
    history: np.ndarray | None = None  # stock: (H, C) inflow of cohorts before the first year
    history_years: np.ndarray | None = None
    target_stock: np.ndarray | None = None  # stock-driven stock: total stock per year
    negative_inflow: str = "error"
    loss: str | None = None  # sink: loss type (EXPORTED for an export node)
    energy: np.ndarray | None = None  # per unit of throughput (process/split route/source)
    co2: np.ndarray | None = None
    # facts the loader derives (typed, never passed through ad-hoc attributes):
    follows: int | None = None  # source: the node whose input (or supply) it follows
    ratio: np.ndarray | None = None  # following source: amount per unit of the followed total (T,)
    driven_by: int | None = None  # source: the stock-driven stock whose 'stock' sets its series
    exported: bool = False  # an ``export`` node: its inflow is reported as kind 'exported'
    fate_abroad_of: str | None = None  # the export node whose declared fate abroad this node is
    past_last_life: list[str] | None = None  # loader only: outputs leading past the last life

    @property
    def meta(self) -> dict[str, Any]:
        """The derived facts that are set, as a read-only mapping (the spelling of earlier
        versions: ``"follows" in node.meta``, ``node.meta["ratio"]``); prefer the fields."""
        facts = {"follows": self.follows, "ratio": self.ratio, "driven_by": self.driven_by,
                 "fate_abroad_of": self.fate_abroad_of, "past_last_life": self.past_last_life}
        out = {k: v for k, v in facts.items() if v is not None}
        if self.exported:
            out["exported"] = True
        return MappingProxyType(out)


@dataclass(frozen=True)
class Edge:
    """A directed stream between two expanded nodes.

    ``rule`` tells how the edge's flow is determined:
      * ``source``: the source's series times ``coef`` (fixed fractions of a source to several targets)
      * ``tc``: ``coef[t, c]`` times the node's input (process transfer coefficient)
      * ``stock``: the stock's outflow
      * ``route``: a split route (a decision; ``coef`` holds the baseline share)
      * ``blend_out``: a blend output (a decision: allocations)
      * ``surplus``: the blend's leftover inputs
    """

    id: int
    source: int
    target: int
    label: str
    rule: str
    coef: np.ndarray | None = None  # (T, C) for tc; (T,) for route baseline share / source fraction
    lo: np.ndarray | None = None  # route share bounds (T,)
    hi: np.ndarray | None = None
    capacity: np.ndarray | None = None  # route: max total flow per year (inf = none)
    energy: np.ndarray | None = None  # per unit of total flow (T,)
    co2: np.ndarray | None = None
    cost: np.ndarray | None = None
    where: str = ""


@dataclass(frozen=True)
class BlendOutput:
    """One output of a blend: its edge, demand and composition window (it carries what its inputs bring)."""

    name: str
    edge: int
    demand: np.ndarray | None  # (T,) total; None = no demand (takes what is allocated)
    window_lo: np.ndarray  # (T, C) min mass fraction per channel (0 if none)
    window_hi: np.ndarray  # (T, C) max mass fraction per channel (1 if none)


@dataclass(frozen=True)
class Blend:
    """A blend node's inputs, outputs and baseline allocation. ``outputs`` is kept as a tuple;
    ``inputs`` stays a list, as the engines index arrays with it (a tuple would index dimensions)."""

    node: int
    inputs: list[int]  # incoming edge ids
    outputs: tuple[BlendOutput, ...]
    surplus_edge: int | None
    #: (n_in, n_out, T) baseline: a non-free input's share of its mass offered to output j; a free
    #: input's share of output j's shortfall to its demand that it makes up (simulation)
    allocation: np.ndarray

    def __post_init__(self):
        _as_tuples(self, "outputs")


def _as_tuples(record, *names: str) -> None:
    """Store the sequences ``names`` of a frozen record as tuples (the record owns them)."""
    for name in names:
        value = getattr(record, name)
        if not isinstance(value, tuple):
            object.__setattr__(record, name, tuple(value))


class Axes:
    """The model's axes derived from ``years`` and ``elements`` (shared by the System and the loader's
    state): T years, C channels (the tracked elements and ``other``)."""

    @property
    def channels(self) -> list[str]:
        return [*self.elements, OTHER]

    @property
    def T(self) -> int:
        return len(self.years)

    @property
    def C(self) -> int:
        return len(self.elements) + 1


@dataclass(frozen=True)
class System(Axes):
    """An expanded, validated material system. Frozen: the loader hands it down complete and
    nothing below it changes a field (assignment raises :class:`dataclasses.FrozenInstanceError`);
    a variant is a new System, ``dataclasses.replace(system, nodes=...)``, with its own caches."""

    name: str
    description: str
    unit: str
    years: np.ndarray  # (T,) int
    elements: list[str]  # tracked elements
    nodes: tuple[Node, ...]  # lists given are kept as tuples (nodes, edges, blends)
    edges: tuple[Edge, ...]
    blends: tuple[Blend, ...]
    timing: str = "end"
    dimensions: dict[str, list] = field(default_factory=dict)
    scenario: str | None = None
    path: str | None = None
    content_hash: str | None = None
    boundary: str = "domestic"  # boundary view the System was built for (see EXPORTED)
    sources: dict[str, str] = field(default_factory=dict)  # source id -> citation
    node_sources: dict[str, list[str]] = field(default_factory=dict)  # family -> source ids
    constraints: list[dict] = field(default_factory=list)  # user constraints (optimiser)
    levers: dict[str, dict] = field(default_factory=dict)
    ranges: dict[str, dict] = field(default_factory=dict)  # estimates: {keys, kind (value|factor), low, high}
    raw: dict[str, Any] = field(default_factory=dict)  # the (scenario-applied) instance document
    notes: list[str] = field(default_factory=list)  # load-time warnings (e.g. magnitude range), listed by check
    comp_known: np.ndarray | None = None  # (n_edges,) bool: composition independent of decisions
    edge_comp: np.ndarray | None = None  # (n_edges, T, C) composition where known
    # derived views (not part of the definition), by key: see :meth:`cached`
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        _as_tuples(self, "nodes", "edges", "blends")

    # ---- derived views (T, C, channels: from Axes) -----------------------------------

    def node_id(self, name: str) -> int:
        for i, n in enumerate(self.nodes):
            if n.name == name:
                return i
        raise KeyError(name)

    def in_edges(self, node: int) -> list[int]:
        return self._incidence()[0][node]

    def out_edges(self, node: int) -> list[int]:
        return self._incidence()[1][node]

    def followed_edges(self, node: int) -> list[int]:
        """The edges whose total a source that ``follows`` this node multiplies by its ratio:
        the node's inflows, or, for a source (e.g. a free one), what it supplies."""
        return self.out_edges(node) if self.nodes[node].kind == "source" else self.in_edges(node)

    def cached(self, key: str, build: Callable[[], _V]) -> _V:
        """The derived view ``key`` of this System (``build()`` the first time). The views are
        this System's own: ``dataclasses.replace`` gives a System with an empty cache."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = build()
            return value

    def _incidence(self) -> tuple[list[list[int]], list[list[int]]]:
        inc = self._cache.get("incidence")  # the engines ask often: no call on the hit
        return inc if inc is not None else self.cached("incidence", self._build_incidence)

    def _build_incidence(self) -> tuple[list[list[int]], list[list[int]]]:
        ins: list[list[int]] = [[] for _ in self.nodes]
        outs: list[list[int]] = [[] for _ in self.nodes]
        for e in self.edges:
            ins[e.target].append(e.id)
            outs[e.source].append(e.id)
        return ins, outs

    def edge_name(self, e: int) -> str:
        ed = self.edges[e]
        return f"{self.nodes[ed.source].name} -> {self.nodes[ed.target].name}"
