"""The fp16 ``kernel_update`` graph keeps the distractor-aware running sum in fp32 (issue 13, finding 5).

5,000 fusion steps of the bundled model's ``kernel_update``, fed like the tracker feeds it (b_t,
target + distractor windows, inv_total = 1 / sum b_t). Each step's new term comes from the fp32
graph; the accumulation (``acc + term``, ``* inv_total``) is then run EXACTLY as each graph types
it, by ONNX's reference evaluator (numpy in the graph's own dtypes: ONNX Runtime's CPU provider
would silently run fp16 adds in fp32). The fp16 route's fused kernel must stay within 1e-3 of the
fp32 one; an fp16 running sum grows like t x kernel and rounds each new term away.
"""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.utils import Extractor  # noqa: E402

from dasiamrt import spec  # noqa: E402
from dasiamrt.assets import BUNDLED_MODEL  # noqa: E402
from dasiamrt.config import DistractorConfig  # noqa: E402
from dasiamrt.graphs.fp16 import convert_to_fp16  # noqa: E402
from dasiamrt.runtime import distractor as da  # noqa: E402

STEPS = 5000


def _term_tensor(model):
    """The new-term tensor that the accumulation adds to ``acc`` (casts looked through)."""
    producers = {o: n for n in model.graph.node for o in n.output}

    def origin(t):
        while t in producers and producers[t].op_type == "Cast":
            t = producers[t].input[0]
        return t

    add = next(n for n in model.graph.node if n.op_type == "Add" and spec.ACC in [origin(i) for i in n.input])
    return next(origin(i) for i in add.input if origin(i) != spec.ACC)


def _accumulation(model):
    """The part of ``model`` from (term, acc, inv_total) to (acc_out, fused), as typed in that graph."""
    term = _term_tensor(model)
    part = Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(
        [term, spec.ACC, spec.INV_TOTAL], [spec.ACC_OUTPUT, spec.FUSED_KERNEL])
    term_type = next(v.type.tensor_type.elem_type for v in part.graph.input if v.name == term)
    return ReferenceEvaluator(part), term, onnx.helper.tensor_dtype_to_np_dtype(term_type)


def test_fp16_route_matches_fp32_over_5000_fusion_steps():
    model = onnx.load(str(BUNDLED_MODEL / "kernel_update.onnx"))
    routes = [_accumulation(model), _accumulation(convert_to_fp16(model))]
    terms = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    c = next(d.type.tensor_type.shape.dim[1].dim_value for d in model.graph.input if d.name == spec.FEATURE_OUTPUT)
    s = spec.score_size(255)
    features = [np.abs(rng.standard_normal((1, c, s + 5, s + 5))).astype(np.float32) for _ in range(4)]
    cells = [((int(rng.integers(s)), int(rng.integers(s))),
              [(int(rng.integers(s)), int(rng.integers(s))) for _ in range(k)]) for k in (0, 1, 2, 3)]
    zero = np.zeros((10, c, 4, 4), np.float32)
    cfg = DistractorConfig()

    def term_of(t, fuse_cells, weights):
        return terms.run(None, {spec.FEATURE_OUTPUT: features[t % 4], spec.WINDOW_INDEX: spec.window_indices(
            fuse_cells, s + 5), spec.WINDOW_WEIGHT: weights, spec.ACC: zero, spec.INV_TOTAL: np.ones(1, np.float32)})[0]

    total = da.beta(1, cfg.eta)
    first = term_of(0, [cells[0][0]], np.array([total], np.float32))  # Tracker.init: A = b_1 K(z)
    accs = [first.copy(), first.copy()]
    fused = [None, None]
    for t in range(2, STEPS + 2):
        b_t = da.beta(t, cfg.eta)
        fuse_cells, weights = da.frame_terms(cells[t % 4][0], cells[t % 4][1], b_t, cfg)
        term = term_of(t, fuse_cells, weights)
        total += b_t
        for r, (evaluator, name, dtype) in enumerate(routes):
            accs[r], fused[r] = evaluator.run(None, {name: term.astype(dtype), spec.ACC: accs[r],
                                                     spec.INV_TOTAL: np.array([1.0 / total], np.float32)})
    error = float(np.abs(fused[1] - fused[0]).max() / np.abs(fused[0]).max())
    assert error < 1e-3, error
