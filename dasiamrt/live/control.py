"""Control channel: JSON-line commands from stdin or a UDP port, read on a background thread.

Messages (one JSON object per line on stdin, or per datagram on UDP)::

    {"cmd": "init", "bbox": [x, y, w, h]}   # (re)initialise on the next processed frame (0-based pixels)
    {"cmd": "clear"}                        # forget the target; wait for a new init
    {"cmd": "stop"}                         # end the run cleanly (like SIGINT)

A malformed message is logged and ignored: a bad datagram must not stop a flying tracker.
"""
from __future__ import annotations

import json
import logging
import math
import queue
import socket
import sys
import threading
from dataclasses import dataclass
from typing import IO, List, Optional, Tuple

from ..errors import ConfigError

log = logging.getLogger(__name__)

COMMANDS = ("init", "clear", "stop")


@dataclass(frozen=True)
class ControlMessage:
    """A parsed command: ``cmd`` in :data:`COMMANDS`; ``bbox_xywh`` for ``init`` (0-based pixels)."""

    cmd: str
    bbox_xywh: Optional[Tuple[float, float, float, float]] = None


def parse_message(text: str) -> ControlMessage:
    """Parse one JSON control message.

    Raises:
        ValueError: not JSON, unknown ``cmd``, or ``init`` without four finite numbers in ``bbox``.
    """
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("cmd") not in COMMANDS:
        raise ValueError(f"expected {{\"cmd\": one of {', '.join(COMMANDS)}}}, got {text.strip()!r}")
    if data["cmd"] != "init":
        return ControlMessage(data["cmd"])
    bbox = data.get("bbox")
    numbers = isinstance(bbox, list) and len(bbox) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)
    if not numbers or not isinstance(bbox, list):
        raise ValueError(f"init needs \"bbox\": [x, y, w, h] numbers, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    return ControlMessage("init", (x, y, w, h))


def parse_udp_address(spec: str, flag: str) -> Tuple[str, int]:
    """``"udp://host:port"`` -> (host, port).

    Raises:
        ConfigError: not of that form.
    """
    rest = spec[len("udp://"):] if spec.startswith("udp://") else ""
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{flag} must be udp://HOST:PORT (e.g. udp://127.0.0.1:5005), got {spec!r}")
    return host, int(port)


class ControlChannel:
    """Collects control messages from a reader thread; :meth:`poll` returns those received since the last call."""

    def __init__(self) -> None:
        self._queue: "queue.Queue[ControlMessage]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self.description = "control"

    def _handle(self, text: str) -> None:
        if not text.strip():
            return
        try:
            self._queue.put(parse_message(text))
        except ValueError as err:
            log.warning("ignored control message: %s", err)

    def _start(self, target: "threading.Thread") -> None:
        self._thread = target
        target.start()

    def poll(self) -> List[ControlMessage]:
        """Messages received since the last call, oldest first (never blocks)."""
        out: List[ControlMessage] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Stop listening (the stdin reader is a daemon thread and ends with the process)."""


class StreamControl(ControlChannel):
    """JSON lines from a text stream (stdin by default)."""

    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        super().__init__()
        self._stream = stream if stream is not None else sys.stdin
        self.description = "stdin"
        self._start(threading.Thread(target=self._read, name="dasiamrt-control", daemon=True))

    def _read(self) -> None:
        for line in self._stream:
            self._handle(line)


class UdpControl(ControlChannel):
    """One JSON message per datagram on ``host:port`` (port 0: any free port; see ``address``)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as err:
            self._sock.close()
            raise ConfigError(f"cannot listen on udp://{host}:{port} for control: {err.strerror}; "
                              "pick another port") from None
        self._sock.settimeout(0.2)
        self.address: Tuple[str, int] = self._sock.getsockname()
        self.description = f"udp://{self.address[0]}:{self.address[1]}"
        self._closing = threading.Event()
        self._start(threading.Thread(target=self._read, name="dasiamrt-control", daemon=True))

    def _read(self) -> None:
        while not self._closing.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self._handle(data.decode("utf-8", errors="replace"))

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._sock.close()


def open_control(spec: str) -> ControlChannel:
    """``"-"`` or ``"stdin"``: JSON lines on stdin; ``"udp://HOST:PORT"``: datagrams on that address.

    Raises:
        ConfigError: any other value, or a port that cannot be bound.
    """
    if spec in ("-", "stdin"):
        return StreamControl()
    return UdpControl(*parse_udp_address(spec, "--control"))
