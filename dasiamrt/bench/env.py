"""What a benchmark ran on: CPU, GPU, driver, CUDA, TensorRT, ONNX Runtime, JetPack.

Every probe is optional and silent when its tool or library is missing (a CPU-only machine
reports ``gpu: None``); nothing here raises. Reports from different machines carry this block so
``dasiamrt bench --merge`` can label their columns.
"""

from __future__ import annotations

import importlib
import logging
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


def _version(module: str) -> Optional[str]:
    try:
        return str(importlib.import_module(module).__version__)
    except Exception:  # noqa: BLE001 - a broken install must not break a benchmark report
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_smi() -> Optional[Dict[str, str]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = (
            subprocess.run(
                [exe, "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            .stdout.strip()
            .splitlines()
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if not out:
        return None
    parts = [p.strip() for p in out[0].split(",")]
    return dict(zip(("name", "driver", "compute_capability"), parts))


def _cuda_device() -> Optional[Dict[str, Any]]:
    try:
        from ..trt.cuda_device import query_gpu

        info = query_gpu()
    except Exception:  # noqa: BLE001 - no binding / no GPU: simply absent
        return None
    return {
        "name": info.name,
        "compute_capability": info.compute_capability,
        "cuda_driver": info.driver_version,
        "cuda_runtime": info.runtime_version,
        "memory_mb": info.total_memory_mb,
    }


def _jetpack() -> Optional[str]:
    try:
        return Path("/etc/nv_tegra_release").read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None


def system_info() -> Dict[str, Any]:
    """A JSON-friendly description of this machine (absent parts are None)."""
    gpu = _cuda_device()
    smi = _nvidia_smi()
    if smi:
        gpu = dict(gpu or {}, name=smi.get("name") or (gpu or {}).get("name"), driver=smi.get("driver"))
        gpu.setdefault("compute_capability", smi.get("compute_capability"))
    ort_providers = None
    try:
        ort_providers = list(importlib.import_module("onnxruntime").get_available_providers())
    except Exception:  # noqa: BLE001
        pass
    from ..cpu_features import detect

    cpu = detect()
    return {
        "cpu": _cpu_name(),
        "cpu_flags": cpu.summary(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "gpu": gpu,
        "tensorrt": _version("tensorrt"),
        "onnxruntime": _version("onnxruntime"),
        "onnxruntime_providers": ort_providers,
        "jetpack_l4t": _jetpack(),
    }


def machine_label(env: Dict[str, Any]) -> str:
    """Short column label: the GPU name, else the CPU name."""
    gpu = env.get("gpu") or {}
    return str(gpu.get("name") or env.get("cpu") or "unknown")
