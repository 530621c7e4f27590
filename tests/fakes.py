"""A scripted backend for testing the tracking logic without a network."""
from __future__ import annotations

import math
from typing import List, Sequence

import numpy as np

from dasiamrt import spec
from dasiamrt.runtime.backends.base import Backend, SearchOutput


class ScriptedBackend(Backend):
    """Every search returns a flat score map with probability ``scores[i]`` and zero deltas.

    Zero deltas decode to the anchors themselves; with a flat map the motion window picks the centre
    cell, whose anchor 0 (104x32 crop px) wins, so the box moves only in size. Records search sizes.
    """

    name = "scripted"
    supports_fusion = False

    def __init__(self, scores: Sequence[float], feature_out: int = 4) -> None:
        super().__init__()
        self.scores = list(scores)
        self.f = feature_out
        self.search_sizes: List[int] = []

    def _template_impl(self, crops):
        n = crops.shape[0]
        return np.zeros((n, 10, self.f, 4, 4), np.float32), np.zeros((n, 20, self.f, 4, 4), np.float32)

    def _search_impl(self, crop, want_features: bool = False) -> SearchOutput:
        self._kernels()
        size = crop.shape[-1]
        self.search_sizes.append(size)
        p = self.scores[len(self.search_sizes) - 1]
        s = spec.score_size(size)
        cls = np.zeros((1, 10, s, s), np.float32)
        cls[0, 5:] = math.log(p / (1 - p))
        return SearchOutput(cls, np.zeros((1, 20, s, s), np.float32))
