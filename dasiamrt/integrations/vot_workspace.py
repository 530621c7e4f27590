"""A VOT-toolkit workspace from any dataset dasiamrt reads (generated sequences included).

``write_workspace(root, dataset, command)`` writes what ``vot evaluate`` needs and nothing it would
download::

    root/config.yaml        stack: ./stack.yaml, registry: [./trackers.ini]
    root/stack.yaml         VOT2018's one-pass "unsupervised" experiment, no dataset URL
    root/trackers.ini       [dasiamrt] protocol = trax, command = <command>
    root/sequences/list.txt
    root/sequences/<name>/sequence         channels.color=color/%08d.jpg, width, height, length, fps
    root/sequences/<name>/groundtruth.txt  one 8-number polygon per line (0-based pixels), as VOT2016+
    root/sequences/<name>/color/00000001.jpg ...

The stack names no dataset, and ``sequences/list.txt`` exists: that is the toolkit's offline route
(``Workspace`` downloads only when a stack names a dataset and ``list.txt`` is missing). The same
``sequences`` folder is a VOT dataset for ``dasiamrt eval --dataset vot2018 --root root/sequences``, and
the toolkit's results (``root/results/<tracker>/unsupervised/<seq>/<seq>_001.txt``) are in a layout
``dasiamrt eval --results`` reads.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, List, Union

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
PathLike = Union[str, Path]

#: VOT2018's one-pass ("unsupervised") experiment. The toolkit's reset-based ("supervised") experiment
#: cannot run TraX trackers in vot-toolkit 0.9.0 (it hands the runtime one region where a list is
#: expected, then reads a list of results as one), so the stack uses the experiment that works;
#: ``dasiamrt eval`` on the same ``sequences`` folder runs the reset-based protocol.
STACK = """title: dasiamrt local stack (VOT2018 unsupervised experiment, local sequences)
experiments:
  unsupervised:
    type: unsupervised
    repetitions: {repetitions}
    analyses:
      - type: average_accuracy
        name: accuracy
"""


def _polygon_line(box: np.ndarray) -> str:
    x, y, w, h = (float(v) for v in box)
    return ",".join(f"{v:.4f}" for v in (x, y, x + w, y, x + w, y + h, x, y + h))


def write_vot_sequences(sequences: Iterable[Any], folder: PathLike, quality: int = 95) -> List[str]:
    """Write sequences in the VOT layout (``list.txt``, ``sequence``, polygon ``groundtruth.txt``, ``color/``).

    Args:
        sequences: :class:`dasiamrt.eval.datasets.Sequence` objects with 0-based boxes and a box on every
            frame (the toolkit's reset-based experiment needs one).
        folder: the ``sequences`` folder to write.
        quality: JPEG quality of the frames.

    Returns:
        The sequence names, as listed in ``list.txt``.

    Raises:
        DatasetError: a sequence with 1-based boxes or a frame without a box.
    """
    import cv2

    folder = Path(folder)
    sequences = list(sequences)
    for seq in sequences:  # all checked before anything is written
        if seq.origin != 0:
            raise DatasetError(f"sequence {seq.name} has 1-based boxes: the VOT layout needs 0-based ones")
        if np.isnan(seq.gt).any():
            raise DatasetError(f"sequence {seq.name} has frames without a box (out of view): VOT short-term sequences "
                               f"need one on every frame; use sequences without them (synthetic plain, distractors, "
                               f"occlusion)")
    names = []
    for seq in sequences:
        height = width = 0
        for t, frame in enumerate(seq.iter_frames()):
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            if not ok:  # pragma: no cover - cv2 encodes any uint8 BGR image
                raise DatasetError(f"cannot encode frame {t + 1} of {seq.name}")
            atomic_write_bytes(folder / seq.name / "color" / f"{t + 1:08d}.jpg", data.tobytes())
            height, width = frame.shape[:2]
        atomic_write_text(folder / seq.name / "groundtruth.txt", "\n".join(_polygon_line(b) for b in seq.gt) + "\n")
        meta = {"name": seq.name, "channels.color": "color/%08d.jpg", "fps": 30, "format": "default",
                "width": width, "height": height, "length": len(seq)}
        atomic_write_text(folder / seq.name / "sequence", "".join(f"{k}={v}\n" for k, v in meta.items()))
        names.append(seq.name)
    atomic_write_text(folder / "list.txt", "".join(f"{n}\n" for n in names))
    return names


def write_workspace(root: PathLike, sequences: Iterable[Any], command: str, tracker: str = "dasiamrt",
                    repetitions: int = 1) -> Path:
    """Write a VOT-toolkit workspace that evaluates ``command`` (a TraX tracker) on ``sequences`` offline.

    Args:
        root: the workspace folder (created; an existing ``config.yaml`` is refused).
        sequences: what to evaluate on (see :func:`write_vot_sequences`).
        command: the tracker's command line, e.g. ``dasiamrt trax --model /abs/models/vot`` (the toolkit
            runs it in a temporary folder: use absolute paths).
        tracker: the tracker's identifier in ``trackers.ini``.
        repetitions: runs per sequence (dasiamrt is deterministic: 1 is enough).

    Returns:
        ``root``.

    Raises:
        DatasetError: ``root`` already holds a workspace.
    """
    root = Path(root)
    if (root / "config.yaml").exists():
        raise DatasetError(f"{root} already holds a VOT workspace (config.yaml): choose an empty folder")
    write_vot_sequences(sequences, root / "sequences")
    atomic_write_text(root / "stack.yaml", STACK.format(repetitions=int(repetitions)))
    atomic_write_text(root / "trackers.ini",
                      f"[{tracker}]\nlabel = {tracker}\nprotocol = trax\ncommand = {command}\n")
    (root / "results").mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "config.yaml", "registry:\n- ./trackers.ini\nstack: ./stack.yaml\n")
    log.info("VOT workspace in %s: run 'vot evaluate --workspace %s %s'", root, root, tracker)
    return root
