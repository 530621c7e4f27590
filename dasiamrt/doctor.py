"""``dasiamrt doctor``: what works on this machine, one line per item with a verdict and the fix.

Items: Python, numpy, OpenCV (+ GStreamer: CSI cameras need it; a pip wheel shadowing JetPack's
OpenCV is the usual cause of "NO"), ONNX Runtime (flavour, providers, both packages installed at
once), TensorRT (version, Conv with tensor weights from 8.5), the CUDA binding and the GPU (name,
compute capability, memory), CPU features (AVX2, AVX-512, VNNI, ARM dot product), which backends
and precisions will work, and with a model folder whether its engines match this GPU and TensorRT.

Every probe goes through :class:`Environment`, so tests fake a machine (no TensorRT, both
onnxruntime packages, pip OpenCV without GStreamer, an engine built for another GPU). Nothing here
raises: a failed probe is a verdict.
"""
from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"
ORT_DISTS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-silicon")


@dataclass(frozen=True)
class Check:
    """One line of the report: item, verdict (ok/warn/FAIL/info), what was found, and the fix."""

    item: str
    verdict: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"[{self.verdict:>4}] {self.item:<14} {self.detail}" + (f" -> {self.fix}" if self.fix else "")


def _distributions() -> Dict[str, str]:
    from importlib import metadata

    out: Dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name:
            out[name] = dist.version
    return out


def _open_device() -> Any:
    from .trt.cuda_device import open_device

    return open_device()


@dataclass
class Environment:
    """The probes doctor uses (tests replace them)."""

    import_module: Callable[[str], Any] = importlib.import_module
    distributions: Callable[[], Dict[str, str]] = _distributions
    open_device: Callable[[], Any] = _open_device
    cpu: Callable[[], Any] = field(default=lambda: importlib.import_module("dasiamrt.cpu_features").detect())
    jetson: Callable[[], bool] = field(default=lambda: Path("/etc/nv_tegra_release").is_file())

    def module(self, name: str) -> Any:
        try:
            return self.import_module(name)
        except Exception:  # noqa: BLE001 - absent or broken: both mean "not usable"
            return None


def _python_numpy(env: Environment) -> List[Check]:
    ver = ".".join(str(v) for v in sys.version_info[:3])
    checks = [Check("python", OK if sys.version_info >= (3, 8) else FAIL, f"{ver} ({platform.machine()})",
                    "" if sys.version_info >= (3, 8) else "dasiamrt needs Python 3.8+")]
    np_mod = env.module("numpy")
    checks.append(Check("numpy", OK, np_mod.__version__) if np_mod is not None
                  else Check("numpy", FAIL, "not installed", "pip install numpy"))
    return checks


def _opencv(env: Environment) -> Check:
    cv2 = env.module("cv2")
    if cv2 is None:
        fix = "use JetPack's OpenCV (apt install python3-opencv)" if env.jetson() else "pip install 'dasiamrt[opencv]'"
        return Check("opencv", FAIL, "not installed", fix)
    info = cv2.getBuildInformation()
    gst = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.strip().startswith("GStreamer")), "NO")
    has_gst = gst.upper().startswith("YES")
    wheels = [d for d in env.distributions() if d.startswith("opencv-")]
    detail = f"{cv2.__version__}, GStreamer {'YES' if has_gst else 'NO'}"
    detail += f" (pip: {', '.join(wheels)})" if wheels else ""
    if has_gst:
        return Check("opencv", OK, detail)
    if env.jetson() and wheels:
        return Check("opencv", FAIL, detail + ": the pip wheel shadows JetPack's GStreamer OpenCV",
                     f"pip uninstall -y {' '.join(wheels)} (JetPack's OpenCV comes back)")
    return Check("opencv", WARN, detail + ": no CSI cameras or GStreamer pipelines (files, USB, RTSP work)",
                 "an OpenCV built with GStreamer (JetPack's, or a source build) for CSI cameras")


def _onnxruntime(env: Environment) -> Check:
    dists = env.distributions()
    flavours = [d for d in ORT_DISTS if d in dists]
    ort = env.module("onnxruntime")
    if ort is None:
        return Check("onnxruntime", WARN, "not installed: --backend ort unavailable",
                     "pip install 'dasiamrt[ort]' (or the onnxruntime-gpu wheel for your CUDA/JetPack)")
    providers = ", ".join(p.replace("ExecutionProvider", "") for p in ort.get_available_providers())
    detail = f"{ort.__version__} ({', '.join(flavours) or 'unknown package'}), providers {providers}"
    if len(flavours) > 1:
        return Check("onnxruntime", FAIL, detail + ": several packages provide the module, the CPU one can win",
                     f"pip uninstall -y {' '.join(flavours)} && pip install {flavours[-1]}")
    return Check("onnxruntime", OK, detail)


def _tensorrt(env: Environment) -> Check:
    trt = env.module("tensorrt")
    if trt is None:
        fix = "apt install python3-libnvinfer" if env.jetson() else \
            "pip install tensorrt (NVIDIA's wheels), or use --backend ort"
        return Check("tensorrt", INFO, "not installed: --backend trt and dasiamrt build unavailable", fix)
    from .trt.compat import parse_version

    version = str(trt.__version__)
    if tuple(parse_version(version).release[:2]) < (8, 5):
        return Check("tensorrt", FAIL, f"{version}: too old (no tensor-name API, no Conv with tensor weights)",
                     "TensorRT 8.5+ (JetPack 5.1+)")
    return Check("tensorrt", OK, f"{version}: tensor-name API and Conv with tensor weights (8.5+) present")


def _cuda(env: Environment) -> Check:
    try:
        device = env.open_device()
    except Exception as err:  # noqa: BLE001 - the verdict is the message
        return Check("cuda", INFO, f"no usable GPU ({err})", "")
    try:
        gpu = device.info()
    finally:
        device.close()
    return Check("cuda", OK, f"{device.binding}: {gpu.name}, sm {gpu.compute_capability}, {gpu.total_memory_mb} MiB, "
                 f"driver CUDA {gpu.driver_version}, runtime {gpu.runtime_version}")


def _cpu(env: Environment) -> Check:
    cpu = env.cpu()
    if cpu.int8_dot_product:
        note = "INT8 (Q/DQ) graphs run fast on ONNX Runtime"
    elif cpu.u8s8_overflow:
        note = "no VNNI: INT8 runs the 7-bit-weight form int8-cpu-w7 (8-bit weights overflow the fast kernels here)"
    else:
        note = "no VNNI/dot product: INT8 on the CPU is no faster than fp32"
    return Check("cpu", OK, f"{cpu.summary()}; {note}")


def _backends(checks: Dict[str, Check], env: Environment) -> Check:
    parts = []
    if checks["onnxruntime"].verdict in (OK, FAIL):
        parts.append("ort fp32/int8 (fp16 graphs run, but no faster on a CPU)")
    trt_ok = checks["tensorrt"].verdict == OK and checks["cuda"].verdict == OK
    if trt_ok:
        trt = env.module("tensorrt")
        calib = hasattr(getattr(trt, "IBuilderConfig", None), "int8_calibrator")
        parts.append("trt fp32/fp16/int8 (Q/DQ" + (" or --calibrator entropy)" if calib else ")"))
    if env.module("torch") is not None:
        parts.append("torch (reference, from --weights)")
    if not parts:
        return Check("backends", FAIL, "none usable", "pip install 'dasiamrt[ort]'")
    return Check("backends", OK, "; ".join(parts))


def _engines(model_dir: Path, env: Environment) -> List[Check]:
    from .artifacts.engine_manifest import DeviceInfo, check_compatible, read_manifest, rebuild_command
    from .errors import DasiamrtError

    root = Path(model_dir)
    folders = sorted(p for p in (root / "engines").glob("*") if (p / "search.json").is_file())
    if not folders:
        return [Check("engines", INFO, f"no engines in {root / 'engines'}",
                      f"{rebuild_command(str(root), 'fp16')} (on the machine that will run them)")]
    try:
        device = env.open_device()
        gpu = device.info()
        device.close()
        trt = env.module("tensorrt")
        here: Optional[DeviceInfo] = DeviceInfo(str(trt.__version__), gpu.name, gpu.compute_capability) if trt else None
    except Exception:  # noqa: BLE001
        here = None
    checks = []
    for folder in folders:
        try:
            manifest = read_manifest(folder, "search", str(root), folder.name)
            if here is None:
                checks.append(Check(f"engines/{folder.name}", INFO, f"built for TensorRT "
                                    f"{manifest.device.tensorrt_version} on {manifest.device.gpu_name}: no GPU or "
                                    "TensorRT here to run them"))
                continue
            check_compatible(manifest, here, str(root))
            checks.append(Check(f"engines/{folder.name}", OK,
                                f"match {here.gpu_name} and TensorRT {here.tensorrt_version}"))
        except DasiamrtError as err:
            text = str(err)
            cut = text.rfind(": rebuild")
            detail, fix = (text[:cut], text[cut + 2:]) if cut > 0 else (text, "")
            checks.append(Check(f"engines/{folder.name}", FAIL, detail, fix))
    return checks


def run_checks(model_dir: Optional[Path] = None, env: Optional[Environment] = None) -> List[Check]:
    """Every check, in report order."""
    env = env or Environment()
    checks = _python_numpy(env)
    named = {"opencv": _opencv(env), "onnxruntime": _onnxruntime(env), "tensorrt": _tensorrt(env),
             "cuda": _cuda(env), "cpu": _cpu(env)}
    checks += list(named.values())
    checks.append(_backends(named, env))
    if model_dir is not None:
        checks += _engines(Path(model_dir), env)
    return checks
