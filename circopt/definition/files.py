"""Files of an instance: every read stays inside the instance folder, YAML is bounded.

Every file an instance names (``file:`` tables, ``sources:``, scenario ``extends:``) is a
path *relative to the instance folder* that must resolve, symlinks followed, to a regular
file inside that folder. Anything else is refused with an :class:`InstanceError` naming the
key, quoting at most :data:`EXCERPT` characters of the offending value and never a file's
contents. :class:`InstanceFiles` records every file read, so the instance hash covers them all.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import InstanceError, excerpt

#: largest YAML file accepted (bytes); an instance.yaml of the flagships is ~40 kB
MAX_YAML_BYTES = 2_000_000
#: largest number of YAML nodes after alias expansion (a "billion laughs" document is refused)
MAX_YAML_NODES = 1_000_000
#: largest CSV table accepted (bytes)
MAX_CSV_BYTES = 200_000_000

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")


def canonical_key(key: Any) -> Any:
    """The canonical form of a mapping key: whole numbers (``1``, ``'1'``, ``1.0``) are ints,
    anything else is left as it is. Two keys with the same canonical form are duplicates."""
    if isinstance(key, bool):
        return key
    if isinstance(key, int):
        return key
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, str) and _INT_KEY.match(key):
        return int(key)
    return key


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicated keys (whatever their spelling: ``1`` and ``'1'``
    are the same key), stores whole-number keys as ints, and bounds alias expansion."""

    def compose_document(self):
        node = super().compose_document()
        _bounded_size(node, self.name)
        return node

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        out: dict = {}
        lines: dict = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark) from None
            ck = canonical_key(key)
            if ck in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {excerpt(key)} (first at line {lines[ck] + 1}; keys are compared "
                    "as written and as numbers: 1 and '1' are the same key)", key_node.start_mark)
            lines[ck] = key_node.start_mark.line
            out[ck] = self.construct_object(value_node, deep=deep)
        return out


# YAML 1.2 floats that YAML 1.1 reads as text: an exponent without a sign or without a dot
# (``1e5``, ``1.7e308``); read as numbers so that they are checked as numbers
_BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def _bounded_size(root, name) -> None:
    """Refuse a document whose alias-expanded tree exceeds :data:`MAX_YAML_NODES` nodes
    (computed on the node graph, each distinct node once, so a bomb is refused in microseconds)."""
    if root is None:
        return
    size: dict[int, int] = {}
    busy: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if nid in size:
            continue
        kids = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [x for pair in node.value for x in pair]
        if done or not kids:
            busy.discard(nid)
            size[nid] = 1 + sum(size.get(id(k), 0) for k in kids)
            if size[nid] > MAX_YAML_NODES:
                raise InstanceError(str(name), f"the YAML document expands to more than {MAX_YAML_NODES:,} values "
                                    "(aliases repeated inside aliases)", expected="a plain document (few aliases)")
            continue
        if nid in busy:  # reached again while its own children are pending: a recursive alias
            raise InstanceError(str(name), "the YAML document refers to itself (recursive alias)")
        busy.add(nid)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _yaml_error(path: str, exc: yaml.YAMLError) -> InstanceError:
    mark = getattr(exc, "problem_mark", None)
    loc = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InstanceError(f"{path}{loc}", f"malformed YAML: {problem}")


def parse_yaml(text: str, label: str) -> Any:
    """Parse YAML text with the bounded, duplicate-refusing loader."""
    if len(text) > MAX_YAML_BYTES:
        raise InstanceError(label, f"YAML file larger than {MAX_YAML_BYTES:,} bytes", len(text))
    loader = _BoundedLoader(text)
    loader.name = label
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise _yaml_error(label, exc) from None
    except RecursionError:
        raise InstanceError(label, "the YAML document is nested too deeply") from None
    finally:
        loader.dispose()


def confined(folder: Path, rel: Any, where: str) -> Path:
    """The file ``rel`` names, resolved (symlinks followed) and checked to lie inside ``folder``."""
    expected = "a relative path to a file inside the instance folder (no '..' out of it, no absolute path)"
    if not isinstance(rel, str) or not rel.strip():
        raise InstanceError(where, "expected a file path", excerpt(rel), expected=expected)
    if "\x00" in rel or os.path.isabs(rel) or re.match(r"^[A-Za-z]:", rel) or rel.startswith("~"):
        raise InstanceError(where, "the path is not relative to the instance folder", excerpt(rel),
                            expected=expected)
    base = folder.resolve()
    try:
        p = (base / rel).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise InstanceError(where, "the path cannot be resolved", excerpt(rel), expected=expected) from None
    if p != base and base not in p.parents:
        raise InstanceError(where, "the path leads outside the instance folder", excerpt(rel), expected=expected)
    return p


class InstanceFiles:
    """The files of one instance folder: confined reads, each recorded for the content hash."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.read: set[Path] = set()

    def path(self, rel: Any, where: str, what: str = "file") -> Path:
        """A confined path to an existing regular file (``what`` names it in the messages)."""
        p = confined(self.folder, rel, where)
        try:
            st = p.stat()
        except OSError:
            raise InstanceError(where, f"{what} not found", excerpt(rel)) from None
        if not stat.S_ISREG(st.st_mode):
            raise InstanceError(where, f"{what} is not a regular file", excerpt(rel))
        return p

    def read_bytes(self, rel: Any, where: str, what: str = "file", limit: int = MAX_CSV_BYTES) -> bytes:
        p = self.path(rel, where, what)
        if p.stat().st_size > limit:
            raise InstanceError(where, f"{what} larger than {limit:,} bytes", excerpt(rel))
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InstanceError(where, f"{what} cannot be read ({exc.strerror})", excerpt(rel)) from None
        self.read.add(p)
        return data

    def read_yaml(self, rel: Any, where: str, what: str = "YAML file") -> Any:
        data = self.read_bytes(rel, where, what, limit=MAX_YAML_BYTES)
        label = str(self.folder / rel)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InstanceError(label, "not UTF-8 text") from None
        return parse_yaml(text, label)

    def content_hash(self) -> str:
        """SHA-256 (16 hex digits) of every .yaml/.yml/.csv file under the folder and every file read."""
        base = self.folder.resolve()
        files = {p.resolve() for p in base.rglob("*")
                 if p.suffix in (".yaml", ".yml", ".csv") and "__pycache__" not in p.parts and p.is_file()}
        files = {p for p in files if base in p.parents} | self.read  # never a file outside the folder
        h = hashlib.sha256()
        for p in sorted(files, key=lambda q: _rel(q, base)):
            h.update(str(_rel(p, base)).encode())
            h.update(p.read_bytes())
        return h.hexdigest()[:16]


def _rel(p: Path, base: Path) -> Path:
    try:
        return p.relative_to(base)
    except ValueError:
        return p


def read_table(data: bytes, label: str, **kw) -> pd.DataFrame:
    """A CSV table from bytes already read; a parse error names the file, never its contents."""
    try:
        return pd.read_csv(io.BytesIO(data), **kw)
    except Exception as exc:  # pandas raises many types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InstanceError(label, f"cannot be read as CSV: {first[:120]}") from None
