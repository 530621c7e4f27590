"""One live run: pick the source, start the capture thread, run the loop, finalise the outputs.

:func:`run_live` owns every resource of a run and releases them in one place, also after SIGINT
or SIGTERM (:func:`stop_on_signals` turns them into a stop request instead of an exception, so the
tracker is never interrupted half-way and the video file is always finalised).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Sequence, Tuple

from ..errors import ConfigError, SourceError
from ..interrupts import Interrupted
from ..videoio.camera import CameraSource, RealtimeSource, StreamSource, csi_pipeline, gstreamer_available
from ..videoio.frames import FrameSource, open_source
from ..videoio.writers import VideoWriter
from .capture import CaptureThread, LatestFrame, ReconnectPolicy
from .control import ControlChannel
from .display import Display
from .loop import LiveLoop, LiveOutputs, LiveSummary
from .outputs import JsonSink
from .result import ResultListener

if TYPE_CHECKING:
    from .options import LivePlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveSource:
    """How to (re)open the frames of a run.

    Attributes:
        open: opens the source; called again to reconnect a live one.
        live: a camera or stream (reconnect when it stops) rather than a file (its end ends the run).
        lossless: process every frame (a file read as fast as the tracker goes: no drops).
        description: for messages.
    """

    open: Callable[[], FrameSource]
    live: bool
    lossless: bool
    description: str


def live_source(spec: Optional[str] = None, csi: Optional[int] = None, size_wh: Optional[Tuple[int, int]] = None,
                fps: Optional[float] = None, realtime: bool = False, flip_method: int = 0) -> LiveSource:
    """Describe the source of ``dasiamrt live``.

    Args:
        spec: camera index (``"0"``), video file, GStreamer pipeline (contains ``!``) or URL (``rtsp://``...).
        csi: Jetson CSI sensor id instead of ``spec``.
        size_wh: capture size for cameras (CSI default 1280x720).
        fps: capture rate for cameras (CSI default 30); playback rate for ``realtime`` files.
        realtime: play a file at its native rate (or ``fps``) like a camera, dropping what the tracker misses.
        flip_method: CSI ``nvvidconv flip-method``.

    Raises:
        ConfigError: neither or both of ``spec`` and ``csi``; ``realtime`` on something that is not a file.
        SourceError: ``spec`` looks like a file path but there is none; a CSI camera or pipeline with an
            OpenCV built without GStreamer.
    """
    if (spec is None) == (csi is None):
        raise ConfigError("give a SOURCE (camera index, video file, pipeline or URL) or --csi N, exactly one")
    if (csi is not None or "!" in str(spec)) and not gstreamer_available():
        what = "--csi" if csi is not None else "a GStreamer pipeline"
        raise SourceError(f"{what} needs OpenCV built with GStreamer (JetPack's OpenCV); this one has none: "
                          "uninstall pip's opencv-python* wheels on a Jetson")
    if csi is not None:
        pipeline = csi_pipeline(csi, size_wh or (1280, 720), fps or 30.0, flip_method)
        return LiveSource(lambda: open_source(pipeline), True, False, f"CSI camera {csi}")
    assert spec is not None
    if realtime and (spec.isdigit() or "!" in spec or "://" in spec):
        raise ConfigError("--realtime paces a video file; cameras and streams are real time already: drop --realtime")
    if spec.isdigit():
        index = int(spec)
        return LiveSource(lambda: CameraSource(index, size_wh, fps), True, False, f"camera {index}")
    if "!" in spec:
        return LiveSource(lambda: open_source(spec), True, False, f"pipeline {spec}")
    if "://" in spec:
        return LiveSource(lambda: StreamSource(spec), True, False, f"stream {spec}")
    if not Path(spec).exists():
        raise SourceError(f"no such file: {spec} (give a camera index, video file, pipeline or URL)")
    if Path(spec).is_dir():
        raise ConfigError(f"{spec} is a folder: live needs a camera, stream or video file "
                          "(use 'dasiamrt track' for image folders)")
    if realtime:
        return LiveSource(lambda: RealtimeSource(open_source(spec), fps), False, False, f"video {spec} (real time)")
    return LiveSource(lambda: open_source(spec), False, True, f"video {spec}")


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[List[int]]:
    """While inside, SIGINT and SIGTERM set ``stop`` instead of killing the process (main thread only).

    Yields the list of signals received (empty unless one came), so the caller can exit with
    128 + the first one. A second signal raises ``KeyboardInterrupt`` (the CLI exits with 130).
    """
    received: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        if len(received) > 1:  # a second signal: the user does not want to wait for a clean stop
            raise Interrupted(signum)
        log.info("%s received: finishing the current frame and closing the outputs (again to force)",
                 signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class LiveSettings:
    """How one live run behaves (everything but its resources: source, sinks, control, listeners, stop).

    Attributes:
        save: overlay video path (.mp4), finalised on return.
        show: show the overlay window (check :func:`~dasiamrt.live.display.require_display` first).
        init_box: target on the first frame (0-based x, y, w, h).
        select: draw the target on the first frame (needs ``show``).
        max_frames: stop after this many processed frames.
        policy: reconnects of a live source (default: :class:`ReconnectPolicy`'s).
    """

    save: Optional[str] = None
    show: bool = False
    init_box: Optional[Sequence[float]] = None
    select: bool = False
    max_frames: Optional[int] = None
    policy: Optional[ReconnectPolicy] = None


def run_live(tracker: Any, source: LiveSource, sinks: Sequence[JsonSink] = (), settings: Optional[LiveSettings] = None,
             *, control: Optional[ControlChannel] = None, stop: Optional[threading.Event] = None,
             listeners: Sequence[ResultListener] = (), **changes: Any) -> LiveSummary:
    """Track live until the source ends, is lost for good, or a stop comes; outputs are closed on return.

    Args:
        tracker: ``init(frame, bbox_xywh)`` / ``track(frame) -> TrackResult``.
        source: from :func:`live_source`.
        sinks: JSON-line outputs (owned: closed here).
        settings: :class:`LiveSettings`; ``changes`` replace some of its fields (``run_live(t, s, init_box=b)``).
        control: control channel (owned: closed here).
        stop: set it to stop (signal handlers do); a new event when ``None``.
        listeners: get every result in-process (e.g. the MAVLink component; not owned: a listener that is
            also the ``control`` channel is closed as the control channel).

    Raises:
        SourceError: the source cannot be opened at start; BoxError: ``init_box`` does not fit the first frame.
    """
    run = dataclasses.replace(settings or LiveSettings(), **changes)
    stop = stop or threading.Event()
    slot = LatestFrame(lossless=source.lossless)
    outputs = LiveOutputs(list(sinks), listeners=list(listeners))
    capture: Optional[CaptureThread] = None
    loop: Optional[LiveLoop] = None
    try:
        first = source.open()
        capture = CaptureThread(source.open, slot, source.live, run.policy or ReconnectPolicy(), stop, first=first)
        outputs.display = Display() if run.show else None
        outputs.video = VideoWriter(run.save, fps=first.fps or 30.0) if run.save else None
        loop = LiveLoop(tracker, slot, outputs, stop, control, run.init_box, run.select, run.max_frames)
        capture.start()
        summary = loop.run()
    finally:
        if capture is not None:
            _shutdown(capture, slot, stop)
        _close_outputs(outputs, control, ok=loop is not None and loop.summary.processed > 0)
    summary.captured, summary.reconnects = slot.captured, capture.reconnects
    summary.dropped = slot.dropped
    summary.ok = slot.end_ok
    summary.end_reason = summary.end_reason or slot.end_reason or "stopped"
    return summary


@dataclass
class LiveOutcome:
    """How a :func:`run_live_session` ended: the summary, the MAVLink component's statistics line (if one
    ran), and the signals received (SIGINT/SIGTERM: the outputs are closed; the exit status names the first)."""

    summary: LiveSummary
    camera_line: Optional[str]
    signals: List[int]


def run_live_session(plan: "LivePlan", make_tracker: Callable[[], Any]) -> LiveOutcome:
    """Run a checked ``dasiamrt live`` plan (:meth:`dasiamrt.live.options.LiveOptions.plan`): load the tracker,
    open the JSON sinks, the control channel and the MAVLink camera, track until the end, close everything.

    ``make_tracker`` loads the model (after the signal handlers are in place, before any output is opened).
    """
    from .control import open_control
    from .control_mux import combine_controls
    from .mavlink import MavlinkCamera
    from .outputs import open_sink

    stop = threading.Event()
    with stop_on_signals(stop) as received:
        tracker = make_tracker()
        sinks: List[JsonSink] = []
        json_control, camera = None, None
        try:
            sinks.extend(open_sink(spec) for spec in plan.json)
            json_control = open_control(plan.control, plan.token) if plan.control else None
            camera = MavlinkCamera(plan.mavlink, plan.gimbal) if plan.mavlink is not None else None
        except BaseException:
            for channel in (json_control, *sinks):
                if channel is not None:
                    channel.close()
            tracker.close()
            raise
        with tracker:
            control = combine_controls([json_control, camera])
            summary = run_live(tracker, plan.source, sinks, plan.settings, control=control, stop=stop,
                               listeners=[camera] if camera else [])
    return LiveOutcome(summary, camera.stats.line() if camera is not None else None, list(received))


def _shutdown(capture: CaptureThread, slot: LatestFrame, stop: threading.Event) -> None:
    """Stop the capture thread. A frame still in the slot was read ahead but never offered to the
    tracker because the run ended (max frames, stop message, signal): it is neither processed nor
    dropped, so it is taken back out of ``captured``."""
    stop.set()
    if capture.is_alive():
        slot.close("stopped")
        capture.join(timeout=5.0)
        if capture.is_alive():
            log.warning("capture thread still blocked in the source's read(); leaving it behind")
    elif capture.source is not None:  # never started: close the first source ourselves
        capture.source.close()
    if slot.take(timeout=0) is not None:
        slot.captured -= 1


def _close_outputs(outputs: LiveOutputs, control: Optional[ControlChannel], ok: bool) -> None:
    errors: List[BaseException] = []
    closers: List[Callable[[], None]] = [sink.close for sink in outputs.sinks]
    if outputs.video is not None:
        video = outputs.video
        closers.append(lambda: video.close(ok=ok))
    if outputs.display is not None:
        closers.append(outputs.display.close)
    if control is not None:
        closers.append(control.close)
    for close in closers:
        try:
            close()
        except (OSError, SourceError) as err:
            errors.append(err)
            log.error("closing an output failed: %s", err)
    if errors:
        raise errors[0]
