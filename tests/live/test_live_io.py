"""Outputs, control parsing, UDP in and out on 127.0.0.1, source helpers."""
from __future__ import annotations

import json
import math
import socket
import time

import numpy as np
import pytest

from dasiamrt.errors import ConfigError, SourceError
from dasiamrt.live.capture import FramePacket, LatestFrame, ReconnectPolicy
from dasiamrt.live.control import ControlMessage, UdpControl, parse_message
from dasiamrt.live.outputs import FileSink, UdpSink, encode, make_record, open_sink
from dasiamrt.live.session import LiveSource, live_source, run_live
from dasiamrt.videoio.camera import RealtimeSource, csi_pipeline, parse_size
from dasiamrt.videoio.frames import FrameSource

KEYS = {"v", "frame", "t_capture", "bbox", "score", "state", "latency_ms", "dropped"}


def _packet(i):
    return FramePacket(i, np.zeros((2, 2, 3), np.uint8), 0.0, 0.0)


def test_latest_frame_keeps_the_newest_and_counts_the_rest():
    slot = LatestFrame()
    for i in range(5):
        slot.put(_packet(i))
    assert slot.take(timeout=0).frame_id == 4
    assert slot.dropped == 4 and slot.captured == 5
    assert slot.take(timeout=0) is None
    slot.put(_packet(5))
    slot.close("done")
    assert slot.take(timeout=0).frame_id == 5  # a frame captured before the end is still delivered
    assert slot.take(timeout=1.0) is None and slot.closed  # closed: returns at once, not after 1 s


def test_reconnect_delays_double_up_to_the_cap():
    assert ReconnectPolicy(5, 0.5, 2.0).delays() == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert ReconnectPolicy(0, 0.5, 2.0).delays() == []


def test_record_schema_and_encoding():
    record = make_record(7, 1700000000.1234567, (1.234, 2.0, 3.0, 4.0), 0.987654, "tracking", 12.3456, 3)
    assert set(record) == KEYS
    line = encode(record)
    assert "\n" not in line
    assert json.loads(line) == {"v": 1, "frame": 7, "t_capture": 1700000000.123457, "bbox": [1.23, 2.0, 3.0, 4.0],
                                "score": 0.9877, "state": "tracking", "latency_ms": 12.35, "dropped": 3}
    waiting = json.loads(encode(make_record(8, 0.0, None, None, "waiting", 1.0, 3)))
    assert waiting["bbox"] is None and waiting["score"] is None
    with pytest.raises(ValueError):
        encode(make_record(9, 0.0, (0, 0, 1, 1), math.nan, "tracking", 1.0, 0))


def test_file_sink_writes_each_line_at_once(tmp_path):
    # a bridge can `tail -f` the file, and the lines survive a crash (no hidden temp file)
    path = tmp_path / "out.jsonl"
    path.write_text("older run\n")
    sink = open_sink(str(path))
    assert isinstance(sink, FileSink)
    sink.write(make_record(0, 1.0, (0, 0, 1, 1), 1.0, "init", 0.5, 0))
    assert [json.loads(line)["frame"] for line in path.read_text().splitlines()] == [0]  # before close
    sink.write(make_record(1, 1.1, (0, 0, 1, 1), 0.9, "tracking", 0.5, 0))
    assert [json.loads(line)["frame"] for line in path.read_text().splitlines()] == [0, 1]
    sink.close()
    assert list(tmp_path.iterdir()) == [path]


def test_file_sink_without_records_leaves_nothing(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("previous run\n")
    open_sink(str(path)).close()
    assert path.read_text() == "previous run\n"
    assert list(tmp_path.iterdir()) == [path]


def test_control_messages_parse_and_reject():
    assert parse_message('{"cmd": "init", "bbox": [1, 2, 3.5, 4]}') == ControlMessage("init", (1.0, 2.0, 3.5, 4.0))
    assert parse_message('{"cmd": "stop"}') == ControlMessage("stop")
    for bad in ('{"cmd": "jump"}', '{"cmd": "init", "bbox": [1, 2, 3]}', '{"cmd": "init", "bbox": [1, 2, 3, NaN]}',
                '{"cmd": "init", "bbox": [true, 2, 3, 4]}', '[1, 2]', 'not json'):
        with pytest.raises(ValueError):
            parse_message(bad)


def test_udp_address_errors_are_one_line_config_errors():
    for spec in ("udp://", "udp://host", "udp://host:port", "udp://:5005", "udp://h:70000"):
        with pytest.raises(ConfigError):
            open_sink(spec)


def test_udp_control_receives_messages_and_ignores_garbage():
    control = UdpControl("127.0.0.1", 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(b"garbage", control.address)
        sender.sendto(b'{"cmd": "init", "bbox": [5, 6, 7, 8]}', control.address)
        sender.sendto(b'{"cmd": "stop"}', control.address)
        got = []
        deadline = time.monotonic() + 5.0
        while len(got) < 2 and time.monotonic() < deadline:
            got += control.poll()
            time.sleep(0.01)
        assert got == [ControlMessage("init", (5.0, 6.0, 7.0, 8.0)), ControlMessage("stop")]
    finally:
        sender.close()
        control.close()


def test_udp_output_reaches_a_socket_on_localhost(scripted):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5.0)
    port = receiver.getsockname()[1]
    try:
        opener = scripted.ScriptedOpener([(12, (64, 48))], rate_hz=1000.0)
        memory = scripted.ListSink()
        udp = open_sink(f"udp://127.0.0.1:{port}")
        assert isinstance(udp, UdpSink)
        summary = run_live(scripted.SlowTracker(0.0), LiveSource(opener, False, True, "scripted"), [memory, udp],
                           init_box=(5, 5, 10, 10))
        datagrams = [json.loads(receiver.recv(65536).decode()) for _ in range(summary.processed)]
    finally:
        receiver.close()
    assert summary.processed == 12
    assert datagrams == memory.records  # one record per datagram, same content as the other sinks
    assert all(set(d) == KEYS for d in datagrams)


def test_csi_pipeline_is_nvidia_s_documented_form():
    text = csi_pipeline(1, (1920, 1080), 30, 2)
    elements = [e.strip() for e in text.split("!")]
    assert elements == [
        "nvarguscamerasrc sensor-id=1",
        "video/x-raw(memory:NVMM),width=1920,height=1080,framerate=30/1,format=NV12",
        "nvvidconv flip-method=2",
        "video/x-raw,format=BGRx",
        "videoconvert",
        "video/x-raw,format=BGR",
        "appsink drop=1 max-buffers=1",
    ]
    for bad in ((-1, (640, 480), 30, 0), (0, (0, 480), 30, 0), (0, (640, 480), 30, 9)):
        with pytest.raises(ConfigError):
            csi_pipeline(*bad)


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720)
    for bad in ("1280", "x720", "0x5", "axb"):
        with pytest.raises(ConfigError):
            parse_size(bad)


def test_source_kinds(tmp_path, monkeypatch):
    import dasiamrt.live.session as session

    monkeypatch.setattr(session, "gstreamer_available", lambda: False)
    for kwargs in ({"csi": 0}, {"spec": "videotestsrc ! appsink"}):
        with pytest.raises(SourceError, match="GStreamer"):
            live_source(**kwargs)
    monkeypatch.setattr(session, "gstreamer_available", lambda: True)
    clip = str(tmp_path / "clip.mp4")
    open(clip, "wb").close()
    assert live_source("0").live and not live_source("0").lossless
    assert live_source("rtsp://127.0.0.1/x").live
    assert live_source(csi=0).live
    assert live_source(clip).lossless and not live_source(clip).live
    realtime = live_source(clip, realtime=True)
    assert not realtime.live and not realtime.lossless
    for kwargs in ({}, {"spec": "0", "csi": 0}, {"spec": "0", "realtime": True}):
        with pytest.raises(ConfigError):
            live_source(**kwargs)
    with pytest.raises(SourceError):
        live_source(clip + ".missing")


class _Counter(FrameSource):
    description = "counter"

    def __init__(self, n):
        self.n, self.i = n, 0

    def read(self):
        if self.i >= self.n:
            return None
        self.i += 1
        return np.zeros((2, 2, 3), np.uint8)


def test_realtime_source_paces_frames_at_the_rate():
    now = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    source = RealtimeSource(_Counter(5), fps=20.0, clock=lambda: now[0], sleep=sleep)
    due = []
    while source.read() is not None:
        due.append(now[0])
    assert due == pytest.approx([100.0, 100.05, 100.1, 100.15, 100.2])
    # A late reader is not held back: no sleep when the frame is already due.
    now[0] = 0.0
    late = RealtimeSource(_Counter(3), fps=10.0, clock=lambda: now[0], sleep=sleep)
    late.read()
    now[0] += 1.0
    before = len(sleeps)
    late.read()
    assert len(sleeps) == before


def test_signals_request_a_stop_then_force_and_handlers_are_restored():
    import os
    import signal
    import threading

    from dasiamrt.live.session import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs in the main thread at the next bytecode
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) is before


def test_live_imports_without_torch_and_onnx():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; sys.modules['tensorrt'] = None; "
            "import dasiamrt.live, dasiamrt.live.session, dasiamrt.commands.live, dasiamrt.videoio.camera; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
