"""The MAVLink link of the camera component: send messages, receive decoded ones, survive garbage and drops.

pymavlink is used for its generated MAVLink 2 dialect only (message packing and parsing), imported as
``pymavlink.dialects.v20.ardupilotmega`` (``common`` plus ArduPilot's own messages, so the normal
traffic of an ArduPilot link decodes instead of counting as foreign): MAVLink 2 and the dialect are
chosen here by that import, not by the ``MAVLINK20``/``MAVLINK_DIALECT`` environment variables (only
``mavutil`` reads those, and it is not used: its links print to stdout, which would corrupt
``--json -``, and block while reconnecting). The byte transports are in :mod:`.mavlink_transports`.

Robustness: UDP datagrams are parsed one by one with a parser reset after each, so a garbage or
truncated datagram can never swallow the valid message in the next one; undecodable bytes and
unknown message ids are counted (warnings at the 1st, 10th, 100th...). A TCP or serial link that
fails is closed and reopened with backoff (0.5 s doubling to 8 s) for as long as the run lasts.
"""
from __future__ import annotations

import logging
import math
import select
import time
from typing import Any, List, Optional

from ..errors import MissingDependencyError, SourceError
from .mavlink_transports import ConnectionSpec, open_transport, parse_connection

__all__ = ["MavlinkLink", "load_dialect", "parse_connection"]

log = logging.getLogger(__name__)


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
