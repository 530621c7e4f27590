"""The TraX server against the VOT toolkit itself (``vot test``, ``vot evaluate``, ``vot analysis``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dasiamrt import cli
from dasiamrt.errors import BoxError
from dasiamrt.integrations.trax_server import region_to_xywh

ROOT = Path(__file__).resolve().parents[2]
NOISY_TRACKER = Path(__file__).with_name("noisy_trax_tracker.py")  # writes to fd 1 mid-session


def test_rectangle_kept_and_polygon_becomes_area_preserving_box():
    assert region_to_xywh("rectangle", [10, 20, 30, 40]) == (10, 20, 30, 40)
    a = 20.0  # a square of side a turned 45 degrees around (50, 60): area a^2, the VOT box keeps it (+1)
    r = a / np.sqrt(2)
    square = [50 - r, 60, 50, 60 - r, 50 + r, 60, 50, 60 + r]
    x, y, w, h = region_to_xywh("polygon", square)
    assert (w, h) == pytest.approx((a + 1, a + 1))
    assert (x + w / 2, y + h / 2) == pytest.approx((50, 60))
    hexagon = [50 + 10 * np.cos(k * np.pi / 3) for k in range(6)]
    hexagon = [c for k in range(6) for c in (50 + 10 * np.cos(k * np.pi / 3), 50 + 10 * np.sin(k * np.pi / 3))]
    x, y, w, h = region_to_xywh("polygon", hexagon)
    assert (w - 1) * (h - 1) == pytest.approx(1.5 * np.sqrt(3) * 100)  # the hexagon's area
    with pytest.raises(BoxError, match="rectangles and polygons"):
        region_to_xywh("mask", [1, 2])


def test_trax_without_vot_trax_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "trax", None)
    assert cli.main(["trax"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dasiamrt trax: error: the TraX server (dasiamrt trax) needs 'vot-trax', which is not installed: "
                   "pip install 'dasiamrt[trax]'"]


def _vot(args, cwd: Path, timeout: float = 300) -> str:
    """Run the toolkit's CLI; it exits 0 even when a tracker fails, so callers read its log.

    A toolkit that hangs past ``timeout`` returns what it logged plus a ``[hung]`` line (vot-toolkit
    0.9.0's client sometimes waits forever on a broken session instead of applying its own timeout):
    a hung session did not conclude, which the callers' assertions then say.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, "-m", "vot", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        return text(err.stdout) + text(err.stderr) + f"\n[hung: vot {' '.join(args)} ran past {timeout} s]\n"
    return proc.stdout + proc.stderr


def _ini(path: Path, entries: dict) -> None:
    text = ""
    for name, fields in entries.items():
        text += f"[{name}]\nlabel = {name}\nprotocol = trax\n" + "".join(f"{k} = {v}\n" for k, v in fields.items())
    path.write_text(text)


#: The toolkit tests run where the `vot` extra is installed; CI covers the protocol with vot-trax's own
#: client instead (test_trax_protocol.py): vot-toolkit needs opencv-python, CI the headless build.
TOOLKIT_HINT = "run them with: pip install -e '.[vot]' (CI runs test_trax_protocol.py instead)"


@pytest.fixture
def toolkit():
    pytest.importorskip("trax", reason=f"VOT toolkit tests: vot-trax not installed; {TOOLKIT_HINT}")
    return pytest.importorskip("vot", reason=f"VOT toolkit tests: vot-toolkit not installed; {TOOLKIT_HINT}")


def test_vot_test_passes_with_the_trax_server(toolkit, tmp_path):
    _ini(tmp_path / "trackers.ini", {"dasiamrt": {"command": f"{sys.executable} -m dasiamrt.cli trax"}})
    log = _vot(["test", "dasiamrt"], tmp_path)
    assert "Test concluded successfuly" in log, log[-2000:]
    assert '"trax.multiobject=1"' in log  # so 'vot test' sends three objects
    assert log.count("@@TRAX:state") == 50 * 3 and "Traceback" not in log


@pytest.mark.parametrize("protected", [True, False])
def test_stray_output_never_breaks_the_protocol(toolkit, tmp_path, protected):
    fields = {"command": f"{sys.executable} {NOISY_TRACKER}"}
    if not protected:  # the client chose stdin/stdout itself: the server does not move the channel
        fields.update(env_TRAX_IN="0", env_TRAX_OUT="1", timeout="3")
    _ini(tmp_path / "trackers.ini", {"noisy": fields})
    log = _vot(["test", "noisy"], tmp_path, timeout=300 if protected else 60)
    assert ("Test concluded successfuly" in log) is protected, log[-2000:]
    if protected:
        assert "print noisenative noise" in log  # passed on to the log as whole lines, not lost


@pytest.fixture(scope="module")
def vot_sequences(tmp_path_factory):
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.integrations.vot_workspace import write_vot_sequences

    root = tmp_path_factory.mktemp("votseq")
    write_vot_sequences(load_dataset("synthetic:plain:2:0:30"), root / "sequences")
    return root / "sequences"


def test_unreadable_frame_ends_the_session_with_a_one_line_reason(toolkit, tmp_path, vot_sequences):
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(vot_sequences / "plain-0", bad)
    (bad / "color" / "00000005.jpg").write_text("not an image")
    _ini(tmp_path / "trackers.ini", {"dasiamrt": {"command": f"{sys.executable} -m dasiamrt.cli trax"}})
    log = _vot(["test", "dasiamrt", "--sequence", str(bad)], tmp_path)
    assert "Server terminated the session: cannot read the frame" in log and "00000005.jpg" in log, log[-2000:]
    assert "Traceback" not in log and "Test concluded successfuly" not in log


@pytest.mark.slow
def test_vot_evaluate_offline_workspace_matches_dasiamrt(toolkit, tmp_path):
    """`vot evaluate` on generated sequences: the toolkit's trajectories equal dasiamrt's own one-pass
    run on the same files, and `vot analysis` reads them (its accuracy recomputed here)."""
    from vot.region import Polygon, Rectangle
    from vot.region.io import read_trajectory
    from vot.region.raster import calculate_overlap

    from dasiamrt.eval.boxes import region_overlap
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.eval.runner import run_ope_sequence
    from dasiamrt.integrations.vot_workspace import write_workspace
    from dasiamrt.runtime.tracker import Tracker
    from dasiamrt.runtime.tracker_options import default_model

    ws = write_workspace(tmp_path / "ws", load_dataset("synthetic:plain:2:3:40"),
                         f"{sys.executable} -m dasiamrt.cli trax")
    log = _vot(["evaluate", "--workspace", str(ws), "dasiamrt"], tmp_path, timeout=600)
    assert "Evaluation concluded successfuly" in log, log[-2000:]
    assert not (ws / "sequences" / "download").exists()
    log = _vot(["analysis", "--workspace", str(ws), "dasiamrt", "--format", "json"], tmp_path, timeout=600)
    assert "Analysis successful" in log, log[-2000:]
    (report,) = (ws / "analysis").glob("*.json")
    toolkit_accuracy = json.loads(report.read_text())["results"]["unsupervised"]["results"][0][0][0]

    ours = load_dataset("vot2018", ws / "sequences")  # the same folder read by dasiamrt's VOT reader
    overlaps, rasterised = [], []
    with Tracker.from_model(str(default_model()), backend="ort") as tracker:
        for seq in ours:
            boxes, _ = run_ope_sequence(tracker, seq)
            folder = ws / "results" / "dasiamrt" / "unsupervised" / seq.name
            trajectory = read_trajectory(str(next(folder.glob(f"{seq.name}_001.*[nt]"))))
            theirs = np.array([[r.x, r.y, r.width, r.height] for r in trajectory[1:]])
            np.testing.assert_allclose(theirs, boxes[1:], atol=2e-3)  # TraX path == library path
            bound = (float(seq.frame(0).shape[1]), float(seq.frame(0).shape[0]))
            for box, poly in zip(boxes[10:], seq.regions()[10:]):  # 10-frame burn-in, as the analysis
                overlaps.append(region_overlap(box, poly, bound))
                rasterised.append(calculate_overlap(Rectangle(*box), Polygon(list(zip(poly[0::2], poly[1::2]))),
                                                    (int(bound[0]), int(bound[1]))))
    # the analysis scored exactly our boxes: its own overlap function on them gives its number
    assert toolkit_accuracy == pytest.approx(float(np.mean(rasterised)), abs=1e-6)
    # it rasterises regions to pixels; exact polygon overlaps (dasiamrt) differ by a few pixels' share
    assert toolkit_accuracy == pytest.approx(float(np.mean(overlaps)), abs=0.03)
    assert 0.3 < toolkit_accuracy <= 1.0  # the bundled model tracks plain sequences (AUC ~0.7): not all misses


def test_workspace_refuses_to_overwrite(tmp_path):
    from dasiamrt.errors import DatasetError
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.integrations.vot_workspace import write_workspace

    (tmp_path / "config.yaml").write_text("stack: vot2018\n")
    with pytest.raises(DatasetError, match="already holds a VOT workspace"):
        write_workspace(tmp_path, load_dataset("synthetic:plain:1:0:3"), "dasiamrt trax")
    assert textwrap.dedent((tmp_path / "config.yaml").read_text()) == "stack: vot2018\n"


def test_trax_without_a_client_exits_2_with_one_line(tmp_path):
    pytest.importorskip("trax", reason="vot-trax not installed (pip install 'dasiamrt[trax]')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "trax"], stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout.startswith("@@TRAX:hello ") and proc.stdout.count("\n") == 1  # the handshake, nothing else
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dasiamrt trax: error: the TraX client went away"), proc.stderr


def test_vot_layout_refuses_frames_without_a_box(tmp_path):
    from dasiamrt.errors import DatasetError
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.integrations.vot_workspace import write_vot_sequences

    with pytest.raises(DatasetError, match="frames without a box"):
        seqs = list(load_dataset("synthetic:plain:1:0:5")) + list(load_dataset("synthetic:out-of-view:1:0:150"))
        write_vot_sequences(seqs, tmp_path / "sequences")
    assert not (tmp_path / "sequences").exists()  # checked before anything was written
