"""Files that appear whole or not at all, and file hashes: the one place the package writes outputs.

Every output (CSV, video, reports, engines, manifests, checkpoints) goes to a hidden temp file in the
target's folder and is renamed onto the target with ``os.replace`` (atomic on POSIX and Windows when
both are on one file system), so a reader never sees a half-written file and a failed or interrupted
run leaves nothing behind. The final file gets the usual permissions (0666 minus the umask), not
``mkstemp``'s 0600. OS failures (missing folder, no permission, target is a folder) become one-line
:class:`~dasiamrt.errors.SourceError` messages.

Temp files are named ``.<target name>.dasiamrt-<pid>-<random><suffix>`` and locked (``flock``) by
the process writing them, so a run that was killed outright (``kill -9``, power loss) leaves a file
that the next write of the same target recognises as stale and removes, while a target that another
live run is writing is refused instead of silently raced.

Paths built from data (sequence names of a dataset file, graph files named in ``model.json``) go
through :func:`safe_name` / :func:`confine`, so such content can never reach outside its folder.

Standard library only: the runtime imports this module.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Dict, List, Optional, Tuple, Type, Union

from .errors import ConfigError, DasiamrtError, SourceError

try:  # POSIX: temp files are locked by their writer (absent on Windows: stale files are then kept)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PathLike = Union[str, "os.PathLike[str]"]
log = logging.getLogger(__name__)

#: Marks dasiamrt's temp files: ``.<target name>.dasiamrt-<pid>-<random><suffix>``.
TEMP_TAG = ".dasiamrt-"
_TEMP_PID = re.compile(r"dasiamrt-(\d+)-")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A temp file beside ``path``, renamed onto it by :meth:`commit`; :meth:`abort` removes it.

    Write to :attr:`tmp` (by name: OpenCV, torch and friends open it themselves). As a context
    manager it commits on success and aborts on an exception.

    Args:
        path: the final file.
        suffix: ending of the temp name (some writers pick the format by it, e.g. ``.mp4``).
        make_parents: create missing parent folders; otherwise a missing folder is an error.

    Raises:
        SourceError: the folder does not exist (and ``make_parents`` is off), ``path`` is a folder,
            or the temp file cannot be created (permissions, read-only file system...).
    """

    def __init__(self, path: PathLike, suffix: str = ".tmp", make_parents: bool = False) -> None:
        self.path = Path(path)
        parent = self.path.parent
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a folder: give a file path to write")
        if make_parents:
            _checked(lambda: parent.mkdir(parents=True, exist_ok=True), self.path)
        elif not parent.is_dir():
            raise SourceError(f"output folder {parent} does not exist: create it first")
        remove_stale_temps(self.path)
        prefix = f".{self.path.name}{TEMP_TAG}{os.getpid()}-"
        fd, tmp = _checked(lambda: tempfile.mkstemp(dir=str(parent), prefix=prefix, suffix=suffix), self.path)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
        self._lock_fd: Optional[int] = fd  # held until commit/abort: marks the temp file as live
        self.tmp = Path(tmp)

    def commit(self) -> None:
        """Give the temp file the usual permissions and rename it onto :attr:`path`."""
        try:
            os.chmod(self.tmp, 0o666 & ~_umask())
            os.replace(self.tmp, self.path)
        except OSError as err:
            self.abort()
            raise SourceError(f"cannot write {self.path}: {err.strerror or err}") from None
        self._release()

    def abort(self) -> None:
        """Remove the temp file (the target is left as it was)."""
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self) -> None:
        if getattr(self, "_lock_fd", None) is not None:
            self._release()

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _temp_is_live(path: Path) -> Optional[bool]:
    """Whether a temp file's writer still runs (it holds the lock); None when the file is gone."""
    if fcntl is None:  # pragma: no cover - Windows: cannot tell, so never remove
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:  # BlockingIOError: another open file holds the lock
        return True
    finally:
        os.close(fd)


def remove_stale_temps(path: PathLike) -> List[Path]:
    """Remove the temp files of ``path`` left by killed runs; refuse when a live run is writing ``path``.

    Returns:
        The stale temp files removed (each is also logged).

    Raises:
        SourceError: another running process is writing ``path`` right now.
    """
    target = Path(path)
    start = f".{target.name}{TEMP_TAG}"
    try:
        names = [e.name for e in os.scandir(target.parent) if e.name.startswith(start)]
    except OSError:  # missing or unreadable folder: reported by whoever creates the file
        return []
    removed = []
    for name in sorted(names):
        candidate = target.parent / name
        live = _temp_is_live(candidate)
        if live:
            pid = _TEMP_PID.search(name)
            raise SourceError(f"{target} is being written by another running dasiamrt "
                              f"(pid {pid.group(1) if pid else '?'}): wait for it or choose another path")
        if live is False:
            try:
                candidate.unlink()
            except FileNotFoundError:
                continue
            log.warning("removed %s, left behind by an interrupted run", candidate)
            removed.append(candidate)
    return removed


def safe_name(name: Any, what: str, error: Type[DasiamrtError] = SourceError) -> str:
    """``name`` if it can be one path component (a sequence name, a run label), else ``error``.

    Refused: non-strings, empty names, ``.`` and ``..``, names with ``/`` or ``\\`` or NUL (which
    would make a path leave its folder or point at another one).
    """
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise error(f"{what} {name!r} cannot be a file name: use a name without '/', '\\' or '..'")
    return name


def confine(root: PathLike, relative: Any, what: str, error: Type[DasiamrtError] = SourceError) -> Path:
    """``root / relative`` for a relative path taken from data, which must stay inside ``root``.

    Refused (``error``): non-strings, empty or absolute paths (POSIX or Windows form, drive letters
    included) and any ``..`` part. The check is on the text: symbolic links inside ``root`` are the
    owner's business and are followed as usual.
    """
    text = relative if isinstance(relative, str) else None
    if not text or "\0" in text:
        raise error(f"{what} {relative!r} is not a relative file path")
    for pure in (PurePosixPath(text), PureWindowsPath(text)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            raise error(f"{what} {text!r} points outside {root}: it must be a path inside that folder")
    return Path(root) / text


def check_distinct(inputs: Dict[str, Optional[PathLike]], outputs: Dict[str, Optional[PathLike]]) -> None:
    """Refuse an output that is one of the inputs, or that another output of the same run also names.

    Args:
        inputs: flag (e.g. ``"SOURCE"``) -> path read by the run (None: not given).
        outputs: flag (e.g. ``"--out"``) -> path written by the run (None: not given).

    Raises:
        ConfigError: two such paths are the same file (also through links or ``./`` spellings).
    """
    seen: List[Tuple[str, str, Any, PathLike]] = []
    for kind, table in (("input", inputs), ("output", outputs)):
        for flag, value in table.items():
            if value is None or str(value) in ("", "-"):
                continue
            key = _file_key(Path(value))
            for other_kind, other_flag, other_key, other_value in seen:
                if key != other_key or kind == other_kind == "input":
                    continue
                if other_kind == "input":
                    raise ConfigError(f"{flag} {value} is the {other_flag} {other_value}: writing it would destroy "
                                      f"the input; choose another {flag} path")
                raise ConfigError(f"{other_flag} and {flag} both name {value}: give each output its own path")
            seen.append((kind, flag, key, value))


def _file_key(path: Path) -> Any:
    """What identifies a file: (device, inode) when it exists, else its resolved path."""
    try:
        st = path.stat()
        return (st.st_dev, st.st_ino)
    except OSError:
        return os.path.realpath(path)


def _checked(action: Any, path: Path) -> Any:
    try:
        return action()
    except OSError as err:
        raise SourceError(f"cannot write {path}: {err.strerror or err}") from None


def atomic_write_bytes(path: PathLike, data: bytes, make_parents: bool = True) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    Args:
        path: the file.
        data: its new content.
        make_parents: create missing parent folders (default).

    Returns:
        The path written.

    Raises:
        SourceError: the file cannot be written (see :class:`AtomicFile`).
    """
    with AtomicFile(path, ".tmp", make_parents=make_parents) as out:
        _checked(lambda: out.tmp.write_bytes(data), out.path)
    return out.path


def atomic_write_text(path: PathLike, text: str, make_parents: bool = True) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), make_parents)


def atomic_write_json(path: PathLike, data: Any, indent: Optional[int] = 2, sort_keys: bool = False,
                      make_parents: bool = True) -> Path:
    """``data`` as JSON (plus a final newline), written with :func:`atomic_write_bytes`."""
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n", make_parents)


def sha256_file(path: PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: the installed package folder (the bundled model lives inside it; nothing is written there).
PACKAGE_DIR = Path(__file__).resolve().parent


def inside_package(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies in the installed dasiamrt package (where the bundled model lives)."""
    resolved = Path(path).resolve()
    return resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents
