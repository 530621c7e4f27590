"""``dasiamrt.runtime`` works with torch and onnx absent; ``import dasiamrt`` pulls in nothing heavy."""
from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; sys.modules['tensorrt'] = None; "


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=120)


def test_runtime_imports_without_torch_and_onnx():
    proc = _run("import dasiamrt.runtime, dasiamrt.runtime.tracker, dasiamrt.runtime.backends.ort, dasiamrt.videoio, "
                "dasiamrt.tracking, dasiamrt.cli; print('ok')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_ort_tracker_runs_without_torch(tiny_model_dir):
    code = (
        "import numpy as np; from dasiamrt.runtime.tracker import Tracker; "
        f"t = Tracker.from_model({str(tiny_model_dir)!r}); "
        "f = np.zeros((240, 320, 3), np.uint8); f[100:140, 100:160] = 200; "
        "t.init(f, (100, 100, 60, 40)); r = t.track(f); print(r.state)"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "tracking"


def test_package_import_is_light():
    proc = subprocess.run([sys.executable, "-c", "import sys, dasiamrt; print(sorted(m for m in ('torch', 'onnx', "
                           "'onnxruntime', 'cv2', 'tensorrt') if m in sys.modules))"], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_gpu_tests_use_no_path_of_a_development_machine():
    """GPU/TensorRT tests run on other machines (a Jetson, a cloud GPU): data comes from the package
    (the bundled clip) or from the skip-aware ``tests.conftest.DATA``, never from a hard-coded path."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if re.search(r"pytest\.mark\.(gpu|trt)", text) and re.search(r"[\"'](/work/|/home/|/Users/)", text):
            offenders.append(path.name)
    assert not offenders, offenders
