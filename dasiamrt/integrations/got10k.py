"""dasiamrt as a tracker of the got10k toolkit (``ExperimentOTB/GOT10k/LaSOT/...(...).run(tracker)``).

::

    from got10k.experiments import ExperimentGOT10k
    from dasiamrt.integrations.got10k import GOT10kTracker

    tracker = GOT10kTracker.from_model("models/vot")           # or GOT10kTracker(Tracker.from_model(...))
    experiment = ExperimentGOT10k("data/GOT-10k", subset="val")
    experiment.run(tracker)
    experiment.report([tracker.name])

The toolkit's own loop (``Tracker.track``) opens each frame with PIL and calls ``init(image, box)`` and
``update(image) -> box``; the adapter turns the RGB PIL image into the BGR array the runtime takes.
Boxes pass through as the toolkit gives them: the annotation file's numbers (x, y, w, h). got10k does
not convert OTB/UAV/LaSOT's 1-based files, so neither does the adapter by default (as every got10k
tracker); ``origin=1.0`` subtracts the 1 on the way in and adds it back on the way out, as
``dasiamrt eval`` does.

got10k is imported when the class is first used (``pip install got10k``).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import MissingDependencyError

__all__ = ["make_class"]  # and GOT10kTracker, made on first access (module __getattr__)
_CLASS: Optional[type] = None


def _base() -> type:
    try:
        from got10k.trackers import Tracker
    except ImportError:
        raise MissingDependencyError("got10k", "the got10k adapter", "pip install got10k") from None
    return Tracker  # type: ignore[no-any-return]


def make_class() -> type:
    """The ``got10k.trackers.Tracker`` subclass (built once, on first use)."""
    global _CLASS
    if _CLASS is None:
        base = _base()

        class GOT10kTracker(base):  # type: ignore[misc, valid-type]
            """A dasiamrt tracker behind got10k's ``init(image, box)`` / ``update(image) -> box``.

            Args:
                tracker: a :class:`~dasiamrt.runtime.tracker.Tracker` (or anything with ``init``/``track``).
                name: the result folder's name in the toolkit's ``result_dir``.
                origin: subtracted from boxes going in, added to boxes coming out (1.0 for 1-based files).
            """

            def __init__(self, tracker: Any, name: str = "dasiamrt", origin: float = 0.0) -> None:
                super().__init__(name=name, is_deterministic=True)
                self.tracker, self.origin = tracker, float(origin)

            @classmethod
            def from_model(cls, model_dir: str, name: Optional[str] = None, origin: float = 0.0,
                           **options: Any) -> "GOT10kTracker":
                from pathlib import Path

                from ..runtime.tracker import Tracker

                return cls(Tracker.from_model(model_dir, **options), name or Path(model_dir).name, origin)

            def init(self, image: Any, box: Any) -> None:
                x, y, w, h = (float(v) for v in box)
                self.tracker.init(_bgr(image), (x - self.origin, y - self.origin, w, h))

            def update(self, image: Any) -> np.ndarray:
                x, y, w, h = (float(v) for v in self.tracker.track(_bgr(image)).bbox_xywh)
                return np.array([x + self.origin, y + self.origin, w, h])

            def close(self) -> None:
                getattr(self.tracker, "close", lambda: None)()

        GOT10kTracker.__module__ = __name__
        _CLASS = GOT10kTracker
    return _CLASS


def _bgr(image: Any) -> np.ndarray:
    """A PIL image (or an RGB array) as a contiguous (H, W, 3) uint8 BGR array."""
    rgb = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def __getattr__(name: str) -> Any:  # PEP 562: ``from dasiamrt.integrations.got10k import GOT10kTracker``
    if name == "GOT10kTracker":
        return make_class()
    raise AttributeError(name)
