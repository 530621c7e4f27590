"""Live tracking from cameras and streams (``dasiamrt live``): newest-frame capture, control, outputs.

See ``dasiamrt/live/README.md`` for the behaviour and the JSON record schema.
"""
from __future__ import annotations

from .capture import CaptureThread, FramePacket, LatestFrame, ReconnectPolicy
from .loop import LiveLoop, LiveOutputs, LiveSummary
from .mavlink import MavlinkCamera
from .mavlink_protocol import MavlinkConfig
from .outputs import SCHEMA_VERSION, make_record
from .result import LiveResult
from .session import LiveSource, live_source, run_live, stop_on_signals

__all__ = [
    "CaptureThread", "FramePacket", "LatestFrame", "LiveLoop", "LiveOutputs", "LiveResult", "LiveSource",
    "LiveSummary", "MavlinkCamera", "MavlinkConfig", "ReconnectPolicy", "SCHEMA_VERSION", "live_source",
    "make_record", "run_live", "stop_on_signals",
]
