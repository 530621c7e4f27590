"""A simulated ground station (pymavlink ``mavutil`` on 127.0.0.1 UDP) for the MAVLink loopback tests and
``benchmarks/mavlink_session.py``.

It listens like QGroundControl does (``udpin``), so the camera under test is started with
``--mavlink udpout:127.0.0.1:<port>``. Everything it receives is logged with its arrival time.
pymavlink's ``mavutil`` reads ``MAVLINK20`` and ``MAVLINK_DIALECT`` when it is imported: both are set
here first, and the dialect is set again in case another module imported mavutil before.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

os.environ["MAVLINK20"] = "1"
os.environ["MAVLINK_DIALECT"] = "common"
from pymavlink import mavutil  # noqa: E402

if mavutil.current_dialect != "common" or mavutil.mavlink.WIRE_PROTOCOL_VERSION != "2.0":
    mavutil.set_dialect("common")
mavlink = mavutil.mavlink

Entry = Tuple[float, Any]  # (time.time() at arrival, message)


class SimulatedGcs:
    """Ground station on ``127.0.0.1:port`` (0: a free port, see ``port``); ids 255/190 (MAV_COMP_ID_MISSIONPLANNER)."""

    def __init__(self, port: int = 0, heartbeat: bool = True) -> None:
        self.log: List[Entry] = []
        self.sent: List[Tuple[float, str]] = []
        self._lock = threading.Lock()
        self._heartbeat = heartbeat
        self._open(port)

    def _open(self, port: int) -> None:
        self.conn = mavutil.mavlink_connection(f"udpin:127.0.0.1:{port}", source_system=255, source_component=190)
        self.port = self.conn.port.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._beat, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.conn.recv_match(blocking=True, timeout=0.05)
            except OSError:
                return
            if message is not None and message.get_type() != "BAD_DATA":
                with self._lock:
                    self.log.append((time.time(), message))

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            if self._heartbeat and self.conn.clients:
                with self._lock:
                    self.conn.mav.heartbeat_send(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0,
                                                 mavlink.MAV_STATE_ACTIVE)

    # -- sending ------------------------------------------------------------------------------------
    def command(self, command: int, *params: float, target: Tuple[int, int] = (1, 100)) -> float:
        """Send COMMAND_LONG; returns its send time (time.time())."""
        values = list(params) + [0.0] * (7 - len(params))
        with self._lock:
            now = time.time()
            self.conn.mav.command_long_send(target[0], target[1], command, 0, *values)
            self.sent.append((now, f"COMMAND_LONG {command} {values} -> {target[0]}/{target[1]}"))
        return now

    def raw(self, data: bytes) -> None:
        """Send bytes as one datagram to every camera heard."""
        with self._lock:
            for address in self.conn.clients:
                self.conn.port.sendto(data, address)
            self.sent.append((time.time(), f"raw {len(data)} bytes"))

    # -- receiving ----------------------------------------------------------------------------------
    def messages(self, kind: str, since: float = 0.0, until: float = float("inf")) -> List[Entry]:
        with self._lock:
            return [(t, m) for t, m in self.log if m.get_type() == kind and since <= t <= until]

    def wait(self, kind: str, since: float, timeout: float = 5.0,
             where: Callable[[Any], bool] = lambda m: True) -> Optional[Entry]:
        """First ``kind`` message after ``since`` that satisfies ``where``, waiting up to ``timeout`` s."""
        end = time.time() + timeout
        while True:
            for entry in self.messages(kind, since):
                if where(entry[1]):
                    return entry
            if time.time() >= end:
                return None
            time.sleep(0.01)

    def ack(self, command: int, since: float, timeout: float = 5.0) -> Optional[Any]:
        entry = self.wait("COMMAND_ACK", since, timeout, lambda m: m.command == command)
        return entry[1] if entry is not None else None

    # -- link trouble -------------------------------------------------------------------------------
    def go_away(self) -> List[Any]:
        """Close the socket (the camera's datagrams now hit a closed port); returns the cameras heard."""
        clients = list(self.conn.clients)
        self.close()
        return clients

    def come_back(self, clients: List[Any]) -> None:
        """Listen again on the same port; the cameras heard before are remembered (like a restarted QGC
        that receives their next heartbeat)."""
        self._open(self.port)
        self.conn.clients.update(clients)
        for address in clients:
            self.conn.clients_last_alive[address] = time.time()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self.conn.close()
