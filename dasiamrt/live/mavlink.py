"""``dasiamrt live --mavlink``: a MAVLink camera component with target tracking, on its own thread.

One more control channel and result listener of the live loop (not a second loop):

* commands from the ground station become ``init``/``clear`` control messages (the tracker is
  (re)initialised on the newest frame), acked at once with a MAV_RESULT (:mod:`.mavlink_commands`);
* each result of the loop (:meth:`MavlinkCamera.on_result`, called on the tracking thread, returns at
  once) updates the tracking status sent as CAMERA_TRACKING_IMAGE_STATUS at the requested interval;
* HEARTBEAT at 1 Hz (``MAV_TYPE_CAMERA``), CAMERA_INFORMATION with the tracking flags on request;
* with a :class:`~dasiamrt.live.gimbal.GimbalConfig`, gimbal-manager rate commands follow the target.

A result is "fresh" while its frame is under :data:`STALE_S` old; a target whose newest frame is older
(a camera reconnecting) is reported like a lost one. The thread's CPU time (``time.thread_time``) is
measured for the whole run and reported in :class:`MavlinkStats`.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
from typing import Any, Deque, Optional, Tuple

from .. import __version__
from . import mavlink_protocol as mp
from .control import ControlChannel, ControlMessage
from .gimbal import GimbalCommand, GimbalConfig, GimbalFollower
from .mavlink_commands import CommandRequest, Decision, decide
from .mavlink_link import MavlinkLink, load_dialect, parse_connection
from .mavlink_stats import MavlinkStats
from .result import LiveResult

log = logging.getLogger(__name__)

#: A target whose newest processed frame is older than this is reported as lost (seconds).
STALE_S = 1.0
_RESULT_NAMES = {mp.MAV_RESULT_ACCEPTED: "ACCEPTED", mp.MAV_RESULT_DENIED: "DENIED",
                 mp.MAV_RESULT_UNSUPPORTED: "UNSUPPORTED"}


def _padded(text: str, size: int) -> bytes:
    return text.encode("ascii")[:size].ljust(size, b"\0")


def _firmware_version() -> int:
    """``__version__`` as CAMERA_INFORMATION encodes it: (dev << 24) | (patch << 16) | (minor << 8) | major."""
    parts = [int(p) if p.isdigit() else 0 for p in __version__.split(".")[:3]] + [0, 0, 0]
    return (parts[2] & 0xFF) << 16 | (parts[1] & 0xFF) << 8 | (parts[0] & 0xFF)


class MavlinkCamera(ControlChannel):
    """The camera component; start it, pass it to the live loop as control channel AND listener, close it.

    Args:
        config: ids, link, default rates.
        gimbal: follow settings (``None``: no gimbal commands).

    Raises:
        ConfigError, SourceError, MissingDependencyError: bad connection string, link that cannot be
            opened, pymavlink (or pyserial for a serial link) missing.
    """

    def __init__(self, config: mp.MavlinkConfig, gimbal: Optional[GimbalConfig] = None) -> None:
        super().__init__()
        spec = parse_connection(config.connection)
        self.config, self.gimbal_config = config, gimbal
        self.own = (config.system_id, config.component_id)
        self.dialect = load_dialect()
        self.link = MavlinkLink(spec, self.dialect, *self.own)
        self.description = f"MAVLink {spec.description}"
        self.stats = MavlinkStats()
        self._inbox: Deque[LiveResult] = collections.deque(maxlen=512)
        self._closing = threading.Event()
        now = time.perf_counter()
        self._t0 = now
        self.heartbeat = mp.RateSchedule(config.heartbeat_interval_s, now)
        self.status = mp.RateSchedule(config.status_interval_s, now)
        self.follower = GimbalFollower(gimbal, now) if gimbal is not None else None
        self.frame_wh: Optional[Tuple[int, int]] = None
        self.current: Optional[LiveResult] = None
        self.mode = mp.CAMERA_TRACKING_MODE_NONE
        self.pending_mode: Optional[int] = None
        self.active = False  # a tracking session is on (target tracked or lost)
        self.expect_clear = False  # a stop was accepted; results of the old target until the loop applies it
        self._last_rx, self._silent = now, False
        self._start(threading.Thread(target=self._run, name="dasiamrt-mavlink", daemon=True))
        log.info("MAVLink camera %d/%d on %s", self.own[0], self.own[1], spec.description)

    # -- called from other threads -----------------------------------------------------------------
    def on_result(self, result: LiveResult) -> None:
        """Hand a result to the MAVLink thread (tracking thread; never blocks)."""
        self._inbox.append(result)

    def close(self) -> None:
        """Stop the thread (it zeroes gimbal rates, releases the gimbal, reports idle), close the link."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self.link.close()

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        try:
            while not self._closing.is_set():
                messages = self.link.receive(self._wait_s(time.perf_counter()))
                self._take_results()
                for message in messages:
                    self._handle(message)
                self._tick(time.perf_counter())
            self._finish()
        except Exception:  # never take the tracker down with us: log and stop talking
            log.exception("MAVLink thread failed; tracking goes on without MAVLink")
        finally:
            self.stats.cpu_s, self.stats.wall_s = time.thread_time() - cpu0, time.perf_counter() - wall0
            self.stats.absorb_link(self.link)

    def _wait_s(self, now: float) -> float:
        """Until the next scheduled send, at most 0.1 s (new results are picked up then), at least 1 ms."""
        waits = [0.1, self.heartbeat.wait_s(now)]
        if self.active:
            waits.append(self.status.wait_s(now))
        if self.follower is not None:
            waits.append(self.follower.wait_s(now))
        return max(min(waits), 0.001)

    def _take_results(self) -> None:
        while self._inbox:
            self._on_result(self._inbox.popleft())

    def _on_result(self, result: LiveResult) -> None:
        """Session bookkeeping, one result at a time, in order (mapping: :mod:`.mavlink_protocol`)."""
        self.frame_wh = result.frame_wh
        if result.state == "init":
            self.mode = self.pending_mode or mp.CAMERA_TRACKING_MODE_RECTANGLE
            self.pending_mode, self.expect_clear, self.active, self.current = None, False, True, result
        elif result.state == "waiting":
            if self.active:
                self._end_session()
            self.expect_clear, self.current = False, None
        elif not self.expect_clear:  # tracking/lost of the current target (else: of the one just stopped)
            if not self.active:
                self.active, self.mode = True, self.mode or mp.CAMERA_TRACKING_MODE_RECTANGLE
            self.current = result

    def _end_session(self) -> None:
        self.active, self.mode, self.current = False, mp.CAMERA_TRACKING_MODE_NONE, None
        self._send_status(mp.IDLE_STATUS, None)

    def _tick(self, now: float) -> None:
        if self.heartbeat.due(now):
            self.stats.heartbeats += 1
            self.link.encoder.heartbeat_send(mp.MAV_TYPE_CAMERA, mp.MAV_AUTOPILOT_INVALID, 0, 0, mp.MAV_STATE_ACTIVE)
        if now - self._last_rx > self.config.silence_s and not self._silent:
            self._silent = True
            self.stats.silences += 1
            log.warning("MAVLink: nothing received for %.0f s on %s; tracking and heartbeats go on",
                        now - self._last_rx, self.link.spec.description)
        if self.active and self.status.due(now):
            self._send_status(self._status_now(now), self.current)
        if self.follower is not None:
            for command in self.follower.update(now, self._target_now(now), self.active):
                self._send_gimbal(command)

    def _fresh(self, now: float) -> bool:
        return self.current is not None and now - self.current.t_mono < STALE_S

    def _status_now(self, now: float) -> mp.TrackingStatus:
        result = self.current
        if result is None:
            return mp.IDLE_STATUS
        state = result.state if self._fresh(now) else "lost"
        return mp.tracking_status(state, result.bbox_xywh, result.frame_wh, self.mode)

    def _target_now(self, now: float) -> Optional[Tuple[mp.Box, Tuple[int, int]]]:
        result = self.current
        if not self.active or result is None or result.bbox_xywh is None or not self._fresh(now) \
                or result.state not in ("init", "tracking"):
            return None
        return result.bbox_xywh, result.frame_wh

    def _finish(self) -> None:
        if self.follower is not None:
            for command in self.follower.close():
                self._send_gimbal(command)
        if self.active:
            self._send_status(mp.IDLE_STATUS, None)

    # -- messages in -------------------------------------------------------------------------------
    def _handle(self, message: Any) -> None:
        now = time.perf_counter()
        if self._silent:
            log.info("MAVLink: traffic back after %.1f s", now - self._last_rx)
            self._silent = False
        self._last_rx = now
        kind = message.get_type()
        if kind == "COMMAND_LONG":
            params = (message.param1, message.param2, message.param3, message.param4, message.param5,
                      message.param6, message.param7)
        elif kind == "COMMAND_INT":
            params = (message.param1, message.param2, message.param3, message.param4, float(message.x),
                      float(message.y), message.z)
        else:
            if kind == "COMMAND_ACK" and (message.target_system, message.target_component) == self.own:
                self._gimbal_ack(message)
            return
        source = (message.get_srcSystem(), message.get_srcComponent())
        request = CommandRequest(int(message.command), params, source,
                                 (message.target_system, message.target_component))
        decision = decide(request, self.own, self.frame_wh, self.config.point_radius, self.config.status_interval_s)
        self._answer(request, decision)

    def _answer(self, request: CommandRequest, decision: Decision) -> None:
        if decision.result is None:
            self.stats.ignored_commands += 1
            log.debug("MAVLink: command %d ignored: %s", request.command, decision.reason)
            return
        self.link.encoder.command_ack_send(request.command, decision.result, 0, 0, *request.source)
        self.stats.count_ack(decision.result)
        level = logging.INFO if decision.result == mp.MAV_RESULT_ACCEPTED else logging.WARNING
        log.log(level, "MAVLink: command %d from %d/%d -> %s%s", request.command, request.source[0],
                request.source[1], _RESULT_NAMES.get(decision.result, decision.result),
                f" ({decision.reason})" if decision.reason else "")
        action = decision.action
        if action is None:
            return
        if action.kind == "track":
            assert action.bbox_xywh is not None
            self.pending_mode = action.mode
            self._queue.put(ControlMessage("init", action.bbox_xywh))
        elif action.kind == "stop":
            self._queue.put(ControlMessage("clear"))
            self.expect_clear, self.pending_mode = True, None
            self._end_session()  # idle at once: no active status after a STOP's ack
        elif action.kind == "interval":
            self.status.set_interval(action.interval_s, time.perf_counter())
        elif action.kind == "send":
            self._send_requested(action.message_id)

    def _send_requested(self, message_id: int) -> None:
        if message_id == mp.MSG_HEARTBEAT:
            self.link.encoder.heartbeat_send(mp.MAV_TYPE_CAMERA, mp.MAV_AUTOPILOT_INVALID, 0, 0, mp.MAV_STATE_ACTIVE)
        elif message_id == mp.MSG_CAMERA_INFORMATION:
            self._send_information()
        elif message_id == mp.MSG_CAMERA_TRACKING_IMAGE_STATUS:
            now = time.perf_counter()
            self._send_status(self._status_now(now) if self.active else mp.IDLE_STATUS, self.current)

    def _gimbal_ack(self, message: Any) -> None:
        if message.command == mp.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE and message.result != mp.MAV_RESULT_ACCEPTED:
            log.warning("MAVLink: the gimbal manager refused control (MAV_RESULT %d): gimbal follow has no effect",
                        message.result)

    # -- messages out ------------------------------------------------------------------------------
    def _send_information(self) -> None:
        width, height = self.frame_wh or (0, 0)
        flags = mp.CAMERA_CAP_FLAGS_HAS_TRACKING_POINT | mp.CAMERA_CAP_FLAGS_HAS_TRACKING_RECTANGLE
        self.link.encoder.camera_information_send(
            int((time.perf_counter() - self._t0) * 1000) & 0xFFFFFFFF, _padded("dasiamrt", 32),
            _padded("DaSiamRPN tracker", 32), _firmware_version(), math.nan, math.nan, math.nan,
            min(width, 65535), min(height, 65535), 0, flags, 0, b"")  # extensions left at 0 (older pymavlink)

    def _send_status(self, status: mp.TrackingStatus, result: Optional[LiveResult]) -> None:
        self.link.encoder.camera_tracking_image_status_send(
            status.tracking_status, status.tracking_mode, status.target_data, status.point_x, status.point_y,
            status.radius, status.rec_top_x, status.rec_top_y, status.rec_bottom_x, status.rec_bottom_y)
        latency = (time.perf_counter() - result.t_mono) if result is not None and status.active else None
        self.stats.count_status(status.tracking_status, latency)

    def _send_gimbal(self, command: GimbalCommand) -> None:
        assert self.gimbal_config is not None
        manager = self.gimbal_config.manager or (self.own[0], mp.MAV_COMP_ID_AUTOPILOT1)
        device = self.gimbal_config.device_id
        if command.kind == "rates":
            self.stats.gimbal_commands += 1
            self.link.encoder.gimbal_manager_set_pitchyaw_send(
                manager[0], manager[1], 0, device, math.nan, math.nan, command.pitch_rate, command.yaw_rate)
            return
        # primary control: ourselves to take it, -3 ("remove control if currently in control") to release
        primary = self.own if command.kind == "take" else (-3, -3)
        self.link.encoder.command_long_send(manager[0], manager[1], mp.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE, 0,
                                            primary[0], primary[1], -1, -1, 0, 0, device)
