"""The byte links under the MAVLink component: UDP in/out, TCP, serial; parsing that survives garbage and drops.

Connection strings are pymavlink's: ``udpin:HOST:PORT`` (listen; replies go to every peer heard),
``udpout:HOST:PORT`` (send there; replies accepted from it), ``tcp:HOST:PORT`` (client) and a serial
device ``/dev/ttyTHS1,921600`` (``DEVICE[,BAUD]``, default 115200; a path under /dev, ``COMn`` or any
character device such as a udev symlink; needs pyserial).

pymavlink is used for its generated MAVLink 2 dialect only (message packing and parsing), imported as
``pymavlink.dialects.v20.ardupilotmega`` (``common`` plus ArduPilot's own messages, so the normal
traffic of an ArduPilot link decodes instead of counting as foreign): MAVLink 2 and the dialect are
chosen here by that import, not by the ``MAVLINK20``/``MAVLINK_DIALECT`` environment variables (only
``mavutil`` reads those, and it is not used: its links print to stdout, which would corrupt
``--json -``, and block while reconnecting).

Robustness: UDP datagrams are parsed one by one with a parser reset after each, so a garbage or
truncated datagram can never swallow the valid message in the next one; undecodable bytes and
unknown message ids are counted (warnings at the 1st, 10th, 100th...). A TCP or serial link that
fails is closed and reopened with backoff (0.5 s doubling to 8 s) for as long as the run lasts.
"""
from __future__ import annotations

import logging
import math
import os
import select
import socket
import stat
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ConfigError, MissingDependencyError, SourceError

log = logging.getLogger(__name__)

KINDS = ("udpin", "udpout", "tcp")
_USAGE = ("--mavlink must be udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT or a serial device "
          "DEVICE[,BAUD] (e.g. udpout:192.168.1.10:14550 or /dev/ttyTHS1,921600), got {!r}")
#: At most this many UDP peers are remembered by ``udpin`` (the oldest is forgotten).
MAX_PEERS = 8


@dataclass(frozen=True)
class ConnectionSpec:
    """A parsed connection: ``kind`` udpin/udpout/tcp (``host``, ``port``) or serial (``device``, ``baud``)."""

    kind: str
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 115200

    @property
    def description(self) -> str:
        return f"{self.device},{self.baud}" if self.kind == "serial" else f"{self.kind}:{self.host}:{self.port}"


def parse_connection(spec: str) -> ConnectionSpec:
    """Parse a pymavlink-style connection string (module docstring).

    Raises:
        ConfigError: anything else (log files and other pymavlink forms are refused: not a live link).
    """
    kind, _, rest = spec.partition(":")
    if kind in KINDS:
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(_USAGE.format(spec))
        return ConnectionSpec(kind, host, int(port))
    device, _, baud = spec.partition(",")
    if (device.startswith("/dev/") or device.upper().startswith("COM") or _is_char_device(device)) \
            and (not baud or baud.isdigit()):
        return ConnectionSpec("serial", device=device, baud=int(baud) if baud else 115200)
    raise ConfigError(_USAGE.format(spec))


def _is_char_device(path: str) -> bool:
    """A serial port under another name (a udev symlink such as /run/fc, a pseudo-terminal link)."""
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def load_dialect() -> Any:
    """pymavlink's generated MAVLink 2 ``ardupilotmega`` dialect module (a superset of ``common``).

    Raises:
        MissingDependencyError: pymavlink is not installed.
    """
    try:
        from pymavlink.dialects.v20 import ardupilotmega
    except ImportError:
        raise MissingDependencyError("pymavlink", "--mavlink", "pip install 'dasiamrt[mavlink]'") from None
    return ardupilotmega


# -- transports -----------------------------------------------------------------------------------
class _Udp:
    datagram = True

    def __init__(self, spec: ConnectionSpec) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.peers: Dict[Tuple[str, int], float] = {}
        if spec.kind == "udpin":
            try:
                self.sock.bind((spec.host, spec.port))
            except OSError as err:
                self.sock.close()
                raise ConfigError(f"cannot listen on {spec.description} for MAVLink: {err.strerror}; "
                                  "pick another port") from None
        else:
            self.peers[(socket.gethostbyname(spec.host), spec.port)] = math.inf  # never forgotten
        self.listening = spec.kind == "udpin"

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> Optional[bytes]:
        try:
            data, address = self.sock.recvfrom(65535)
        except (BlockingIOError, ConnectionRefusedError):  # refused: ICMP from a peer not listening yet
            return None
        if self.listening:
            self.peers.pop(address, None)
            self.peers[address] = time.monotonic()
            if len(self.peers) > MAX_PEERS:
                del self.peers[next(iter(self.peers))]
        return data

    def write(self, data: bytes) -> None:
        for address in list(self.peers):
            try:
                self.sock.sendto(data, address)
            except (BlockingIOError, ConnectionRefusedError):
                pass  # a peer not listening (yet): fire and forget, as UDP is

    def close(self) -> None:
        self.sock.close()


class _Tcp:
    datagram = False

    def __init__(self, spec: ConnectionSpec) -> None:
        self.sock = socket.create_connection((spec.host, spec.port), timeout=2.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> Optional[bytes]:
        try:
            data = self.sock.recv(65535)
        except BlockingIOError:
            return None
        if not data:
            raise ConnectionError("closed by the peer")
        return data

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class _Serial:
    datagram = False

    def __init__(self, spec: ConnectionSpec) -> None:
        try:
            import serial
        except ImportError:
            raise MissingDependencyError("pyserial", "a serial --mavlink link", "pip install 'dasiamrt[mavlink]'") \
                from None
        try:
            self.port = serial.Serial(spec.device, spec.baud, timeout=0, write_timeout=0.5)
        except (serial.SerialException, ValueError) as err:
            raise OSError(str(err)) from None

    def fileno(self) -> Optional[int]:
        try:
            return int(self.port.fileno())
        except Exception:  # no file descriptor (some platforms): polled instead
            return None

    def read(self) -> Optional[bytes]:
        data = self.port.read(max(int(self.port.in_waiting), 1))
        return bytes(data) or None

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def close(self) -> None:
        self.port.close()


def open_transport(spec: ConnectionSpec) -> Any:
    """Open the link of ``spec``; OSError (serial: also ``serial.SerialException``) when it cannot be opened."""
    if spec.kind in ("udpin", "udpout"):
        return _Udp(spec)
    if spec.kind == "tcp":
        return _Tcp(spec)
    return _Serial(spec)


# -- the link -------------------------------------------------------------------------------------
class _Counter:
    """Counts events and warns at the 1st, 10th, 100th... so a flood cannot flood the log."""

    def __init__(self, what: str) -> None:
        self.what, self.count = what, 0

    def add(self, detail: str) -> None:
        self.count += 1
        if math.log10(self.count).is_integer():
            log.warning("MAVLink: ignored %s (%d so far): %s", self.what, self.count, detail)


class MavlinkLink:
    """A MAVLink endpoint on one connection: :meth:`send` messages, :meth:`receive` decoded ones.

    Args:
        spec: the connection.
        dialect: from :func:`load_dialect`.
        system_id, component_id: the source ids of what we send.

    Raises:
        ConfigError: a UDP port that cannot be bound; SourceError: a TCP/serial link that cannot be
            opened at start (after the start, failures are retried, never raised).
    """

    def __init__(self, spec: ConnectionSpec, dialect: Any, system_id: int, component_id: int) -> None:
        self.spec, self.dialect = spec, dialect
        try:
            self.transport: Optional[Any] = open_transport(spec)
        except OSError as err:
            raise SourceError(f"cannot open the MAVLink link {spec.description}: {err}; check the cable, "
                              "device name and permissions (dialout group), or the address") from None
        self.encoder = dialect.MAVLink(self, srcSystem=system_id, srcComponent=component_id)
        self.parser = self._new_parser()
        self.bad = _Counter("undecodable MAVLink bytes")
        self.unknown = _Counter("messages of another dialect")
        self.drops = 0
        self.reconnects = 0
        self.sent = 0
        self._retry_at = 0.0
        self._backoff = 0.5

    def _new_parser(self) -> Any:
        parser = self.dialect.MAVLink(None)
        parser.robust_parsing = True  # bad bytes come back as BAD_DATA messages, not exceptions
        return parser

    # pymavlink's encoder calls ``file.write(buf)``.
    def write(self, buf: bytes) -> None:
        if self.transport is None:
            return
        try:
            self.transport.write(bytes(buf))
            self.sent += 1
        except OSError as err:
            self._lost(err)

    def send(self, message: Any) -> None:
        """Pack ``message`` (a dialect message object) with our ids and send it; a down link drops it."""
        self.encoder.send(message)

    def receive(self, timeout: float) -> List[Any]:
        """Wait up to ``timeout`` s for data; the messages decoded (BAD_DATA and unknown ids counted, not returned)."""
        if self.transport is None:
            self._reopen(timeout)
            return []
        try:
            fd = self.transport.fileno()
            if fd is None or select.select([fd], [], [], timeout)[0]:
                return self._drain()
            return []
        except (OSError, ValueError) as err:  # ValueError: a closed serial port's fileno
            self._lost(err)
            return []

    def _drain(self) -> List[Any]:
        out: List[Any] = []
        for _ in range(64):  # bounded: a flood cannot starve the periodic sends
            assert self.transport is not None
            data = self.transport.read()
            if data is None:
                break
            out.extend(self._parse(data))
        return out

    def _parse(self, data: bytes) -> List[Any]:
        messages = [m for m in (self.parser.parse_buffer(data) or []) if self._keep(m)]
        if self.transport is not None and self.transport.datagram and self.parser.buf_len() > 0:
            self.bad.add(f"{self.parser.buf_len()} bytes of an incomplete message at the end of a datagram")
            self.parser = self._new_parser()
        return messages

    def _keep(self, message: Any) -> bool:
        kind = message.get_type()
        if kind == "BAD_DATA":
            self.bad.add(str(getattr(message, "reason", "")))
            return False
        if kind.startswith("UNKNOWN_"):
            self.unknown.add(f"message id {kind[8:]}")
            return False
        return True

    def _lost(self, err: BaseException) -> None:
        if self.transport is None:
            return
        log.warning("MAVLink link %s lost (%s); tracking goes on, reopening it", self.spec.description, err)
        try:
            self.transport.close()
        except Exception:  # closing a dead device may fail too; it is gone either way
            pass
        self.transport, self.drops = None, self.drops + 1
        self.parser = self._new_parser()
        self._retry_at, self._backoff = time.monotonic() + 0.5, 0.5

    def _reopen(self, timeout: float) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            time.sleep(min(timeout, self._retry_at - now))
            return
        try:
            self.transport = open_transport(self.spec)
        except Exception as err:  # OSError, serial.SerialException: still away
            self._backoff = min(self._backoff * 2, 8.0)
            self._retry_at = now + self._backoff
            log.debug("MAVLink link %s still down: %s", self.spec.description, err)
            return
        self.reconnects += 1
        log.info("MAVLink link %s reopened", self.spec.description)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
