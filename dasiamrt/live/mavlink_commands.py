"""MAVLink command -> (MAV_RESULT, action) for the camera component; pure (no pymavlink, no I/O).

Rules (the user-facing table is in ``live/README.md``):

* A command whose ``target_system``/``target_component`` is neither ours nor broadcast (0) is not for
  us: no ack (another component answers it). The same for a tracking command whose "target camera
  ID" parameter names another camera (not 0 and not our component id).
* TRACK_RECTANGLE / TRACK_POINT: ``DENIED`` before the first frame (no image to place the box in)
  and for invalid parameters (outside 0..1, empty box); else ``ACCEPTED`` and the tracker is
  (re)initialised on the newest frame. STOP_TRACKING: always ``ACCEPTED``.
* REQUEST_MESSAGE for HEARTBEAT, CAMERA_INFORMATION or CAMERA_TRACKING_IMAGE_STATUS, the older
  REQUEST_CAMERA_INFORMATION, and SET_MESSAGE_INTERVAL for CAMERA_TRACKING_IMAGE_STATUS:
  ``ACCEPTED`` (``DENIED`` for an invalid interval); any other command or message: ``UNSUPPORTED``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from .mavlink_protocol import (
    CAMERA_TRACKING_MODE_POINT,
    CAMERA_TRACKING_MODE_RECTANGLE,
    MAV_CMD_CAMERA_STOP_TRACKING,
    MAV_CMD_CAMERA_TRACK_POINT,
    MAV_CMD_CAMERA_TRACK_RECTANGLE,
    MAV_CMD_REQUEST_CAMERA_INFORMATION,
    MAV_CMD_REQUEST_MESSAGE,
    MAV_CMD_SET_MESSAGE_INTERVAL,
    MAV_RESULT_ACCEPTED,
    MAV_RESULT_DENIED,
    MAV_RESULT_UNSUPPORTED,
    MIN_STATUS_INTERVAL_S,
    MSG_CAMERA_INFORMATION,
    MSG_CAMERA_TRACKING_IMAGE_STATUS,
    MSG_HEARTBEAT,
    Box,
    point_to_box_xywh,
    rect_to_box_xywh,
)

#: Messages this component sends on request.
REQUESTABLE = (MSG_HEARTBEAT, MSG_CAMERA_INFORMATION, MSG_CAMERA_TRACKING_IMAGE_STATUS)
#: Index (0-based) of the "target camera ID" parameter of each tracking command.
_CAMERA_ID_PARAM = {MAV_CMD_CAMERA_TRACK_POINT: 3, MAV_CMD_CAMERA_TRACK_RECTANGLE: 4, MAV_CMD_CAMERA_STOP_TRACKING: 0}


@dataclass(frozen=True)
class CommandRequest:
    """A COMMAND_LONG (or COMMAND_INT, params 5/6 as floats) as received.

    Attributes:
        command: MAV_CMD id.
        params: param1..param7.
        source: (system id, component id) of the sender (where the ack goes).
        target: (target_system, target_component) of the command.
    """

    command: int
    params: Tuple[float, float, float, float, float, float, float]
    source: Tuple[int, int]
    target: Tuple[int, int]


@dataclass(frozen=True)
class Action:
    """What to do after acking.

    Attributes:
        kind: ``track`` (init on ``bbox_xywh`` with ``mode``), ``stop``, ``send`` (message ``message_id``
            once) or ``interval`` (status every ``interval_s`` seconds; ``None`` disables it).
    """

    kind: str
    bbox_xywh: Optional[Box] = None
    mode: int = 0
    message_id: int = -1
    interval_s: Optional[float] = None


@dataclass(frozen=True)
class Decision:
    """``result`` is the MAV_RESULT to ack, or ``None`` when the command is not ours (no ack)."""

    result: Optional[int]
    action: Optional[Action] = None
    reason: str = ""


def decide(request: CommandRequest, own: Tuple[int, int], frame_wh: Optional[Tuple[int, int]],
           point_radius: float, default_interval_s: float) -> Decision:
    """Map one command to its ack and action (rules in the module docstring).

    Args:
        request: the command.
        own: our (system id, component id).
        frame_wh: size of the newest processed frame; ``None`` before the first.
        point_radius: TRACK_POINT radius used when the command gives none.
        default_interval_s: status interval restored by SET_MESSAGE_INTERVAL with interval 0.
    """
    if not _addressed_to(request.target, own):
        return Decision(None, reason="addressed to another system/component")
    command, params = request.command, request.params
    if command in _CAMERA_ID_PARAM:
        camera_id = params[_CAMERA_ID_PARAM[command]]
        if math.isfinite(camera_id) and int(camera_id) not in (0, own[1]):
            return Decision(None, reason=f"for camera id {int(camera_id)}")
        if command == MAV_CMD_CAMERA_STOP_TRACKING:
            return Decision(MAV_RESULT_ACCEPTED, Action("stop"))
        return _track(command, params, frame_wh, point_radius)
    if command == MAV_CMD_REQUEST_MESSAGE:
        message_id = _message_id(params[0])
        if message_id in REQUESTABLE:
            return Decision(MAV_RESULT_ACCEPTED, Action("send", message_id=message_id))
        return Decision(MAV_RESULT_UNSUPPORTED, reason=f"message {params[0]:g} is not provided")
    if command == MAV_CMD_REQUEST_CAMERA_INFORMATION:
        wanted = params[0] == 1  # param1 MAV_BOOL: 1 asks for the capabilities, 0 asks for nothing
        return Decision(MAV_RESULT_ACCEPTED, Action("send", message_id=MSG_CAMERA_INFORMATION) if wanted else None)
    if command == MAV_CMD_SET_MESSAGE_INTERVAL:
        return _interval(params, default_interval_s)
    return Decision(MAV_RESULT_UNSUPPORTED, reason=f"command {command} is not supported")


def _addressed_to(target: Tuple[int, int], own: Tuple[int, int]) -> bool:
    system, component = target
    return system in (0, own[0]) and component in (0, own[1])


def _message_id(value: float) -> int:
    return int(value) if math.isfinite(value) and value == int(value) else -1


def _track(command: int, params: Sequence[float], frame_wh: Optional[Tuple[int, int]],
           point_radius: float) -> Decision:
    if frame_wh is None:
        return Decision(MAV_RESULT_DENIED, reason="no frame processed yet")
    try:
        if command == MAV_CMD_CAMERA_TRACK_RECTANGLE:
            box = rect_to_box_xywh(params[:4], frame_wh)
            return Decision(MAV_RESULT_ACCEPTED, Action("track", box, CAMERA_TRACKING_MODE_RECTANGLE))
        box = point_to_box_xywh(params[0], params[1], params[2], frame_wh, point_radius)
        return Decision(MAV_RESULT_ACCEPTED, Action("track", box, CAMERA_TRACKING_MODE_POINT))
    except ValueError as err:
        return Decision(MAV_RESULT_DENIED, reason=str(err))


def _interval(params: Sequence[float], default_interval_s: float) -> Decision:
    message_id, interval_us = _message_id(params[0]), params[1]
    if message_id != MSG_CAMERA_TRACKING_IMAGE_STATUS:
        return Decision(MAV_RESULT_UNSUPPORTED, reason=f"no interval for message {params[0]:g}")
    if interval_us == -1:
        return Decision(MAV_RESULT_ACCEPTED, Action("interval", interval_s=None))
    if interval_us == 0:
        return Decision(MAV_RESULT_ACCEPTED, Action("interval", interval_s=default_interval_s))
    if not math.isfinite(interval_us) or interval_us < MIN_STATUS_INTERVAL_S * 1e6:
        return Decision(MAV_RESULT_DENIED, reason=f"interval {interval_us:g} us: use -1, 0 or "
                                                  f">= {MIN_STATUS_INTERVAL_S * 1e6:g} us")
    return Decision(MAV_RESULT_ACCEPTED, Action("interval", interval_s=interval_us * 1e-6))
