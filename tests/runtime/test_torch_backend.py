"""The torch backend: device/precision options, the CPU path, CUDA-graph discipline, device-side fusion.

Without a GPU, the CUDA-graph wrapper runs on the CPU with :class:`FrozenCapture`, a fake graph as
strict as a real one about addresses: it freezes the input tensors at capture and replays from
exactly those into the outputs it made then. The ``gpu`` tests run the real CUDA path.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, List, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dasiamrt import spec  # noqa: E402
from dasiamrt.assets import BUNDLED_MODEL, BUNDLED_WEIGHTS, DEMO_INIT_XYWH  # noqa: E402
from dasiamrt.config import PRESETS, NetworkConfig  # noqa: E402
from dasiamrt.errors import BackendError, ConfigError  # noqa: E402
from dasiamrt.runtime import distractor as da  # noqa: E402
from dasiamrt.runtime.backends.base import Backend, HostFusion, SearchOutput  # noqa: E402
from dasiamrt.runtime.backends.torch_backend import (  # noqa: E402
    TorchBackend,
    check_precision,
    open_device,
    parse_device,
)
from dasiamrt.runtime.tracker import Tracker  # noqa: E402

#: a 1/16-width layout: fast enough for thousands of fusion steps on a CPU.
MICRO = NetworkConfig("micro", 0.0625, 16)


class FrozenCapture:
    """Fake graph capture: freezes the input tensor objects (and checks their storage) at capture."""

    def __init__(self) -> None:
        self.captured: List[Tuple[int, ...]] = []
        self.replays = 0

    def capture(self, fn: Any, inputs: Any) -> Any:
        frozen = tuple(inputs)
        outputs = tuple(t.clone() for t in fn(*frozen))
        self.captured.append(tuple(frozen[0].shape))
        return (fn, frozen, outputs, tuple(t.data_ptr() for t in frozen)), outputs

    def replay(self, graph: Any) -> None:
        fn, frozen, outputs, pointers = graph
        assert tuple(t.data_ptr() for t in frozen) == pointers, "a captured input's storage was swapped"
        for out, new in zip(outputs, fn(*frozen)):
            out.copy_(new)
        self.replays += 1


class RefusingCapture(FrozenCapture):
    def capture(self, fn: Any, inputs: Any) -> Any:
        raise RuntimeError("operation not permitted when stream is capturing")


class RebindingBackend(TorchBackend):
    """Mutant: new kernels REBIND the buffers instead of copying into them (fine eagerly, wrong in a graph)."""

    def _set_kernels_impl(self, cls_kernel: Any, reg_kernel: Any) -> None:
        self._kernel_bufs = (torch.from_numpy(cls_kernel).clone(), torch.from_numpy(reg_kernel).clone())
        self.steps._kernels = self._kernel_bufs


class LegacyTorchBackend(HostFusion, Backend):
    """The torch backend as it was before devices and graphs: host round trips, the base class's fusion."""

    name = "legacy"
    supports_fusion = True

    def __init__(self, net: Any) -> None:
        super().__init__()
        from dasiamrt.model import KernelUpdate

        self.net, self._update = net.eval(), KernelUpdate(net)

    def _template_impl(self, crops: Any) -> Any:
        with torch.no_grad():
            return tuple(t.numpy() for t in self.net.template(torch.from_numpy(crops)))

    def _search_impl(self, crop: Any, want_features: bool = False) -> SearchOutput:
        cls_k, reg_k = self._kernels()
        with torch.no_grad():
            cls, delta, feats = self.net.search(torch.from_numpy(crop), torch.from_numpy(cls_k),
                                                torch.from_numpy(reg_k))
        self._last_features = feats.numpy() if want_features else None
        return SearchOutput(cls.numpy(), delta.numpy(), self._last_features)

    def kernel_update(self, features: Any, window_index: Any, window_weight: Any, acc: Any, inv_total: float) -> Any:
        with torch.no_grad():
            out = self._update(torch.from_numpy(features), torch.from_numpy(window_index),
                               torch.from_numpy(window_weight), torch.from_numpy(acc),
                               torch.tensor([inv_total], dtype=torch.float32))
        return tuple(t.numpy() for t in out)


def _boxes(tracker: Tracker, frames: List[np.ndarray], close: bool = True) -> Tuple[np.ndarray, List[int]]:
    tracker.init(frames[0], DEMO_INIT_XYWH)
    results = [tracker.track(f) for f in frames[1:]]
    if close:
        tracker.close()
    return np.array([r.bbox_xywh for r in results]), [r.search_size for r in results]


def _config(da_on: bool, long_term: bool = False, always_lost: bool = False) -> Any:
    """Tiny preset settings; ``always_lost``: long-term on and lost after every frame (search 767 from frame 2)."""
    lt: dict = {"enabled": long_term or always_lost}
    if always_lost:
        lt.update(enter_threshold=1.0, leave_threshold=1.0)  # scores are < 1: enter lost, never leave
    return PRESETS["tiny"].tracker.replace(distractor={"enabled": da_on}, long_term=lt)


# -- options ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected",
                         [("cpu", "cpu"), ("cuda", "cuda"), ("CUDA:1", "cuda:1"), (" cuda:0", "cuda:0")])
def test_device_strings(text, expected):
    assert parse_device(text) == expected


@pytest.mark.parametrize("text", ["gpu", "cuda:x", "cpu:0", "cuda:-1", "cuda:", "mps", ""])
def test_bad_device_strings_say_what_is_accepted(text):
    with pytest.raises(ConfigError, match="--device takes cpu, cuda or cuda:N"):
        parse_device(text)


def test_int8_is_refused_with_where_it_runs():
    assert check_precision("fp16") == "fp16"
    with pytest.raises(ConfigError, match="fp32 or fp16, not 'int8'.*--backend ort"):
        check_precision("int8")


def _fake_torch(cuda: Any, available: bool = True, count: int = 1) -> Any:
    return SimpleNamespace(__version__="2.4.1+cu124", version=SimpleNamespace(cuda=cuda), device=torch.device,
                           cuda=SimpleNamespace(is_available=lambda: available, device_count=lambda: count))


@pytest.mark.parametrize("fake, device, message", [
    (_fake_torch(None), "cuda", "built without CUDA: install a CUDA build"),
    (_fake_torch("12.4", available=False), "cuda:0", "sees no GPU: check the driver"),
    (_fake_torch("12.4", count=2), "cuda:2", "has 2 CUDA GPU\\(s\\): use cuda:0..cuda:1"),
])
def test_unusable_cuda_devices_are_one_line_errors(fake, device, message):
    with pytest.raises(BackendError, match=message):
        open_device(fake, device)


def test_cuda_device_index_is_kept():
    assert open_device(_fake_torch("12.4", count=2), "cuda:1") == torch.device("cuda", 1)
    assert open_device(_fake_torch("12.4"), "cuda") == torch.device("cuda", 0)


@pytest.mark.skipif(torch.version.cuda is not None, reason="this torch has CUDA")
def test_this_cpu_torch_refuses_cuda(tiny_net):
    with pytest.raises(BackendError, match="built without CUDA"):
        TorchBackend(net=tiny_net, device="cuda")


def test_a_given_net_is_not_converted_in_place(tiny_net):
    TorchBackend(net=tiny_net, precision="fp16")
    assert next(tiny_net.parameters()).dtype == torch.float32


# -- the CPU path --------------------------------------------------------------------------------------
@pytest.mark.parametrize("da_on", [False, True])
def test_cpu_path_tracks_like_the_legacy_backend(tiny_net, clip_frames, da_on):
    """Same boxes as the backend before devices/graphs (host round trips, host-side fusion)."""
    frames = clip_frames[:12]
    new, _ = _boxes(Tracker(TorchBackend(tiny_net), _config(da_on)), frames)
    old, _ = _boxes(Tracker(LegacyTorchBackend(tiny_net), _config(da_on)), frames)
    assert np.abs(new - old).max() <= 1e-4


def test_device_fusion_matches_the_onnx_kernel_update_graph(tiny_model_dir, tiny_net, clip_frames):
    """DA on: the device-side fusion against ONNX Runtime running the exported graphs (an independent engine)."""
    pytest.importorskip("onnxruntime")
    frames = clip_frames[:12]
    torch_boxes, _ = _boxes(Tracker(TorchBackend(tiny_net), _config(True)), frames)
    ort_boxes, _ = _boxes(Tracker.from_model(str(tiny_model_dir), backend="ort", config=_config(True)), frames)
    assert np.abs(torch_boxes - ort_boxes).max() <= 0.5


def test_outputs_are_fresh_host_arrays(tiny_net):
    backend = TorchBackend(tiny_net, capture=FrozenCapture())
    rng = np.random.default_rng(0)
    cls_k, reg_k = backend.template((rng.random((1, 3, 127, 127)) * 255).astype(np.float32))
    backend.set_kernels(cls_k[0], reg_k[0])
    first = backend.search((rng.random((1, 3, 255, 255)) * 255).astype(np.float32))
    kept = first.cls.copy()
    backend.search((rng.random((1, 3, 255, 255)) * 255).astype(np.float32))
    assert first.cls.dtype == np.float32 and np.array_equal(first.cls, kept)  # not a view of the static output


def test_search_before_kernels_and_fuse_before_reset_are_refused(tiny_net):
    backend = TorchBackend(tiny_net)
    with pytest.raises(RuntimeError, match="set_kernels"):
        backend.search(np.zeros((1, 3, 255, 255), np.float32))
    with pytest.raises(RuntimeError, match="reset_fusion"):
        backend.fuse(np.arange(36), np.ones(1, np.float32), 1.0)


def test_every_method_is_refused_after_close(tiny_net):
    backend = TorchBackend(tiny_net, capture=FrozenCapture())
    cls_k, reg_k = backend.template(np.zeros((1, 3, 127, 127), np.float32))
    backend.set_kernels(cls_k[0], reg_k[0])
    backend.search(np.zeros((1, 3, 255, 255), np.float32))
    backend.close()
    backend.close()  # idempotent
    calls = [lambda: backend.template(np.zeros((1, 3, 127, 127), np.float32)),
             lambda: backend.set_kernels(cls_k[0], reg_k[0]),
             lambda: backend.search(np.zeros((1, 3, 255, 255), np.float32)),
             lambda: backend.reset_fusion(cls_k[0], 1.0),
             lambda: backend.fuse(np.arange(36), np.ones(1, np.float32), 1.0),
             backend.fused_kernel]
    for call in calls:
        with pytest.raises(RuntimeError, match="closed"):
            call()
    assert backend.describe().endswith("(closed)")


# -- CUDA-graph discipline (fake graphs on the CPU) ---------------------------------------------------------
def test_graphs_replay_like_eager_with_kernels_changing_every_frame(tiny_net, clip_frames):
    """DA on (the cls kernel changes every frame), long-term forced to lost after the first frame (255, then
    767): one capture per size, never again."""
    frames = clip_frames[:5]
    capture = FrozenCapture()
    graph_backend = TorchBackend(tiny_net, capture=capture)
    graphs, sizes = _boxes(Tracker(graph_backend, _config(True, always_lost=True)), frames, close=False)
    eager, _ = _boxes(Tracker(TorchBackend(tiny_net), _config(True, always_lost=True)), frames)
    assert sizes[0] == 255 and set(sizes[1:]) == {767}
    assert np.abs(graphs - eager).max() == 0.0
    assert capture.captured == [(1, 3, 255, 255), (1, 3, 767, 767)] and capture.replays == len(frames) - 1
    assert "CUDA graphs at 255/767" in graph_backend.describe()


def test_sizes_share_the_kernel_buffers(tiny_net):
    """Alternating 255/767 searches with new kernels and fusion in between: every output equals eager."""
    rng = np.random.default_rng(1)
    capture = FrozenCapture()
    backends = [TorchBackend(tiny_net, capture=capture), TorchBackend(tiny_net)]
    z = (rng.random((2, 3, 127, 127)) * 255).astype(np.float32)
    outs: List[List[np.ndarray]] = [[], []]
    for b, out in zip(backends, outs):
        cls_k, reg_k = b.template(z)
        for step, size in enumerate((255, 767, 255, 767, 767, 255)):
            if step % 3 == 0:
                b.set_kernels(cls_k[step % 2], reg_k[step % 2])
                b.reset_fusion(da.difference_form(cls_k[step % 2]), 1.0)
            x = (np.random.default_rng(step).random((1, 3, size, size)) * 255).astype(np.float32)
            result = b.search(x)
            out += [result.cls, result.delta]
            s = (size - 127) // 8 + 1
            b.fuse(spec.window_indices([(s // 2, s // 2), (1, 2)], s + 5), np.array([1.0, -0.5], np.float32), 0.5)
    assert all(np.array_equal(a, e) for a, e in zip(*outs))
    assert sorted(capture.captured) == [(1, 3, 255, 255), (1, 3, 767, 767)]


@pytest.mark.parametrize("backend_class", [TorchBackend, RebindingBackend])
def test_new_kernels_reach_a_captured_graph(tiny_net, backend_class):
    """A second template after the capture: copied into the static buffers, the graph sees it; rebound (the
    mutant), the graph keeps correlating with the first one (the fake is as strict as a real graph)."""
    rng = np.random.default_rng(2)
    cls_k, reg_k = TorchBackend(tiny_net).template((rng.random((2, 3, 127, 127)) * 255).astype(np.float32))
    x = (rng.random((1, 3, 255, 255)) * 255).astype(np.float32)
    outs = []
    for capture in (FrozenCapture(), None):
        backend = backend_class(tiny_net, capture=capture)
        backend.set_kernels(cls_k[0], reg_k[0])
        backend.search(x)
        backend.set_kernels(cls_k[1], reg_k[1])
        outs.append(backend.search(x).cls)
    graph, eager = outs
    if backend_class is TorchBackend:
        assert np.array_equal(graph, eager)
    else:
        assert np.abs(graph - eager).max() > 1e-2


def test_refused_capture_falls_back_to_eager_with_one_log_line(tiny_net, clip_frames, caplog):
    frames = clip_frames[:4]
    backend = TorchBackend(tiny_net, capture=RefusingCapture())
    with caplog.at_level(logging.WARNING, logger="dasiamrt.runtime.backends.torch_graphs"):
        fallback, _ = _boxes(Tracker(backend, _config(False)), frames, close=False)
    eager, _ = _boxes(Tracker(TorchBackend(tiny_net), _config(False)), frames)
    assert np.array_equal(fallback, eager)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "capture of the 255 search step failed" in lines[0] and "runs eagerly" in lines[0]
    assert backend.describe().endswith("eager at 255")


# -- precision of the fusion --------------------------------------------------------------------------------
def _fusion_errors(device: str, steps: int, checkpoints: Tuple[int, ...], net: Any) -> dict:
    """Relative max error of the fp16 backend's fused kernel vs fp32 after ``checkpoints`` fusion steps."""
    rng = np.random.default_rng(0)
    crop = (rng.random((1, 3, 255, 255)) * 255).astype(np.float32)
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    idx = spec.window_indices([(8, 8), (3, 12), (14, 2)], 22)
    weights = np.array([1.0, -0.25, -0.25], np.float32)
    kernels = {}
    for precision in ("fp32", "fp16"):
        backend = TorchBackend(net, device=device, precision=precision)
        cls_k, reg_k = backend.template(z)
        backend.set_kernels(cls_k[0], reg_k[0])
        backend.search(crop)
        backend.reset_fusion(da.difference_form(cls_k[0]), 1.0)
        got = kernels[precision] = {}
        for t in range(1, steps + 1):
            backend.fuse(idx, weights, 1.0 / (t + 1))
            if t in checkpoints:
                got[t] = backend.fused_kernel()
        assert backend._acc_device.dtype == torch.float32
    return {t: float(np.abs(kernels["fp16"][t] - kernels["fp32"][t]).max() / np.abs(kernels["fp32"][t]).max())
            for t in checkpoints}


def test_fp16_fusion_does_not_drift_on_the_cpu(monkeypatch):
    """The running sum stays fp32: the fp16 route's error after 300 steps is that of one step. The mutant
    that rounds the sum to fp16 every step (as an fp16 graph would) fails the same bound."""
    from dasiamrt.model import build_network

    net = build_network(MICRO, seed=0)
    errors = _fusion_errors("cpu", 300, (1, 300), net)
    assert errors[300] <= max(2 * errors[1], 1e-3) and errors[300] <= 5e-3, errors

    exact = TorchBackend._fusion_step

    def fp16_sum(self: TorchBackend, features: Any, index: Any, weight: Any, acc: Any, inv: float) -> Any:
        acc_out, fused = exact(self, features, index, weight, acc.to(self.dtype), inv)
        return acc_out.to(self.dtype).float(), fused

    monkeypatch.setattr(TorchBackend, "_fusion_step", fp16_sum)
    drifted = _fusion_errors("cpu", 300, (1, 300), net)
    assert drifted[300] > max(2 * drifted[1], 5e-3), drifted


# -- the real CUDA path (runs where a GPU is) ----------------------------------------------------------------
@pytest.mark.gpu
def test_fp16_fusion_does_not_drift_on_the_gpu():
    from dasiamrt.model import build_network

    errors = _fusion_errors("cuda", 5000, (1, 5000), build_network(PRESETS["tiny"].network, seed=0))
    assert errors[5000] <= max(2 * errors[1], 1e-3), errors


def _bundled_tracker(device: str, precision: str = "fp32", cuda_graph: bool = True, **config: Any) -> Tracker:
    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.model import load_network

    net = load_network(str(BUNDLED_WEIGHTS), read_model_dir(BUNDLED_MODEL).network)
    backend = TorchBackend(net, device=device, precision=precision, cuda_graph=cuda_graph)
    return Tracker(backend, _config(**config))


@pytest.mark.gpu
@pytest.mark.parametrize("da_on", [False, True])
def test_cuda_graph_tracks_like_eager_and_the_cpu(vot_net, clip_frames, da_on):
    """fp32 on the GPU is IEEE fp32 (TF32 off): graph == eager, and the CPU's boxes within 0.5 px."""
    config = PRESETS["vot"].tracker.replace(instance_size=255, distractor={"enabled": da_on},
                                            long_term={"enabled": True})
    frames = clip_frames[:31]
    cpu, _ = _boxes(Tracker(TorchBackend(vot_net), config), frames)
    eager, _ = _boxes(Tracker(TorchBackend(vot_net, device="cuda", cuda_graph=False), config), frames)
    graph_tracker = Tracker(TorchBackend(vot_net, device="cuda"), config)
    graph, _ = _boxes(graph_tracker, frames, close=False)
    assert 255 in graph_tracker.backend.steps.graph_sizes and not graph_tracker.backend.steps.eager_sizes
    assert np.abs(graph - eager).max() <= 1e-3
    assert np.abs(graph - cpu).max() <= 0.5
    assert torch.backends.cudnn.allow_tf32  # torch's default, restored after each call


@pytest.mark.gpu
def test_fp16_cuda_graph_tracks_like_cpu_fp32(vot_net, clip_frames):
    """vot layout, random weights (unsaturated scores; ONNX Runtime's fp16 graphs: 0.74 px over 30 frames,
    torch fp16 on the CPU: 0.56 px). The bundled tiny model's scores saturate (2-4 cells > 0.999 per frame),
    so fp16 rounding tips its choice to a neighbouring cell: it is no fp16 yardstick (benchmarks/README.md)."""
    config = PRESETS["vot"].tracker.replace(instance_size=255, distractor={"enabled": True})
    frames = clip_frames[:31]
    cpu, _ = _boxes(Tracker(TorchBackend(vot_net), config), frames)
    fp16, _ = _boxes(Tracker(TorchBackend(vot_net, device="cuda", precision="fp16"), config), frames)
    assert np.abs(fp16 - cpu).max() <= 2.0


@pytest.mark.gpu
def test_cuda_graphs_at_255_and_767(clip_frames):
    lost = _bundled_tracker("cuda", "fp16", da_on=True, always_lost=True)
    _, sizes = _boxes(lost, clip_frames[:5], close=False)
    assert sizes[0] == 255 and set(sizes[1:]) == {767} and lost.backend.steps.graph_sizes == (255, 767)


@pytest.mark.gpu
def test_a_gpu_index_past_the_last_is_refused(tiny_net):
    with pytest.raises(BackendError, match="CUDA GPU"):
        TorchBackend(tiny_net, device=f"cuda:{torch.cuda.device_count()}")
