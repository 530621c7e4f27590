"""Gimbal follow (``--gimbal-follow``): a proportional pitch/yaw rate controller that keeps the target centred.

Only gimbal-manager messages are produced (GIMBAL_MANAGER_SET_PITCHYAW with rates, and
MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE to take and release control as the gimbal protocol v2 asks);
never a flight command. Pure: no pymavlink, no I/O; :class:`GimbalFollower` says what to send when.

Angles (pinhole camera, square pixels; ``hfov`` is the horizontal field of view)::

    f_px      = (W / 2) / tan(hfov / 2)                 focal length in pixels
    yaw_err   =  atan((cx - W / 2) / f_px)              rad, positive: target right of the centre
    pitch_err = -atan((cy - H / 2) / f_px)              rad, positive: target above the centre
    rate      = clamp(gain * err, -max_rate, max_rate)  rad/s (MAVLink: pitch up and yaw right positive)

Rates go to zero when the target is lost, tracking stops, or the run ends.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import ConfigError
from .mavlink_protocol import Box, RateSchedule

#: Zero-rate commands sent when motion must stop (several: a UDP datagram can be lost).
ZERO_REPEATS = 3


@dataclass(frozen=True)
class GimbalConfig:
    """Settings of the follow controller.

    Attributes:
        hfov_deg: horizontal field of view of the camera, degrees (0..180).
        gain: proportional gain, 1/s (rad/s of rate per rad of offset).
        max_rate_deg_s: rate clamp, deg/s.
        rate_hz: how often rates are sent while following.
        manager: (system id, component id) of the gimbal manager; ``None``: component 1 (the autopilot,
            which is the gimbal manager on ArduPilot and PX4) of our own system.
        device_id: ``gimbal_device_id`` field (0: all gimbals of that manager).
    """

    hfov_deg: float
    gain: float = 1.0
    max_rate_deg_s: float = 30.0
    rate_hz: float = 20.0
    manager: Optional[Tuple[int, int]] = None
    device_id: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.hfov_deg < 180:
            raise ConfigError(f"--hfov must be the camera's horizontal field of view in degrees (0..180), "
                              f"got {self.hfov_deg:g}")
        if not self.gain > 0 or not self.max_rate_deg_s > 0:
            raise ConfigError("--gimbal-gain and --gimbal-max-rate must be positive")
        if not 0 < self.rate_hz <= 100:
            raise ConfigError(f"the gimbal command rate must be in (0, 100] Hz, got {self.rate_hz:g}")
        if self.manager is not None and not all(1 <= v <= 255 for v in self.manager):
            raise ConfigError(f"--gimbal-manager SYS,COMP needs ids in 1..255, got {self.manager}")


def pitch_yaw_rates(box: Box, frame_wh: Tuple[int, int], config: GimbalConfig) -> Tuple[float, float]:
    """(pitch_rate, yaw_rate) in rad/s that turn the camera toward the centre of ``box`` (formulas above).

    Args:
        box: target, pixel x, y, w, h of a frame of size ``frame_wh``.
    """
    width, height = frame_wh
    x, y, w, h = box
    f_px = (width / 2) / math.tan(math.radians(config.hfov_deg) / 2)
    yaw_err = math.atan((x + w / 2 - width / 2) / f_px)
    pitch_err = -math.atan((y + h / 2 - height / 2) / f_px)
    limit = math.radians(config.max_rate_deg_s)
    pitch_rate = min(max(config.gain * pitch_err, -limit), limit)
    yaw_rate = min(max(config.gain * yaw_err, -limit), limit)
    return pitch_rate, yaw_rate


@dataclass(frozen=True)
class GimbalCommand:
    """``kind`` ``rates`` (``pitch_rate``/``yaw_rate`` rad/s), ``take`` or ``release`` (manager control)."""

    kind: str
    pitch_rate: float = 0.0
    yaw_rate: float = 0.0


class GimbalFollower:
    """What to send to the gimbal manager, frame after frame.

    Take control at the first tracked frame of a session; rates at ``rate_hz`` while the target is
    tracked; zero rates (``ZERO_REPEATS`` times) as soon as it is lost or tracking stops; release
    control after the zeros once the session has ended; zeros and release at :meth:`close`.
    """

    def __init__(self, config: GimbalConfig, now: float) -> None:
        self.config = config
        self.schedule = RateSchedule(1.0 / config.rate_hz, now)
        self.in_control = False
        self.moving = False
        self.zeros_left = 0

    def update(self, now: float, target: Optional[Tuple[Box, Tuple[int, int]]], session: bool) -> List[GimbalCommand]:
        """Commands to send now.

        Args:
            now: monotonic seconds.
            target: (box, frame_wh) of the newest result while the target is tracked; ``None`` while it is
                lost or there is none.
            session: a tracking session is on (tracked or lost); False once stopped.
        """
        out: List[GimbalCommand] = []
        if target is not None:
            if not self.in_control:
                out.append(GimbalCommand("take"))
                self.in_control = True
            if self.schedule.due(now):
                pitch, yaw = pitch_yaw_rates(target[0], target[1], self.config)
                out.append(GimbalCommand("rates", pitch, yaw))
                self.moving = True
            return out
        if self.moving:  # stop at once, not at the next tick
            self.moving, self.zeros_left = False, ZERO_REPEATS - 1
            return [GimbalCommand("rates")]
        if self.zeros_left > 0:
            if self.schedule.due(now):
                self.zeros_left -= 1
                out.append(GimbalCommand("rates"))
            return out
        if not session and self.in_control:
            self.in_control = False
            out.append(GimbalCommand("release"))
        return out

    def wait_s(self, now: float) -> float:
        """Seconds until the follower has something to send on its own clock (inf while it is idle)."""
        return self.schedule.wait_s(now) if self.moving or self.zeros_left > 0 else math.inf

    def close(self) -> List[GimbalCommand]:
        """At exit: zero rates (twice: no later chance to repeat them) and release control."""
        out = [GimbalCommand("rates"), GimbalCommand("rates")] if self.in_control else []
        if self.in_control:
            out.append(GimbalCommand("release"))
        self.in_control = self.moving = False
        self.zeros_left = 0
        return out
