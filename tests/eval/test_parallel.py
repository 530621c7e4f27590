"""`eval --ray`: a 2-worker local Ray cluster gives the serial run's files; a killed worker loses only its sequence."""
from __future__ import annotations

import functools
import os
import signal
from argparse import Namespace
from pathlib import Path

import pytest

from dasiamrt import cli
from dasiamrt.commands._common import make_tracker
from dasiamrt.errors import DatasetError
from dasiamrt.eval.datasets import load_dataset
from dasiamrt.eval.evaluation import evaluate

pytestmark = pytest.mark.slow
SET = "synthetic:mixed:6:0:30"


def _args(**kw) -> Namespace:
    base = dict(model=None, weights=None, preset=None, backend=None, threads=1, precision=None, da=None,
                long_term=None, search_size=None)
    return Namespace(**{**base, **kw})


def _files(folder: Path) -> dict:
    """Result files (timing files excluded: they measure, they are not results)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.txt") if "time" not in p.name}


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="ray not installed (pip install 'dasiamrt[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    with make_tracker(_args(threads=0)) as tracker:
        evaluate(SET, tracker=tracker, tracker_name="run", out_dir=out, plots=False)
    return _files(out / "results" / "run")


def test_killed_worker_loses_one_sequence_and_a_rerun_completes_only_it(ray_cluster, serial, tmp_path):
    from dasiamrt.eval.parallel import RayPool

    dataset = load_dataset(SET)
    folder = tmp_path / "results" / "run"
    pool = RayPool(functools.partial(make_tracker, _args()), workers=2)
    assert len(set(pool.pids())) == 2 and os.getpid() not in pool.pids()
    seen = []

    def kill_after_first(index, count, name, frame, frames):
        seen.append((index, count, name, frame, frames))
        if len(seen) == 1:
            os.kill(pool.pids()[0], signal.SIGKILL)

    with pytest.raises(DatasetError, match=r"1 sequence\(s\) not run .* run the same command again"):
        pool.run_dataset(dataset, folder, kill_after_first)
    pool.close()
    written = sorted(p.stem for p in folder.glob("*.txt"))
    assert len(written) == 5 and len(seen) == 5
    assert all(frame == frames == 30 and count == 6 for _, count, _, frame, frames in seen)  # per-sequence display

    again = RayPool(functools.partial(make_tracker, _args()), workers=2)
    ran = again.run_dataset(dataset, folder)
    again.close()
    assert ran == sorted(set(s.name for s in dataset) - set(written))  # only the missing sequence
    assert _files(folder) == serial  # byte-identical to the serial run


def test_cli_ray_run_and_ray_sweep_equal_serial(ray_cluster, serial, tmp_path, capsys):
    assert cli.main(["eval", "--dataset", SET, "--ray", "--workers", "2", "--out", str(tmp_path / "ray"),
                     "--name", "run", "--no-plots", "--quiet"]) == 0
    assert _files(tmp_path / "ray" / "results" / "run") == serial
    assert "| run |" in capsys.readouterr().out

    sweep = ["--sweep", "penalty_k=0.04,0.2;lr=0.3", "--dataset", "synthetic:plain:2:5:20", "--no-plots", "--quiet"]
    assert cli.main(["eval", *sweep, "--out", str(tmp_path / "s1")]) == 0
    assert cli.main(["eval", *sweep, "--out", str(tmp_path / "s2"), "--ray", "--workers", "2"]) == 0
    folders = sorted(p.name for p in (tmp_path / "s1" / "results").iterdir())
    assert folders == ["bundled-penalty_k=0.04,lr=0.3", "bundled-penalty_k=0.2,lr=0.3"]
    for name in folders:
        assert _files(tmp_path / "s2" / "results" / name) == _files(tmp_path / "s1" / "results" / name)
