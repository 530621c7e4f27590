"""Control channel: JSON-line commands from stdin or a UDP port, read on a background thread.

Messages (one JSON object per line on stdin, or per datagram on UDP)::

    {"cmd": "init", "bbox": [x, y, w, h]}   # (re)initialise on the next processed frame (0-based pixels)
    {"cmd": "clear"}                        # forget the target; wait for a new init
    {"cmd": "stop"}                         # end the run cleanly (like SIGINT)

A malformed message is logged and ignored: a bad datagram must not stop a flying tracker.

Security: ``udp://PORT`` or ``udp://:PORT`` listens on 127.0.0.1 only (this machine). Listening on
another address (``udp://0.0.0.0:5006`` for a ground station) lets every host that reaches the port
re-target or stop the tracker, so give the channel a shared token: every message must then carry
``"token": "<the token>"`` and others are ignored (with a warning). The token travels in clear text:
it keeps other hosts' and stray senders' messages out, not an eavesdropper on the link.
"""
from __future__ import annotations

import hmac
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
#: Where ``udp://PORT`` listens: this machine only.
DEFAULT_CONTROL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ControlMessage:
    """A parsed command: ``cmd`` in :data:`COMMANDS`; ``bbox_xywh`` for ``init`` (0-based pixels)."""

    cmd: str
    bbox_xywh: Optional[Tuple[float, float, float, float]] = None


def parse_message(text: str, token: Optional[str] = None) -> ControlMessage:
    """Parse one JSON control message.

    Args:
        text: the message.
        token: when set, the message must carry ``"token": token``.

    Raises:
        ValueError: not JSON, wrong or missing token, unknown ``cmd``, or ``init`` without four finite
            numbers in ``bbox``.
    """
    data = json.loads(text)
    if token is not None:
        got = data.get("token") if isinstance(data, dict) else None
        if not isinstance(got, str) or not hmac.compare_digest(got.encode("utf-8"), token.encode("utf-8")):
            raise ValueError("missing or wrong \"token\" (the control channel has a --control-token)")
    if not isinstance(data, dict) or data.get("cmd") not in COMMANDS:
        raise ValueError(f"expected {{\"cmd\": one of {', '.join(COMMANDS)}}}, got {text.strip()[:80]!r}")
    if data["cmd"] != "init":
        return ControlMessage(data["cmd"])
    bbox = data.get("bbox")
    numbers = isinstance(bbox, list) and len(bbox) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)
    if not numbers or not isinstance(bbox, list):
        raise ValueError(f"init needs \"bbox\": [x, y, w, h] numbers, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    return ControlMessage("init", (x, y, w, h))


def parse_udp_address(spec: str, flag: str, default_host: Optional[str] = None) -> Tuple[str, int]:
    """``"udp://host:port"`` -> (host, port); with ``default_host``, ``udp://port`` and ``udp://:port`` too.

    Raises:
        ConfigError: not of that form.
    """
    rest = spec[len("udp://"):] if spec.startswith("udp://") else ""
    host, _, port = rest.rpartition(":")
    host = host or (default_host or "")
    form = "udp://[HOST:]PORT" if default_host else "udp://HOST:PORT"
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{flag} must be {form} (e.g. udp://127.0.0.1:5005), got {spec!r}")
    return host, int(port)


class ControlChannel:
    """Collects control messages from a reader thread; :meth:`poll` returns those received since the last call."""

    def __init__(self, token: Optional[str] = None) -> None:
        self._queue: "queue.Queue[ControlMessage]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._token = token or None
        self.description = "control"

    def _handle(self, text: str) -> None:
        if not text.strip():
            return
        try:
            self._queue.put(parse_message(text, self._token))
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

    def __init__(self, stream: Optional[IO[str]] = None, token: Optional[str] = None) -> None:
        super().__init__(token)
        self._stream = stream if stream is not None else sys.stdin
        self.description = "stdin"
        self._start(threading.Thread(target=self._read, name="dasiamrt-control", daemon=True))

    def _read(self) -> None:
        for line in self._stream:
            self._handle(line)


class UdpControl(ControlChannel):
    """One JSON message per datagram on ``host:port`` (port 0: any free port; see ``address``).

    A host other than a loopback address without ``token`` is logged as a warning (see module docstring).
    """

    def __init__(self, host: str, port: int, token: Optional[str] = None) -> None:
        super().__init__(token)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except (OSError, OverflowError) as err:
            self._sock.close()
            reason = getattr(err, "strerror", None) or str(err)
            raise ConfigError(f"cannot listen on udp://{host}:{port} for control: {reason}; give an address of "
                              f"this machine (default {DEFAULT_CONTROL_HOST}) and a free port") from None
        if not token and not _is_loopback(self._sock.getsockname()[0]):
            log.warning("control on udp://%s:%d accepts commands from every host that reaches it: "
                        "set --control-token", host, port)
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


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost")


def open_control(spec: str, token: Optional[str] = None) -> ControlChannel:
    """``"-"`` or ``"stdin"``: JSON lines on stdin; ``"udp://[HOST:]PORT"``: datagrams on that address
    (HOST defaults to 127.0.0.1: this machine only). With ``token``, messages must carry it.

    Raises:
        ConfigError: any other value, or an address that cannot be bound.
    """
    if spec in ("-", "stdin"):
        return StreamControl(token=token)
    return UdpControl(*parse_udp_address(spec, "--control", DEFAULT_CONTROL_HOST), token=token)
