"""Run training jobs: in-process for --jobs 1, else in at most --jobs worker processes (train.md §10.1).

Each worker is a long-lived spawned process that takes one job at a time over a pipe, so a
worker that dies (segfault, OOM kill) fails exactly the job it held; a replacement is started
for the remaining jobs. Workers only write their own staged model folders. Jobs start slowest
first; results are returned in job order, so nothing depends on scheduling.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

from .fit import FitInput
from .trainers import TrainerSpec

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Job:
    """One (source, output type, group, trainer): trains every node type of `data`."""

    key: int
    data: FitInput
    trainer: TrainerSpec
    seed: int
    stage: Path  # staging copy of <source>/<ot>/<FG>/
    machine_specs: Dict[int, Optional[Dict[str, Any]]] = field(default_factory=dict)
    threads: int = 1

    @property
    def label(self) -> str:
        return f"{self.data.label}/{self.trainer.name}"

    @property
    def cost(self) -> float:
        rows = max(self.data.rows, 1)
        return (self.trainer.cost * rows + self.trainer.quadratic * rows * rows) * len(self.data.components)


@dataclass
class Failure:
    what: str
    reason: str


@dataclass
class JobResult:
    key: int
    label: str
    models: List[Any] = field(default_factory=list)  # StagedModel
    failures: List[Failure] = field(default_factory=list)
    seconds: float = 0.0  # the job's own wall time in its process (fit + write)
    cpu_seconds: float = 0.0  # the job's own CPU time (independent of other load on the machine)
    fit_seconds: float = 0.0
    write_seconds: float = 0.0


def one_line(failure: BaseException) -> str:
    text = " ".join(str(failure).split()) or type(failure).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def execute(job: Job) -> JobResult:
    """Fit and write every node type of one job; a failure fails only that node type."""
    started, cpu_started = time.perf_counter(), time.process_time()
    result = JobResult(key=job.key, label=job.label)
    with warnings.catch_warnings():
        # Library warnings (SGD convergence, curve-fit covariance) are not failures and would flood stderr.
        warnings.simplefilter("ignore")
        _execute_nodes(job, result)
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def _execute_nodes(job: Job, result: JobResult) -> None:
    from .fit import fit_node
    from .model_files import write_model

    for node in job.data.nodes:
        what = f"{job.data.label}/{job.trainer.name}_{node.node_type}"
        try:
            fit_started = time.perf_counter()
            model = fit_node(job.data, node, job.trainer, job.seed, job.threads)
            write_started = time.perf_counter()
            result.fit_seconds += write_started - fit_started
            staged = write_model(job.stage, model, job.data.output_type, job.machine_specs.get(node.node_type))
            result.write_seconds += time.perf_counter() - write_started
            result.models.append(staged)
        except Exception as failure:  # noqa: BLE001 - any error fails this model only (train.md §8.1)
            result.failures.append(Failure(what, one_line(failure)))


def crashed(job: Job, exitcode: Optional[int]) -> JobResult:
    reason = f"worker process crashed (exit code {exitcode})"
    return JobResult(key=job.key, label=job.label,
                     failures=[Failure(f"{job.data.label}/{job.trainer.name}_{n.node_type}", reason)
                               for n in job.data.nodes])


def _limit_threads(threads: int) -> Any:
    """Cap BLAS/OpenMP pools of the libraries a fit uses (they are imported here first)."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=threads)


def _worker(conn: Any, threads: int) -> None:
    """Worker process: take jobs until told to stop (None) or the pipe closes."""
    limits = _limit_threads(threads)  # noqa: F841 - kept alive for the process lifetime
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            result = execute(job)
        except BaseException as failure:  # noqa: BLE001 - report, never lose the pipe silently
            result = JobResult(key=job.key, label=job.label,
                               failures=[Failure(job.label, one_line(failure) + " " +
                                                 traceback.format_exc(limit=1).splitlines()[-1])])
        conn.send(result)


@contextlib.contextmanager
def _thread_environment(threads: int) -> Iterator[None]:
    """Spawned children inherit the environment: native pools read these at load time."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES + ("OMP_WAIT_POLICY",)}
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    # Idle OpenMP threads sleep instead of spinning on CPUs the other workers need.
    os.environ["OMP_WAIT_POLICY"] = saved["OMP_WAIT_POLICY"] or "PASSIVE"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _Worker:
    process: Any
    conn: Any
    job: Optional[Job] = None


def threads_per_worker(cpus: int, workers: int) -> int:
    return max(1, cpus // max(1, workers))


def run_jobs(jobs: List[Job], workers: int, cpus: int,
             on_result: Optional[Callable[[JobResult], None]] = None,
             pool: Optional["WorkerPool"] = None) -> List[JobResult]:
    """Run every job; `workers` processes at most (1 = in this process). Results in job-key order.

    `pool`: worker processes started earlier (so their imports overlap the caller's extraction).
    """
    order = sorted(jobs, key=lambda j: (-j.cost, j.key))
    results: Dict[int, JobResult] = {}

    def record(result: JobResult) -> None:
        results[result.key] = result
        if on_result:
            on_result(result)

    if workers <= 1:
        for job in order:
            job.threads = max(1, cpus)
            record(execute(job))
    else:
        threads = threads_per_worker(cpus, workers)
        for job in order:
            job.threads = threads
        own = pool is None
        pool = pool or WorkerPool(min(workers, max(1, len(order))), threads)
        try:
            pool.run(deque(order), record)
        finally:
            if own:
                pool.close()
    return [results[j.key] for j in sorted(jobs, key=lambda j: j.key)]


class WorkerPool:
    """Long-lived spawned workers, one job at a time each; a dead worker fails only its job."""

    def __init__(self, size: int, threads: int) -> None:
        self.threads = threads
        self.context = multiprocessing.get_context("spawn")  # no forked copies of BLAS/OpenMP state
        self.workers: List[_Worker] = [self._start() for _ in range(max(1, size))]

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        with _thread_environment(self.threads):
            process = self.context.Process(target=_worker, args=(child, self.threads), daemon=True)
            process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, index: int) -> _Worker:
        old = self.workers[index]
        old.process.join(timeout=1)
        old.conn.close()
        self.workers[index] = self._start()
        return self.workers[index]

    def run(self, pending: Deque[Job], record: Callable[[JobResult], None]) -> None:
        def assign(worker: _Worker) -> None:
            worker.job = pending.popleft() if pending else None
            if worker.job is None:
                return
            try:
                worker.conn.send(worker.job)
            except (OSError, BrokenPipeError):
                record(crashed(worker.job, worker.process.exitcode))
                worker.job = None

        for index, worker in enumerate(self.workers):
            if not worker.process.is_alive():
                worker = self._replace(index)
            assign(worker)
        while any(w.job is not None for w in self.workers):
            busy = [w for w in self.workers if w.job is not None]
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for index, worker in enumerate(self.workers):
                if worker.job is None:
                    continue
                if worker.conn.poll():
                    try:
                        record(worker.conn.recv())
                    except (EOFError, OSError):
                        record(crashed(worker.job, worker.process.exitcode))
                        worker.job = None
                        worker = self._replace(index)
                    assign(worker)
                elif not worker.process.is_alive():
                    record(crashed(worker.job, worker.process.exitcode))
                    worker.job = None
                    if pending:
                        assign(self._replace(index))

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError, BrokenPipeError):
                worker.conn.send(None)
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
