"""Accuracy of the fp16 graphs (fp16 weights/compute, fp32 I/O) against fp32, in ONNX Runtime on a CPU.

Usage: python benchmarks/fp16_accuracy.py [--preset vot] [--video /work/shared/data/cup.mp4] [--frames 10]

Crops come from a real clip (template: frame 0 centre, 127 px; search: frames 1..N centre, resized
to each search size). Prints, per graph and size: max |fp16 - fp32| / max |fp32| for each output,
the largest change of a foreground probability, and how often the score-map peak moves.
Random network weights (no trained model is bundled yet): the numbers describe fp16 arithmetic on
this architecture, not a trained model's tracking accuracy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dasiamrt.graphs.fp16 import convert_to_fp16  # noqa: E402


def export(preset: str, out: Path) -> Path:
    from dasiamrt.config import get_preset
    from dasiamrt.export import export_model
    from dasiamrt.model import build_network

    p = get_preset(preset)
    export_model(build_network(p.network, seed=0), p, out, check=False)
    return out


def crops(video: str, frames: int, size: int) -> list:
    cap = cv2.VideoCapture(video)
    out = []
    while len(out) < frames + 1:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        side = min(h, w)
        sq = frame[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        out.append(cv2.resize(sq, (size, size)).transpose(2, 0, 1)[None].astype(np.float32))
    return out


def fg_prob(cls: np.ndarray) -> np.ndarray:
    logits = cls.reshape(2, 5, *cls.shape[2:])
    e = np.exp(logits - logits.max(0))
    return e[1] / e.sum(0)


def fp16_model_dir(src: Path, dst: Path) -> Path:
    """A copy of a model folder whose three graphs are their fp16 versions (same names, same I/O)."""
    import shutil

    shutil.copytree(src, dst)
    for name in ("template", "search", "kernel_update"):
        onnx.save(convert_to_fp16(onnx.load(str(src / f"{name}.onnx"))), str(dst / f"{name}.onnx"))
    return dst


def model_boxes(model_dir: Path, frames: list, box: tuple, distractor: bool) -> np.ndarray:
    """Tracked boxes (the init frame's row left out) of a model folder on ONNX Runtime."""
    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.runtime.loop import track_boxes
    from dasiamrt.runtime.tracker import Tracker

    config = read_model_dir(model_dir).tracker.replace(distractor={"enabled": distractor})
    tracker = Tracker.from_model(str(model_dir), backend="ort", config=config)
    return track_boxes(tracker, frames, box)[1:]


def compare_tracks(model: Path, fp16: Path, frames: int) -> None:
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.videoio import open_source

    clip = [f for _, f in zip(range(frames + 1), (f for _, f in open_source(str(DEMO_CLIP))))]
    print(f"\ntracking {len(clip) - 1} frames of {DEMO_CLIP.name} with fp32 vs fp16 graphs (ONNX Runtime)")
    print("| distractor-aware | max box difference (px) | mean (px) |")
    print("|---|---:|---:|")
    for da in (False, True):
        a, b = (model_boxes(m, clip, DEMO_INIT_XYWH, da) for m in (model, fp16))
        diff = np.abs(a - b)
        print(f"| {'on' if da else 'off'} | {diff.max():.3f} | {diff.mean():.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="vot")
    ap.add_argument("--video", default="/work/shared/data/cup.mp4")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--track", type=int, default=0, metavar="N", help="also track N frames of the demo clip")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = export(args.preset, Path(tmp))
        sess = {}
        for name in ("template", "search"):
            m32 = onnx.load(str(model / f"{name}.onnx"))
            sess[name] = [
                ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                for m in (m32, convert_to_fp16(m32))
            ]
        z = crops(args.video, 0, 127)[0]
        k32 = sess["template"][0].run(None, {"template": z})
        k16 = sess["template"][1].run(None, {"template": z})
        print(f"preset {args.preset}, clip {Path(args.video).name}, {args.frames} frames")
        print("| graph | size | output | max rel. error | max fg-prob change | peak moved |")
        print("|---|---|---|---:|---:|---:|")
        for name, a, b in zip(("cls_kernel", "reg_kernel"), k32, k16):
            print(f"| template | 127 | {name} | {np.abs(a - b).max() / np.abs(a).max():.2e} | | |")
        for size in (255, 767):
            errs = {"cls": 0.0, "delta": 0.0}
            prob, moved = 0.0, 0
            xs = crops(args.video, args.frames, size)[1:]
            for x in xs:
                # both graphs get the fp32 kernels: isolates the search graph's own error
                feeds = {"search": x, "cls_kernel": k32[0][0], "reg_kernel": k32[1][0]}
                o32, o16 = (s.run(None, feeds) for s in sess["search"])
                for i, key in enumerate(("cls", "delta")):
                    errs[key] = max(errs[key], float(np.abs(o32[i] - o16[i]).max() / np.abs(o32[i]).max()))
                p32, p16 = fg_prob(o32[0]), fg_prob(o16[0])
                prob = max(prob, float(np.abs(p32 - p16).max()))
                moved += int(np.argmax(p32) != np.argmax(p16))
            for key in ("cls", "delta"):
                extra = f"{prob:.2e} | {moved}/{len(xs)}" if key == "cls" else " | "
                print(f"| search | {size} | {key} | {errs[key]:.2e} | {extra} |")
        if args.track:
            compare_tracks(model, fp16_model_dir(model, Path(tmp) / "fp16"), args.track)


if __name__ == "__main__":
    main()
