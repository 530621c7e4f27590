"""The whole live loop driven by scripted cameras: newest frame wins, drops, reconnect, resize, control."""
from __future__ import annotations

import threading

import cv2
import pytest

from dasiamrt.errors import BoxError, SourceError
from dasiamrt.live.capture import ReconnectPolicy
from dasiamrt.live.control import ControlChannel, ControlMessage
from dasiamrt.live.session import LiveSource, run_live

FAST = ReconnectPolicy(attempts=2, first_delay=0.01, max_delay=0.02)


def _source(opener, live=True, lossless=False):
    return LiveSource(opener, live=live, lossless=lossless, description="scripted")


def test_slow_tracker_gets_only_the_newest_frames(scripted):
    # Camera at 200 FPS (5 ms), tracker at 40 ms per frame: ~7 of every 8 frames must be dropped,
    # and each frame the tracker receives must be the newest one the camera had produced.
    opener = scripted.ScriptedOpener([(80, (64, 48))], rate_hz=200.0)
    tracker = scripted.SlowTracker(delay=0.04, clock=opener.clock)
    sink = scripted.ListSink()
    summary = run_live(tracker, _source(opener, live=False), [sink], init_box=(10, 10, 20, 20), policy=FAST)

    got = [fid for fid, _ in tracker.calls]
    assert len(got) >= 3
    assert got == sorted(set(got)), "frames must be processed in capture order, each once"
    # A queue would make the lag grow by ~7 frames per call (>= 14 by the third call); the newest-
    # frame slot keeps it at 0 (1-3 when the camera produced frames between the take and the track
    # call on a loaded machine).
    assert max(latest - fid for fid, latest in tracker.calls) <= 3
    assert summary.captured == 80
    assert summary.processed == len(sink.records)
    assert summary.captured == summary.processed + summary.dropped
    assert summary.dropped > 3 * summary.processed  # an 8x faster camera: most frames are dropped
    # Records carry the real ids of the frames processed (read back from the pixels by the tracker).
    assert [r["frame"] for r in sink.records[1:]] == got
    dropped = [r["dropped"] for r in sink.records]
    assert dropped == sorted(dropped)
    # Frames skipped between processed ids were all counted as dropped.
    ids = [r["frame"] for r in sink.records]
    assert ids[-1] + 1 - len(ids) <= summary.dropped
    # Latency includes the 40 ms of tracking: a physical lower bound.
    assert all(r["latency_ms"] >= 40.0 for r in sink.records[1:])
    assert sink.closed


def test_every_frame_processed_in_lossless_file_mode(scripted):
    opener = scripted.ScriptedOpener([(25, (64, 48))], rate_hz=2000.0)
    tracker = scripted.SlowTracker(delay=0.005)
    sink = scripted.ListSink()
    summary = run_live(tracker, _source(opener, live=False, lossless=True), [sink], init_box=(5, 5, 10, 10))
    assert [r["frame"] for r in sink.records] == list(range(25))
    assert summary.dropped == 0 and summary.ok and summary.end_reason == "end of scripted camera"


def test_max_frames_on_a_file_drops_nothing(scripted):
    # The capture thread reads ahead one frame in file mode; stopping after 10 frames must not count
    # that frame as dropped (it was never late, the run ended).
    opener = scripted.ScriptedOpener([(25, (64, 48))], rate_hz=2000.0)
    sink = scripted.ListSink()
    summary = run_live(scripted.SlowTracker(0.005), _source(opener, live=False, lossless=True), [sink],
                       init_box=(5, 5, 10, 10), max_frames=10)
    assert [r["frame"] for r in sink.records] == list(range(10))
    assert (summary.processed, summary.captured, summary.dropped) == (10, 10, 0)
    assert summary.end_reason == "stopped after 10 frames"


def test_reconnect_then_clean_exit_when_the_camera_stays_away(scripted):
    # Session 1: 6 frames then unplugged; reconnect succeeds (session 2: 6 frames); then every
    # reopen fails -> bounded retries, clean exit with ok=False and a message.
    opener = scripted.ScriptedOpener([(6, (64, 48)), SourceError("busy"), (6, (64, 48))], rate_hz=500.0)
    tracker = scripted.SlowTracker(delay=0.0)
    sink = scripted.ListSink()
    summary = run_live(tracker, _source(opener, lossless=True), [sink], init_box=(5, 5, 10, 10), policy=FAST)
    assert summary.ok is False
    assert "reconnect" in summary.end_reason
    assert summary.reconnects == 1
    # initial open + (fail, success) + 2 failed tries after the second loss
    assert opener.calls == 1 + 2 + 2
    assert [r["frame"] for r in sink.records] == list(range(12))
    assert all(camera.closed for camera in opener.opened)
    assert sink.closed


def test_read_error_on_unplug_is_a_disconnect_not_a_crash(scripted):
    opener = scripted.ScriptedOpener([(5, (64, 48), True), (5, (64, 48))], rate_hz=500.0)
    sink = scripted.ListSink()
    summary = run_live(scripted.SlowTracker(0.0), _source(opener, lossless=True), [sink], init_box=(5, 5, 10, 10),
                       policy=FAST)
    assert summary.reconnects == 1 and [r["frame"] for r in sink.records] == list(range(10))
    assert summary.ok is False and "reconnect" in summary.end_reason


def test_frame_size_change_reinitialises_on_the_scaled_box(scripted, tmp_path):
    opener = scripted.ScriptedOpener([(4, (64, 48)), (3, (128, 96))], rate_hz=500.0)
    tracker = scripted.SlowTracker(delay=0.0)
    sink = scripted.ListSink()
    video = tmp_path / "overlay.mp4"
    run_live(tracker, _source(opener, lossless=True), [sink], save=str(video), init_box=(10, 8, 20, 16), policy=FAST)
    cap = cv2.VideoCapture(str(video))
    sizes = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        sizes.append(image.shape[:2])
    cap.release()
    assert sizes == [(48, 64)] * 7  # every frame kept, at the first frame's size
    states = [r["state"] for r in sink.records]
    assert states[0] == "init" and states[4] == "init"
    # Frames 1..3 moved the box 1 px right each: x = 13 on 64x48; doubled on 128x96.
    assert sink.records[3]["bbox"] == [13.0, 8.0, 20.0, 16.0]
    assert sink.records[4]["bbox"] == [26.0, 16.0, 40.0, 32.0]
    assert tracker.inits[1] == (4, (26.0, 16.0, 40.0, 32.0), (128, 96))


def test_lost_state_is_reported_from_the_tracker(scripted):
    opener = scripted.ScriptedOpener([(20, (64, 48))], rate_hz=2000.0)
    sink = scripted.ListSink()
    summary = run_live(scripted.SlowTracker(0.0), _source(opener, live=False, lossless=True), [sink],
                       init_box=(5, 5, 10, 10))
    expected = ["init"] + ["lost" if fid % 7 == 0 else "tracking" for fid in range(1, 20)]
    assert [r["state"] for r in sink.records] == expected
    assert summary.states["lost"] == 2


class ScriptedControl(ControlChannel):
    """Delivers a message when the loop has processed a given number of frames."""

    def __init__(self, sink, at):
        super().__init__()
        self.sink, self.at = sink, dict(at)

    def poll(self):
        message = self.at.pop(len(self.sink.records), None)
        return [message] if message else []


def test_control_messages_init_reinit_clear_and_stop(scripted):
    opener = scripted.ScriptedOpener([(200, (64, 48))], rate_hz=1000.0)
    sink = scripted.ListSink()
    control = ScriptedControl(sink, {
        2: ControlMessage("init", (4.0, 4.0, 8.0, 8.0)),
        5: ControlMessage("init", (30.0, 20.0, 10.0, 10.0)),
        7: ControlMessage("init", (500.0, 500.0, 10.0, 10.0)),  # outside the frame: ignored
        8: ControlMessage("clear"),
        10: ControlMessage("stop"),
    })
    summary = run_live(scripted.SlowTracker(0.0), _source(opener, live=False, lossless=True), [sink],
                       control=control)
    states = [r["state"] for r in sink.records]
    assert states[:2] == ["waiting", "waiting"] and sink.records[0]["bbox"] is None
    assert states[2] == "init" and sink.records[2]["bbox"] == [4.0, 4.0, 8.0, 8.0]
    assert states[5] == "init" and sink.records[5]["bbox"] == [30.0, 20.0, 10.0, 10.0]
    assert states[6] in ("tracking", "lost") and sink.records[6]["bbox"] == [31.0, 20.0, 10.0, 10.0]
    # A box outside the frame is ignored (warning): the current target goes on.
    assert states[7] in ("tracking", "lost") and sink.records[7]["bbox"] == [32.0, 20.0, 10.0, 10.0]
    assert states[8:] == ["waiting", "waiting"]
    assert len(sink.records) == 10 and summary.end_reason == "stopped by control message" and summary.ok


def test_stop_event_ends_a_live_run_and_closes_everything(scripted):
    opener = scripted.ScriptedOpener([(10_000, (64, 48))], rate_hz=300.0)
    sink = scripted.ListSink()
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    summary = run_live(scripted.SlowTracker(0.01), _source(opener), [sink], init_box=(5, 5, 10, 10), stop=stop)
    timer.join()
    assert summary.ok and summary.end_reason == "stopped"
    assert 5 <= summary.processed < 200
    assert summary.captured == summary.processed + summary.dropped
    assert opener.opened[0].closed and sink.closed


def test_bad_init_box_is_a_user_error(scripted):
    opener = scripted.ScriptedOpener([(5, (64, 48))], rate_hz=1000.0)
    sink = scripted.ListSink()
    with pytest.raises(BoxError):
        run_live(scripted.SlowTracker(0.0), _source(opener, lossless=True), [sink], init_box=(100, 100, 5, 5))
    assert sink.closed and opener.opened[0].closed


class FakeDisplay:
    """Window stand-in: returns scripted keys per shown frame and scripted drawn boxes."""

    def __init__(self, keys, boxes):
        self.keys, self.boxes, self.shown, self.closed = dict(keys), list(boxes), [], False

    def show(self, image):
        self.shown.append(image.shape)
        return self.keys.get(len(self.shown), -1)

    def select(self, frame):
        return self.boxes.pop(0)

    def close(self):
        self.closed = True


def test_select_and_window_keys(scripted, monkeypatch):
    import dasiamrt.live.session as session

    display = FakeDisplay({3: ord("s"), 5: ord("c"), 7: ord("q")}, [(2.0, 3.0, 10.0, 12.0), (20.0, 10.0, 8.0, 8.0)])
    monkeypatch.setattr(session, "Display", lambda: display)
    opener = scripted.ScriptedOpener([(100, (64, 48))], rate_hz=1000.0)
    tracker = scripted.SlowTracker(0.0)
    sink = scripted.ListSink()
    summary = run_live(tracker, _source(opener, live=False, lossless=True), [sink], show=True, select=True)
    # Frame 0: drawn box; key "s" after frame 2 draws a new box, initialised on frame 2 itself.
    assert tracker.inits[0] == (0, (2.0, 3.0, 10.0, 12.0), (64, 48))
    assert tracker.inits[1] == (2, (20.0, 10.0, 8.0, 8.0), (64, 48))
    assert sink.records[3]["bbox"] == [21.0, 10.0, 8.0, 8.0]  # tracking goes on from the drawn box
    assert [r["state"] for r in sink.records[5:]] == ["waiting", "waiting"]  # "c" after frame 4
    assert len(sink.records) == 7 and summary.end_reason == "stopped from the window"
    assert display.closed and len(display.shown) == 7


def test_source_that_cannot_open_at_start_raises_and_closes_the_outputs(scripted):
    opener = scripted.ScriptedOpener([SourceError("cannot open camera 3")], rate_hz=100.0)
    sink = scripted.ListSink()
    with pytest.raises(SourceError, match="camera 3"):
        run_live(scripted.SlowTracker(0.0), _source(opener), [sink], init_box=(1, 1, 5, 5), policy=FAST)
    assert sink.closed and opener.calls == 1
