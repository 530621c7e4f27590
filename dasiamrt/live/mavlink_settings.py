"""The ``--mavlink*``, ``--gimbal-*`` and ``--hfov`` flags checked together (in the library, not the CLI)."""
from __future__ import annotations

from typing import Optional, Tuple

from ..errors import ConfigError
from . import mavlink_protocol as mp
from .gimbal import GimbalConfig
from .mavlink_link import load_dialect, parse_connection


def mavlink_settings(connection: Optional[str], system_id: int = 1, component_id: int = mp.MAV_COMP_ID_CAMERA,
                     gimbal_follow: bool = False, hfov_deg: Optional[float] = None, gain: float = 1.0,
                     max_rate_deg_s: float = 30.0, manager: Optional[str] = None
                     ) -> Tuple[Optional[mp.MavlinkConfig], Optional[GimbalConfig]]:
    """Check the ``--mavlink*`` / ``--gimbal-*`` / ``--hfov`` flags together; configs to build the component.

    Raises:
        ConfigError: a gimbal flag without ``--gimbal-follow``, ``--gimbal-follow`` without ``--mavlink`` or
            ``--hfov``, a malformed connection string, ids or numbers out of range.
        MissingDependencyError: pymavlink is not installed (checked here, before a model is loaded).
    """
    if connection is None:
        if gimbal_follow:
            raise ConfigError("--gimbal-follow sends MAVLink gimbal commands: add --mavlink CONNECTION")
        return None, None
    config = mp.MavlinkConfig(connection, system_id, component_id)
    parse_connection(connection)
    gimbal = None
    if not gimbal_follow:
        if hfov_deg is not None or manager is not None:
            raise ConfigError("--hfov and --gimbal-manager are only used with --gimbal-follow: add it or drop them")
    elif hfov_deg is None:
        raise ConfigError("--gimbal-follow needs --hfov DEG, the camera's horizontal field of view, "
                          "to turn pixels into angles")
    else:
        gimbal = GimbalConfig(hfov_deg, gain, max_rate_deg_s, manager=_parse_ids(manager))
    load_dialect()
    return config, gimbal


def _parse_ids(spec: Optional[str]) -> Optional[Tuple[int, int]]:
    if spec is None:
        return None
    parts = spec.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--gimbal-manager must be SYS,COMP (e.g. 1,1), got {spec!r}")
    return int(parts[0]), int(parts[1])
