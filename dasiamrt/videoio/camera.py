"""Live sources: V4L2 cameras with a requested mode, Jetson CSI cameras, and files paced like a camera.

The classes here extend :class:`~dasiamrt.videoio.frames.FrameSource` for ``dasiamrt live``:

* :class:`CameraSource` opens a camera index (V4L2 on Linux) asking for a size and rate before the
  first frame, with a one-frame driver buffer so that a read returns a recent frame.
* :class:`StreamSource` opens an RTSP/HTTP URL with bounded open and read timeouts.
* :func:`csi_pipeline` builds NVIDIA's ``nvarguscamerasrc`` pipeline for a Jetson CSI camera (open
  it with :class:`~dasiamrt.videoio.frames.CaptureSource`; needs OpenCV built with GStreamer, as
  JetPack's is; pip's ``opencv-python`` wheels have no GStreamer).
* :class:`RealtimeSource` plays a file at its native frame rate, so that a slow tracker misses
  frames exactly as it would on a camera.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional, Tuple

import cv2

from ..errors import ConfigError
from .frames import CaptureSource, Frame, FrameSource

log = logging.getLogger(__name__)


def parse_size(text: str) -> Tuple[int, int]:
    """``"1280x720"`` -> (1280, 720).

    Raises:
        ConfigError: not two positive integers separated by ``x``.
    """
    parts = text.lower().replace(" ", "").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--size must be WIDTHxHEIGHT, e.g. 1280x720, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise ConfigError(f"--size must be positive, got {text!r}")
    return width, height


def gstreamer_available() -> bool:
    """Whether this OpenCV can open GStreamer pipelines (JetPack's can; pip's wheels cannot)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line.split(":", 1)[1]
    return False


def csi_pipeline(sensor_id: int = 0, size_wh: Tuple[int, int] = (1280, 720), fps: float = 30.0,
                 flip_method: int = 0) -> str:
    """GStreamer pipeline for a Jetson CSI camera, ending in an appsink that keeps only the newest frame.

    The camera delivers NV12 in NVMM (device) memory; ``nvvidconv`` (the VIC engine) converts to
    BGRx in system memory, ``videoconvert`` drops the x, and ``appsink drop=1 max-buffers=1``
    discards frames the application has not read yet instead of queueing them (latency).

    Args:
        sensor_id: CSI port (``sensor-id`` of ``nvarguscamerasrc``).
        size_wh: capture size; must be one of the sensor's modes (``v4l2-ctl --list-formats-ext``).
        fps: capture rate (rounded to an integer fraction n/1).
        flip_method: ``nvvidconv flip-method`` (0 none, 2 rotate 180, 4 horizontal flip...).

    Raises:
        ConfigError: negative sensor id, non-positive size or rate, flip method outside 0..7.
    """
    if sensor_id < 0:
        raise ConfigError(f"--csi must be a sensor id >= 0, got {sensor_id}")
    if size_wh[0] <= 0 or size_wh[1] <= 0 or fps <= 0:
        raise ConfigError(f"CSI size and rate must be positive, got {size_wh[0]}x{size_wh[1]} at {fps} FPS")
    if not 0 <= flip_method <= 7:
        raise ConfigError(f"--flip must be an nvvidconv flip-method 0..7, got {flip_method}")
    width, height = size_wh
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM),width={width},height={height},framerate={round(fps)}/1,format=NV12 ! "
        f"nvvidconv flip-method={flip_method} ! video/x-raw,format=BGRx ! "
        "videoconvert ! video/x-raw,format=BGR ! appsink drop=1 max-buffers=1"
    )


class CameraSource(CaptureSource):
    """A camera index, asked for ``size_wh`` and ``fps`` before its first frame.

    The driver may pick another mode; the frames' real size is what the tracker sees (logged).

    Raises:
        SourceError: the camera cannot be opened or gives no frame.
    """

    def __init__(self, index: int, size_wh: Optional[Tuple[int, int]] = None, fps: Optional[float] = None) -> None:
        cap = cv2.VideoCapture(index)
        # One buffered frame: a V4L2 ring of 4 adds up to 4 frame periods of latency.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if size_wh is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size_wh[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size_wh[1])
        if fps is not None:
            cap.set(cv2.CAP_PROP_FPS, fps)
        frame = self._open(cap, f"camera {index}",
                            "check that it is plugged in, not used by another program, and supports --size/--fps")
        got = (frame.shape[1], frame.shape[0])
        if size_wh is not None and got != tuple(size_wh):
            log.warning("camera %d gives %dx%d, not the requested %dx%d", index, got[0], got[1], *size_wh)


class StreamSource(CaptureSource):
    """A network stream (``rtsp://``, ``http://``...) with bounded open and read timeouts.

    Without them FFmpeg waits ~30 s on a dead stream before a read fails, which would stall the
    reconnect logic; ``timeout_s`` bounds both (OpenCV >= 4.5.2; older builds ignore it).

    Raises:
        SourceError: the stream cannot be opened or gives no frame.
    """

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        ms = int(timeout_s * 1000)
        try:
            cap = cv2.VideoCapture(url, cv2.CAP_ANY,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        except (TypeError, AttributeError, cv2.error):  # OpenCV < 4.5.2: no capture parameters
            cap = cv2.VideoCapture(url)
        self._open(cap, f"stream {url}", "check the URL, the network and that the sender is running")


class RealtimeSource(FrameSource):
    """Plays ``inner`` at ``fps`` (default: its own rate), like a camera that does not wait for the reader.

    ``read()`` sleeps until frame n is due at ``start + n / fps``; a reader that is late gets the
    next frame at once (no catch-up burst is skipped here: the latest-frame capture upstream
    drops what the tracker cannot use).

    Args:
        inner: the file source (owned: closed with this one).
        fps: playback rate; ``None`` takes ``inner.fps`` (30 when the file does not say).
        clock: monotonic clock in seconds (tests inject a fake one).
        sleep: sleep function (tests inject a fake one).
    """

    def __init__(self, inner: FrameSource, fps: Optional[float] = None,
                 clock: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep) -> None:
        rate = fps or inner.fps or 30.0
        if rate <= 0:
            raise ConfigError(f"--fps must be positive, got {rate}")
        self.inner = inner
        self.description = f"{inner.description} at {rate:g} FPS"
        self._rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._start: Optional[float] = None
        self._count = 0

    @property
    def fps(self) -> Optional[float]:
        return self._rate

    def read(self) -> Optional[Frame]:
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._count / self._rate
        if due > now:
            self._sleep(due - now)
        frame = self.inner.read()
        if frame is not None:
            self._count += 1
        return frame

    def close(self) -> None:
        self.inner.close()
