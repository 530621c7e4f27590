"""Evaluation at scale on Ray: sequences as tasks on worker actors, one model load per worker.

:class:`RayPool` starts (or joins) a Ray cluster and one :class:`SequenceWorker` actor per GPU (one
tracker per GPU, ``num_gpus=1`` each: Ray sets ``CUDA_VISIBLE_DEVICES``) or, without GPUs, per CPU.
Each worker builds its tracker once and runs (settings, sequence) items with the one tracking loop
of :func:`dasiamrt.eval.runner.run_sequence`; for a settings sweep it makes a
:class:`~dasiamrt.runtime.tracker.Tracker` with the item's settings on its already loaded backend.
The driver writes every result file (atomically, the result file last), so the result files stay the
checkpoint: a rerun skips what exists, and the files are byte-identical to a serial run's (timing
files aside). A worker that dies loses only the sequence it was running; the run finishes the others
and then says how many to complete by running the same command again.

Ray is imported here only (``pip install 'dasiamrt[ray]'``); the serial path needs nothing of it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import DasiamrtError, DatasetError, MissingDependencyError
from . import results as rio
from .datasets.base import Dataset
from .runner import Progress, run_sequence, write_sequence

log = logging.getLogger(__name__)

#: (results folder, tracker settings or None for the worker's own): one run of a dataset.
Job = Tuple[Path, Any]


def import_ray() -> Any:
    """The ``ray`` module, or a one-line install hint."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "evaluation on Ray (--ray)", "pip install 'dasiamrt[ray]'") from None
    return ray


class SequenceWorker:
    """Body of a Ray actor: one tracker (one model load), many sequences.

    Args:
        make_tracker: builds the tracker (called once, in the worker process).
    """

    def __init__(self, make_tracker: Callable[[], Any]) -> None:
        self.tracker = make_tracker()

    def config(self) -> Any:
        """The settings of the worker's own tracker (what a run without a sweep records)."""
        return getattr(self.tracker, "config", None)

    def pid(self) -> int:
        return os.getpid()

    def run(self, kind: str, config: Any, seq: Any) -> Tuple[Any, List[float], List[float]]:
        """Run one sequence under protocol ``kind`` with ``config`` (None: the worker's settings)."""
        tracker = self.tracker
        if config is not None and config != tracker.config:
            tracker = type(tracker)(tracker.backend, config)  # same backend: no second model load
        return run_sequence(tracker, kind, seq)


class RayPool:
    """Worker actors on a Ray cluster; usable wherever :func:`dasiamrt.eval.evaluate` takes a tracker.

    Args:
        make_tracker: builds one tracker; pickled (cloudpickle) to the workers.
        address: None or "local" for a local cluster on this machine, else a cluster address
            ("auto", "ray://head:10001").
        workers: number of actors (default: one per GPU of the cluster, else one per CPU).
        cpus_per_worker: CPUs reserved per actor on a CPU-only cluster.

    Raises:
        MissingDependencyError: ray is not installed.
    """

    def __init__(self, make_tracker: Callable[[], Any], address: Optional[str] = None,
                 workers: Optional[int] = None, cpus_per_worker: int = 1) -> None:
        ray = self.ray = import_ray()
        if not ray.is_initialized():
            local = address in (None, "", "local")
            ray.init(address=None if local else address, include_dashboard=False, log_to_driver=True,
                     num_cpus=workers * cpus_per_worker if local and workers else None)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        count = workers or gpus or max(1, int(resources.get("CPU", 1)) // cpus_per_worker)
        options: Dict[str, Any] = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": cpus_per_worker}
        remote = ray.remote(SequenceWorker).options(**options)
        self.actors = [remote.remote(make_tracker) for _ in range(count)]
        self.config = ray.get(self.actors[0].config.remote())
        log.info("Ray: %d workers (%s)", count, "one GPU each" if gpus else f"{cpus_per_worker} CPU each")

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def pids(self) -> List[int]:
        """Process ids of the workers (tests kill one)."""
        return [int(p) for p in self.ray.get([a.pid.remote() for a in self.actors])]

    def run_dataset(self, dataset: Dataset, results_dir: Path, progress: Optional[Progress] = None) -> List[str]:
        """Like :func:`dasiamrt.eval.runner.run_dataset`, on the workers."""
        return [name for _, name in self.run_jobs([(Path(results_dir), None)], dataset, progress)]

    def run_jobs(self, jobs: Sequence[Job], dataset: Dataset, progress: Optional[Progress] = None
                 ) -> List[Tuple[Path, str]]:
        """Run every (job, sequence) pair that lacks a result file; returns the pairs run.

        Raises:
            DatasetError: a worker died (the others' results are written; rerun to complete), or a
                sequence failed with a user error (its message).
        """
        kind, total = dataset.kind, len(jobs) * len(dataset)
        items = [(Path(folder), config, seq) for folder, config in jobs for seq in dataset
                 if not rio.has_result(kind, Path(folder), seq.name)]
        finished, failed, done = total - len(items), [], []
        refs = {seq.name: self.ray.put(seq) for seq in {id(s): s for _, _, s in items}.values()}
        free, running = list(self.actors), {}  # type: Tuple[List[Any], Dict[Any, Any]]
        while items or running:
            while free and items:
                actor, item = free.pop(), items.pop(0)
                running[actor.run.remote(kind, item[1], refs[item[2].name])] = (actor, item)
            if not running:
                break  # every worker died
            (ready,), _ = self.ray.wait(list(running), num_returns=1)
            actor, (folder, _config, seq) = running.pop(ready)
            try:
                output, times, scores = self._get(ready)
            except self.ray.exceptions.RayActorError as err:
                log.warning("worker running %s died: %s", seq.name, str(err).splitlines()[0])
                failed.append(seq.name)
                continue
            write_sequence(kind, folder, seq.name, output, times, scores)
            free.append(actor)
            done.append((folder, seq.name))
            finished += 1
            if progress is not None:
                progress(finished - 1, total, seq.name, len(seq), len(seq))
        missing = len(failed) + len(items)
        if missing:
            raise DatasetError(f"{missing} sequence(s) not run (a Ray worker died while running {failed[:3]}); "
                               f"{len(done)} written: run the same command again to complete the rest")
        return done

    def _get(self, ref: Any) -> Tuple[Any, List[float], List[float]]:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, DasiamrtError):
                raise cause from None
            raise
