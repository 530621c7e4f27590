"""Frame sources: one iterable of ``(index, frame)`` pairs whatever the origin.

``open_source(spec)`` accepts:
    * a video file path (anything OpenCV decodes),
    * a folder of images (``.jpg .jpeg .png .bmp .tif .tiff .webp``, sorted by name, natural order;
      a truncated JPEG or PNG is refused before anything is tracked, instead of decoding half a
      picture and leaking libjpeg's "Premature end of JPEG file" to stderr),
    * a camera index (``"0"``, ``0``),
    * any OpenCV capture string: a GStreamer pipeline (contains ``!``) or a URL (``rtsp://``,
      ``http://``...; opened with 5 s open/read timeouts, as ``dasiamrt live`` does).
Frames are HxWx3 uint8 BGR.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
Frame = NDArray[np.uint8]


def _natural_key(name: str) -> List[Union[int, str]]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class FrameSource:
    """Base class: iterate ``(index, frame)``; ``fps`` and ``size`` when known; ``close()``."""

    description = "frames"

    @property
    def fps(self) -> Optional[float]:
        return None

    def read(self) -> Optional[Frame]:
        """Next frame or None at the end."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Tuple[int, Frame]]:
        index = 0
        while True:
            frame = self.read()
            if frame is None:
                return
            yield index, frame
            index += 1

    @property
    def announced_frames(self) -> Optional[int]:
        """The frame count a video FILE announces in its header (None: not a file, or unknown)."""
        return None

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CaptureSource(FrameSource):
    """A ``cv2.VideoCapture`` on a file, camera index, pipeline or URL."""

    def __init__(self, target: Union[int, str], description: str, is_file: bool = False) -> None:
        self._is_file = is_file
        backend = cv2.CAP_GSTREAMER if isinstance(target, str) and "!" in target else cv2.CAP_ANY
        self._open(cv2.VideoCapture(target, backend), description,
                   "check the path/index/URL, that the file is a readable video, "
                   "and that OpenCV has the needed backend")

    def _open(self, cap: "cv2.VideoCapture", description: str, hint: str) -> Frame:
        """Keep ``cap`` (already configured by a subclass) and read its first frame for the first ``read()``.

        Raises:
            SourceError: ``cap`` did not open or gives no frame (``hint`` says what to check).
        """
        self.description = description
        self._cap = cap
        if not cap.isOpened():
            raise SourceError(f"cannot open {description}: {hint}")
        ok, frame = cast("Tuple[bool, Optional[Frame]]", cap.read())
        if not ok or frame is None:
            cap.release()
            raise SourceError(f"{description} gives no frames (empty, corrupt or not a video): {hint}")
        self._first: Optional[Frame] = _as_bgr(frame)
        return self._first

    @property
    def fps(self) -> Optional[float]:
        value = self._cap.get(cv2.CAP_PROP_FPS)
        return float(value) if value and value > 0 and np.isfinite(value) else None

    @property
    def frame_count(self) -> Optional[int]:
        value = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return int(value) if value and value > 0 and np.isfinite(value) else None

    @property
    def announced_frames(self) -> Optional[int]:
        return self.frame_count if getattr(self, "_is_file", False) else None

    def read(self) -> Optional[Frame]:
        frame: Optional[Frame]
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = cast("Tuple[bool, Optional[Frame]]", self._cap.read())
        return _as_bgr(frame) if ok and frame is not None else None

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images of a folder in natural name order (``img2.jpg`` before ``img10.jpg``)."""

    def __init__(self, folder: Path) -> None:
        self.description = f"image folder {folder}"
        self.paths = sorted(
            (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name)
        )
        if not self.paths:
            raise SourceError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for path in self.paths:
            problem = image_problem(path)
            if problem:
                raise SourceError(f"image {path} {problem}: remove or replace the file")
        self._next = 0

    @property
    def frame_count(self) -> Optional[int]:
        return len(self.paths)

    def read(self) -> Optional[Frame]:
        if self._next >= len(self.paths):
            return None
        path = self.paths[self._next]
        self._next += 1
        frame = cast("Optional[Frame]", cv2.imread(str(path), cv2.IMREAD_COLOR))
        if frame is None:
            raise SourceError(f"cannot decode image {path}: remove or replace the file")
        return frame


#: End markers: JPEG EOI, PNG IEND chunk (type + CRC).
_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


def image_problem(path: Path) -> Optional[str]:
    """Why an image file cannot be used whole, judged from its size and last bytes (no decoding), or None.

    A JPEG must contain its end-of-image marker in the last KiB (entropy-coded data cannot contain
    it; some cameras append a few bytes after it); a PNG must end with its IEND chunk. Other formats
    are left to the decoder.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "is empty (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(8)
            fh.seek(max(0, size - 1024))
            tail = fh.read()
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if head.startswith(b"\xff\xd8") and _JPEG_END not in tail:
        return "is truncated (the JPEG has no end marker)"
    if head.startswith(b"\x89PNG") and not tail.rstrip(b"\0").endswith(_PNG_END):
        return "is truncated (the PNG has no IEND chunk)"
    return None


def _as_bgr(frame: Frame) -> Frame:
    if frame.ndim == 2:
        return cast("Frame", cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    if frame.shape[2] == 4:
        return cast("Frame", cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR))
    return frame


def open_source(source: Union[str, int, os.PathLike[str]]) -> FrameSource:
    """Open a frame source (see module docstring).

    Raises:
        SourceError: missing path, unreadable/corrupt video, empty folder, camera that cannot open.
    """
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return CaptureSource(int(source), f"camera {int(source)}")
    text = os.fspath(source)
    if "!" in text:
        return CaptureSource(text, f"pipeline {text}")
    if "://" in text:
        from .camera import StreamSource  # camera.py imports this module

        return StreamSource(text)  # bounded open/read timeouts: a dead stream fails in seconds, not ~30 s
    path = Path(text)
    if path.is_dir():
        return ImageFolderSource(path)
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    return CaptureSource(str(path), f"video {path}", is_file=True)
