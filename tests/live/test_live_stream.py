"""A real network stream on 127.0.0.1: an MJPEG-over-HTTP camera that drops out, reconnects, then stays away.

This drives OpenCV/FFmpeg's own stream reader (``StreamSource``), not a scripted source: the server
sends ``frames`` JPEG frames per connection for ``sessions`` connections, then answers 503.
"""
from __future__ import annotations

import http.server
import json
import threading
import time

import cv2
import numpy as np
import pytest

from dasiamrt import cli
from dasiamrt.live.capture import ReconnectPolicy
from dasiamrt.live.session import live_source, run_live

FRAMES, SESSIONS = 15, 2


def _value(i: int) -> int:
    return 8 * (i % FRAMES) + 20  # a flat grey level per frame survives JPEG exactly enough to read back


class _Camera(http.server.BaseHTTPRequestHandler):
    served = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.lock:
            session, _Camera.served = _Camera.served, _Camera.served + 1
        if session >= SESSIONS:
            self.send_error(503, "camera gone")
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for i in range(FRAMES):
            ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), _value(i), np.uint8))
            data = buf.tobytes()
            head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
            try:
                self.wfile.write(head + data + b"\r\n")
            except OSError:
                return
            time.sleep(0.01)


@pytest.fixture
def camera_url():
    _Camera.served = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Camera)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
    server.shutdown()
    server.server_close()


class _GreyTracker:
    """Reads the frame's grey level back, so the test knows which frame of its session it got."""

    def __init__(self) -> None:
        self.seen = []

    def init(self, frame, bbox_xywh) -> None:
        self.seen.append(int(round(frame.mean())))

    def track(self, frame):
        from dasiamrt.runtime.tracker import TrackResult

        self.seen.append(int(round(frame.mean())))
        return TrackResult((1.0, 1.0, 10.0, 10.0), 0.9, "tracking")


class _Sink:
    description = "memory"

    def __init__(self) -> None:
        self.records = []

    def write(self, record) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


def test_stream_drop_reconnect_then_clean_exit(camera_url):
    tracker, sink = _GreyTracker(), _Sink()
    policy = ReconnectPolicy(attempts=2, first_delay=0.05, max_delay=0.1)
    summary = run_live(tracker, live_source(camera_url), [sink], init_box=(1, 1, 10, 10), policy=policy)
    assert summary.ok is False and "reconnect" in summary.end_reason
    assert summary.reconnects == SESSIONS - 1
    assert summary.captured == SESSIONS * FRAMES
    assert summary.captured == summary.processed + summary.dropped
    ids = [r["frame"] for r in sink.records]
    assert ids == sorted(set(ids)) and ids[-1] < SESSIONS * FRAMES
    # The pixels the tracker got belong to the frame each record names (ids continue across the reconnect).
    expected = [_value(i) for i in ids]
    assert all(abs(got - want) <= 2 for got, want in zip(tracker.seen, expected))
    assert any(i >= FRAMES for i in ids), "frames after the reconnect must be processed"


def test_cli_exits_1_with_a_message_and_a_complete_json_file(camera_url, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "boxes.jsonl"
    code = cli.main(["live", camera_url, "--model", str(tiny_model_dir), "--threads", "1", "--init", "10,10,30,20",
                     "--reconnect", "1", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "reconnect attempt(s) failed" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and records[0]["state"] == "init"
    assert [r["frame"] for r in records] == sorted({r["frame"] for r in records})
