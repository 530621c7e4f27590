"""The TraX server driven by vot-trax's own client (``trax.client.Client``), without the VOT toolkit.

CI installs ``.[dev]`` (vot-trax, not vot-toolkit: the toolkit needs opencv-python, CI uses the
headless build), so these tests cover the protocol there; test_trax.py runs the same server under
``vot test`` / ``vot evaluate`` where ``.[vot]`` is installed. The client is set up as the toolkit's
``TrackerProcess`` does (vot/tracker/trax.py): the server's stdin/stdout are the channel, its stderr
goes into the same pipe, and a watchdog kills a server that does not answer in time.

Regions cross the channel as text: libtrax stores them as C floats and writes "%.4f". The generated
sequences have box corners on quarter pixels, which both formats hold exactly, so the server starts
from exactly the box dasiamrt's own run starts from, and only the replies are rounded (:func:`_wire_atol`).
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

pytest.importorskip("trax", reason="vot-trax not installed: pip install -e '.[trax]' (part of .[dev])")

from trax import TraxException  # noqa: E402
from trax.client import Client  # noqa: E402
from trax.image import FileImage  # noqa: E402
from trax.region import Polygon, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOISY_TRACKER = Path(__file__).with_name("noisy_trax_tracker.py")
Reply = List[Tuple[Optional[Tuple[float, ...]], Dict[str, str]]]


def _wire_atol(values: np.ndarray) -> float:
    """The most a number can move on its way back: float64 -> C float -> "%.4f" -> C float.

    Two float32 roundings (half a unit in the last place each, at the largest magnitude) and the
    text's half of 1e-4.
    """
    return float(np.spacing(np.float32(np.abs(values).max()))) + 0.5e-4


class Session:
    """One server process and a TraX client on its stdin/stdout, as the VOT toolkit sets them up.

    Args:
        command: the server command line.
        cwd: its working folder.
        env: extra environment variables (``TRAX_IN``/``TRAX_OUT`` bypass the server's channel protection).
        stderr: a file for the server's stderr; None: into the protocol pipe, as the toolkit does.
        timeout: seconds the server has for each reply before the watchdog kills it (the handshake,
            which includes the server's start-up, always gets 60).
    """

    def __init__(self, command: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None,
                 stderr: Any = None, timeout: float = 60.0) -> None:
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        environment.update(env or {})
        self.proc = subprocess.Popen(list(command), cwd=cwd, env=environment, bufsize=0, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT if stderr is None else stderr)
        self.timeout = timeout
        self.timer: Optional[threading.Timer] = None
        self.fragments: List[str] = []
        self._watch(60.0)
        try:
            self.client = Client(stream=(self.proc.stdin.fileno(), self.proc.stdout.fileno()),
                                 log=self.fragments.append)
        except BaseException:
            self.close()
            raise
        self._watch(on=False)

    def _watch(self, seconds: Optional[float] = None, on: bool = True) -> None:
        """(Re)start the watchdog, or stop it (``on=False``)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if on:
            self.timer = threading.Timer(self.timeout if seconds is None else seconds, self.proc.kill)
            self.timer.daemon = True
            self.timer.start()

    @staticmethod
    def _reply(objects: Any) -> Reply:
        return [(tuple(region.bounds()) if region.type == "rectangle" else None, dict(properties))
                for region, properties in objects]

    def initialize(self, image: Path, regions: Sequence[Any]) -> Reply:
        """Send ``initialize``, one object per region; the reply: per object (box or None, properties)."""
        self._watch()
        try:
            objects, _ = self.client.initialize({"color": FileImage.create(str(image))},
                                                [(region, {}) for region in regions], {})
        finally:
            self._watch(on=False)
        return self._reply(objects)

    def frame(self, image: Path) -> Reply:
        """Send ``frame``; the server's reply."""
        self._watch()
        try:
            objects, _ = self.client.frame({"color": FileImage.create(str(image))}, {}, [])
        finally:
            self._watch(on=False)
        return self._reply(objects)

    def quit(self) -> int:
        """Send ``quit``; the server's exit status."""
        self.client.quit()
        return self.proc.wait(self.timeout)

    @property
    def log(self) -> str:
        """What the client's channel carried: TraX messages both ways and the server's other lines."""
        return "".join(self.fragments)

    def close(self) -> None:
        self._watch(on=False)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _server(*args: str) -> List[str]:
    from dasiamrt.runtime.tracker_options import default_model

    return [sys.executable, "-m", "dasiamrt.cli", "trax", "--model", str(default_model()), *args]


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    """Two generated sequences (24 frames) in the VOT layout, box corners on quarter pixels, read back by
    dasiamrt's VOT reader: the frames are the JPEG files the server reads."""
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.integrations.vot_workspace import write_vot_sequences

    root = tmp_path_factory.mktemp("traxseq") / "sequences"
    generated = [dataclasses.replace(seq, gt=np.round(seq.gt * 4) / 4)
                 for seq in load_dataset("synthetic:distractors:2:5:24")]
    write_vot_sequences(generated, root)
    return list(load_dataset("vot2018", root))


def _one_pass(seq: Any) -> Tuple[np.ndarray, List[float]]:
    """dasiamrt's own run: (T, 4) boxes (row 0 the init box) and the T - 1 tracking scores."""
    from dasiamrt.eval.runner import run_ope_sequence
    from dasiamrt.runtime.tracker import Tracker
    from dasiamrt.runtime.tracker_options import default_model

    scores: List[float] = []

    class Scored:  # the tracker, with each result's score kept
        def init(self, frame: np.ndarray, box: Any) -> None:
            tracker.init(frame, box)

        def track(self, frame: np.ndarray) -> Any:
            result = tracker.track(frame)
            scores.append(float(result.score))
            return result

    with Tracker.from_model(str(default_model()), backend="ort") as tracker:
        boxes, _ = run_ope_sequence(Scored(), seq)
    return boxes, scores


def _track(session: Session, seq: Any, region: Any) -> Tuple[np.ndarray, List[float]]:
    replies = [session.initialize(seq.frames[0], [region])]
    replies += [session.frame(path) for path in seq.frames[1:]]
    assert all(len(reply) == 1 and reply[0][0] is not None for reply in replies), replies
    boxes = np.array([reply[0][0] for reply in replies])
    return boxes, [float(reply[0][1]["confidence"]) for reply in replies[1:]]


def test_handshake_advertises_rectangles_polygons_and_image_paths(tmp_path):
    with Session(_server("--name", "dasiamrt-ci"), tmp_path) as session:
        client = session.client
        assert client.tracker_name == "dasiamrt-ci" and client.tracker_family == "siamese"
        assert sorted(client.region_formats) == ["polygon", "rectangle"]
        assert client.image_formats == ["path"] and client.channels == ["color"]
        assert client.get("multiobject") is True  # the toolkit 0.9's experiments need it (see trax_server.serve)
        assert session.quit() == 0


def test_rectangle_then_polygon_session_equals_dasiamrt_one_pass_runs(tmp_path, sequences):
    """One session, re-initialised: a rectangle on the first sequence, a polygon on the second; every reply
    is the box (and score) of dasiamrt's own one-pass run on the same files, started from the same box."""
    box_seq, poly_seq = sequences
    rectangle = Rectangle.create(*box_seq.gt[0])
    polygon = Polygon.create([(float(x), float(y)) for x, y in poly_seq.polygons[0].reshape(4, 2)])
    with Session(_server(), tmp_path) as session:
        by_rectangle = _track(session, box_seq, rectangle)
        by_polygon = _track(session, poly_seq, polygon)
        assert session.quit() == 0
    assert "Traceback" not in session.log

    x, y, w, h = poly_seq.gt[0]  # an axis-aligned 4-point region: its VOT box is half a pixel larger all round
    np.testing.assert_allclose(by_polygon[0][0], [x - 0.5, y - 0.5, w + 1, h + 1], rtol=0, atol=_wire_atol(x + w))
    for seq, (boxes, scores) in ((dataclasses.replace(box_seq, polygons=None), by_rectangle),
                                 (poly_seq, by_polygon)):
        expected, expected_scores = _one_pass(seq)  # box_seq without polygons: it starts from gt[0] as given
        np.testing.assert_allclose(boxes, expected, rtol=0, atol=_wire_atol(expected))
        np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=5.1e-7)  # sent as "%.6f"
        assert np.abs(np.diff(expected[:, :2], axis=0)).max() > 1  # the target moves: tracking, not echoing


def test_polygons_become_the_area_preserving_vot_box(tmp_path, sequences):
    """Two objects in one ``initialize`` (the server spawns a tracker for the second): a square turned
    45 degrees and a hexagon, with integer corners; the replies are their boxes worked out by hand."""
    square = [(100, 90), (110, 100), (100, 110), (90, 100)]  # side 10 sqrt(2): area 200 in a 20 x 20 bounding box
    hexagon = [(200, 100), (210, 90), (230, 90), (240, 100), (230, 110), (210, 110)]  # area 600 in 40 x 20

    def by_hand(cx: float, cy: float, bw: float, bh: float, area: float) -> Tuple[float, ...]:
        s = np.sqrt(area / (bw * bh))  # the bounding box scaled to the polygon's area, "+1", same centre
        w, h = s * bw + 1, s * bh + 1
        return (cx - w / 2, cy - h / 2, w, h)

    expected = [by_hand(100, 100, 20, 20, 200), by_hand(220, 100, 40, 20, 600)]
    seq = sequences[0]
    with Session(_server(), tmp_path) as session:
        started = session.initialize(seq.frames[0], [Polygon.create(square), Polygon.create(hexagon)])
        tracked = session.frame(seq.frames[1])
        assert session.quit() == 0
    np.testing.assert_allclose([box for box, _ in started], expected, rtol=0, atol=_wire_atol(np.array(expected)))
    assert len(tracked) == 2 and all(box is not None for box, _ in tracked)


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "bypassed"])
def test_stray_output_never_breaks_the_client(tmp_path, sequences, protected):
    """A tracker writing to fd 1 mid-session: the client still gets every reply, and the noise reaches
    the log as whole lines. With the protection bypassed (the client chose stdin/stdout itself, so the
    server leaves fd 1 alone) the same tracker breaks the session: proof that the noise is harmful."""
    seq = sequences[0]
    box = tuple(float(v) for v in seq.gt[0])
    env = {} if protected else {"TRAX_IN": "0", "TRAX_OUT": "1"}
    replies: Reply = []
    fragments: List[str] = []
    try:
        with Session([sys.executable, str(NOISY_TRACKER)], tmp_path, env=env, timeout=15 if protected else 3) as s:
            fragments = s.fragments
            replies += s.initialize(seq.frames[0], [Rectangle.create(*box)])
            for path in seq.frames[1:6]:
                replies += s.frame(path)
            status: Optional[int] = s.quit()
    except TraxException:
        status = None
    intact = status == 0 and len(replies) == 6 and all(reply == box for reply, _ in replies)
    log = "".join(fragments)
    assert intact is protected, (replies, log[-2000:])
    if protected:
        lines = log.splitlines()
        assert "print noisenative noise" in lines and lines.count("print noise@@TRAX:junk ") == 5


@pytest.mark.parametrize("damage", ["not-an-image", "missing"])
def test_unreadable_frame_ends_the_session_with_a_one_line_reason(tmp_path, sequences, damage):
    seq = sequences[0]
    bad = tmp_path / "00000005.jpg"
    if damage == "not-an-image":
        bad.write_text("not an image")
    frames = list(seq.frames[:4]) + [bad]
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        with Session(_server(), tmp_path, stderr=stderr) as session:
            session.initialize(frames[0], [Rectangle.create(*seq.gt[0])])
            for path in frames[1:4]:
                assert session.frame(path)[0][0] is not None
            with pytest.raises(TraxException) as caught:
                session.frame(bad)
            status = session.proc.wait(60)
        stderr.seek(0)
        errors = stderr.read()
    reason = f"cannot read the frame {bad}: the file is missing or not an image"
    assert str(caught.value) == f"Server terminated the session: {reason}"
    assert status == 2 and errors.splitlines() == [f"dasiamrt trax: error: {reason}"], errors
