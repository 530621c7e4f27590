"""The live tracking loop: newest frame -> tracker -> JSON records, overlay video, window.

Behaviour (documented for users in ``live/README.md``):

* The tracker always gets the newest captured frame; frames it had no time for are dropped and counted.
* Latency is measured from the capture timestamp (taken right after the source's ``read()``
  returned) to the moment the result is known, before it is written anywhere.
* Target: ``init_box`` on the first frame, a drawn box (``select``), a control message or a key;
  any of them re-initialises at any time. Without a target the loop reports ``waiting``.
* Frame size change (camera reconnected in another mode, stream renegotiated): the tracker is
  re-initialised on the new frame with the last box scaled by the width and height ratios, and the
  record reports ``init``. A scaled box that leaves the frame drops the target (``waiting``).
* Stop (signal, ``stop`` message, ``q`` key, ``max_frames``) or the end of the source ends the loop;
  the caller then closes the outputs (video finalised, JSON flushed).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import BoxError
from ..runtime.geometry import check_init_box
from .capture import FramePacket, LatestFrame
from .control import ControlChannel
from .display import KEY_CLEAR, KEY_QUIT, KEY_SELECT, Display, overlay
from .outputs import JsonSink, make_record
from .result import LiveResult, ResultListener

log = logging.getLogger(__name__)

Box = Tuple[float, float, float, float]


@dataclass
class LiveSummary:
    """What a live run did.

    Attributes:
        processed: frames given to the loop (tracked, initialised on, or waiting).
        captured: frames read from the source and offered to the tracker (a frame read ahead when the run
            stops is not counted).
        dropped: captured frames never processed (the tracker was busy with an older one).
        latencies_ms: capture-to-result latency of each processed frame.
        states: processed frames per state.
        seconds: wall time of the loop.
        end_reason: why the run ended (one line).
        ok: False when the source was lost for good or capture failed.
        reconnects: successful reconnects.
    """

    processed: int = 0
    captured: int = 0
    dropped: int = 0
    latencies_ms: List[float] = field(default_factory=list)
    states: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    end_reason: str = ""
    ok: bool = True
    reconnects: int = 0

    def latency_percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of the latencies in ms (NaN without frames)."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def line(self) -> str:
        fps = self.processed / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.processed} frames processed of {self.captured} captured ({self.dropped} dropped), "
                f"{fps:.1f} FPS, latency median {self.latency_percentile(50):.1f} ms "
                f"p90 {self.latency_percentile(90):.1f} ms, {self.states.get('lost', 0)} lost; {self.end_reason}")


@dataclass
class LiveOutputs:
    """Where results go: JSON sinks, an overlay video writer, a window, in-process listeners (each optional)."""

    sinks: List[JsonSink] = field(default_factory=list)
    video: Optional[Any] = None
    display: Optional[Display] = None
    listeners: List[ResultListener] = field(default_factory=list)


class LiveLoop:
    """Consumes packets from ``slot`` until stopped or the source ends (see the module docstring).

    Args:
        tracker: has ``init(frame, bbox_xywh)`` and ``track(frame) -> TrackResult``.
        slot: latest-frame mailbox filled by the capture thread.
        outputs: JSON sinks, video writer, window.
        stop: set by signals/keys/control to end the loop.
        control: optional control channel.
        init_box: target on the first frame (0-based x, y, w, h); a bad box raises ``BoxError``.
        select: let the user draw the target on the first frame (needs ``outputs.display``).
        max_frames: stop after this many processed frames.
    """

    def __init__(self, tracker: Any, slot: LatestFrame, outputs: LiveOutputs, stop: threading.Event,
                 control: Optional[ControlChannel] = None, init_box: Optional[Sequence[float]] = None,
                 select: bool = False, max_frames: Optional[int] = None) -> None:
        self.tracker, self.slot, self.outputs, self.stop = tracker, slot, outputs, stop
        self.control = control
        self.pending: Optional[Box] = tuple(float(v) for v in init_box) if init_box is not None else None  # type: ignore[assignment]
        self.strict_init = init_box is not None
        self.select_first = select
        self.max_frames = max_frames
        self.summary = LiveSummary()
        self.box: Optional[Box] = None
        self.frame_wh: Optional[Tuple[int, int]] = None
        self._result_times: Deque[float] = collections.deque(maxlen=30)
        self._video_wh: Optional[Tuple[int, int]] = None

    def run(self) -> LiveSummary:
        """Process frames until the end; returns the summary (``captured``/``dropped`` are the slot's so far)."""
        start = time.perf_counter()
        while not self.stop.is_set():
            self._apply_control()
            if self.stop.is_set():
                break
            packet = self.slot.take(timeout=0.1)
            if packet is None:
                if self.slot.closed:
                    break
                continue
            self._step(packet)
            if self.max_frames is not None and self.summary.processed >= self.max_frames:
                self.summary.end_reason = f"stopped after {self.max_frames} frames"
                break
        self.summary.seconds = time.perf_counter() - start
        return self.summary

    # -- one frame -------------------------------------------------------------------------------
    def _step(self, packet: FramePacket) -> None:
        frame = packet.frame
        if self.select_first and self.outputs.display is not None:
            self.select_first = False
            self.pending = self.outputs.display.select(frame)
        state, box, score = self._track(frame)
        t_result = time.perf_counter()
        latency_ms = (t_result - packet.t_mono) * 1000.0
        self._result_times.append(t_result)
        if self.outputs.listeners:
            result = LiveResult(packet.frame_id, packet.t_capture, packet.t_mono, t_result,
                                (int(frame.shape[1]), int(frame.shape[0])), state, box, score)
            for listener in self.outputs.listeners:
                listener.on_result(result)
        summary = self.summary
        summary.processed += 1
        summary.latencies_ms.append(latency_ms)
        summary.states[state] = summary.states.get(state, 0) + 1
        dropped = self.slot.dropped
        record = make_record(packet.frame_id, packet.t_capture, box, score, state, latency_ms, dropped)
        for sink in self.outputs.sinks:
            sink.write(record)
        if self.outputs.video is None and self.outputs.display is None:
            return
        image = overlay(frame, box, score, state, self._fps(), latency_ms, dropped)
        if self.outputs.video is not None:
            self._write_video(image)
        if self.outputs.display is not None:
            self._handle_key(self.outputs.display.show(image), frame)

    def _write_video(self, image: NDArray[np.uint8]) -> None:
        """Write at the first frame's size: a video file cannot change size (OpenCV drops such frames)."""
        size_wh = (int(image.shape[1]), int(image.shape[0]))
        if self._video_wh is None:
            self._video_wh = size_wh
        elif size_wh != self._video_wh:
            image = cast("NDArray[np.uint8]", cv2.resize(image, self._video_wh, interpolation=cv2.INTER_AREA))
        assert self.outputs.video is not None  # only called when a video writer is set
        self.outputs.video.write(image)

    def _track(self, frame: NDArray[np.uint8]) -> Tuple[str, Optional[Box], Optional[float]]:
        """Init on a pending box, re-init after a size change, else track; (state, box, score)."""
        frame_wh = (int(frame.shape[1]), int(frame.shape[0]))
        if self.pending is not None:
            box, self.pending = self.pending, None
            outcome = self._init(frame, box)
            if outcome is not None:
                return outcome
        if self.box is not None and frame_wh != self.frame_wh:
            outcome = self._init(frame, self._scaled_box(frame_wh))
            if outcome is None:
                self.box = None
            return outcome or ("waiting", None, None)
        if self.box is None:
            return "waiting", None, None
        result = self.tracker.track(frame)
        self.box = tuple(float(v) for v in result.bbox_xywh)  # type: ignore[assignment]
        return result.state, self.box, float(result.score)

    def _init(self, frame: NDArray[np.uint8], box: Box) -> Optional[Tuple[str, Optional[Box], Optional[float]]]:
        """Initialise on ``box``; ``None`` (target unchanged, warning logged) when the box does not fit the frame.

        Raises:
            BoxError: the box of ``init_box`` (the command line) does not fit the first frame.
        """
        strict, self.strict_init = self.strict_init, False
        try:
            checked = check_init_box(box, frame.shape)
        except BoxError as err:
            if strict:
                raise
            log.warning("ignored init, target unchanged: %s", err)
            return None
        self.tracker.init(frame, checked)
        self.box, self.frame_wh = checked, (int(frame.shape[1]), int(frame.shape[0]))
        log.info("target set to %s", ",".join(f"{v:.1f}" for v in checked))
        return "init", checked, 1.0

    def _scaled_box(self, frame_wh: Tuple[int, int]) -> Box:
        assert self.box is not None and self.frame_wh is not None
        sx, sy = frame_wh[0] / self.frame_wh[0], frame_wh[1] / self.frame_wh[1]
        x, y, w, h = self.box
        log.warning("frame size changed from %dx%d to %dx%d: re-initialising on the last box scaled",
                    self.frame_wh[0], self.frame_wh[1], frame_wh[0], frame_wh[1])
        return (x * sx, y * sy, w * sx, h * sy)

    # -- control, keys ---------------------------------------------------------------------------
    def _apply_control(self) -> None:
        if self.control is None:
            return
        for message in self.control.poll():
            if message.cmd == "init":
                self.pending = message.bbox_xywh
            elif message.cmd == "clear":
                self.pending, self.box = None, None
                log.info("target cleared by control message")
            elif message.cmd == "stop":
                self.summary.end_reason = "stopped by control message"
                self.stop.set()

    def _handle_key(self, key: int, frame: NDArray[np.uint8]) -> None:
        if key in KEY_QUIT:
            self.summary.end_reason = "stopped from the window"
            self.stop.set()
        elif key in KEY_CLEAR:
            self.pending, self.box = None, None
        elif key in KEY_SELECT and self.outputs.display is not None:
            box = self.outputs.display.select(frame)
            if box is not None:
                # Initialise on the frame the box was drawn on; tracking then continues on the newest.
                self._init(frame, box)

    def _fps(self) -> float:
        times = self._result_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
