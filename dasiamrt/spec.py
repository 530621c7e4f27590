"""The contract between export, engine building and the runtime: tensor names, sizes, opset.

Every graph that dasiamrt writes, and every backend that runs one, reads its names from here.

Geometry of the SiamRPN family (total stride 8; the AlexNet backbones have no padding anywhere, the
MobileNetV2 backbone is padded and crops its maps to these same sizes, see ``model/mobilenet.py``):
    exemplar crop (z) 127 x 127  -> backbone features 6 x 6 -> kernels 4 x 4
    search crop (x)   H x H      -> backbone features (H - 127) / 8 + 6
                                 -> head features     (H - 127) / 8 + 4
                                 -> score map S       (H - 127) / 8 + 1
So H = 255 -> S = 17, 271 -> 19, 287 -> 21, 767 -> 81.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError

OPSET = 17
EXEMPLAR_SIZE = 127
TOTAL_STRIDE = 8
ANCHOR_NUM = 5
#: Side of the template's backbone feature map (the 6x6 "embedding" of a 127 crop).
TEMPLATE_FEATURE_SIZE = 6
#: Side of the correlation kernels produced from a template.
KERNEL_SIZE = 4
MIN_SEARCH_SIZE = 255
MAX_SEARCH_SIZE = 767

# Template graph: exemplar crops -> per-exemplar correlation kernels.
TEMPLATE_INPUT = "template"  # (N, 3, 127, 127) float32, BGR 0..255
CLS_KERNEL = "cls_kernel"  # template graph: (N, 10, F, 4, 4); search graph input: (10, F, 4, 4)
REG_KERNEL = "reg_kernel"  # template graph: (N, 20, F, 4, 4); search graph input: (20, F, 4, 4)

# Search graph: one search crop + the kernels -> score logits, box deltas, backbone features.
SEARCH_INPUT = "search"  # (1, 3, H, H) float32, BGR 0..255
CLS_OUTPUT = "cls"  # (1, 10, S, S) logits; channels class-major: bg 0..4, fg 5..9
REG_OUTPUT = "delta"  # (1, 20, S, S); channels coordinate-major: c = coord * 5 + anchor
FEATURE_OUTPUT = "search_features"  # (1, C, S + 5, S + 5) backbone features of the search crop

# Kernel-update graph (distractor-aware tracking, Eq. 4): gather 6x6 windows of the search
# features, weight them, apply the kernel head (conv_cls1) once, add to the running sum.
# inputs: FEATURE_OUTPUT (1, C, S + 5, S + 5) and:
WINDOW_INDEX = "window_index"  # (N * 36,) int64 flat indices into one (S + 5)^2 feature plane
WINDOW_WEIGHT = "window_weight"  # (N,) float32
ACC = "acc"  # (10, F, 4, 4) running sum of weighted cls kernels
INV_TOTAL = "inv_total"  # (1,) 1 / sum of frame weights
ACC_OUTPUT = "acc_out"  # (10, F, 4, 4)
FUSED_KERNEL = "fused"  # (10, F, 4, 4) = acc_out * inv_total, the next searches' cls kernel

MODEL_MANIFEST = "model.json"


def score_size(search_size: int) -> int:
    """Side S of the score map for a search crop of side ``search_size`` (pixels)."""
    check_search_size(search_size)
    return (search_size - EXEMPLAR_SIZE) // TOTAL_STRIDE + 1


def search_feature_size(search_size: int) -> int:
    """Side of the backbone feature map of a search crop (S + 5)."""
    return score_size(search_size) + TEMPLATE_FEATURE_SIZE - 1


def check_search_size(search_size: int) -> int:
    """Validate a search-crop side: 255..767 and on the stride-8 grid above 127.

    Raises:
        ConfigError: if the size is off the grid or out of the exported range.
    """
    if not MIN_SEARCH_SIZE <= search_size <= MAX_SEARCH_SIZE or (
        search_size - EXEMPLAR_SIZE
    ) % TOTAL_STRIDE:
        raise ConfigError(
            f"search size {search_size} is not supported: use a value in "
            f"{MIN_SEARCH_SIZE}..{MAX_SEARCH_SIZE} with (size - 127) divisible by 8 "
            "(e.g. 255, 271, 287, 767)"
        )
    return search_size


def window_indices(cells: Sequence[Tuple[int, int]], feature_side: int) -> NDArray[np.int64]:
    """The kernel-update graph's :data:`WINDOW_INDEX` input: (N * 36,) flat indices of the 6x6 windows of one
    (``feature_side``)^2 search-feature plane whose top-left corners are the score cells (row, col)."""
    k = np.arange(TEMPLATE_FEATURE_SIZE * TEMPLATE_FEATURE_SIZE)
    rows = np.array([c[0] for c in cells], dtype=np.int64)[:, None] + k // TEMPLATE_FEATURE_SIZE
    cols = np.array([c[1] for c in cells], dtype=np.int64)[:, None] + k % TEMPLATE_FEATURE_SIZE
    return (rows * feature_side + cols).reshape(-1)
