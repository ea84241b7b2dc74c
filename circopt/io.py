"""Outputs that never destroy: validate a target up front, hold it, replace it atomically.

Every file circopt writes goes through :func:`prepare_output` (a folder of tables, or one file such
as the HTML report). The rules, checked *before* any computation:

* a folder output may be a path that does not exist yet, an empty folder, or a folder holding the
  marker file ``.circopt-output`` that circopt writes into every output folder (a small JSON:
  tool, version, command); an output of circopt 0.1, written before the marker (a ``summary.json``
  with a circopt key beside circopt's CSV/Parquet/PNG files only), is also replaced. Anything else is
  refused: the instance folder, a folder containing the
  instance or inside it, a non-empty folder without the marker, an existing file, a symbolic link,
  ``.`` (or any folder holding the working directory), an empty path, a path whose parent is a file,
  a place that cannot be written;
* a single-file output may be a new path, an empty file, or a file whose first 1 KiB holds the
  marker ``circopt-output`` (the HTML report carries it as a comment right after its doctype).
  A folder, a symbolic link or any other existing file is refused.

While a run holds a target, a lock file ``.NAME.lock`` beside it (created with ``O_EXCL``, the PID
inside) makes a second writer to the same place fail at once with a clear error; the lock of a
process that no longer exists is taken over. The output is written into a temporary folder (or file)
``.NAME.tmp-PID-XXXX`` beside the target, marked as circopt's, and renamed into place: an interrupted
run leaves the old output or the new one, never a mix. Temporary folders left by killed runs (marked,
PID dead) are removed by the next run into the same place.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

from .errors import CircoptError

MARKER = ".circopt-output"
FILE_MARKER = "circopt-output"
_FILE_MARKER_WINDOW = 1024
_LEGACY = re.compile(r"^[A-Za-z0-9_.-]+\.(csv|parquet|png)$")
#: a lock file without a readable PID (being written, or garbage) counts as held for this long
_LOCK_GRACE_SECONDS = 60.0
#: targets a command holds (see :func:`hold`), by resolved path: a writer given that path writes through them
_HELD: dict[Path, OutputTarget] = {}


class OutputError(CircoptError):
    """An output target is refused (it would destroy something circopt did not write) or cannot be
    written; raised before any computation where possible."""


def _version() -> str:
    from . import __version__

    return __version__


def marker_text(command: str | None) -> str:
    return json.dumps({"tool": "circopt", "version": _version(), "command": command or "python"},
                      sort_keys=True) + "\n"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except OSError:
        return False
    return True


def _is_marked_folder(path: Path) -> bool:
    m = path / MARKER
    try:
        doc = json.loads(m.read_text(encoding="utf-8")[:4096])
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("tool") == "circopt"


def _is_legacy_output(path: Path) -> bool:
    """An output of circopt 0.1 (written before the marker existed): only a ``summary.json`` carrying a
    circopt key and tables/figures of circopt's own kinds, no subfolder; replaced like a marked one."""
    try:
        entries = list(path.iterdir())
        doc = json.loads((path / "summary.json").read_text(encoding="utf-8")[:1_000_000])
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or not ({"circopt_version", "study", "pulse"} & set(doc)):
        return False
    return all(p.is_file() and not p.is_symlink() and (p.name == "summary.json" or _LEGACY.match(p.name))
               for p in entries)


def _is_marked_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_FILE_MARKER_WINDOW)
    except OSError:
        return False
    return len(head) == 0 or FILE_MARKER.encode() in head


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not os.path.lexists(p):
        p = p.parent
    return p


def _check_target(raw: str | os.PathLike, kind: str, instance_dir: str | os.PathLike | None) -> Path:
    """The absolute target path, or :class:`OutputError` saying why it is refused."""
    text = os.fspath(raw)
    if not str(text).strip():
        raise OutputError("--out: an empty path is refused; expected a new or circopt-made "
                          f"{'folder' if kind == 'dir' else 'file'}, e.g. results/run1")
    given = Path(text)
    if os.path.islink(given):
        raise OutputError(f"--out {text}: is a symbolic link; circopt replaces only what it wrote itself, "
                          "give the real path")
    target = Path(os.path.abspath(given))
    real = target.resolve()
    cwd = Path.cwd().resolve()
    if _within(cwd, real):
        raise OutputError(f"--out {text}: is the working directory or holds it; writing there would replace "
                          "it; expected a folder of its own, e.g. results/run1")
    if instance_dir is not None:
        inst = Path(instance_dir).resolve()
        if inst == real or _within(inst, real):
            what = "is the instance folder" if inst == real else "holds the instance folder"
            raise OutputError(f"--out {text}: {what} {instance_dir}; circopt never writes over its input; "
                              "expected a folder outside the instance")
        if _within(real, inst):
            raise OutputError(f"--out {text}: is inside the instance folder {instance_dir}; outputs would mix "
                              "with the instance's data; expected a folder outside the instance")
    anc = _existing_ancestor(real.parent)
    if not anc.is_dir():
        raise OutputError(f"--out {text}: its parent {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"--out {text}: cannot write in {anc} (permission denied)")
    if os.path.lexists(real):
        if kind == "dir":
            if not real.is_dir():
                raise OutputError(f"--out {text}: is an existing file; expected a folder (a new one, or one "
                                  "circopt wrote before)")
            if any(real.iterdir()) and not (_is_marked_folder(real) or _is_legacy_output(real)):
                raise OutputError(f"--out {text}: is a folder that is not empty and was not written by circopt "
                                  f"(no {MARKER} marker); refusing to replace it; choose a new folder")
        else:
            if real.is_dir():
                raise OutputError(f"--out {text}: is a folder; expected a file path, e.g. "
                                  f"{Path(text) / 'report.html'}")
            if not stat.S_ISREG(os.stat(real).st_mode):  # a device, a pipe...: never replaced, never read
                raise OutputError(f"--out {text}: is not a regular file; expected a new file name")
            if not _is_marked_file(real):
                raise OutputError(f"--out {text}: is an existing file that circopt did not write (no "
                                  f"'{FILE_MARKER}' marker in its first {_FILE_MARKER_WINDOW} bytes); "
                                  "refusing to overwrite it; choose a new file name")
    return real


class OutputTarget:
    """A validated output place, held (locked) from :func:`prepare_output` until :meth:`release`.

    Use as a context manager; :meth:`write_dir` / :meth:`write_file` commit atomically.
    """

    def __init__(self, path: Path, kind: str, command: str | None, given: str):
        self.path = path
        self.kind = kind
        self.command = command
        self.given = given
        self._lock: Path | None = None
        self._made: list[Path] = []  # parent folders this target created
        self.committed = False

    def __repr__(self) -> str:
        return f"OutputTarget({str(self.path)!r}, kind={self.kind!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ---- holding ---------------------------------------------------------------------
    def _acquire(self) -> None:
        parent = self.path.parent
        missing = []
        p = parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o777)
            except FileExistsError:
                continue
            except OSError as e:
                self._undo_parents()
                raise OutputError(f"--out {self.given}: cannot create folder {d} ({e.strerror})") from None
            self._made.append(d)
        lock = parent / f".{self.path.name}.lock"
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                if self._lock_is_stale(lock):
                    try:
                        os.unlink(lock)
                    except FileNotFoundError:
                        pass
                    continue
                self._undo_parents()
                raise OutputError(f"--out {self.given}: another circopt run ({self._lock_owner(lock)}) is writing "
                                  f"there; wait for it to finish or choose another folder (if no such run is "
                                  f"active, remove {lock})") from None
            except OSError as e:
                self._undo_parents()
                raise OutputError(f"--out {self.given}: cannot write in {parent} ({e.strerror})") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps({"pid": os.getpid(), "started": time.time()}) + "\n")
            self._lock = lock
            self._clean_stale()
            return
        self._undo_parents()
        raise OutputError(f"--out {self.given}: could not take the lock {lock}")

    @staticmethod
    def _lock_owner(lock: Path) -> str:
        try:
            return f"pid {int(json.loads(lock.read_text())['pid'])}"
        except (OSError, ValueError, KeyError, TypeError):
            return "unknown process"

    @staticmethod
    def _lock_is_stale(lock: Path) -> bool:
        try:
            pid = int(json.loads(lock.read_text())["pid"])
        except FileNotFoundError:
            return True
        except (OSError, ValueError, KeyError, TypeError):
            try:
                return time.time() - lock.stat().st_mtime > _LOCK_GRACE_SECONDS
            except OSError:
                return True
        return not _pid_alive(pid)

    def _clean_stale(self) -> None:
        """Remove temporary folders/files of killed runs into this same place (marked, PID dead)."""
        prefix_tmp, prefix_old = f".{self.path.name}.tmp-", f".{self.path.name}.old-"
        try:
            entries = list(self.path.parent.iterdir())
        except OSError:
            return
        for p in entries:
            name = p.name
            if not (name.startswith(prefix_tmp) or name.startswith(prefix_old)):
                continue
            rest = name[len(prefix_tmp if name.startswith(prefix_tmp) else prefix_old):]
            try:
                pid = int(rest.split("-")[0])
            except ValueError:
                continue
            if pid == os.getpid() or _pid_alive(pid):
                continue
            if p.is_dir() and not p.is_symlink() and _is_marked_folder(p):
                shutil.rmtree(p, ignore_errors=True)
            elif p.is_file() and not p.is_symlink() and _is_marked_file(p):
                try:
                    p.unlink()
                except OSError:
                    pass

    def _undo_parents(self) -> None:
        for d in reversed(self._made):
            try:
                d.rmdir()
            except OSError:
                break
        self._made = []

    def release(self) -> None:
        """Drop the lock; folders created for a target that was never written are removed again."""
        if _HELD.get(self.path) is self:
            del _HELD[self.path]
        if self._lock is not None:
            try:
                os.unlink(self._lock)
            except OSError:
                pass
            self._lock = None
        if not self.committed:
            self._undo_parents()

    def __enter__(self) -> OutputTarget:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ---- committing ------------------------------------------------------------------
    def _temp_name(self, tag: str) -> Path:
        return self.path.parent / f".{self.path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"

    def write_dir(self, fill: Callable[[Path], None]) -> Path:
        """Create a temporary folder beside the target, mark it, let ``fill(folder)`` write into it,
        and move it into place (the previous circopt output, if any, is replaced)."""
        if self.kind != "dir":
            raise OutputError(f"--out {self.given}: a file target cannot take a folder of tables")
        _check_target(self.path, "dir", None)  # still ours to replace (nothing appeared meanwhile)
        while True:
            tmp = self._temp_name("tmp")
            try:
                os.mkdir(tmp, 0o777)  # the umask applies, as to any ordinary folder
                break
            except FileExistsError:
                continue
            except OSError as e:
                raise OutputError(f"--out {self.given}: cannot write in {self.path.parent} ({e.strerror})") from None
        old = None
        try:
            (tmp / MARKER).write_text(marker_text(self.command), encoding="utf-8")
            fill(tmp)
            if os.path.lexists(self.path):
                old = self._temp_name("old")
                os.replace(self.path, old)
            os.replace(tmp, self.path)
        except BaseException:
            if old is not None and not os.path.lexists(self.path):
                os.replace(old, self.path)
                old = None
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.committed = True
        return self.path

    def write_file(self, data: str | bytes) -> Path:
        """Write one file atomically (temporary file beside it, then rename). Text must carry the
        marker (see :func:`mark_html`) so that a later run may replace it."""
        if self.kind != "file":
            raise OutputError(f"--out {self.given}: a folder target cannot take a single file")
        _check_target(self.path, "file", None)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        tmp = self._temp_name("tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except OSError as e:
            raise OutputError(f"--out {self.given}: cannot write in {self.path.parent} ({e.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.committed = True
        return self.path


def prepare_output(path: str | os.PathLike, instance_dir: str | os.PathLike | None = None, kind: str = "dir",
                   command: str | None = None) -> OutputTarget:
    """Validate ``path`` as an output (see the module doc), take its lock, and return the held target.

    Nothing on disk changes when the target is refused. ``instance_dir``: the instance the output is
    made from (refused as a target, and so is any folder containing it or inside it). ``kind``:
    ``"dir"`` (a folder of tables) or ``"file"`` (one file, e.g. the HTML report).
    """
    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', not {kind!r}")
    real = _check_target(path, kind, instance_dir)
    target = OutputTarget(real, kind, command, os.fspath(path))
    target._acquire()
    return target


def hold(target: OutputTarget) -> OutputTarget:
    """Let writers that are given the target's path (``Result.to_dir(path)``, :func:`write_folder`,
    :func:`write_file`...) write through this held target until it is released, instead of taking the
    place again (the command line holds its ``--out`` from before the work starts)."""
    _HELD[target.path] = target
    return target


def held(out, kind: str) -> OutputTarget | None:
    """The target to write ``out`` through: ``out`` itself if it is one, a held target of that path, or None."""
    if isinstance(out, OutputTarget):
        return out
    if not _HELD or not str(os.fspath(out)).strip():
        return None
    t = _HELD.get(Path(os.path.abspath(os.fspath(out))).resolve())
    return t if t is not None and t.kind == kind and t._lock is not None else None


def mark_html(page: str, command: str | None = "report") -> str:
    """Insert the circopt marker as an HTML comment right after the doctype (or at the start)."""
    comment = f"<!-- {FILE_MARKER} {marker_text(command).strip()} -->"
    head = "<!DOCTYPE html>"
    if page[: len(head)].upper() == head.upper():
        return page[: len(head)] + "\n" + comment + page[len(head):]
    return comment + "\n" + page


def write_folder(out: str | os.PathLike | OutputTarget, fill: Callable[[Path], None],
                 instance_dir: str | os.PathLike | None = None, command: str | None = None) -> Path:
    """Write a folder output: ``out`` is a held :class:`OutputTarget` or a path (validated, locked,
    written and released here)."""
    target = held(out, "dir")
    if target is not None:
        return target.write_dir(fill)
    with prepare_output(out, instance_dir, "dir", command) as target:
        return target.write_dir(fill)


def write_file(out: str | os.PathLike | OutputTarget, data: str | bytes,
               instance_dir: str | os.PathLike | None = None, command: str | None = None) -> Path:
    """Write a single-file output (see :func:`write_folder`)."""
    target = held(out, "file")
    if target is not None:
        return target.write_file(data)
    with prepare_output(out, instance_dir, "file", command) as target:
        return target.write_file(data)


def os_error_message(e: OSError) -> str:
    """One line for an operating-system error (disk full, permission, read-only file system...)."""
    what = e.strerror or str(e)
    hint = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "operation not permitted"}.get(e.errno or 0)
    where = f" {e.filename}" if e.filename else ""
    return f"cannot complete the operation on{where}: {what}" + (f" ({hint})" if hint and hint not in what.lower()
                                                                 else "")
