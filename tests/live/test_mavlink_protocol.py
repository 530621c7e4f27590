"""The pure parts of the MAVLink camera component: ids, box conversions, command decisions, status, rates, gimbal."""
from __future__ import annotations

import math

import pytest

from dasiamrt.errors import ConfigError
from dasiamrt.live import mavlink_protocol as mp
from dasiamrt.live.gimbal import GimbalConfig, GimbalFollower, pitch_yaw_rates
from dasiamrt.live.mavlink_commands import CommandRequest, decide
from dasiamrt.live.mavlink_link import parse_connection
from dasiamrt.live.mavlink_settings import mavlink_settings

FRAME = (480, 360)
OWN = (1, 100)


def test_constants_match_pymavlink_common_dialect():
    common = pytest.importorskip("pymavlink.dialects.v20.common")
    names = {
        "MAVLINK_MSG_ID_HEARTBEAT": mp.MSG_HEARTBEAT,
        "MAVLINK_MSG_ID_CAMERA_INFORMATION": mp.MSG_CAMERA_INFORMATION,
        "MAVLINK_MSG_ID_CAMERA_TRACKING_IMAGE_STATUS": mp.MSG_CAMERA_TRACKING_IMAGE_STATUS,
    }
    for name in dir(mp):
        if name.startswith(("MAV_CMD_", "MAV_RESULT_", "MAV_TYPE_", "MAV_AUTOPILOT_", "MAV_STATE_", "MAV_COMP_ID_",
                            "CAMERA_CAP_FLAGS_", "CAMERA_TRACKING_")) and name != "CAMERA_TRACKING_TARGET_DATA_NONE":
            names[name] = getattr(mp, name)
    assert len(names) > 25
    for name, value in names.items():
        assert getattr(common, name) == value, name


def test_rectangle_round_trip_and_corner_order():
    box = mp.rect_to_box_xywh((0.25, 0.1, 0.75, 0.6), FRAME)
    assert box == pytest.approx((120.0, 36.0, 240.0, 180.0))
    assert mp.box_to_rect(box, FRAME) == pytest.approx((0.25, 0.1, 0.75, 0.6))
    assert mp.rect_to_box_xywh((0.75, 0.6, 0.25, 0.1), FRAME) == pytest.approx(box)  # opposite corners swapped
    # a box partly outside the frame is reported clipped to the image
    assert mp.box_to_rect((-48.0, 300.0, 96.0, 120.0), FRAME) == pytest.approx((0.0, 300 / 360, 0.1, 1.0))


@pytest.mark.parametrize("corners", [(0.2, 0.2, 1.2, 0.5), (0.2, 0.2, 0.2, 0.5), (math.nan, 0, 0.5, 0.5),
                                     (0.5, 0.5, 0.5005, 0.9)])
def test_bad_rectangles_are_refused(corners):
    with pytest.raises(ValueError):
        mp.rect_to_box_xywh(corners, FRAME)


def test_point_box_is_a_square_sized_by_the_radius_or_the_default():
    assert mp.point_to_box_xywh(0.5, 0.5, 0.1, FRAME, 0.05) == pytest.approx((192.0, 132.0, 96.0, 96.0))
    default = mp.point_to_box_xywh(0.5, 0.5, 0.0, FRAME, 0.05)
    assert default == pytest.approx((216.0, 156.0, 48.0, 48.0))
    assert mp.point_to_box_xywh(0.5, 0.5, math.nan, FRAME, 0.05) == pytest.approx(default)
    px, py, radius = mp.box_to_point((192.0, 132.0, 96.0, 96.0), FRAME)
    assert (px, py, radius) == pytest.approx((0.5, 0.5, 0.1))
    with pytest.raises(ValueError):
        mp.point_to_box_xywh(1.5, 0.5, 0.1, FRAME, 0.05)


def _request(command, *params, target=OWN):
    values = tuple(float(v) for v in params) + (0.0,) * (7 - len(params))
    return CommandRequest(command, values, (255, 190), target)


def _decide(request, frame_wh=FRAME):
    return decide(request, OWN, frame_wh, 0.05, 0.1)


def test_track_commands_need_a_frame_and_valid_parameters():
    rect = _request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, 0.25, 0.1, 0.75, 0.6)
    assert _decide(rect, None).result == mp.MAV_RESULT_DENIED
    decision = _decide(rect)
    assert decision.result == mp.MAV_RESULT_ACCEPTED and decision.action.kind == "track"
    assert decision.action.mode == mp.CAMERA_TRACKING_MODE_RECTANGLE
    assert decision.action.bbox_xywh == pytest.approx((120.0, 36.0, 240.0, 180.0))
    point = _decide(_request(mp.MAV_CMD_CAMERA_TRACK_POINT, 0.5, 0.5, 0.1))
    assert point.action.mode == mp.CAMERA_TRACKING_MODE_POINT
    assert _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, 0.5, 0.1, 1.5, 0.6)).result == mp.MAV_RESULT_DENIED
    assert _decide(_request(mp.MAV_CMD_CAMERA_STOP_TRACKING), None).result == mp.MAV_RESULT_ACCEPTED


def test_commands_for_others_get_no_ack():
    rect = (0.25, 0.1, 0.75, 0.6)
    assert _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, *rect, target=(2, 100))).result is None
    assert _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, *rect, target=(1, 101))).result is None
    assert _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, *rect, 101)).result is None  # camera id 101
    assert _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, *rect, 100)).result == mp.MAV_RESULT_ACCEPTED
    broadcast = _decide(_request(mp.MAV_CMD_CAMERA_TRACK_RECTANGLE, *rect, target=(0, 0)))
    assert broadcast.result == mp.MAV_RESULT_ACCEPTED


def test_requests_intervals_and_unsupported_commands():
    for message in (mp.MSG_CAMERA_INFORMATION, mp.MSG_CAMERA_TRACKING_IMAGE_STATUS, mp.MSG_HEARTBEAT):
        decision = _decide(_request(mp.MAV_CMD_REQUEST_MESSAGE, message))
        assert decision.result == mp.MAV_RESULT_ACCEPTED and decision.action.message_id == message
    assert _decide(_request(mp.MAV_CMD_REQUEST_MESSAGE, 33)).result == mp.MAV_RESULT_UNSUPPORTED
    assert _decide(_request(mp.MAV_CMD_REQUEST_CAMERA_INFORMATION, 1)).action.message_id == mp.MSG_CAMERA_INFORMATION
    status = mp.MSG_CAMERA_TRACKING_IMAGE_STATUS
    assert _decide(_request(mp.MAV_CMD_SET_MESSAGE_INTERVAL, status, 50000)).action.interval_s == pytest.approx(0.05)
    assert _decide(_request(mp.MAV_CMD_SET_MESSAGE_INTERVAL, status, 0)).action.interval_s == pytest.approx(0.1)
    disabled = _decide(_request(mp.MAV_CMD_SET_MESSAGE_INTERVAL, status, -1))
    assert disabled.result == mp.MAV_RESULT_ACCEPTED and disabled.action.interval_s is None
    assert _decide(_request(mp.MAV_CMD_SET_MESSAGE_INTERVAL, status, 10)).result == mp.MAV_RESULT_DENIED
    assert _decide(_request(mp.MAV_CMD_SET_MESSAGE_INTERVAL, 33, 50000)).result == mp.MAV_RESULT_UNSUPPORTED
    assert _decide(_request(400, 1.0)).result == mp.MAV_RESULT_UNSUPPORTED  # MAV_CMD_COMPONENT_ARM_DISARM


def test_status_mapping_of_each_state():
    box = (120.0, 36.0, 240.0, 180.0)
    rect = mp.tracking_status("tracking", box, FRAME, mp.CAMERA_TRACKING_MODE_RECTANGLE)
    assert (rect.tracking_status, rect.tracking_mode, rect.target_data) == (1, 2, 4)
    corners = (rect.rec_top_x, rect.rec_top_y, rect.rec_bottom_x, rect.rec_bottom_y)
    assert corners == pytest.approx((0.25, 0.1, 0.75, 0.6))
    assert math.isnan(rect.point_x) and math.isnan(rect.radius)
    point = mp.tracking_status("init", box, FRAME, mp.CAMERA_TRACKING_MODE_POINT)
    assert (point.tracking_status, point.tracking_mode) == (1, 1)
    assert (point.point_x, point.point_y, point.radius) == pytest.approx((0.5, 0.35, 0.25))
    lost = mp.tracking_status("lost", box, FRAME, mp.CAMERA_TRACKING_MODE_RECTANGLE)
    assert (lost.tracking_status, lost.tracking_mode, lost.target_data) == (2, 2, 0)
    assert all(math.isnan(v) for v in (lost.rec_top_x, lost.rec_bottom_y, lost.point_x))
    assert mp.tracking_status("waiting", None, FRAME, mp.CAMERA_TRACKING_MODE_RECTANGLE) == mp.IDLE_STATUS


def test_rate_schedule_keeps_the_rate_without_bursts():
    schedule = mp.RateSchedule(0.1, now=0.0)
    fired = [t / 1000 for t in range(0, 2000, 5) if schedule.due(t / 1000)]
    assert len(fired) == 20 and fired[1] == pytest.approx(0.1)
    stalled = mp.RateSchedule(0.1, now=0.0)
    assert stalled.due(0.0) and stalled.due(1.0)  # one after a 1 s stall, not ten
    assert not stalled.due(1.05) and stalled.due(1.1)
    off = mp.RateSchedule(None, now=0.0)
    assert not off.due(100.0) and math.isinf(off.wait_s(0.0))


def test_gimbal_rates_point_at_the_target_and_are_clamped():
    config = GimbalConfig(hfov_deg=90.0, gain=2.0, max_rate_deg_s=30.0)
    # target centre at x = 360 (3/4 of the width): atan(120 / 240) to the right; y = 90: atan(90 / 240) up
    pitch, yaw = pitch_yaw_rates((340.0, 70.0, 40.0, 40.0), FRAME, config)
    limit = math.radians(30.0)
    assert yaw == pytest.approx(min(2.0 * math.atan(120 / 240), limit))
    assert pitch == pytest.approx(min(2.0 * math.atan(90 / 240), limit))
    slow = GimbalConfig(hfov_deg=90.0, gain=0.1, max_rate_deg_s=30.0)
    pitch, yaw = pitch_yaw_rates((100.0, 250.0, 40.0, 40.0), FRAME, slow)  # left and below: negative both
    assert yaw == pytest.approx(0.1 * math.atan(-120 / 240)) and pitch == pytest.approx(0.1 * -math.atan(90 / 240))
    assert pitch_yaw_rates((220.0, 160.0, 40.0, 40.0), FRAME, slow) == pytest.approx((0.0, 0.0))


def test_gimbal_follower_takes_control_moves_then_zeroes_and_releases():
    follower = GimbalFollower(GimbalConfig(hfov_deg=60.0, rate_hz=10.0), now=0.0)
    target = ((340.0, 70.0, 40.0, 40.0), FRAME)
    first = follower.update(0.0, target, True)
    assert [c.kind for c in first] == ["take", "rates"] and first[1].yaw_rate > 0
    assert follower.update(0.05, target, True) == []  # rate limited
    assert [c.kind for c in follower.update(0.1, target, True)] == ["rates"]
    lost = follower.update(0.12, None, True)  # lost: zero at once, not at the next tick
    assert [(c.kind, c.pitch_rate, c.yaw_rate) for c in lost] == [("rates", 0.0, 0.0)]
    zeros = [c for t in (0.2, 0.3, 0.4, 0.5) for c in follower.update(t, None, True)]
    assert [(c.kind, c.yaw_rate) for c in zeros] == [("rates", 0.0), ("rates", 0.0)]  # 3 zeros in all, control kept
    assert [c.kind for c in follower.update(0.6, None, False)] == ["release"]  # session over
    assert follower.update(0.7, None, False) == []
    follower.update(1.0, target, True)
    assert [c.kind for c in follower.close()] == ["rates", "rates", "release"]
    assert all(c.pitch_rate == c.yaw_rate == 0.0 for c in follower.close()[:2])


def test_connection_strings():
    assert parse_connection("udpin:0.0.0.0:14550").kind == "udpin"
    assert parse_connection("udpout:10.0.0.2:14550").port == 14550
    serial = parse_connection("/dev/ttyTHS1,921600")
    assert (serial.kind, serial.device, serial.baud) == ("serial", "/dev/ttyTHS1", 921600)
    assert parse_connection("/dev/ttyACM0").baud == 115200
    for bad in ("udp:1.2.3.4", "flight.tlog", "udpout:host", "udpin:0.0.0.0:99999", "/dev/ttyS0,fast"):
        with pytest.raises(ConfigError):
            parse_connection(bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"connection": None, "gimbal_follow": True}, "add --mavlink"),
    ({"connection": "udpout:1.2.3.4:14550", "gimbal_follow": True}, "needs --hfov"),
    ({"connection": "udpout:1.2.3.4:14550", "hfov_deg": 60.0}, "only used with --gimbal-follow"),
    ({"connection": "udpout:1.2.3.4:14550", "system_id": 0}, "--mavlink-sysid must be 1..255"),
    ({"connection": "udpout:1.2.3.4:14550", "gimbal_follow": True, "hfov_deg": 200.0}, "--hfov must be"),
    ({"connection": "udpout:1.2.3.4:14550", "gimbal_follow": True, "hfov_deg": 60.0, "manager": "1"}, "SYS,COMP"),
])
def test_flag_combinations_are_checked_in_the_library(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        mavlink_settings(**kwargs)
