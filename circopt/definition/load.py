"""The loader: instance files -> one validated, complete :class:`~circopt.system.System`.

:func:`load` reads an instance folder once (scenario applied, every file confined to the
folder) and hands a System down; nothing below it reads files or re-checks the document.
Every problem is reported with the file, the key path, the value and what was expected,
and *all* problems of a stage are collected so that ``circopt check`` lists them at once.

Stages: the header (:mod:`.schema`), dimensions and node families (:mod:`.expand`), the
sources table and named compositions (:mod:`.compositions`, :mod:`.recipes`), each node by kind
(:mod:`.nodes`, numbers via :mod:`.params`), ranges of estimates (:mod:`circopt.ranges`), derived
data (:mod:`.derive`), the structure and linearity facts (:mod:`circopt.network`) and the
study settings (:mod:`.checks`: user constraints, levers, trace, indicators).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .. import network
from ..errors import CircoptWarning, InstanceError, InstanceErrors
from ..ranges import parse_ranges
from ..system import BOUNDARIES, System
from . import checks, compositions, derive, expand, recipes, schema
from .files import InstanceFiles
from .nodes import build_node
from .params import Params
from .scenarios import load_document
from .state import Loading


def load(path: str | Path, scenario: str | None = None, boundary: str | None = None) -> System:
    """Load and validate an instance folder (optionally with a named scenario applied).

    ``boundary`` is the view of material that leaves the region (``export`` nodes):
    ``domestic`` (default: exported = lost to the region) or ``global`` (an export node with
    ``abroad`` passes its material on to that declared end of life abroad).
    Raises :class:`InstanceErrors` listing every problem found.
    """
    folder = Path(path)
    files = InstanceFiles(folder.parent if folder.is_file() else folder)
    doc, folder, _ = load_document(path, scenario, files)
    system = _build(doc, folder, str(folder / "instance.yaml"), boundary, files, scenario, from_folder=True)
    _warn_notes(system)
    return system


def build(doc: dict, folder: str | Path = ".", file_label: str = "instance.yaml",
          boundary: str | None = None, files: InstanceFiles | None = None, scenario: str | None = None) -> System:
    """Build a System from an instance document (a dict as read from YAML). Files it names are
    read inside ``folder`` only. A note on the data's magnitude range is issued as a
    :class:`~circopt.errors.CircoptWarning` and kept in ``System.notes``."""
    system = _build(doc, Path(folder), file_label, boundary, files, scenario)
    _warn_notes(system)
    return system


def _build(doc: dict, folder: Path, file_label: str, boundary: str | None, files: InstanceFiles | None,
           scenario: str | None, from_folder: bool = False) -> System:
    boundary = boundary or "domestic"
    if boundary not in BOUNDARIES:
        raise InstanceError("boundary", "unknown boundary view", boundary, expected=f"one of {list(BOUNDARIES)}")
    b = Loading(doc=doc, folder=folder, yml=file_label, boundary=boundary, files=files, scenario=scenario,
                from_folder=from_folder)
    return build_system(b)


def _warn_notes(system: System) -> None:
    for note in system.notes:
        warnings.warn(f"{system.name}: {note}", CircoptWarning, stacklevel=3)


def build_system(b: Loading) -> System:
    """Run every stage on the document of ``b``; the System, complete, or :class:`InstanceErrors`."""
    nodes_doc = _header(b)
    expand.families(b, nodes_doc)
    b.fail_if_errors()
    _nodes(b, nodes_doc)
    expand.drop_past_last_life(b)
    expand.check_pairs(b)
    d = b.doc
    ranges = SimpleNamespace(ranges={})  # ranges of estimates: circopt.ranges checks them against the document
    parse_ranges(d.get("ranges") or {}, d, b.files, ranges, b.err)
    system = System(
        name=str(d["name"]), description=str(d.get("description", "")), unit=b.ctx.unit, years=b.years,
        elements=b.elements, nodes=b.nodes, edges=b.edges, blends=b.blends, timing=b.timing,
        dimensions=b.dims, sources=b.sources, node_sources=b.node_sources,
        constraints=list(d.get("constraints") or []), levers=dict(d.get("levers") or {}),
        ranges=ranges.ranges, raw=d, boundary=b.boundary,
        # a loaded folder: its scenario, path and the hash of every file read (tables included)
        scenario=b.scenario if b.from_folder else None, path=str(b.folder) if b.from_folder else None,
        content_hash=b.files.content_hash() if b.from_folder else None,
    )
    system = _derive(b, system)
    if not b.errors:  # settings are read against a valid network
        b.errors.extend(checks.study_settings(system, b.yml, b.folder, b.scenario))
    note = None if b.errors else checks.magnitude_note(system)
    if note:
        system = dataclasses.replace(system, notes=[*system.notes, note])
    if not b.errors and "indicators" in d:
        from ..indicators import validate

        b.errors.extend(validate(system, b.yml))
    b.fail_if_errors()
    _read_only(system)
    return system


def _read_only(system: System) -> None:
    """The arrays of a loaded System and its records cannot be written in place: what the engines
    derive from them once per System (stock plans, flow rules, source constants) stays true. A
    variant is a new System (``dataclasses.replace`` with new arrays, or a scenario)."""
    records = [system, *system.nodes, *system.edges, *system.blends,
               *(o for bl in system.blends for o in bl.outputs)]
    for rec in records:
        for f in dataclasses.fields(rec):
            value = getattr(rec, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
                for v in value:
                    v.flags.writeable = False


def _header(b: Loading) -> dict:
    """Header, dimensions, parameters, sources and named compositions; the nodes' document."""
    d = b.doc
    unit, b.years, elements, b.timing, nodes_doc = schema.header(b, d)
    b.elements = list(elements)
    b.dims = expand.dimensions(b, d.get("dimensions") or {}, nodes_doc)
    b.ctx = Params(b.folder, b.yml, b.years, unit, b.dims, b.files)
    b.sources = compositions.sources(b, d.get("sources", "sources.csv"))
    if "streams" in d and "compositions" in d:
        b.err("streams", "give 'compositions' only ('streams' is its deprecated name)")
    elif "streams" in d:
        b.deprecated("streams")
    label = "streams" if "streams" in d and "compositions" not in d else "compositions"
    b.streams = compositions.streams(b, d.get(label) or {}, label)
    recipes.mixes(b, d.get(label) or {}, label)  # compositions mixed from the tables just read
    b.fail_if_errors()
    return nodes_doc


def _nodes(b: Loading, nodes_doc: dict) -> None:
    """Build every member of every family (the first problem of a family is reported)."""
    for fam, spec in nodes_doc.items():
        for nid in b.family_nodes.get(fam, []):
            try:
                build_node(b, nid, spec)
            except InstanceError as e:
                b.errors.append(e)
                break
            except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
                # a value of the wrong shape that no specific check caught: still name the node
                b.err(f"nodes.{fam}", f"malformed value ({type(e).__name__}: {e})",
                      expected="the form documented in docs/instance-format.md")
                break
    b.fail_if_errors()


def _derive(b: Loading, system: System) -> System:
    """Derived data (blend allocations, driven sources, known compositions) stored on the
    System before it is handed down (a new System), and the structural facts checked against it."""
    blends, errors = derive.blend_allocations(system, b.alloc_specs)
    nodes, driven_errors = derive.driven_sources(system)
    system = dataclasses.replace(system, nodes=nodes, blends=blends)
    errors += driven_errors + network.check_structure(system)
    b.errors.extend(errors)
    if errors:  # compositions are propagated over a sound network only
        return system
    try:
        comp_known, edge_comp = network.propagate_compositions(system)
    except InstanceErrors as e:
        b.errors.extend(e.errors)
        return system
    b.errors.extend(network.check_linearity(system, comp_known))
    return dataclasses.replace(system, comp_known=comp_known, edge_comp=edge_comp)
