"""The MAVLink camera component in-process, over real links on this machine (UDP, TCP, a pseudo-terminal as
the serial port), with results fed by the test: the cases a file played as a camera cannot stage
(a command before the first frame, a lost target, a ground station restarting, a cable pulled)."""
from __future__ import annotations

import logging
import math
import os
import pty
import socket
import threading
import time

import pytest

pytest.importorskip("pymavlink")
from pymavlink.dialects.v20 import common as mavlink  # noqa: E402

from dasiamrt.live.control import ControlMessage  # noqa: E402
from dasiamrt.live.mavlink import MavlinkCamera  # noqa: E402
from dasiamrt.live.mavlink_protocol import MavlinkConfig  # noqa: E402
from dasiamrt.live.result import LiveResult  # noqa: E402
from tests.live.mavlink_gcs import SimulatedGcs  # noqa: E402

FRAME = (480, 360)


def _result(frame_id, state, box, t_mono=None):
    now = time.perf_counter() if t_mono is None else t_mono
    return LiveResult(frame_id, time.time(), now, now, FRAME, state, box, None if box is None else 0.9)


@pytest.fixture
def camera_gcs():
    gcs = SimulatedGcs(heartbeat=False)
    camera = MavlinkCamera(MavlinkConfig(f"udpout:127.0.0.1:{gcs.port}", status_interval_s=0.05))
    assert gcs.wait("HEARTBEAT", 0, 5)
    yield camera, gcs
    camera.close()
    gcs.close()


def _wait_poll(camera, timeout=2.0):
    end = time.time() + timeout
    messages = []
    while time.time() < end and not messages:
        messages = camera.poll()
        time.sleep(0.01)
    return messages


def test_track_before_the_first_frame_is_denied_then_accepted(camera_gcs):
    camera, gcs = camera_gcs
    corners = (0.25, 0.1, 0.75, 0.6)
    t = gcs.command(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, *corners)
    assert gcs.ack(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, t).result == mavlink.MAV_RESULT_DENIED
    assert camera.poll() == []
    camera.on_result(_result(0, "waiting", None))
    time.sleep(0.2)
    t = gcs.command(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, *corners)
    assert gcs.ack(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, t).result == mavlink.MAV_RESULT_ACCEPTED
    (message,) = _wait_poll(camera)
    assert message.cmd == "init" and message.bbox_xywh == pytest.approx((120.0, 36.0, 240.0, 180.0))


def test_commands_for_other_targets_get_no_answer(camera_gcs):
    camera, gcs = camera_gcs
    camera.on_result(_result(0, "waiting", None))
    start = time.time()
    gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, target=(2, 100))
    gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, target=(1, 101))
    gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, 101)  # target camera id 101: another camera
    t = gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    assert gcs.ack(mavlink.MAV_CMD_REQUEST_MESSAGE, t) is not None
    time.sleep(0.2)
    assert [m.command for _, m in gcs.messages("COMMAND_ACK", start)] == [mavlink.MAV_CMD_REQUEST_MESSAGE]
    assert camera.poll() == []
    camera.close()
    assert camera.stats.ignored_commands == 3


def test_an_ardupilot_links_own_traffic_is_neither_bad_nor_foreign(camera_gcs):
    from pymavlink.dialects.v20 import ardupilotmega

    camera, gcs = camera_gcs
    encoder = ardupilotmega.MAVLink(None, srcSystem=1, srcComponent=1)
    gcs.raw(encoder.ahrs2_encode(0.1, 0.2, 0.3, 10.0, 0, 0).pack(encoder))  # ArduPilot-only message (178)
    gcs.raw(encoder.attitude_encode(1000, 0.1, 0.2, 0.3, 0, 0, 0).pack(encoder))  # common
    t = gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    assert gcs.ack(mavlink.MAV_CMD_REQUEST_MESSAGE, t) is not None
    camera.close()
    assert (camera.stats.bad_data, camera.stats.unknown, camera.stats.ignored_commands) == (0, 0, 0)


def test_lost_and_stale_targets_are_reported_as_errors(camera_gcs):
    camera, gcs = camera_gcs
    box = (120.0, 36.0, 240.0, 180.0)
    camera.on_result(_result(0, "init", box))
    time.sleep(0.3)
    camera.on_result(_result(1, "lost", box))
    time.sleep(0.3)
    camera.on_result(_result(2, "tracking", box))
    time.sleep(2.0)  # no new frame: the camera stalled (reconnecting); stale after 1 s
    statuses = [m for _, m in gcs.messages("CAMERA_TRACKING_IMAGE_STATUS")]
    kinds = [m.tracking_status for m in statuses]
    first_error = kinds.index(2)
    back = kinds.index(1, first_error)
    assert set(kinds[:first_error]) == {1} and set(kinds[first_error:back]) == {2}
    assert kinds[-1] == 2 and 10 <= kinds.count(2) - (back - first_error)  # stale for ~1 s at 20 Hz
    lost = statuses[first_error]
    assert lost.tracking_mode == 2 and lost.target_data == 0 and math.isnan(lost.rec_top_x)
    assert statuses[0].rec_top_x == pytest.approx(0.25)


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_udpin_answers_a_ground_station_that_restarts_on_another_port():
    from tests.live.mavlink_gcs import mavutil

    port = _free_udp_port()
    camera = MavlinkCamera(MavlinkConfig(f"udpin:127.0.0.1:{port}"))
    try:
        for attempt in range(2):  # a ground station, then a restarted one (a new source port)
            gcs = mavutil.mavlink_connection(f"udpout:127.0.0.1:{port}", source_system=255, source_component=190)
            gcs.mav.command_long_send(1, 100, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                      mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION, 0, 0, 0, 0, 0, 0)
            info = gcs.recv_match(type="CAMERA_INFORMATION", blocking=True, timeout=3)
            assert info is not None, f"ground station {attempt} got no answer"
            gcs.close()
    finally:
        camera.close()


class _Pty:
    """A pseudo-terminal whose slave is reached through ``link`` (a stable name, as udev gives a cable)."""

    def __init__(self, link):
        self.master, self.slave = pty.openpty()
        tmp = f"{link}.new"
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, link)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.encoder = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)

    def send_command(self, command, *params):
        values = list(params) + [0.0] * (7 - len(params))
        os.write(self.master, self.encoder.command_long_encode(1, 100, command, 0, *values).pack(self.encoder))

    def read_messages(self, timeout):
        out, end = [], time.time() + timeout
        os.set_blocking(self.master, False)
        while time.time() < end:
            try:
                out.extend(self.parser.parse_buffer(os.read(self.master, 4096)) or [])
            except BlockingIOError:
                time.sleep(0.01)
        return out

    def unplug(self):
        os.close(self.master)
        os.close(self.slave)


def test_serial_cable_pulled_and_plugged_back(tmp_path, caplog):
    pytest.importorskip("serial")
    link = str(tmp_path / "ttyFC")
    cable = _Pty(link)
    camera = MavlinkCamera(MavlinkConfig(f"{link},921600"))
    try:
        assert any(m.get_type() == "HEARTBEAT" for m in cable.read_messages(1.5))
        with caplog.at_level(logging.INFO, logger="dasiamrt.live.mavlink_link"):
            cable.unplug()
            time.sleep(1.5)
            assert camera.link.transport is None and camera.link.drops == 1
            cable = _Pty(link)  # plugged back (another /dev/pts/N behind the same name)
            deadline = time.time() + 10
            while camera.link.transport is None and time.time() < deadline:
                time.sleep(0.05)
        assert camera.link.reconnects == 1
        assert "lost" in caplog.text and "reopened" in caplog.text
        cable.send_command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION)
        replies = cable.read_messages(1.5)
        assert any(m.get_type() == "COMMAND_ACK" and m.result == 0 for m in replies)
        assert any(m.get_type() == "CAMERA_INFORMATION" for m in replies)
    finally:
        camera.close()


def test_tcp_link_closed_by_the_peer_is_reopened():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    server.settimeout(5)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    camera = MavlinkCamera(MavlinkConfig(f"tcp:127.0.0.1:{server.getsockname()[1]}"))
    try:
        thread.join()
        accepted[0].close()  # the router restarts
        second, _ = server.accept()  # the camera came back by itself
        encoder = mavlink.MAVLink(None, srcSystem=255, srcComponent=190)
        second.sendall(encoder.command_long_encode(1, 100, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                                   mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION, 0, 0, 0, 0, 0, 0)
                       .pack(encoder))
        parser = mavlink.MAVLink(None)
        parser.robust_parsing = True
        second.settimeout(0.2)
        kinds, end = [], time.time() + 3
        while "CAMERA_INFORMATION" not in kinds and time.time() < end:
            try:
                kinds += [m.get_type() for m in parser.parse_buffer(second.recv(4096)) or []]
            except socket.timeout:
                pass
        assert "CAMERA_INFORMATION" in kinds and camera.link.reconnects == 1
        second.close()
    finally:
        camera.close()
        server.close()


def test_stop_clears_the_loop_target_and_reports_idle_once(camera_gcs):
    camera, gcs = camera_gcs
    box = (120.0, 36.0, 240.0, 180.0)
    camera.on_result(_result(0, "init", box))
    time.sleep(0.2)
    t = gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING)
    assert gcs.ack(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, t).result == mavlink.MAV_RESULT_ACCEPTED
    assert _wait_poll(camera) == [ControlMessage("clear")]
    camera.on_result(_result(1, "tracking", box))  # tracked before the loop applied the stop: not reported
    camera.on_result(_result(2, "waiting", None))
    time.sleep(0.4)
    after = [m.tracking_status for _, m in gcs.messages("CAMERA_TRACKING_IMAGE_STATUS", t)]
    assert after == [0]


def test_idle_component_sleeps_between_sends():
    """Regression: an idle gimbal schedule once made the thread spin (100% of a core while waiting)."""
    from dasiamrt.live.gimbal import GimbalConfig

    gcs = SimulatedGcs(heartbeat=False)
    camera = MavlinkCamera(MavlinkConfig(f"udpout:127.0.0.1:{gcs.port}"), GimbalConfig(hfov_deg=60.0))
    try:
        camera.on_result(_result(0, "waiting", None))
        time.sleep(1.0)
    finally:
        camera.close()
        gcs.close()
    assert camera.stats.wall_s > 0.9 and camera.stats.cpu_s < 0.2 * camera.stats.wall_s, camera.stats.line()
