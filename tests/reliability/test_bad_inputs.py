"""The corpus of bad inputs (``corpus.py``): each exits 2 with one line that names the problem and the fix,
no traceback, and writes nothing (no output, no temp file, the inputs untouched).

The command lines run as separate processes, as a user runs them, four at a time (a session fixture
runs the selected cases up front; each test then checks its own).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict

import pytest

from .corpus import CASES
from .corpus_data import build
from .runner import Run, run_many, snapshot

IDS = [f"{kind.split(':')[-1]}-{name}" for kind, name, _, _ in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="session")
def corpus_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("corpus") / "data")


@pytest.fixture(scope="session")
def corpus_before(corpus_data: Path) -> Dict[str, int]:
    return snapshot(corpus_data)


@pytest.fixture(scope="session")
def corpus_runs(request: pytest.FixtureRequest, corpus_data: Path, corpus_before: Dict[str, int],
                tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Run]:
    """The selected cases, run before their tests (four processes at a time)."""
    wanted = {item.callspec.id for item in request.session.items
              if getattr(item, "originalname", "") == "test_bad_input" and hasattr(item, "callspec")}
    jobs = [(case_id, line, kind.startswith("copy:")) for case_id, (kind, _, line, _) in zip(IDS, CASES)
            if case_id in wanted and (HAS_TORCH or kind != "checkpoint")]
    return run_many(jobs, corpus_data, tmp_path_factory.mktemp("corpus_out"))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input(case, corpus_runs, request):
    kind, _, line, expected = case
    if kind == "checkpoint" and not HAS_TORCH:
        pytest.skip("checkpoints load with torch")
    run = corpus_runs[request.node.callspec.id]
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    detail = f"{' '.join(run.argv)}\nexit {run.returncode}\nstderr:\n{run.stderr}\nstdout:\n{run.stdout}"
    assert "Traceback" not in run.stderr, detail
    assert run.returncode == 2, detail
    assert len(lines) == 1, detail
    assert expected in lines[0], detail
    assert lines[0].startswith("dasiamrt"), detail
    assert run.out_after == run.out_before, f"files written: {sorted(set(run.out_after) - set(run.out_before))}"


def test_corpus_leaves_its_inputs_untouched(corpus_runs, corpus_data, corpus_before):
    assert snapshot(corpus_data) == corpus_before


def test_corpus_covers_every_kind():
    kinds = {kind.split(":")[-1] for kind, *_ in CASES}
    assert kinds >= {"video", "folder", "box", "model", "checkpoint", "option", "output", "dataset", "bench",
                     "camera", "udp", "calibration"}
    assert len(CASES) >= 129
