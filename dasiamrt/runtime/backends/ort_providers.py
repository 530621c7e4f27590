"""ONNX Runtime execution providers: CPU, CUDA and TensorRT (the onnxruntime-gpu route to the GPU).

The lead's ORT backend (``ort.py``) asks :func:`providers_for` for the ``providers`` argument of
``onnxruntime.InferenceSession``. ``onnxruntime`` and ``onnxruntime-gpu`` both install the module
``onnxruntime``; with both installed the CPU one can win and the GPU providers vanish, which is
why the error below says to keep only one of them.

Provider option names are ONNX Runtime's documented ones (``device_id``; TensorRT:
``trt_fp16_enable``, ``trt_engine_cache_enable``, ``trt_engine_cache_path``,
``trt_max_workspace_size``). ``trt_fp16_enable`` is a weak-typing builder flag, which TensorRT 11
removed: there, run the fp16 graph (``<name>.fp16.onnx``) with fp16 off.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...errors import BackendError, ConfigError

DEVICES = ("cpu", "cuda", "tensorrt")
_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}

Provider = Tuple[str, Dict[str, Any]]


def providers_for(
    device: str,
    device_id: int = 0,
    fp16: bool = False,
    cache_dir: Optional[str] = None,
    workspace_mb: Optional[int] = None,
    available: Optional[Sequence[str]] = None,
) -> List[Provider]:
    """Providers (with options), best first, for ``device`` "cpu", "cuda" or "tensorrt".

    Each GPU list falls back to the next provider for nodes it cannot run (TensorRT -> CUDA -> CPU).

    Args:
        device: which execution provider to lead with.
        device_id: CUDA device index.
        fp16: TensorRT provider only: let TensorRT use fp16 kernels (TensorRT <= 10).
        cache_dir: TensorRT provider only: cache built engines here (first run builds, later runs load).
        workspace_mb: TensorRT provider only: builder workspace limit.
        available: provider names of the installed onnxruntime (default: asked from onnxruntime).

    Raises:
        ConfigError: unknown device, or fp16/cache options without the TensorRT provider.
        BackendError: the provider is not in this onnxruntime (one line with the pip fix).
    """
    if device not in DEVICES:
        raise ConfigError(f"unknown ONNX Runtime device {device!r}: choose one of {', '.join(DEVICES)}")
    if device != "tensorrt" and (fp16 or cache_dir or workspace_mb):
        raise ConfigError("fp16, engine cache and workspace options apply to the 'tensorrt' ONNX Runtime device only")
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    name = _NAMES[device]
    if name not in available:
        raise BackendError(
            f"this onnxruntime has no {name} (it has {', '.join(available)}): "
            "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu "
            "(keep only the GPU package; on a Jetson use the onnxruntime-gpu wheel for your JetPack)"
        )
    cpu: Provider = (_NAMES["cpu"], {})
    cuda: Provider = (_NAMES["cuda"], {"device_id": device_id})
    if device == "cpu":
        return [cpu]
    if device == "cuda":
        return [cuda, cpu]
    trt_opts: Dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": bool(fp16)}
    if cache_dir:
        trt_opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
    if workspace_mb:
        trt_opts["trt_max_workspace_size"] = int(workspace_mb) << 20
    chain = [(_NAMES["tensorrt"], trt_opts)]
    if _NAMES["cuda"] in available:
        chain.append(cuda)
    return chain + [cpu]


def split(providers: List[Provider]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """(names, options) as ``InferenceSession(path, providers=names, provider_options=options)`` takes them."""
    return [p for p, _ in providers], [o for _, o in providers]


ShapeRange3 = Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]


def tensorrt_profiles(info: Any, role: str) -> Dict[str, ShapeRange3]:
    """(min, opt, max) shapes of the dynamic inputs of graph ``role`` for ONNX Runtime's TensorRT
    provider: without them it builds an engine for the first shape it sees and rebuilds mid-track
    at the first 767 (lost-mode) search. Ranges cover every size the tracker can ask for.

    Args:
        info: the model folder (:class:`~dasiamrt.artifacts.model_folder.ModelFolder`).
        role: "template", "search" or "kernel_update".
    """
    from ... import spec

    tracker = info.tracker
    sizes = sorted(set(tracker.search_sizes()) | {tracker.long_term.lost_instance_size})
    n_hi = tracker.distractor.n_max + 1
    if role == "template":
        z = (3, spec.EXEMPLAR_SIZE, spec.EXEMPLAR_SIZE)
        return {spec.TEMPLATE_INPUT: ((1,) + z, (1,) + z, (n_hi,) + z)}
    if role == "search":
        lo, hi, opt = sizes[0], sizes[-1], tracker.instance_size
        return {spec.SEARCH_INPUT: ((1, 3, lo, lo), (1, 3, opt, opt), (1, 3, hi, hi))}
    c = info.network.feature_channels
    f_lo, f_opt, f_hi = (spec.search_feature_size(h) for h in (sizes[0], tracker.instance_size, sizes[-1]))
    window = spec.TEMPLATE_FEATURE_SIZE ** 2
    return {spec.FEATURE_OUTPUT: ((1, c, f_lo, f_lo), (1, c, f_opt, f_opt), (1, c, f_hi, f_hi)),
            spec.WINDOW_INDEX: ((window,), (window * min(2, n_hi),), (window * n_hi,)),
            spec.WINDOW_WEIGHT: ((1,), (min(2, n_hi),), (n_hi,))}


def with_profiles(providers: Sequence[Any], profiles: Dict[str, ShapeRange3]) -> List[Any]:
    """``providers`` with ``trt_profile_min_shapes``/``opt``/``max`` added to the TensorRT provider's
    options (ONNX Runtime's format: ``name:1x3x255x255,name2:...``); other entries unchanged."""
    out: List[Any] = []
    for entry in providers:
        name, opts = (entry, {}) if isinstance(entry, str) else entry
        if name == _NAMES["tensorrt"] and profiles:
            opts = dict(opts)
            for i, key in enumerate(("trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes")):
                opts[key] = ",".join(f"{n}:{'x'.join(str(d) for d in r[i])}" for n, r in profiles.items())
            entry = (name, opts)
        out.append(entry)
    return out
