"""``dasiamrt live --mavlink`` end to end on 127.0.0.1: a simulated ground station against the bundled clip.

One scripted session (module fixture, ~20 s) runs ``dasiamrt live`` on the bundled clip played as a
camera (``--realtime --fps 15``: 16 s of frames) with the bundled model and ``--gimbal-follow``; the
ground station (pymavlink ``mavutil``) asks for CAMERA_INFORMATION, starts a rectangle track, changes
the status interval, sends garbage, goes away and comes back, re-targets with a point, stops. The tests
check the recording against the JSON lines the same process wrote (the independent record of the
tracker's boxes).
"""
from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymavlink")
from tests.live.mavlink_gcs import SimulatedGcs, mavlink  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "dasiamrt" / "assets" / "box.mp4"
W, H = 480, 360
HFOV = 60.0
INIT = (221.0, 11.0, 225.0, 169.0)  # the target on the clip's first frame


class Session:
    def __init__(self):
        self.records = []  # (arrival time.time(), record)
        self.marks = {}
        self.acks = {}
        self.stderr = ""
        self.returncode = None


def _garbage(camera_frame: bytes):
    """Datagrams a broken radio or another program could send (the last one is valid)."""
    truncated_header = bytes([0xFD, 200, 0, 0, 7, 255, 190]) + b"\x00" * 5  # claims a 200-byte payload
    corrupted = bytearray(camera_frame)
    corrupted[-1] ^= 0xFF  # CRC no longer matches
    unknown = struct.pack("<BBBBBBBHB", 0xFD, 4, 0, 0, 9, 255, 190, 0xFFFF, 0xFF) + b"abcd" + b"\x00\x00"
    return [b"hello, not mavlink", truncated_header, bytes(corrupted), unknown]


def _run_script(gcs: SimulatedGcs, proc, session: Session) -> None:
    mark = session.marks
    while not session.records:  # the tracker is running: the first frame was processed
        assert proc.poll() is None, "dasiamrt live exited early"
        time.sleep(0.02)
    assert gcs.wait("HEARTBEAT", 0, 10), "no heartbeat from the camera"
    mark["start"] = t = gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    session.acks["info"] = gcs.ack(mavlink.MAV_CMD_REQUEST_MESSAGE, t)
    corners = (INIT[0] / W, INIT[1] / H, (INIT[0] + INIT[2]) / W, (INIT[1] + INIT[3]) / H)
    mark["rect"] = t = gcs.command(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, *corners)
    session.acks["rect"] = gcs.ack(mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, t)
    time.sleep(2.5)
    mark["interval"] = t = gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL,
                                       mavlink.MAVLINK_MSG_ID_CAMERA_TRACKING_IMAGE_STATUS, 50000)
    session.acks["interval"] = gcs.ack(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, t)
    time.sleep(2.5)
    mark["garbage"] = time.time()
    valid = gcs.conn.mav.command_long_encode(1, 100, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                             mavlink.MAVLINK_MSG_ID_CAMERA_TRACKING_IMAGE_STATUS, 0, 0, 0, 0, 0, 0)
    for datagram in _garbage(valid.pack(gcs.conn.mav)):
        gcs.raw(datagram)
    t = gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_TRACKING_IMAGE_STATUS)
    session.acks["after_garbage"] = gcs.ack(mavlink.MAV_CMD_REQUEST_MESSAGE, t)
    mark["away"] = time.time()
    clients = gcs.go_away()
    time.sleep(4.0)
    gcs.come_back(clients)
    mark["back"] = time.time()
    x, y, w, h = session.records[-1][1]["bbox"]
    mark["point"] = t = gcs.command(mavlink.MAV_CMD_CAMERA_TRACK_POINT, (x + w / 2) / W, (y + h / 2) / H, 0.15)
    session.acks["point"] = gcs.ack(mavlink.MAV_CMD_CAMERA_TRACK_POINT, t)
    time.sleep(2.0)
    mark["stop"] = t = gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING)
    session.acks["stop"] = gcs.ack(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, t)
    time.sleep(1.5)
    mark["end"] = time.time()


@pytest.fixture(scope="module")
def session():
    gcs = SimulatedGcs()
    cmd = [sys.executable, "-m", "dasiamrt.cli", "live", str(CLIP), "--realtime", "--fps", "15", "--threads", "1",
           "--json", "-", "--mavlink", f"udpout:127.0.0.1:{gcs.port}", "--gimbal-follow", "--hfov", str(HFOV)]
    # The component must not depend on these (it imports a MAVLink 2 dialect module itself):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MAVLINK_DIALECT="minimal")
    env.pop("MAVLINK20", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    result = Session()
    reader = threading.Thread(target=lambda: [result.records.append((time.time(), json.loads(line)))
                                              for line in proc.stdout], daemon=True)
    reader.start()
    try:
        _run_script(gcs, proc, result)
        proc.send_signal(signal.SIGINT)
        _, result.stderr = proc.communicate(timeout=30)
        result.returncode = proc.returncode
        time.sleep(0.2)  # the last datagrams
    finally:
        if proc.poll() is None:
            proc.kill()
        gcs.close()
    result.gcs = gcs
    return result


def _statuses(session, since, until=math.inf):
    return [(t, m) for t, m in session.gcs.messages("CAMERA_TRACKING_IMAGE_STATUS", since, until)]


def _matching_record(session, t_recv, box_pred):
    """The newest record captured before ``t_recv`` whose box satisfies ``box_pred``."""
    for _, record in reversed(session.records):
        if record["t_capture"] <= t_recv and record["bbox"] is not None and box_pred(record["bbox"]):
            return record
    return None


def test_run_ends_cleanly_with_a_mavlink_summary(session):
    # the session is stopped with SIGINT: the documented status for that is 130 (128 + SIGINT)
    assert session.returncode == 130, session.stderr
    assert "Traceback" not in session.stderr
    assert "MAVLink:" in session.stderr and "thread CPU" in session.stderr


def test_heartbeat_identifies_a_camera_at_1hz(session):
    beats = session.gcs.messages("HEARTBEAT", session.marks["start"], session.marks["away"])
    assert all(m.type == mavlink.MAV_TYPE_CAMERA and m.get_srcComponent() == 100 and m.get_srcSystem() == 1
               for _, m in beats)
    span = session.marks["away"] - session.marks["start"]
    assert abs(len(beats) - span) <= 1.5
    assert beats[0][1].get_msgbuf()[0] == 0xFD  # MAVLink 2 on the wire, whatever MAVLINK20/MAVLINK_DIALECT say


def test_camera_information_announces_tracking(session):
    assert session.acks["info"].result == mavlink.MAV_RESULT_ACCEPTED
    (_, info), = session.gcs.messages("CAMERA_INFORMATION")
    wanted = mavlink.CAMERA_CAP_FLAGS_HAS_TRACKING_POINT | mavlink.CAMERA_CAP_FLAGS_HAS_TRACKING_RECTANGLE
    assert info.flags & wanted == wanted
    assert (info.resolution_h, info.resolution_v) == (W, H)
    assert bytes(info.vendor_name).rstrip(b"\0") == b"dasiamrt"


def test_rectangle_status_matches_the_json_boxes(session):
    assert session.acks["rect"].result == mavlink.MAV_RESULT_ACCEPTED
    statuses = _statuses(session, session.marks["rect"], session.marks["garbage"])
    assert len(statuses) > 40
    frames = []
    for t, m in statuses:
        assert (m.tracking_status, m.tracking_mode, m.target_data) == (1, 2, 4)
        assert math.isnan(m.point_x)
        corners = np.array([m.rec_top_x * W, m.rec_top_y * H, m.rec_bottom_x * W, m.rec_bottom_y * H])

        def same(bbox, corners=corners):
            x, y, w, h = bbox
            clipped = np.clip([x, y, x + w, y + h], 0, [W, H, W, H])
            return bool(np.abs(clipped - corners).max() < 0.02)

        record = _matching_record(session, t, same)
        assert record is not None, f"status {corners} matches no box of the JSON output"
        frames.append(record["frame"])
    assert frames == sorted(frames) and len(set(frames)) > 20  # the status follows the target frame by frame


def test_default_then_requested_status_interval(session):
    assert session.acks["interval"].result == mavlink.MAV_RESULT_ACCEPTED
    marks = session.marks
    for since, until, interval in ((marks["rect"] + 0.5, marks["interval"], 0.1),
                                   (marks["interval"] + 0.3, marks["garbage"], 0.05)):
        times = np.array([t for t, _ in _statuses(session, since, until)])
        gaps = np.diff(times)
        assert len(gaps) >= 15
        assert abs(np.median(gaps) / interval - 1) < 0.2 and abs(gaps.mean() / interval - 1) < 0.2, gaps


def test_garbage_is_counted_and_the_next_command_still_works(session):
    ack = session.acks["after_garbage"]
    assert ack is not None and ack.result == mavlink.MAV_RESULT_ACCEPTED
    line = [s for s in session.stderr.splitlines() if "MAVLink:" in s and "thread CPU" in s][-1]
    bad, unknown = (int(v) for v in line.split(" acks, ")[1].split(" commands for others, ")[1]
                    .split(" unknown ignored")[0].split(" bad + "))
    assert bad >= 3 and unknown == 1, line
    assert "ignored undecodable MAVLink bytes" in session.stderr


def test_link_silence_and_return_keep_tracking(session):
    marks = session.marks
    during = [r for t, r in session.records if marks["away"] + 0.5 < t < marks["back"] - 0.5]
    assert len(during) >= 35 and all(r["state"] == "tracking" for r in during)  # 15 FPS for 3 s: not stopped
    assert np.all(np.diff([r["frame"] for r in during]) >= 1)
    assert "nothing received for" in session.stderr and "traffic back after" in session.stderr
    assert session.gcs.wait("HEARTBEAT", marks["back"], timeout=0) is not None


def test_point_retarget_reports_point_mode(session):
    assert session.acks["point"].result == mavlink.MAV_RESULT_ACCEPTED
    statuses = _statuses(session, session.marks["point"], session.marks["stop"])
    modes = [m.tracking_mode for _, m in statuses]
    first = modes.index(1)  # statuses of the old rectangle target until the tracker took the new one
    assert statuses[first][0] - session.marks["point"] < 1.0 and set(modes[first:]) == {1}
    statuses = statuses[first:]
    assert len(statuses) > 15
    for t, m in statuses:
        assert (m.tracking_status, m.tracking_mode) == (1, 1) and math.isnan(m.rec_top_x)

        def same(bbox, m=m):
            x, y, w, h = bbox
            return abs(x + w / 2 - m.point_x * W) < 0.02 and abs(y + h / 2 - m.point_y * H) < 0.02 \
                and abs(max(w, h) / 2 - m.radius * W) < 0.02

        assert _matching_record(session, t, same) is not None


def test_stop_goes_idle_and_no_active_status_follows(session):
    assert session.acks["stop"].result == mavlink.MAV_RESULT_ACCEPTED
    ack_time = session.gcs.wait("COMMAND_ACK", session.marks["stop"],
                                where=lambda m: m.command == mavlink.MAV_CMD_CAMERA_STOP_TRACKING)[0]
    after = _statuses(session, ack_time)
    assert after and after[0][1].tracking_status == mavlink.CAMERA_TRACKING_STATUS_FLAGS_IDLE
    assert all(m.tracking_status == 0 and m.tracking_mode == 0 for _, m in after)
    assert any(r["state"] == "waiting" for t, r in session.records if t > ack_time)


def test_gimbal_rates_point_at_the_target_and_stop(session):
    gcs, marks = session.gcs, session.marks
    configure = [m for _, m in gcs.messages("COMMAND_LONG")
                 if m.command == mavlink.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE]
    assert [(m.param1, m.param2) for m in configure][:1] == [(1, 100)]  # took control as 1/100
    rates = gcs.messages("GIMBAL_MANAGER_SET_PITCHYAW", marks["rect"] + 0.3, marks["garbage"])
    assert len(rates) > 40 and all((m.target_system, m.target_component) == (1, 1) for _, m in rates)
    f_px = (W / 2) / math.tan(math.radians(HFOV) / 2)
    for t, m in rates:
        assert math.isnan(m.pitch) and math.isnan(m.yaw)

        def same(bbox, m=m):
            x, y, w, h = bbox
            yaw_err, pitch_err = math.atan((x + w / 2 - W / 2) / f_px), -math.atan((y + h / 2 - H / 2) / f_px)
            expected = [min(max(e, -math.radians(30)), math.radians(30)) for e in (pitch_err, yaw_err)]
            return abs(m.pitch_rate - expected[0]) < 1e-4 and abs(m.yaw_rate - expected[1]) < 1e-4

        record = _matching_record(session, t, same)
        assert record is not None, (m.pitch_rate, m.yaw_rate)
        x, y, w, h = record["bbox"]
        assert np.sign(m.yaw_rate) == np.sign(x + w / 2 - W / 2)  # toward the target
        assert np.sign(m.pitch_rate) == -np.sign(y + h / 2 - H / 2)
    ack_time = gcs.wait("COMMAND_ACK", marks["stop"],
                        where=lambda m: m.command == mavlink.MAV_CMD_CAMERA_STOP_TRACKING)[0]
    after_stop = gcs.messages("GIMBAL_MANAGER_SET_PITCHYAW", ack_time)
    assert len(after_stop) >= 3 and all(m.pitch_rate == 0 and m.yaw_rate == 0 for _, m in after_stop)
    assert configure[-1].param1 == -3  # control released after the stop


def _cli(argv, capsys):
    from dasiamrt import cli

    code = cli.main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--mavlink", "flight.tlog"], "--mavlink must be udpin:HOST:PORT"),
    (["--mavlink", "udpout:127.0.0.1:14550", "--hfov", "60"], "only used with --gimbal-follow"),
    (["--gimbal-follow", "--hfov", "60", "--init", "1,1,5,5"], "add --mavlink"),
    (["--mavlink", "udpout:127.0.0.1:14550", "--gimbal-follow"], "needs --hfov"),
])
def test_bad_mavlink_flags_are_one_line_errors_before_the_model_loads(flags, message, capsys):
    code, err = _cli(["live", str(CLIP), "--model", "/nonexistent", *flags], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_pymavlink_is_a_one_line_error(monkeypatch, capsys):
    for name in [n for n in sys.modules if n.startswith("pymavlink")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pymavlink", None)  # import pymavlink -> ImportError
    code, err = _cli(["live", str(CLIP), "--model", "/nonexistent", "--mavlink", "udpout:127.0.0.1:14550"], capsys)
    assert code == 2 and "pip install 'dasiamrt[mavlink]'" in err and len(err.strip().splitlines()) == 1


def test_json_control_and_mavlink_together():
    gcs = SimulatedGcs()
    cmd = [sys.executable, "-m", "dasiamrt.cli", "live", str(CLIP), "--realtime", "--threads", "1", "--json", "-",
           "--control", "-", "--mavlink", f"udpout:127.0.0.1:{gcs.port}"]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
    try:
        assert json.loads(proc.stdout.readline())["state"] == "waiting"
        proc.stdin.write('{"cmd": "init", "bbox": [221, 11, 225, 169]}\n')  # the JSON channel sets the target
        proc.stdin.flush()
        record = json.loads(proc.stdout.readline())
        while record["state"] == "waiting":
            record = json.loads(proc.stdout.readline())
        assert record["state"] == "init"
        assert gcs.wait("CAMERA_TRACKING_IMAGE_STATUS", 0, 5, lambda m: m.tracking_status == 1)  # MAVLink sees it
        t = gcs.command(mavlink.MAV_CMD_CAMERA_STOP_TRACKING)  # and the ground station stops it
        assert gcs.ack(mavlink.MAV_CMD_CAMERA_STOP_TRACKING, t).result == mavlink.MAV_RESULT_ACCEPTED
        while record["state"] != "waiting":
            record = json.loads(proc.stdout.readline())
        proc.stdin.write('{"cmd": "stop"}\n')
        proc.stdin.flush()
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        gcs.close()
    assert proc.returncode == 0, err
    assert "stopped by control message" in err
