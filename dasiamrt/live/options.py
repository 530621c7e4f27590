"""One ``dasiamrt live`` run as options, checked together in the library (the command only parses flags).

:class:`LiveOptions` holds what the flags say; :meth:`LiveOptions.plan` checks them in one place, in a
fixed order (target, display, numbers, outputs, MAVLink, source), and returns a :class:`LivePlan` that
:func:`dasiamrt.live.session.run_live_session` runs. Every problem is one :class:`~dasiamrt.errors.ConfigError`
(or ``BoxError``/``SourceError``) raised before a model is loaded or an output is opened.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from ..errors import ConfigError
from ..fileio import check_distinct
from ..runtime.geometry import parse_box
from . import mavlink_protocol as mp
from .capture import ReconnectPolicy
from .gimbal import GimbalConfig
from .session import LiveSettings, LiveSource, live_source

Box = Tuple[float, float, float, float]
#: where the control channel's shared secret comes from when no token is given
TOKEN_VARIABLE = "DASIAMRT_CONTROL_TOKEN"


@dataclass(frozen=True)
class LivePlan:
    """A checked live run: where frames come from, the run's settings, control and MAVLink."""

    source: LiveSource
    settings: LiveSettings
    json: Tuple[str, ...]
    control: Optional[str]
    token: Optional[str]
    mavlink: Optional[mp.MavlinkConfig]
    gimbal: Optional[GimbalConfig]


@dataclass(frozen=True)
class LiveOptions:
    """What ``dasiamrt live`` was asked for (the flags, as given; see ``dasiamrt live --help``).

    Attributes:
        source, csi, size, fps, flip, realtime, reconnect: where frames come from (``size`` is "WxH").
        init, select, control, control_token: how the target is chosen (``init`` is "x,y,w,h"; no token:
            ``$DASIAMRT_CONTROL_TOKEN``).
        json, save, show, max_frames: outputs and when to stop.
        mavlink ... gimbal_manager: the MAVLink camera component (:mod:`.mavlink_settings`).
    """

    source: Optional[str] = None
    csi: Optional[int] = None
    size: Optional[str] = None
    fps: Optional[float] = None
    flip: int = 0
    realtime: bool = False
    reconnect: int = 5
    init: Optional[str] = None
    select: bool = False
    control: Optional[str] = None
    control_token: Optional[str] = None
    json: Sequence[str] = ()
    save: Optional[str] = None
    show: bool = False
    max_frames: Optional[int] = None
    mavlink: Optional[str] = None
    mavlink_sysid: int = 1
    mavlink_compid: int = mp.MAV_COMP_ID_CAMERA
    gimbal_follow: bool = False
    hfov: Optional[float] = None
    gimbal_gain: float = 1.0
    gimbal_max_rate: float = 30.0
    gimbal_manager: Optional[str] = None

    def plan(self) -> LivePlan:
        """Check everything and resolve it (module docstring).

        Raises:
            ConfigError: contradicting or out-of-range flags, outputs that collide, a missing display.
            BoxError: a malformed ``init``.
            SourceError: a source that cannot exist (no such file; GStreamer missing).
            MissingDependencyError: ``mavlink`` without pymavlink.
        """
        self._check_target()
        self._check_numbers()
        self._check_outputs()
        from .mavlink_settings import mavlink_settings

        mavlink, gimbal = mavlink_settings(self.mavlink, self.mavlink_sysid, self.mavlink_compid, self.gimbal_follow,
                                           self.hfov, self.gimbal_gain, self.gimbal_max_rate, self.gimbal_manager)
        box = parse_box(self.init) if self.init else None
        from ..videoio.camera import parse_size

        source = live_source(self.source, self.csi, parse_size(self.size) if self.size else None, self.fps,
                             self.realtime, self.flip)
        settings = LiveSettings(save=self.save, show=self.show or self.select, init_box=box, select=self.select,
                                max_frames=self.max_frames, policy=ReconnectPolicy(attempts=self.reconnect))
        token = self.control_token if self.control_token is not None else os.environ.get(TOKEN_VARIABLE)
        return LivePlan(source, settings, tuple(self.json), self.control, token, mavlink, gimbal)

    def _check_target(self) -> None:
        if self.init and self.select:
            raise ConfigError("give --init or --select, not both")
        if not (self.init or self.select or self.control or self.mavlink):
            raise ConfigError("choose the target: --init x,y,w,h, --select (draw it), --control (send an init "
                              "message) or --mavlink (a ground station sends it)")
        from .display import require_display

        for flag, wanted in (("--select", self.select), ("--show", self.show)):
            if wanted:
                require_display(flag)

    def _check_numbers(self) -> None:
        if self.reconnect < 0:
            raise ConfigError(f"--reconnect must be >= 0, got {self.reconnect}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"--max-frames must be at least 1, got {self.max_frames}")
        if self.fps is not None and not self.fps > 0:  # 0 would fall back to the default rate unnoticed
            raise ConfigError(f"--fps must be positive, got {self.fps:g}")

    def _check_outputs(self) -> None:
        files = [spec for spec in self.json if spec != "-" and not spec.startswith("udp://")]
        check_distinct({"SOURCE": self.source if self.source and os.path.exists(self.source) else None},
                       {"--save": self.save, **{f"--json {spec}": spec for spec in files}})
        if len(set(files)) < len(files):
            raise ConfigError("two --json outputs name the same file: give each its own path")
        if self.save:
            from ..videoio.writers import check_video_path

            check_video_path(self.save)
