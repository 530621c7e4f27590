"""Files that appear whole or not at all, and file hashes: the one place the package writes outputs.

Every output (CSV, video, JSON lines, reports, engines, manifests, checkpoints) goes to a hidden temp
file in the target's folder and is renamed onto the target with ``os.replace`` (atomic on POSIX and
Windows when both are on one file system), so a reader never sees a half-written file and a failed
or interrupted run leaves nothing behind. The final file gets the usual permissions (0666 minus the
umask), not ``mkstemp``'s 0600. OS failures (missing folder, no permission, target is a folder)
become one-line :class:`~dasiamrt.errors.SourceError` messages.

Standard library only: the runtime imports this module.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from .errors import SourceError

PathLike = Union[str, "os.PathLike[str]"]


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
        fd, tmp = _checked(lambda: tempfile.mkstemp(dir=str(parent), prefix=f".{self.path.name}.", suffix=suffix),
                           self.path)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> None:
        """Give the temp file the usual permissions and rename it onto :attr:`path`."""
        try:
            os.chmod(self.tmp, 0o666 & ~_umask())
            os.replace(self.tmp, self.path)
        except OSError as err:
            self.abort()
            raise SourceError(f"cannot write {self.path}: {err.strerror or err}") from None

    def abort(self) -> None:
        """Remove the temp file (the target is left as it was)."""
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


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
