"""Video I/O: frames in (video files, image folders, cameras, GStreamer/RTSP strings) and results out (CSV, video).

The frame sources of the tracker, as ``calib.trajectories`` holds calibration trajectories and ``train.sources``
training data."""
from __future__ import annotations

from .frames import FrameSource, open_source
from .writers import BoxWriter, VideoWriter, draw_result

__all__ = ["BoxWriter", "FrameSource", "VideoWriter", "draw_result", "open_source"]
