"""Result outputs of ``dasiamrt live``: JSON lines to stdout, a file or UDP (schema in ``live/README.md``).

Every processed frame gives one record, a JSON object on one line (UDP: one object per datagram)::

    {"v": 1, "frame": 42, "t_capture": 1764087301.512345, "bbox": [211.4, 18.02, 220.7, 166.3],
     "score": 0.9731, "state": "tracking", "latency_ms": 38.21, "dropped": 17}
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import IO, Any, Dict, Optional, Sequence

from ..errors import ConfigError, SourceError
from .control import parse_udp_address

log = logging.getLogger(__name__)

#: Version of the record layout; bumped when a field changes meaning or disappears.
SCHEMA_VERSION = 1
#: Values of ``state``.
STATES = ("waiting", "init", "tracking", "lost")


def make_record(frame_id: int, t_capture: float, bbox_xywh: Optional[Sequence[float]], score: Optional[float],
                state: str, latency_ms: float, dropped: int) -> Dict[str, Any]:
    """One result record (see the module docstring and ``live/README.md``).

    Args:
        frame_id: capture sequence number of the frame.
        t_capture: wall-clock capture time, Unix seconds.
        bbox_xywh: 0-based top-left x, y, w, h in frame pixels; ``None`` while waiting for a target.
        score: foreground score of the box (1.0 on an init frame); ``None`` while waiting.
        state: one of :data:`STATES`.
        latency_ms: capture-to-result time in milliseconds.
        dropped: frames captured but never processed so far (cumulative).
    """
    return {
        "v": SCHEMA_VERSION,
        "frame": int(frame_id),
        "t_capture": round(float(t_capture), 6),
        "bbox": None if bbox_xywh is None else [round(float(v), 2) for v in bbox_xywh],
        "score": None if score is None else round(float(score), 4),
        "state": state,
        "latency_ms": round(float(latency_ms), 2),
        "dropped": int(dropped),
    }


def encode(record: Dict[str, Any]) -> str:
    """Compact single-line JSON (no NaN: the output must parse in any JSON reader)."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


class JsonSink:
    """Where records go: ``write(record)`` then ``close()``."""

    description = "json"

    def write(self, record: Dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release."""


class StreamSink(JsonSink):
    """Lines on a text stream (stdout by default), flushed per record so a pipe reader sees each at once."""

    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self.description = "stdout"

    def write(self, record: Dict[str, Any]) -> None:
        try:
            self._stream.write(encode(record) + "\n")
            self._stream.flush()
        except BrokenPipeError:  # the consumer went away: keep tracking for the other outputs
            log.warning("stdout reader closed the pipe; JSON lines to stdout stop")
            self.write = lambda record: None  # type: ignore[method-assign]


class FileSink(JsonSink):
    """Lines in the file itself, one per record, flushed at once: ``tail -f FILE`` follows the run.

    JSON lines are append-safe: whatever happens (SIGINT, SIGTERM, a crash, ``kill -9``), the file
    holds every record written so far as whole lines (after a hard kill or power loss at worst the
    last line is unfinished; readers skip a line that does not parse). The file is created, replacing
    an older one, at the FIRST record, so a run that wrote none (e.g. it stopped at a bad ``--init``
    box) leaves an existing file as it was; the folder and permissions are checked at once.

    Raises:
        SourceError: the path is a folder, its folder does not exist, or it cannot be written.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.description = str(path)
        if self.path.is_dir():
            raise SourceError(f"--json {path} is a folder: give a file path to write")
        if not self.path.parent.is_dir():
            raise SourceError(f"output folder {self.path.parent} does not exist: create it first")
        if not os.access(self.path.parent, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            raise SourceError(f"cannot write {path}: permission denied")
        self._fh: Optional[IO[str]] = None
        self._records = 0

    def write(self, record: Dict[str, Any]) -> None:
        if self._fh is None:
            try:
                self._fh = open(self.path, "w", encoding="utf-8")
            except OSError as err:
                raise SourceError(f"cannot write {self.path}: {err.strerror or err}") from None
        self._fh.write(encode(record) + "\n")
        self._fh.flush()
        self._records += 1

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


class UdpSink(JsonSink):
    """One record per datagram to ``host:port`` (fire and forget: a missing listener costs nothing)."""

    def __init__(self, host: str, port: int) -> None:
        self.description = f"udp://{host}:{port}"
        try:  # resolve once, now: a typo in the host is a one-line error at start, not silence
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (OSError, UnicodeError) as err:
            raise ConfigError(f"--json {self.description}: cannot resolve {host!r} "
                              f"({getattr(err, 'strerror', None) or err}): check the host name") from None
        if port == 0:
            raise ConfigError(f"--json {self.description}: port 0 cannot receive datagrams: give the listener's port")
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._address = address

    def write(self, record: Dict[str, Any]) -> None:
        try:
            self._sock.sendto(encode(record).encode("utf-8"), self._address)
        except OSError as err:  # e.g. ICMP port unreachable reported on the next send: not fatal
            log.debug("UDP send to %s failed: %s", self.description, err)

    def close(self) -> None:
        self._sock.close()


def open_sink(spec: str) -> JsonSink:
    """``"-"``: stdout; ``"udp://HOST:PORT"``: UDP datagrams; anything else: a file path.

    Raises:
        ConfigError: malformed ``udp://`` address; SourceError: the file's folder does not exist.
    """
    if spec == "-":
        return StreamSink()
    if spec.startswith("udp://"):
        return UdpSink(*parse_udp_address(spec, "--json"))
    return FileSink(spec)
