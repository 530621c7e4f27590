"""Run a tracker over a frame source: boxes to CSV, annotated video, progress, FPS summary.

Nothing tracked is lost: on Ctrl-C or SIGTERM the CSV of the frames done and a playable video are
kept, and :class:`~dasiamrt.interrupts.Interrupted` says so. A video file that stops before the
frame count it announces (a truncated download) is reported in :attr:`TrackingSummary.notes`.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import IO, List, Optional, Sequence, Union

from ..errors import ConfigError, SourceError
from ..interrupts import Interrupted, shielded, signal_of
from ..runtime.loop import track_frames
from ..runtime.tracker import Tracker, TrackResult
from ..videoio import BoxWriter, VideoWriter, draw_result, open_source
from ..videoio.frames import Frame, FrameSource

log = logging.getLogger(__name__)


@dataclass
class TrackingSummary:
    """What one run did.

    Attributes:
        frames: frames processed, the init frame included.
        seconds: wall time of the ``track`` calls (init excluded).
        results: per-frame results (frame 0 = the init box with score 1).
        lost_frames: frames that ended in the ``lost`` state.
        written: files written (committed), in order: CSV, video.
        notes: things the user must hear about (e.g. a video that ended before its announced length).
    """

    frames: int = 0
    seconds: float = 0.0
    results: List[TrackResult] = field(default_factory=list)
    written: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        tracked = max(self.frames - 1, 0)
        return tracked / self.seconds if self.seconds > 0 else 0.0

    @property
    def lost_frames(self) -> int:
        return sum(r.state == "lost" for r in self.results)

    def line(self) -> str:
        return f"{self.frames} frames, {self.fps:.1f} FPS (tracking only), {self.lost_frames} lost"


def run_tracking(
    tracker: Tracker,
    source: Union[str, int, FrameSource],
    init_box_xywh: Sequence[float],
    max_frames: Optional[int] = None,
    csv_path: Optional[str] = None,
    video_path: Optional[str] = None,
    progress: Optional[IO[str]] = sys.stderr,
) -> TrackingSummary:
    """Initialise on the first frame of ``source`` and track through the rest.

    Args:
        tracker: a constructed tracker.
        source: a :class:`FrameSource` or anything :func:`open_source` takes.
        init_box_xywh: 0-based x, y, w, h on the first frame.
        max_frames: stop after this many frames (init frame included).
        csv_path: write ``frame,x,y,w,h,score,state`` here (atomically).
        video_path: write the annotated frames here (atomically).
        progress: stream for a one-line progress display (None: silent).

    Raises:
        SourceError, BoxError: bad source or initial box; a source with a single frame (nothing to
            track after the init frame) unless ``max_frames`` is 1.
        ConfigError: ``max_frames`` < 1 (nothing would be tracked or written).
        Interrupted: Ctrl-C or SIGTERM; the outputs of the frames tracked so far are kept first and
            the exception's ``detail`` names them.
    """
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"--max-frames must be at least 1 (the init frame), got {max_frames}")
    frames = source if isinstance(source, FrameSource) else open_source(source)
    summary = TrackingSummary()
    total = getattr(frames, "frame_count", None)
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    outputs = _Outputs()
    try:
        outputs.open(csv_path, video_path, frames.fps or 30.0)
        for step in track_frames(tracker, (frame for _, frame in frames), init_box_xywh, max_frames):
            if step.index:  # the FPS counts tracked frames, not the init
                summary.seconds += step.seconds
            summary.results.append(step.result)
            summary.frames += 1
            outputs.write(step.index, step.frame, step.result)
            if progress is not None and (step.index % 10 == 0 or step.index + 1 == total):
                _progress(progress, step.index + 1, total, summary)
        _check_length(frames, summary, max_frames)
        outputs.ok = summary.frames > 0
        outputs.close(summary)
        return summary
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM under cli.main: keep what was tracked
        outputs.ok = summary.frames > 0
        with shielded():
            outputs.close(summary)
        raise Interrupted(signal_of(err), _kept(summary, csv_path, video_path)) from None
    finally:
        outputs.close(None)
        if not isinstance(source, FrameSource):
            frames.close()
        if progress is not None and summary.frames:
            progress.write("\n")


def _check_length(frames: FrameSource, summary: TrackingSummary, max_frames: Optional[int]) -> None:
    """A single-frame source is an error; a file that ends well before its announced length is a note."""
    if summary.frames == 1 and max_frames != 1:
        raise SourceError(f"{frames.description} has a single frame: nothing to track after the init frame "
                          "(give a video or folder of 2 or more frames)")
    announced = getattr(frames, "announced_frames", None)
    reached_max = max_frames is not None and summary.frames >= max_frames
    if announced and not reached_max and summary.frames < announced - max(2, announced // 100):
        summary.notes.append(f"{frames.description}: the stream ended after {summary.frames} frames (the file "
                             f"announces {announced}): it is truncated or damaged; the results cover those "
                             f"{summary.frames} frames")


def _kept(summary: TrackingSummary, csv_path: Optional[str], video_path: Optional[str]) -> str:
    """What an interrupted run kept, for the one stderr line."""
    done = f"{summary.frames} frame{'s' if summary.frames != 1 else ''} tracked"
    if summary.written:
        return f"{done}, kept in {' and '.join(summary.written)}"
    if csv_path or video_path:
        return f"{done}, no output written"
    return f"{done}; no --out/--save given, so nothing was written"


class _Outputs:
    """The CSV and video of a run: committed by ``close()`` when ``ok``, else removed."""

    def __init__(self) -> None:
        self.boxes: Optional[BoxWriter] = None
        self.video: Optional[VideoWriter] = None
        self.ok = False

    def open(self, csv_path: Optional[str], video_path: Optional[str], fps: float) -> None:
        self.boxes = BoxWriter(csv_path) if csv_path else None
        self.video = VideoWriter(video_path, fps=fps) if video_path else None

    def write(self, index: int, frame: Frame, result: TrackResult) -> None:
        if self.boxes is not None:
            self.boxes.write(index, result.bbox_xywh, result.score, result.state)
        if self.video is not None:
            self.video.write(draw_result(frame, result.bbox_xywh, result.score, "init" if index == 0 else result.state,
                                         text=f"frame {index}"))

    def close(self, summary: Optional[TrackingSummary]) -> None:
        """Commit (``ok``) or remove each output once; committed paths go to ``summary.written``."""
        for name in ("boxes", "video"):
            writer = getattr(self, name)
            if writer is None:
                continue
            setattr(self, name, None)
            try:
                writer.close(ok=self.ok)
            except BaseException:
                self.ok = False  # the outputs still open are removed, not kept without this one
                raise
            if self.ok and summary is not None:
                summary.written.append(str(writer.path))


def _progress(stream: IO[str], done: int, total: Optional[int], summary: TrackingSummary) -> None:
    of = f"/{total}" if total else ""
    stream.write(f"\rframe {done}{of}  {summary.fps:6.1f} FPS")
    stream.flush()
