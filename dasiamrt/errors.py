"""Typed, user-facing errors.

Every error a user can cause (a missing file, a bad box, an engine for another GPU) is a
:class:`DasiamrtError` whose message is one line that says what to do. The CLI prints that line
and exits non-zero without a traceback; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class DasiamrtError(Exception):
    """Base class of every error a user can cause; ``str(err)`` is the one-line message."""


class ConfigError(DasiamrtError):
    """A preset, option or config file value is invalid."""


class CheckpointError(DasiamrtError):
    """A weights file is missing, unreadable, or made for another network layout."""


class ModelError(DasiamrtError):
    """An exported model folder (``model.json`` + graphs) is missing, corrupt or inconsistent."""


class SourceError(DasiamrtError):
    """A video, camera, image folder or stream cannot be opened or read."""


class BoxError(DasiamrtError):
    """An initial box is malformed, empty, or outside the frame."""


class BackendError(DasiamrtError):
    """A backend cannot be used here (library missing, no GPU, engine/GPU mismatch...)."""


class DatasetError(DasiamrtError):
    """A benchmark dataset or result file is missing or malformed."""


class CalibrationError(DasiamrtError):
    """A calibration set is empty, too small, or made for another model."""


class MissingDependencyError(BackendError):
    """An optional package is needed for this feature; the message names the pip command."""

    def __init__(self, package: str, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs '{package}', which is not installed: {install}")
        self.package = package

    @classmethod
    def require(cls, modules: "tuple[str, ...]", feature: str, install: str) -> None:
        """Raise for the first of ``modules`` that cannot be imported (checked without importing it)."""
        import importlib.util

        for module in modules:
            if importlib.util.find_spec(module) is None:
                raise cls(module, feature, install)
