"""A TraX server: dasiamrt as a tracker of the VOT toolkit (``vot test``, ``vot evaluate``).

The toolkit starts the command of a ``trackers.ini`` entry (``protocol = trax``) and speaks the TraX
protocol with it over the process's stdin/stdout (or a socket when it sets ``TRAX_SOCKET``). The
server accepts rectangles and polygons and image paths of the ``color`` channel:

* ``initialize``: a rectangle (x, y, w, h: 0-based pixels, top-left) is used as it is; a polygon
  becomes the area-preserving axis-aligned box of the official DaSiamRPN / pysot VOT code
  (:func:`dasiamrt.eval.boxes.polygon_to_xywh`, the "+1" included), the box ``dasiamrt eval`` uses on
  VOT data, so both runs start from the same box.
* ``frame``: the tracked box goes back as a rectangle with the property ``confidence`` (the score).
* ``quit``: the server ends the session and returns; the process exits with status 0.

Nothing but TraX messages may reach the client's channel: while serving, libtrax keeps private
copies of the process's stdin/stdout file descriptors (``TRAX_IN``/``TRAX_OUT``, which it reads),
stdin reads nothing, and whatever else writes to stdout or stderr (a ``print``, a log line, a native
library) is held and passed on to stderr as whole lines between messages (:class:`StrayOutput`): the
toolkit reads stdout and stderr from one pipe and takes only lines starting ``@@TRAX:`` as messages.
A frame that cannot be read ends the session with that reason sent to the toolkit and a
:class:`~dasiamrt.errors.SourceError`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import BoxError, DasiamrtError, MissingDependencyError, SourceError

log = logging.getLogger(__name__)

#: Environment variables by which a client (or the user) chooses the channel libtrax opens.
CHANNEL_VARIABLES = ("TRAX_SOCKET", "TRAX_IN", "TRAX_OUT")


def import_trax() -> Any:
    """The ``trax`` module of ``vot-trax``, or a one-line install hint."""
    try:
        import trax
    except ImportError:
        raise MissingDependencyError("vot-trax", "the TraX server (dasiamrt trax)",
                                     "pip install 'dasiamrt[trax]'") from None
    return trax


def region_to_xywh(kind: str, values: Sequence[float]) -> Tuple[float, float, float, float]:
    """The box the tracker starts from, for a TraX region.

    Args:
        kind: ``"rectangle"`` or ``"polygon"``.
        values: x, y, w, h for a rectangle; x1, y1, x2, y2, ... for a polygon (image pixels, 0-based).

    Returns:
        (x, y, w, h) 0-based top-left box: the rectangle itself, or the VOT convention's box of a
        4-point polygon (area-preserving, centred on the mean of the points; other point counts: the
        bounding box scaled to the polygon's area, the same idea).

    Raises:
        BoxError: another region kind (a mask), or a polygon with fewer than 3 points.
    """
    from ..eval.boxes import polygon_to_xywh

    numbers = np.asarray(values, dtype=np.float64).ravel()
    if kind == "rectangle" and numbers.size == 4:
        x, y, w, h = numbers
    elif kind == "polygon" and numbers.size == 8:
        x, y, w, h = polygon_to_xywh(numbers)
    elif kind == "polygon" and numbers.size >= 6 and numbers.size % 2 == 0:
        points = numbers.reshape(-1, 2)
        low, high = points.min(axis=0), points.max(axis=0)
        px, py = points[:, 0], points[:, 1]
        area = 0.5 * abs(float(np.dot(px, np.roll(py, -1)) - np.dot(py, np.roll(px, -1))))
        scale = np.sqrt(area / max(float(np.prod(high - low)), 1e-12))
        w, h = scale * (high - low) + 1
        (x, y) = points.mean(axis=0) - (w / 2, h / 2)
    else:
        raise BoxError(f"the TraX client sent a {kind} region with {numbers.size} numbers: dasiamrt tracks "
                       "rectangles and polygons (declare 'rectangle' or 'polygon' regions in the toolkit)")
    return (float(x), float(y), float(w), float(h))


class StrayOutput:
    """Holds what the process writes to fd 1 and fd 2 while serving, and passes it on between messages.

    libtrax writes a message in many small writes, and its parser takes only lines that start with
    ``@@TRAX:``; the VOT toolkit reads the tracker's stdout and stderr from one pipe. So output from
    anything else (a ``print``, a log line, a native library) is caught in an unlinked temporary file
    and copied to the real stderr as whole lines just before each reply, never inside a message.
    """

    def __init__(self, stderr_fd: int) -> None:
        import fcntl
        import tempfile

        self.fd, path = tempfile.mkstemp(prefix="dasiamrt-trax-")
        os.unlink(path)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, os.O_APPEND)  # writers append whatever the offset
        self.stderr_fd, self.position = stderr_fd, 0

    def flush(self) -> None:
        """Copy what arrived since the last call to stderr, as complete lines."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        size = os.fstat(self.fd).st_size
        if size <= self.position:
            return
        data = os.pread(self.fd, size - self.position, self.position)
        self.position += len(data)
        lines = [b" " + line if line.startswith(b"@@TRAX:") else line for line in data.splitlines()]
        os.write(self.stderr_fd, b"\n".join(lines) + b"\n")


class _Passthrough:
    def flush(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()


@contextlib.contextmanager
def protocol_channel() -> Iterator[Any]:
    """Keep the TraX channel for TraX messages while serving; yields an object whose ``flush()`` passes on
    stray output (call it before each reply).

    libtrax gets private copies of stdin/stdout (``TRAX_IN``/``TRAX_OUT``, which it reads), stdin reads
    nothing, and fd 1 and fd 2 go to a :class:`StrayOutput`. Does nothing but flushing when the client
    chose the channel itself (``TRAX_SOCKET``, ``TRAX_IN``, ``TRAX_OUT``) or a channel is already held.
    Restores the descriptors and the environment on exit.
    """
    if any(name in os.environ for name in CHANNEL_VARIABLES):
        yield _Passthrough()
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(0), os.dup(1), os.dup(2))
    protocol = (os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    stray = StrayOutput(saved[2])
    os.environ["TRAX_IN"], os.environ["TRAX_OUT"] = str(protocol[0]), str(protocol[1])
    try:
        os.dup2(devnull, 0)
        os.dup2(stray.fd, 1)
        os.dup2(stray.fd, 2)
        yield stray
    finally:
        stray.flush()
        for fd, target in zip(saved, (0, 1, 2)):
            os.dup2(fd, target)
        for fd in (*saved, *protocol, devnull, stray.fd):
            os.close(fd)
        for name in ("TRAX_IN", "TRAX_OUT"):
            os.environ.pop(name, None)


def _read_frame(images: Dict[str, Any]) -> np.ndarray:
    import cv2

    image = images.get("color") if images else None
    if image is None or not hasattr(image, "path"):
        raise SourceError("the TraX client sent no image path for the color channel: configure the tracker with "
                          "'protocol = trax' (dasiamrt reads image paths)")
    path = image.path()
    frame = cv2.imread(path, cv2.IMREAD_COLOR)
    if frame is None:
        raise SourceError(f"cannot read the frame {path}: the file is missing or not an image")
    return frame


def _region_box(region: Any) -> Tuple[float, float, float, float]:
    kind = region.type
    values: List[float] = list(region.bounds()) if kind == "rectangle" else [c for p in region for c in p]
    return region_to_xywh(kind, values)


class _Objects:
    """The trackers of a session, one per object; more are spawned as objects appear, kept across re-inits."""

    def __init__(self, first: Any, spawn: Optional[Callable[[], Any]]) -> None:
        self.trackers, self.spawn, self.active = [first], spawn, 0
        self.spawned: List[Any] = []

    def start(self, frame: np.ndarray, regions: List[Any]) -> List[Tuple[Tuple[float, ...], float]]:
        """Initialise one tracker per region (after the active ones); returns (box, score) per region."""
        out: List[Tuple[Tuple[float, ...], float]] = []
        for region, _properties in regions:
            box = _region_box(region)
            if self.active == len(self.trackers):
                if self.spawn is None:
                    raise BoxError("the TraX client asked for several objects; this server tracks one")
                self.spawned.append(self.spawn())
                self.trackers.append(self.spawned[-1])
            self.trackers[self.active].init(frame, box)
            self.active += 1
            out.append((box, 1.0))
        return out

    def track(self, frame: np.ndarray) -> List[Tuple[Tuple[float, ...], float]]:
        results = [t.track(frame) for t in self.trackers[:self.active]]
        return [(tuple(float(v) for v in r.bbox_xywh), float(r.score)) for r in results]


def _session(server: Any, objects: _Objects, trax: Any, stray: Any) -> int:
    """Answer requests until the client quits; returns the number of frames tracked."""
    frames = 0
    while True:
        request = server.wait()
        if request.type in (trax.TraxStatus.QUIT, trax.TraxStatus.ERROR):
            return frames
        frame = _read_frame(request.image)
        if request.type == trax.TraxStatus.INITIALIZE:
            if not request.objects:
                raise BoxError("the TraX client sent no object to initialize on")
            objects.active = 0
            states = objects.start(frame, request.objects)
        elif objects.active == 0:
            raise SourceError("the TraX client sent a frame before initializing the tracker")
        else:
            states = objects.track(frame) + objects.start(frame, request.objects or [])
            frames += 1
        stray.flush()
        server.status([(trax.Rectangle.create(*box), {"confidence": f"{score:.6f}"}) for box, score in states])


def serve(tracker: Any, spawn: Optional[Callable[[], Any]] = None, name: str = "dasiamrt") -> int:
    """Serve one TraX session with ``tracker`` (re-initialised on each ``initialize`` request).

    The server announces multi-object support: the VOT toolkit 0.9's reset-based ("supervised")
    experiment fails with trackers that announce one object (it hands over the region where the
    single-object check expects a list), and ``vot test`` then tracks three objects. Each object gets
    its own tracker, ``tracker`` for the first, ``spawn()`` for the others (a backend holds one
    target's kernels).

    Args:
        tracker: any object with ``init(frame, bbox_xywh)`` and ``track(frame)`` (a
            :class:`~dasiamrt.runtime.tracker.Tracker`).
        spawn: makes a tracker for each further object; None: one object only. Spawned trackers
            with a ``close`` method are closed at the end.
        name: the tracker name announced in the handshake.

    Returns:
        Frames tracked (initialisations excluded).

    Raises:
        MissingDependencyError: ``vot-trax`` is not installed.
        SourceError: a frame cannot be read, the client broke the protocol or went away.
        BoxError: an initial region that cannot be tracked.
    """
    trax = import_trax()
    objects = _Objects(tracker, spawn)
    with protocol_channel() as stray:
        try:
            server = trax.Server([trax.Region.RECTANGLE, trax.Region.POLYGON], [trax.Image.PATH], ["color"],
                                 tracker_name=name, tracker_description="DaSiamRPN (dasiamrt)",
                                 tracker_family="siamese", multiobject=True)
        except trax.TraxException as err:
            raise SourceError(f"no TraX client on this process's stdin/stdout ({err}): the VOT toolkit starts "
                              "'dasiamrt trax' itself (see README, 'Evaluate with the VOT toolkit')") from None
        try:
            frames = _session(server, objects, trax, stray)
        except DasiamrtError as err:
            stray.flush()
            _quit(server, trax, str(err))
            raise
        except trax.TraxException as err:
            raise SourceError(f"the TraX client went away or broke the protocol: {err}") from None
        finally:
            for extra in objects.spawned:
                getattr(extra, "close", lambda: None)()
        stray.flush()
        _quit(server, trax, None)
    log.info("TraX session ended after %d frames", frames)
    return frames


def _quit(server: Any, trax: Any, reason: Any) -> None:
    try:
        server.quit(reason=reason)
    except trax.TraxException:  # the client is already gone: nothing left to tell it
        log.debug("TraX client gone before quit", exc_info=True)
