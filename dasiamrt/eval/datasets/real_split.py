"""The validation split of the real sequences (``configs/real_split.json``): the one reader of that file.

The file lists ``validation`` sequence names (never trained on; checkpoints are chosen on them) and
``thin_targets`` (the validation sequences whose aspect ratio is checked); ``root`` (optional) is the
data root whose ``manifest.json`` gives each sequence's source clip. Both the evaluation reader
(:func:`dasiamrt.eval.datasets.real.load`) and the training guard
(:func:`dasiamrt.train.real_data.check_not_validation`) read it through :func:`read_split`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import FrozenSet, Optional, Tuple

from ...errors import ConfigError
from .real_manifest import find_manifest, read_manifest


@dataclass(frozen=True)
class RealSplit:
    """A validation split of real sequences.

    Attributes:
        validation: names of the validation sequences.
        thin_targets: the validation sequences with thin/tall targets (aspect-ratio checks).
        clips: source clip of every validation sequence (from the manifest, when known).
        path: the file it was read from.
        root: the file's ``root`` entry (the real-data folder it was made for; "" if none).
    """

    validation: Tuple[str, ...]
    thin_targets: Tuple[str, ...] = ()
    clips: FrozenSet[str] = field(default_factory=frozenset)
    path: str = ""
    root: str = ""

    def holds(self, name: str, clip: str = "") -> bool:
        """True when sequence ``name`` (or its source clip) is on the validation side."""
        return name in self.validation or bool(clip and clip in self.clips)


def read_split(path: str, manifest: Optional[Path] = None) -> RealSplit:
    """Read a split file; ``manifest`` (default: the split's ``root``/manifest.json if present) gives clips.

    Raises:
        ConfigError: missing file, no ``validation`` list, a thin target outside it, or a validation
            name the manifest lacks.
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text())
        validation = tuple(str(n) for n in data["validation"])
        thin = tuple(str(n) for n in data.get("thin_targets", ()))
    except OSError:
        raise ConfigError(f"split file {file} not found: give the path of e.g. configs/real_split.json") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"{file} is not a split file with a 'validation' list "
                          f"({type(err).__name__}: {err})") from None
    if not validation:
        raise ConfigError(f"{file}: the 'validation' list is empty")
    stray = [n for n in thin if n not in validation]
    if stray:
        raise ConfigError(f"{file}: thin target(s) {', '.join(stray)} are not in its 'validation' list")
    root = str(data.get("root", "") or "")
    if manifest is None and root:
        manifest = find_manifest(Path(root))
    clips: FrozenSet[str] = frozenset()
    if manifest is not None:
        facts = read_manifest(manifest)
        unknown = [n for n in validation if n not in facts]
        if unknown:
            raise ConfigError(f"{file}: validation sequence(s) {', '.join(unknown)} are not in {manifest}")
        clips = frozenset(facts[n].clip for n in validation)
    return RealSplit(validation, thin, clips, str(file), root)


__all__ = ["RealSplit", "read_split"]
