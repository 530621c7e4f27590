"""Latest-frame capture: a thread reads the source as fast as it delivers and keeps only the newest frame.

A camera does not wait for the tracker. Queueing its frames would make every result older than the
last; instead :class:`LatestFrame` is a one-slot mailbox: a new frame replaces one the tracker has
not taken yet (counted as dropped), and :meth:`LatestFrame.take` always returns the newest frame.
Reading a file as fast as possible (no ``--realtime``) uses the lossless mode instead: the reader
waits until the tracker has taken the previous frame, so every frame is processed.

:class:`CaptureThread` also reconnects a live source that stops delivering (camera unplugged,
RTSP dropout): it reopens it with exponential backoff and gives up after a bounded number of tries.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ..errors import DasiamrtError
from ..videoio.frames import FrameSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FramePacket:
    """One captured frame.

    Attributes:
        frame_id: capture sequence number (0, 1, 2... over the whole run, reconnects included), so a
            gap between two processed ids is the number of frames dropped in between.
        frame: (H, W, 3) uint8 BGR image.
        t_capture: wall-clock time of capture, seconds since the Unix epoch (for other programs).
        t_mono: ``time.perf_counter()`` at capture (for latency within this process).
    """

    frame_id: int
    frame: NDArray[np.uint8]
    t_capture: float
    t_mono: float


class LatestFrame:
    """One-slot mailbox between the capture thread and the tracking loop.

    Args:
        lossless: ``put`` waits until the previous frame was taken (files without ``--realtime``).
    """

    def __init__(self, lossless: bool = False) -> None:
        self.lossless = lossless
        self._cond = threading.Condition()
        self._packet: Optional[FramePacket] = None
        self._closed = False
        self.end_reason = ""
        self.end_ok = True
        self.captured = 0
        self.dropped = 0

    def put(self, packet: FramePacket) -> None:
        """Offer a new frame; an untaken older frame is replaced and counted as dropped."""
        with self._cond:
            if self.lossless:
                while self._packet is not None and not self._closed:
                    self._cond.wait()
            if self._closed:
                return
            if self._packet is not None:
                self.dropped += 1
            self._packet = packet
            self.captured += 1
            self._cond.notify_all()

    def take(self, timeout: Optional[float] = None) -> Optional[FramePacket]:
        """The newest frame not taken before; ``None`` after ``timeout`` seconds or once closed and empty."""
        with self._cond:
            if self._packet is None and not self._closed:
                self._cond.wait(timeout)
            packet, self._packet = self._packet, None
            self._cond.notify_all()
            return packet

    def close(self, reason: str = "", ok: bool = True) -> None:
        """No more frames will come (``reason`` says why; ``ok=False`` marks a failure)."""
        with self._cond:
            if not self._closed:
                self._closed, self.end_reason, self.end_ok = True, reason, ok
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once the producer has finished (an already captured frame may still wait in the slot)."""
        with self._cond:
            return self._closed


@dataclass(frozen=True)
class ReconnectPolicy:
    """Bounded reconnects: wait ``first_delay``, doubling up to ``max_delay``, for ``attempts`` tries.

    Attributes:
        attempts: reopen tries after a loss before giving up (0: give up at once).
        first_delay: seconds before the first try.
        max_delay: cap of the doubling delay.
    """

    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delays(self) -> List[float]:
        """Seconds to wait before each try."""
        return [min(self.first_delay * 2 ** k, self.max_delay) for k in range(self.attempts)]


class CaptureThread(threading.Thread):
    """Reads frames from ``open_source()`` into ``slot`` until the end, a stop, or a lost live source.

    Args:
        open_source: opens the source (called again to reconnect); raises ``DasiamrtError`` when it cannot.
        slot: where frames go.
        live: a source that ends by itself is a failure to reconnect (camera, stream), not the end of a file.
        policy: reconnect policy for live sources.
        stop: set by the owner to end the thread (also interrupts a backoff wait).
        first: an already opened source to start with (so that open errors surface before the thread starts).
    """

    def __init__(self, open_source: Callable[[], FrameSource], slot: LatestFrame, live: bool,
                 policy: ReconnectPolicy, stop: threading.Event, first: Optional[FrameSource] = None) -> None:
        super().__init__(name="dasiamrt-capture", daemon=True)
        self.open_source = open_source
        self.slot = slot
        self.live = live
        self.policy = policy
        self.stop_event = stop
        self.source = first
        self.reconnects = 0
        self._next_id = 0

    def run(self) -> None:
        try:
            reason, ok = self._capture()
        except Exception as err:  # a bug or a driver failure: end the run visibly, not a silent hang
            log.exception("capture thread failed")
            reason, ok = f"capture failed: {err}", False
        finally:
            if self.source is not None:
                self.source.close()
                self.source = None
        self.slot.close(reason, ok)

    def _capture(self) -> Tuple[str, bool]:
        while not self.stop_event.is_set():
            if self.source is None:
                return "stopped", True
            frame = self._read()
            if frame is not None:
                now_wall, now_mono = time.time(), time.perf_counter()
                self.slot.put(FramePacket(self._next_id, frame, now_wall, now_mono))
                self._next_id += 1
                continue
            if not self.live:
                return f"end of {self.source.description}", True
            description = self.source.description
            self.source.close()
            self.source = self._reconnect(description)
            if self.source is None and not self.stop_event.is_set():
                tries = self.policy.attempts
                return (f"{description} stopped delivering frames and {tries} reconnect attempt(s) failed: "
                        "check the cable, power or URL, then start again"), False
        return "stopped", True

    def _read(self) -> Optional[NDArray[np.uint8]]:
        if self.source is None:
            return None
        try:
            return self.source.read()
        except Exception as err:  # OpenCV/driver errors on unplug are a lost stream, not a crash
            log.warning("reading %s failed: %s", self.source.description, err)
            return None

    def _reconnect(self, description: str) -> Optional[FrameSource]:
        """Reopen the source with backoff; ``None`` when every try failed or a stop came."""
        for attempt, delay in enumerate(self.policy.delays(), 1):
            log.warning("%s lost; reconnect %d/%d in %.1f s", description, attempt, self.policy.attempts, delay)
            if self.stop_event.wait(delay):
                return None
            try:
                source = self.open_source()
            except DasiamrtError as err:
                log.warning("reconnect %d/%d failed: %s", attempt, self.policy.attempts, err)
                continue
            self.reconnects += 1
            log.info("%s reconnected", description)
            return source
        return None
