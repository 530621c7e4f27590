"""Outputs: per-frame boxes as CSV, annotated video; both written atomically (temp file + rename)."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO, Optional, Sequence, Tuple

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, SourceError
from ..fileio import AtomicFile

CSV_HEADER = ("frame", "x", "y", "w", "h", "score", "state")
#: Video containers the mp4v writer is known to produce playable files in (checked with OpenCV's FFmpeg).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")


def check_video_path(path: os.PathLike[str] | str, flag: str = "--save") -> Path:
    """``path`` if its extension is a video container the writer supports.

    Raises:
        ConfigError: no extension, or one the writer cannot fill (``.xyz``, ``.webm``...).
    """
    target = Path(path)
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        got = f"'{target.suffix}'" if target.suffix else "no extension"
        raise ConfigError(f"{flag} {target} has {got}: give a video file ending in "
                          f"{', '.join(VIDEO_SUFFIXES[:-1])} or {VIDEO_SUFFIXES[-1]}")
    return target


class BoxWriter:
    """CSV ``frame,x,y,w,h,score,state``: 0-based top-left pixel boxes, frame 0 = the init box.

    Use as a context manager: the file appears complete on success and not at all on failure.
    """

    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = Path(path)
        self._file = AtomicFile(self.path, ".csv")
        self._fh: IO[str] = open(self._file.tmp, "w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(CSV_HEADER)

    def write(self, frame: int, bbox_xywh: Sequence[float], score: float, state: str) -> None:
        self._csv.writerow([frame, *(f"{v:.3f}" for v in bbox_xywh), f"{score:.5f}", state])

    def flush(self) -> None:
        self._fh.flush()

    def close(self, ok: bool = True) -> None:
        if self._fh.closed:
            return
        self._fh.close()
        if ok:
            self._file.commit()
        else:
            self._file.abort()

    def __enter__(self) -> "BoxWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(ok=exc_type is None)


class VideoWriter:
    """MP4 (mp4v) writer that opens on the first frame; same atomic semantics as :class:`BoxWriter`.

    Raises:
        ConfigError: ``path`` does not end in a supported container (:data:`VIDEO_SUFFIXES`).
        SourceError: the file cannot be created.
    """

    def __init__(self, path: os.PathLike[str] | str, fps: float = 30.0) -> None:
        self.path = check_video_path(path)
        self._file = AtomicFile(self.path, self.path.suffix)
        self.fps = fps
        self._writer: Optional[cv2.VideoWriter] = None
        self._closed = False

    def write(self, frame: NDArray[np.uint8]) -> None:
        if self._writer is None:
            # the cv2 stubs omit the module-level alias VideoWriter_fourcc, present at runtime
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
            self._writer = cv2.VideoWriter(str(self._file.tmp), fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self._writer.isOpened():
                raise SourceError(f"cannot write video {self._file.path}: use an .mp4 or .avi path")
        self._writer.write(frame)

    def close(self, ok: bool = True) -> None:
        """Finalise (``ok`` and at least one frame written: rename onto the path) or remove; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if ok and self._file.tmp.is_file() and self._file.tmp.stat().st_size > 0:
            self._file.commit()
        else:
            self._file.abort()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(ok=exc_type is None)


STATE_COLOURS = {"tracking": (0, 255, 0), "lost": (0, 0, 255), "init": (255, 200, 0)}


def draw_result(
    frame: NDArray[np.uint8], bbox_xywh: Sequence[float], score: float, state: str, text: str = ""
) -> NDArray[np.uint8]:
    """A copy of ``frame`` with the box, score and state drawn."""
    out = frame.copy()
    x, y, w, h = (int(round(v)) for v in bbox_xywh)
    colour: Tuple[int, int, int] = STATE_COLOURS.get(state, (0, 255, 255))
    cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
    label = f"{state} {score:.2f} {text}".strip()
    cv2.putText(out, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
    return out
