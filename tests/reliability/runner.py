"""Run command lines of the corpus as a new user would (a fresh ``python -m dasiamrt.cli`` each), several at once."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from dasiamrt.assets import BUNDLED_MODEL

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    """What one command line did."""

    argv: Tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    out_dir: Path
    out_before: Dict[str, int]
    out_after: Dict[str, int]


def env() -> Dict[str, str]:
    """The environment of a fresh shell: this tree first on the path, no control token."""
    result = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result.pop("DASIAMRT_CONTROL_TOKEN", None)
    return result


def snapshot(folder: Path) -> Dict[str, int]:
    """Relative path -> size of every file and folder below ``folder`` (hidden temp files included)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1) for p in folder.rglob("*")}


def expand(line: str, data: Path, out: Path) -> List[str]:
    values = {"{D}": str(data), "{O}": str(out), "{C}": str(data / "clip.mp4"), "{M}": str(BUNDLED_MODEL),
              "{I}": "221,11,225,169"}
    argv = shlex.split(line)
    for key, value in values.items():
        argv = [a.replace(key, value) for a in argv]
    return argv


def run_one(line: str, data: Path, out: Path, copy_clip: bool, timeout: float = 180.0) -> Run:
    out.mkdir(parents=True, exist_ok=True)
    if copy_clip:
        shutil.copy(data / "clip.mp4", out / "clip.mp4")
    before = snapshot(out)
    argv = tuple(expand(line, data, out))
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env(), cwd=str(out), stdin=subprocess.DEVNULL)
    return Run(argv, proc.returncode, proc.stdout, proc.stderr, out, before, snapshot(out))


def run_many(jobs: Iterable[Tuple[str, str, bool]], data: Path, out_root: Path, workers: int = 4) -> Dict[str, Run]:
    """``(key, command line, copy the clip into the output folder first)`` -> :class:`Run`, ``workers`` at a time."""
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(run_one, line, data, out_root / key.replace("/", "_"), copy)
                   for key, line, copy in jobs}
        return {key: future.result() for key, future in futures.items()}
