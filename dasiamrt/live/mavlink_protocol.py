"""The MAVLink camera tracking protocol, pure part: ids, normalised boxes, command decisions, status fields.

Nothing here imports pymavlink (the logic is tested without it). The numbers are those of MAVLink's
``common.xml``; ``tests/live/test_mavlink_protocol.py`` checks each against pymavlink's generated
dialect. Coordinate frames:

* pixel boxes ``bbox_xywh``: 0-based top-left x, y, width, height in pixels of the frame;
* normalised MAVLink coordinates: x in 0..1 from the left edge to the right edge, y in 0..1 from the
  top edge to the bottom edge; a point radius is a fraction of the image **width**.

The lost-state mapping (documented in ``live/README.md``): ``init``/``tracking`` -> ``ACTIVE`` with
the box; ``lost`` (the long-term global search) -> ``ERROR``, the session's mode kept, no target data
and NaN coordinates (the target's position is unknown, a ground station must not draw a stale box),
streamed on until the tracker finds the target again or a stop; no target -> ``IDLE``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from ..errors import ConfigError
from ..runtime.geometry import check_init_box

Box = Tuple[float, float, float, float]

# Messages.
MSG_HEARTBEAT = 0
MSG_CAMERA_INFORMATION = 259
MSG_CAMERA_TRACKING_IMAGE_STATUS = 275
# Commands (MAV_CMD).
MAV_CMD_SET_MESSAGE_INTERVAL = 511
MAV_CMD_REQUEST_MESSAGE = 512
MAV_CMD_REQUEST_CAMERA_INFORMATION = 521  # superseded by REQUEST_MESSAGE; older ground stations still send it
MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE = 1001
MAV_CMD_CAMERA_TRACK_POINT = 2004
MAV_CMD_CAMERA_TRACK_RECTANGLE = 2005
MAV_CMD_CAMERA_STOP_TRACKING = 2010
# MAV_RESULT.
MAV_RESULT_ACCEPTED = 0
MAV_RESULT_DENIED = 2
MAV_RESULT_UNSUPPORTED = 3
# HEARTBEAT fields, component ids.
MAV_TYPE_CAMERA = 30
MAV_AUTOPILOT_INVALID = 8
MAV_STATE_ACTIVE = 4
MAV_COMP_ID_AUTOPILOT1 = 1
MAV_COMP_ID_CAMERA = 100
# CAMERA_CAP_FLAGS, CAMERA_TRACKING_STATUS_FLAGS, CAMERA_TRACKING_MODE, CAMERA_TRACKING_TARGET_DATA.
CAMERA_CAP_FLAGS_HAS_TRACKING_POINT = 512
CAMERA_CAP_FLAGS_HAS_TRACKING_RECTANGLE = 1024
CAMERA_TRACKING_STATUS_FLAGS_IDLE = 0
CAMERA_TRACKING_STATUS_FLAGS_ACTIVE = 1
CAMERA_TRACKING_STATUS_FLAGS_ERROR = 2
CAMERA_TRACKING_MODE_NONE = 0
CAMERA_TRACKING_MODE_POINT = 1
CAMERA_TRACKING_MODE_RECTANGLE = 2
CAMERA_TRACKING_TARGET_DATA_NONE = 0
CAMERA_TRACKING_TARGET_DATA_IN_STATUS = 4

#: Fastest status stream accepted by SET_MESSAGE_INTERVAL (faster would only repeat frames).
MIN_STATUS_INTERVAL_S = 0.01
#: Normalised coordinates may exceed 0..1 by float rounding (a float32 on the wire) and no more.
_EPS = 1e-4
NAN = float("nan")


@dataclass(frozen=True)
class MavlinkConfig:
    """The MAVLink camera component of ``dasiamrt live --mavlink``.

    Attributes:
        connection: ``udpin:HOST:PORT``, ``udpout:HOST:PORT``, ``tcp:HOST:PORT`` or a serial device
            ``/dev/ttyXXX[,BAUD]`` (checked by :func:`~dasiamrt.live.mavlink_link.parse_connection`).
        system_id: MAVLink system id; the vehicle's (the camera is a component of the drone), 1..255.
        component_id: 1..255; default ``MAV_COMP_ID_CAMERA`` (100).
        status_interval_s: default interval of CAMERA_TRACKING_IMAGE_STATUS while tracking (until a
            ground station sets another with MAV_CMD_SET_MESSAGE_INTERVAL).
        heartbeat_interval_s: HEARTBEAT period (1 Hz, as the heartbeat protocol asks).
        point_radius: radius of a TRACK_POINT box when the command gives none (0 or NaN, as ArduPilot's
            forwarding does), as a fraction of the image width: the box is a square of side 2 * r * width.
        silence_s: no MAVLink traffic for this long is reported once as a silent link.
    """

    connection: str
    system_id: int = 1
    component_id: int = MAV_COMP_ID_CAMERA
    status_interval_s: float = 0.1
    heartbeat_interval_s: float = 1.0
    point_radius: float = 0.05
    silence_s: float = 3.0

    def __post_init__(self) -> None:
        for name, value in (("--mavlink-sysid", self.system_id), ("--mavlink-compid", self.component_id)):
            if not 1 <= value <= 255:
                raise ConfigError(f"{name} must be 1..255, got {value}")
        if not self.status_interval_s >= MIN_STATUS_INTERVAL_S or not self.heartbeat_interval_s > 0:
            raise ConfigError(f"MAVLink intervals must be >= {MIN_STATUS_INTERVAL_S} s")
        if not 0 < self.point_radius <= 0.5:
            raise ConfigError(f"the default point radius must be in (0, 0.5], got {self.point_radius}")


# -- normalised <-> pixel boxes -------------------------------------------------------------------
def _unit(value: float, what: str) -> float:
    """``value`` as a 0..1 coordinate (rounding slack only); ValueError otherwise."""
    if not math.isfinite(value) or not -_EPS <= value <= 1 + _EPS:
        raise ValueError(f"{what} must be a normalised coordinate in 0..1, got {value!r}")
    return min(max(value, 0.0), 1.0)


def rect_to_box_xywh(corners: Sequence[float], frame_wh: Tuple[int, int]) -> Box:
    """TRACK_RECTANGLE corners (top-left x, y, bottom-right x, y; normalised) -> pixel box.

    Two opposite corners given the other way round describe the same rectangle and are accepted.

    Raises:
        ValueError: a coordinate outside 0..1 or not finite; a rectangle under a pixel wide or high.
    """
    x1, y1, x2, y2 = (_unit(float(v), name) for v, name in zip(corners, ("top x", "top y", "bottom x", "bottom y")))
    width, height = frame_wh
    x1, x2 = sorted((x1 * width, x2 * width))
    y1, y2 = sorted((y1 * height, y2 * height))
    return _checked((x1, y1, x2 - x1, y2 - y1), frame_wh)


def point_to_box_xywh(x: float, y: float, radius: float, frame_wh: Tuple[int, int], default_radius: float) -> Box:
    """TRACK_POINT (normalised point, radius as a fraction of the width) -> square pixel box around the point.

    A radius of 0 or NaN means "none given": ``default_radius`` is used.

    Raises:
        ValueError: the point outside 0..1; a radius outside 0..1; a box under a pixel.
    """
    px, py = _unit(float(x), "point x") * frame_wh[0], _unit(float(y), "point y") * frame_wh[1]
    radius = float(radius)
    if math.isnan(radius) or radius == 0.0:
        radius = default_radius
    radius = _unit(radius, "radius")
    half = radius * frame_wh[0]
    return _checked((px - half, py - half, 2 * half, 2 * half), frame_wh)


def _checked(box: Box, frame_wh: Tuple[int, int]) -> Box:
    try:
        return check_init_box(box, (frame_wh[1], frame_wh[0]))
    except Exception as err:  # BoxError: the same rule as every other way to set a target
        raise ValueError(str(err)) from None


def box_to_rect(box: Box, frame_wh: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """Pixel box -> normalised (top x, top y, bottom x, bottom y), clipped to the image (0..1)."""
    x, y, w, h = box
    width, height = frame_wh
    return _clip01(x / width), _clip01(y / height), _clip01((x + w) / width), _clip01((y + h) / height)


def box_to_point(box: Box, frame_wh: Tuple[int, int]) -> Tuple[float, float, float]:
    """Pixel box -> normalised centre (x, y) clipped to 0..1 and radius ``max(w, h) / 2 / width``."""
    x, y, w, h = box
    width, height = frame_wh
    return _clip01((x + w / 2) / width), _clip01((y + h / 2) / height), _clip01(max(w, h) / 2 / width)


def _clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


# -- status ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackingStatus:
    """CAMERA_TRACKING_IMAGE_STATUS fields, in the message's field order (``camera_device_id`` is 0)."""

    tracking_status: int
    tracking_mode: int
    target_data: int
    point_x: float = NAN
    point_y: float = NAN
    radius: float = NAN
    rec_top_x: float = NAN
    rec_top_y: float = NAN
    rec_bottom_x: float = NAN
    rec_bottom_y: float = NAN

    @property
    def active(self) -> bool:
        return bool(self.tracking_status & CAMERA_TRACKING_STATUS_FLAGS_ACTIVE)


IDLE_STATUS = TrackingStatus(CAMERA_TRACKING_STATUS_FLAGS_IDLE, CAMERA_TRACKING_MODE_NONE,
                             CAMERA_TRACKING_TARGET_DATA_NONE)


def tracking_status(state: Optional[str], box: Optional[Box], frame_wh: Optional[Tuple[int, int]],
                    mode: int) -> TrackingStatus:
    """The status of one result (mapping in the module docstring).

    Args:
        state: the live loop's state (``init``, ``tracking``, ``lost``, ``waiting``) or ``None`` (no result).
        box: pixel box of that result.
        frame_wh: its frame's size.
        mode: ``CAMERA_TRACKING_MODE_POINT`` or ``_RECTANGLE``: how the target was given (``_NONE``: idle).
    """
    if state not in ("init", "tracking", "lost") or box is None or frame_wh is None \
            or mode == CAMERA_TRACKING_MODE_NONE:
        return IDLE_STATUS
    if state == "lost":
        return TrackingStatus(CAMERA_TRACKING_STATUS_FLAGS_ERROR, mode, CAMERA_TRACKING_TARGET_DATA_NONE)
    active, data = CAMERA_TRACKING_STATUS_FLAGS_ACTIVE, CAMERA_TRACKING_TARGET_DATA_IN_STATUS
    if mode == CAMERA_TRACKING_MODE_POINT:
        px, py, radius = box_to_point(box, frame_wh)
        return TrackingStatus(active, mode, data, point_x=px, point_y=py, radius=radius)
    top_x, top_y, bottom_x, bottom_y = box_to_rect(box, frame_wh)
    return TrackingStatus(active, mode, data, rec_top_x=top_x, rec_top_y=top_y,
                          rec_bottom_x=bottom_x, rec_bottom_y=bottom_y)


# -- rate scheduling ------------------------------------------------------------------------------
class RateSchedule:
    """Deadlines every ``interval_s`` seconds (``None``: never), on the clock the caller passes in.

    :meth:`due` is True at most once per deadline; after a stall it fires once and restarts from
    ``now`` rather than bursting to catch up, so the long-run rate is never above 1 / interval.
    """

    def __init__(self, interval_s: Optional[float], now: float) -> None:
        self.interval_s = interval_s
        self.next_s = now if interval_s is not None else math.inf

    def set_interval(self, interval_s: Optional[float], now: float) -> None:
        """Change the interval; the next deadline is ``now`` (a new rate takes effect at once)."""
        self.interval_s = interval_s
        self.next_s = now if interval_s is not None else math.inf

    def due(self, now: float) -> bool:
        if self.interval_s is None or now < self.next_s:
            return False
        self.next_s += self.interval_s
        if self.next_s <= now:
            self.next_s = now + self.interval_s
        return True

    def wait_s(self, now: float) -> float:
        """Seconds until the next deadline (inf when disabled, 0 when overdue)."""
        return max(self.next_s - now, 0.0)
