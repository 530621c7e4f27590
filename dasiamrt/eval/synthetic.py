"""The synthetic sequences' old import path, kept for scripts (``dasiamrt.eval.synthetic.make_sequence``): the
generator is :mod:`dasiamrt.synthetic.sequences`, shared by evaluation, training and calibration."""
from __future__ import annotations

from ..synthetic.sequences import PRESETS, SyntheticSequence, frames_after, make_sequence, make_set, write_otb_layout

__all__ = ["PRESETS", "SyntheticSequence", "frames_after", "make_sequence", "make_set", "write_otb_layout"]
