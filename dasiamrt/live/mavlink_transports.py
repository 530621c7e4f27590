"""Connection strings and the byte transports under the MAVLink link: UDP in/out, TCP client, serial port.

Connection strings are pymavlink's: ``udpin:HOST:PORT`` (listen; replies go to every peer heard),
``udpout:HOST:PORT`` (send there; replies accepted from it), ``tcp:HOST:PORT`` (client) and a serial
device ``/dev/ttyTHS1,921600`` (``DEVICE[,BAUD]``, default 115200; a path under /dev, ``COMn`` or any
character device such as a udev symlink; needs pyserial).

Each transport has ``datagram`` (message boundaries are datagram boundaries), ``fileno()`` (for
``select``; ``None``: polled), ``read() -> bytes | None`` (``None``: nothing waiting),
``write(bytes)`` and ``close()``; failures raise ``OSError`` (pyserial's ``SerialException`` is one).
"""
from __future__ import annotations

import math
import os
import socket
import stat
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..errors import ConfigError, MissingDependencyError

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
