"""Facts about real sequences from a data root's ``manifest.json`` (see ``../shared/data/real/README.md``).

Per sequence: ``target`` (the object kind; its first word is the category for semantic negative
pairs, comparable to COCO's names), ``selection.stride`` (kept frames are that many source frames
apart) and the source clip (``dataset`` + ``img_dir_in_repo``: ``group1_1``/``group1_3``/``group1_4``
are parts of one clip), ``dataset`` (drone or ground-level tags). Read by the real-sequence readers of
evaluation and training and by the validation split.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from ...errors import DatasetError


@dataclass(frozen=True)
class SequenceFacts:
    """What the manifest says about one sequence.

    Attributes:
        name: folder name under ``sequences/``.
        category: first word of the manifest's ``target`` ("person", "car", ...).
        stride: source frames between consecutive kept frames (>= 1).
        clip: source clip key "<dataset>/<clip folder>" shared by the parts of one clip.
        dataset: the benchmark it comes from ("OTB100", "UAV123@10fps", "DTB70", ...; "" if not given).
    """

    name: str
    category: str
    stride: int = 1
    clip: str = ""
    dataset: str = ""


def target_category(target: str) -> str:
    """Category of a manifest ``target`` text: its first word, lower case ("person (tall/thin)" -> "person")."""
    words = re.split(r"[\s(]+", target.strip())
    return words[0].lower() if words and words[0] else "object"


def _clip_key(entry: Mapping[str, Any]) -> str:
    parts = [p for p in str(entry.get("img_dir_in_repo", entry.get("name", ""))).split("/") if p]
    while parts and parts[-1].lower() in ("img", "imgs", "images"):
        parts.pop()
    return f"{entry.get('dataset', '')}/{parts[-1] if parts else entry.get('name', '')}"


def read_manifest(path: Path) -> Dict[str, SequenceFacts]:
    """Sequence name -> :class:`SequenceFacts` from a ``manifest.json``.

    Raises:
        DatasetError: the file is missing or has no readable ``sequences`` list.
    """
    try:
        data = json.loads(Path(path).read_text())
        facts = {}
        for entry in data["sequences"]:
            stride = int(entry.get("selection", {}).get("stride", 1) or 1)
            name = str(entry["name"])
            facts[name] = SequenceFacts(name, target_category(str(entry.get("target", name))), max(1, stride),
                                        _clip_key(entry), str(entry.get("dataset", "")))
    except OSError:
        raise DatasetError(f"manifest {path} is missing or unreadable: give the real-data root") from None
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"{path} is not a real-data manifest ({type(err).__name__}: {err})") from None
    return facts


def find_manifest(folder: Path) -> Optional[Path]:
    """``manifest.json`` in ``folder`` or its parent (a ``sequences/`` root sits under the data root)."""
    for candidate in (folder / "manifest.json", folder.parent / "manifest.json"):
        if candidate.is_file():
            return candidate
    return None


__all__ = ["SequenceFacts", "find_manifest", "read_manifest", "target_category"]
