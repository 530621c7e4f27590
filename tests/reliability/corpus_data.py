"""The bad inputs of the reliability corpus, built once per session from the bundled clip and model.

Everything is derived from files shipped in the package (no shared data), so the corpus runs on any
clone. Model-folder variants symlink the bundled graphs (a few KB each) and edit ``model.json``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Dict

import cv2
import numpy as np

from dasiamrt.assets import BUNDLED_MODEL, BUNDLED_WEIGHTS, DEMO_CLIP

GRAPHS = ("template.onnx", "search.onnx", "kernel_update.onnx")


def _frames(count: int) -> list:
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        assert ok, "the bundled clip is shorter than expected"
        frames.append(frame)
    cap.release()
    return frames


def _video(path: Path, frames: list, fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def build_videos(root: Path) -> None:
    frames = _frames(40)
    _video(root / "clip.mp4", frames[:20])
    _video(root / "one_frame.mp4", frames[:1])
    (root / "zero.mp4").write_bytes(b"")
    (root / "garbage.mp4").write_bytes(b"\x00garbage" * 500)
    (root / "notes.txt").write_text("not a video\n")
    mp4 = _video(root / "full.mp4", frames).read_bytes()
    (root / "truncated.mp4").write_bytes(mp4[: len(mp4) // 2])  # moov atom lost
    (root / "full.mp4").unlink()
    (root / "dir.mp4").mkdir()  # a folder named like a video, without images


def build_folders(root: Path) -> None:
    frames = _frames(4)
    (root / "empty_folder").mkdir()
    only_text = root / "text_folder"
    only_text.mkdir()
    (only_text / "readme.txt").write_text("no images\n")
    for name, damage in (("trunc_jpg", "jpg"), ("zero_png", "png0"), ("bad_png", "pngx"), ("trunc_png", "pngt")):
        folder = root / name
        folder.mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(folder / f"{i:04d}.{'jpg' if damage == 'jpg' else 'png'}"), frame)
        victim = folder / f"0002.{'jpg' if damage == 'jpg' else 'png'}"
        data = victim.read_bytes()
        victim.write_bytes({"jpg": data[: len(data) // 2], "png0": b"", "pngx": b"\x89PNG\r\n\x1a\nrubbish" * 20,
                            "pngt": data[: len(data) // 2]}[damage])
    sizes = root / "mixed_sizes"
    sizes.mkdir()
    for i, frame in enumerate(frames):
        image = frame if i < 2 else cv2.resize(frame, (240, 180))
        cv2.imwrite(str(sizes / f"{i:04d}.jpg"), image)
    one = root / "one_image"
    one.mkdir()
    cv2.imwrite(str(one / "0001.jpg"), frames[0])


def _model(root: Path, name: str, edit: Callable[[Dict[str, Any]], Any] = lambda m: None,
           graphs: Dict[str, str] = None) -> Path:  # type: ignore[assignment]
    folder = root / name
    folder.mkdir()
    for graph in GRAPHS:
        source = (graphs or {}).get(graph, graph)
        if source:
            (folder / graph).symlink_to(BUNDLED_MODEL / source)
    manifest = json.loads((BUNDLED_MODEL / "model.json").read_text())
    replaced = edit(manifest)  # edits the manifest in place, or returns the file's whole text
    text = replaced if isinstance(replaced, str) else json.dumps(manifest)
    (folder / "model.json").write_text(text)
    return folder


def _tracker(**changes: Any) -> Callable[[Dict[str, Any]], None]:
    def edit(manifest: Dict[str, Any]) -> None:
        for key, value in changes.items():
            block = manifest["tracker"]
            *parents, leaf = key.split(".")
            for parent in parents:
                block = block[parent]
            block[leaf] = value
    return edit


def build_models(root: Path) -> None:
    models = root / "models"
    models.mkdir()
    (models / "no_manifest").mkdir()
    _model(models, "json_list", lambda m: "[1, 2]")
    _model(models, "not_json", lambda m: "{ this is not json")
    _model(models, "format2", lambda m: m.update(format=2))
    _model(models, "lr_text", _tracker(lr="abc"))
    _model(models, "lr_nan", _tracker(lr=float("nan")))
    _model(models, "window5", _tracker(window_influence=5))
    _model(models, "lr_zero", _tracker(lr=0))
    _model(models, "size300", _tracker(instance_size=300))
    _model(models, "unknown_key", _tracker(speed="fast"))
    _model(models, "lt_thresholds", _tracker(**{"long_term.enter_threshold": 0.9, "long_term.leave_threshold": 0.5}))
    _model(models, "da_enabled_text", _tracker(**{"distractor.enabled": "yes"}))
    _model(models, "tracker_list", lambda m: m.update(tracker=[1]))
    _model(models, "width_negative", lambda m: m["network"].update(width=-1))
    _model(models, "no_search_entry", lambda m: m["graphs"].pop("search"))
    _model(models, "graph_traversal", lambda m: m["graphs"]["search"].update(file="../../search.onnx"))
    _model(models, "graph_absolute", lambda m: m["graphs"]["search"].update(file=str(BUNDLED_MODEL / "search.onnx")))
    _model(models, "graph_missing", graphs={"search.onnx": ""})
    _model(models, "template_as_search", graphs={"search.onnx": "template.onnx"})
    _model(models, "vot_manifest", lambda m: m.update(preset="vot", network={"name": "vot", "width": 1.0,
                                                                              "feature_out": 256}))
    _model(models, "variant_list", lambda m: m.update(variants=[1]))
    bad_graph = _model(models, "graph_garbage", graphs={"search.onnx": ""})
    (bad_graph / "search.onnx").write_bytes(b"not an onnx graph" * 10)


def build_checkpoints(root: Path) -> None:
    (root / "garbage.pt").write_bytes(b"\x80\x02garbage" * 100)
    (root / "empty.pt").write_bytes(b"")
    shutil.copy(BUNDLED_WEIGHTS, root / "bundled.pt")


def build_datasets(root: Path) -> None:
    data = root / "datasets"
    images = data / "seq" / "img"
    images.mkdir(parents=True)
    names = []
    for i, frame in enumerate(_frames(4)):
        cv2.imwrite(str(images / f"{i + 1:04d}.jpg"), frame)
        names.append(f"seq/img/{i + 1:04d}.jpg")
    gt = [[222.0, 12.0, 225.0, 169.0]] * 4

    def pysot(name: str, content: Any) -> None:
        (data / f"{name}.json").write_text(content if isinstance(content, str) else json.dumps(content))

    entry = {"video_dir": "seq", "init_rect": gt[0], "img_names": names, "gt_rect": gt, "attr": []}
    pysot("traversal", {"../../../../escaped": entry})
    pysot("absolute", {str(root / "escaped_abs"): entry})
    pysot("backslash", {"..\\..\\escaped": entry})
    pysot("image_outside", {"seq": dict(entry, img_names=["../../../etc/passwd"] * 4)})
    pysot("image_absolute", {"seq": dict(entry, img_names=["/etc/passwd"] * 4)})
    pysot("not_json", "{ nope")
    pysot("a_list", [1, 2])
    pysot("no_gt", {"seq": {"img_names": names}})
    pysot("gt_width3", {"seq": dict(entry, gt_rect=[[1, 2, 3]] * 4)})
    pysot("gt_short", {"seq": dict(entry, gt_rect=gt[:2])})
    pysot("gt_nan_first", {"seq": dict(entry, gt_rect=[[float("nan")] * 4] + gt[1:])})
    pysot("missing_images", {"seq": dict(entry, img_names=[f"seq/img/{i:04d}.jpg" for i in range(90, 94)])})
    otb = data / "otb" / "Box"
    (otb / "img").mkdir(parents=True)
    for i in range(1, 5):
        shutil.copy(images / f"{i:04d}.jpg", otb / "img" / f"{i:04d}.jpg")
    (otb / "groundtruth_rect.txt").write_text("1,2,3,4\nx,y,w,h\n1,2,3,4\n1,2,3,4\n")
    otb_short = data / "otb_short" / "Box"
    shutil.copytree(otb, otb_short)
    (otb_short / "groundtruth_rect.txt").write_text("1,2,3\n")


def build(root: Path) -> Path:
    """Every bad input of the corpus, under ``root`` (returned)."""
    root.mkdir(parents=True, exist_ok=True)
    build_videos(root)
    build_folders(root)
    build_models(root)
    build_checkpoints(root)
    build_datasets(root)
    (root / "bench_reports").mkdir()
    for name, content in (("ms0", {"env": {"cpu": "x"}, "rows": [{"backend": "ort", "size": 255, "ms": 0}]}),
                          ("fps_text", {"env": {"cpu": "x"}, "rows": [{"backend": "ort", "size": 255, "fps": "fast"}]}),
                          ("no_keys", {"env": {"cpu": "x"}, "rows": [{"fps": 10}]}),
                          ("negative", {"env": {"cpu": "x"}, "rows": [{"backend": "ort", "ms": -3}]}),
                          ("no_rows", {"env": {"cpu": "x"}, "rows": []}),
                          ("a_list", [1, 2]),
                          ("good", {"env": {"cpu": "x"}, "rows": [{"backend": "ort", "size": 255, "ms": 10}]})):
        (root / "bench_reports" / f"{name}.json").write_text(json.dumps(content))
    (root / "bench_reports" / "not_json.json").write_text("{")
    np.save(root / "not_a_calibration.npy", np.zeros(3))
    return root
