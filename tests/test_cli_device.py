"""``--device`` on track/bench/eval/demo: the torch backend's device, with one-line errors elsewhere."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from dasiamrt.assets import BUNDLED_WEIGHTS, DEMO_CLIP
from dasiamrt.cli import main

torch = pytest.importorskip("torch")
CPU_TORCH = torch.version.cuda is None
INIT = "221,11,225,169"


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", str(DEMO_CLIP), "--init", INIT, "--device", "gpu"], "--device takes cpu, cuda or cuda:N"),
        (["track", str(DEMO_CLIP), "--init", INIT, "--model", "MODEL", "--device", "cuda"],
         "the torch backend runs from weights, not a model folder"),
        (["track", str(DEMO_CLIP), "--init", INIT, "--backend", "ort", "--device", "cuda"],
         "ONNX Runtime runs on the GPU when onnxruntime-gpu is installed"),
        (["track", str(DEMO_CLIP), "--init", INIT, "--backend", "trt", "--device", "cuda:0"],
         "TensorRT always runs on the GPU (pick one with CUDA_VISIBLE_DEVICES=N)"),
        (["track", str(DEMO_CLIP), "--init", INIT, "--weights", str(BUNDLED_WEIGHTS), "--preset", "mobile",
          "--precision", "int8"], "the torch backend runs fp32 or fp16, not 'int8'"),
        (["bench", "--backend", "torch", "--model", "MODEL", "--frames", "1"], "runs from weights, not a model folder"),
        (["bench", "--device", "cuda:one"], "--device takes cpu, cuda or cuda:N"),
        (["eval", "--dataset", "synthetic:distractors:1:0", "--device", "tpu", "--out", "OUT"], "--device takes"),
        (["demo", "--device", "cpu", "--model", "MODEL", "--out", "OUT"], "not a model folder"),
    ],
)
def test_device_errors_are_one_line(tiny_model_dir, tmp_path, args, message):
    out = tmp_path / "out"
    args = [str(tiny_model_dir) if a == "MODEL" else str(out) if a == "OUT" else a for a in args]
    extra = ["--out", str(out / "boxes.csv")] if args[0] == "track" else []
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", *args, *extra], capture_output=True, text=True,
                          timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.skipif(not CPU_TORCH, reason="this torch has CUDA")
@pytest.mark.parametrize("command", [
    ["track", str(DEMO_CLIP), "--init", INIT, "--device", "cuda"],
    ["bench", "--preset", "tiny", "--device", "cuda", "--frames", "1"],
    ["demo", "--device", "cuda"],
])
def test_cuda_on_a_cpu_only_torch_says_how_to_get_one(tmp_path, command):
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", *command], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "is built without CUDA: install a CUDA build of torch" in lines[0] and "--device cpu" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_track_on_the_bundled_weights_with_device_cpu(tmp_path, capsys):
    """--device alone selects the torch backend on the bundled model's own checkpoint."""
    out = tmp_path / "boxes.csv"
    rc = main(["track", str(DEMO_CLIP), "--init", INIT, "--device", "cpu", "--max-frames", "3", "--out", str(out),
               "--quiet", "--da"])
    assert rc == 0
    rows = list(csv.reader(out.open()))
    assert rows[0][:5] == ["frame", "x", "y", "w", "h"] and len(rows) == 4


def test_bench_torch_rows(tmp_path, capsys):
    rc = main(["bench", "--preset", "tiny", "--device", "cpu", "--sizes", "255", "--frames", "2", "--warmup", "0",
               "--da", "on"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| torch | fp32 | 255 | on |" in out
