"""Run training jobs: in-process for --jobs 1, else in at most --jobs worker processes (train.md §10.1).

Each worker is a long-lived process (`_context` says how it starts) that takes one job at a
time over a pipe, so a worker that dies (segfault, OOM kill) fails exactly the job it held; a
replacement is started for the remaining jobs. Workers only write their own staged model
folders. Jobs may be submitted while earlier ones run (so fitting overlaps the extraction of
later groups): a dispatcher thread gives each idle worker the costliest job waiting. Results
are returned in job order, so nothing depends on scheduling.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import os
import queue
import resource
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..common import signals
from ..common.errors import WriteFailure
from .fit import FitInput, FitRequest
from .trainers import CURVEFIT, TrainerSpec

# What a fit imports: loaded once by the fork server that single-threaded workers are forked from.
PRELOAD = (
    "numpy",
    "scipy.linalg",
    "scipy.optimize",
    "pandas",
    "joblib",
    "threadpoolctl",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.neighbors",
    "sklearn.preprocessing",
    "sklearn.svm",
    "xgboost",
)
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass
class Job:
    """One (source, output type, group, trainer): trains every node type of `data`."""

    key: int
    data: Union[FitInput, FitRequest]  # a request is prepared by the process that runs the job
    trainer: TrainerSpec
    seed: int
    stage: Path  # staging copy of <source>/<ot>/<FG>/
    machine_specs: Dict[int, Optional[Dict[str, Any]]] = field(default_factory=dict)
    threads: int = 1
    # The DynPower job of the same set and trainer, run right after this (AbsPower) job in the same
    # process so that its models can be derived from this job's (fit.derive_node); such a job is
    # `carried` and never runs on its own.
    carries: Optional["Job"] = None
    carried: bool = False
    curve_memo: Optional[Path] = None  # folder of the run's curvefit.CurveMemo

    @property
    def label(self) -> str:
        return f"{self.data.label}/{self.trainer.name}"

    @property
    def cost(self) -> float:
        rows = max(self.data.rows, 1)
        own = (self.trainer.cost * rows + self.trainer.quadratic * rows * rows) * len(self.data.components)
        return own + (0.1 * self.carries.cost if self.carries is not None else 0.0)  # derived: no fit


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
    peak_rss_kib: int = 0  # peak memory of the process that ran the job, when it ended (benchmark)
    derived: int = 0  # models derived from the AbsPower job's instead of fitted (fit.derive_node)
    carried: Optional["JobResult"] = None  # the result of `Job.carries`
    fatal: Optional[Tuple[str, str]] = None  # (path, reason): a file could not be written; the run stops

    def flattened(self) -> List["JobResult"]:
        """This result and the carried job's."""
        return [self] + (self.carried.flattened() if self.carried is not None else [])


def one_line(failure: BaseException) -> str:
    text = " ".join(str(failure).split()) or type(failure).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# node type -> the fitted model and the data it was fitted on, kept for the carried job
Fitted = Dict[int, Tuple[Any, Any]]


def execute(job: Job) -> JobResult:
    """Fit and write every node type of one job, then of the job it carries; a failure fails only that node type."""
    result, fitted = _execute(job, {})
    if job.carries is not None and result.fatal is None:
        result.carried, _ = _execute(job.carries, fitted)
    return result


def _execute(job: Job, base: Fitted) -> Tuple[JobResult, Fitted]:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = JobResult(key=job.key, label=job.label)
    with warnings.catch_warnings():
        # Library warnings (SGD convergence, curve-fit covariance) are not failures and would flood stderr.
        warnings.simplefilter("ignore")
        fitted = _execute_nodes(job, result, base)
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    result.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result, fitted


def _what(job: Job, node_type: int) -> str:
    return f"{job.data.label}/{job.trainer.name}_{node_type}"


def _execute_nodes(job: Job, result: JobResult, base: Fitted) -> Fitted:
    """`base`: the carrying job's models, from which this job's may be derived instead of fitted."""
    from .fit import derive_node, fit_node
    from .model_files import write_model

    fitted: Fitted = {}
    memo = None
    if job.curve_memo is not None and job.trainer.model_class == CURVEFIT:
        from .curvefit import CurveMemo

        memo = CurveMemo(job.curve_memo)
    try:
        data = job.data.resolve()
    except Exception as failure:  # noqa: BLE001 - the data of this job cannot be used: each node type fails
        result.failures.extend(Failure(_what(job, n), one_line(failure)) for n in job.data.node_types)
        return fitted
    for node in data.nodes:
        what = _what(job, node.node_type)
        try:
            fit_started = time.perf_counter()
            model = derive_node(*base[node.node_type], data, node) if node.node_type in base else None
            if model is None:
                model = fit_node(data, node, job.trainer, job.seed, job.threads, memo)
            else:
                result.derived += 1
            fitted[node.node_type] = (model, node)
            write_started = time.perf_counter()
            result.fit_seconds += write_started - fit_started
            staged = write_model(job.stage, model, data.output_type, job.machine_specs.get(node.node_type))
            result.write_seconds += time.perf_counter() - write_started
            result.models.append(staged)
        except (OSError, WriteFailure) as failure:  # the disk, not the model: fatal for the whole run
            failure = (
                failure
                if isinstance(failure, WriteFailure)
                else WriteFailure.of(failure, failure.filename or job.stage)
            )
            result.fatal = (str(failure.path), failure.reason)
            return fitted
        except Exception as failure:  # noqa: BLE001 - any error fails this model only (train.md §8.1)
            result.failures.append(Failure(what, one_line(failure)))
    return fitted


def failed(job: Job, reason: str) -> JobResult:
    """Every node type of the job, and of the job it carries, failed for one reason."""
    result = JobResult(
        key=job.key, label=job.label, failures=[Failure(_what(job, n), reason) for n in job.data.node_types]
    )
    if job.carries is not None:
        result.carried = failed(job.carries, reason)
    return result


def crashed(job: Job, exitcode: Optional[int]) -> JobResult:
    return failed(job, f"worker process crashed (exit code {exitcode})")


def unfold(results: List[JobResult]) -> List[JobResult]:
    """Every job's result, carried jobs' included, in job-key order."""
    return sorted((r for result in results for r in result.flattened()), key=lambda r: r.key)


def _limit_threads(threads: int) -> Any:
    """Cap BLAS/OpenMP pools of the libraries a fit uses (they are imported here first)."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the process that started it dies (SIGKILL of train, OOM),
    so that no orphan goes on writing into a staging folder that a later run removes."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return


def _worker(conn: Any, threads: int) -> None:
    """Worker process: take jobs until told to stop (None) or the pipe closes."""
    _die_with_parent()
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(1)
    limits = _limit_threads(threads)  # noqa: F841 - kept alive for the process lifetime
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            # Skip interpreter teardown (freeing scikit-learn, SciPy, XGBoost: about half a second of
            # CPU) that the main process would otherwise wait for; results have all been sent.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        try:
            result = execute(job)
        except BaseException as failure:  # noqa: BLE001 - report, never lose the pipe silently
            result = failed(job, one_line(failure) + " " + traceback.format_exc(limit=1).splitlines()[-1])
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


@contextlib.contextmanager
def _standard_streams_to_devnull() -> Iterator[None]:
    """File descriptors 1 and 2 point at /dev/null meanwhile (for a child started in between)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    saved: List[int] = []
    try:
        saved += [os.dup(1), os.dup(2)]
    except OSError:  # a standard stream is closed: nothing to hold open
        for fd in saved:
            os.close(fd)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


def _context(threads: int) -> Any:
    """How workers start: forked from a fork server when they run single-threaded, else spawned.

    The fork server imports the fitting libraries once (about 1.7 s of CPU), instead of every
    worker importing them; a worker is then ready at once. It is started with every native pool
    limited to one thread, so no BLAS/OpenMP thread exists to be copied in a broken state by the
    fork. Workers with more threads are spawned fresh, with the thread variables set before their
    libraries load. The fork server outlives this process by the time its interpreter takes to
    exit, so it gets /dev/null as standard output and error: a pipe reading this command's output
    ends when the command does. Workers report through their own pipes, not those streams.
    """
    if threads == 1 and "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        with _thread_environment(1), _standard_streams_to_devnull():
            forkserver.ensure_running()  # no-op when this process started it before (the same way)
        return context
    return multiprocessing.get_context("spawn")  # no forked copies of BLAS/OpenMP state


@dataclass
class _Worker:
    process: Any
    conn: Any
    job: Optional[Job] = None


def threads_per_worker(cpus: int, workers: int) -> int:
    return max(1, cpus // max(1, workers))


def run_jobs(
    jobs: List[Job],
    workers: int,
    cpus: int,
    on_result: Optional[Callable[[JobResult], None]] = None,
    pool: Optional["WorkerPool"] = None,
) -> List[JobResult]:
    """Run every job; `workers` processes at most (1 = in this process). Results in job-key order.

    `pool`: worker processes started earlier (so their imports overlap the caller's extraction).
    Carried jobs run with the job carrying them; `on_result` gets the carrying job's result.
    """
    if workers <= 1:
        results: List[JobResult] = []
        for job in sorted((j for j in jobs if not j.carried), key=lambda j: (-j.cost, j.key)):
            signals.check()
            job.threads = max(1, cpus)
            if job.carries is not None:
                job.carries.threads = job.threads
            results.append(execute(job))
            if on_result:
                on_result(results[-1])
        return unfold(results)
    own = pool is None
    pool = pool or WorkerPool(min(workers, max(1, len(jobs))), threads_per_worker(cpus, workers))
    try:
        pool.submit(jobs)
        return pool.results(on_result)
    finally:
        if own:
            pool.close()


class WorkerPool:
    """Long-lived spawned workers, one job at a time each; a dead worker fails only its job.

    `submit` may be called while earlier jobs run; `results` waits for all of them. A dispatcher
    thread owns the workers: it starts them (a fork server answers only once it has imported the
    libraries, so the caller does not wait for that), then sleeps in `wait` on the busy workers'
    pipes and on a wake-up pipe that `submit` writes to, so an idle worker gets a new job at once,
    whatever the main thread does.
    """

    def __init__(self, size: int, threads: int) -> None:
        self.threads = threads
        self.size = max(1, size)
        self.context = _context(threads)
        self.workers: List[_Worker] = []
        if self.context.get_start_method() == "spawn":  # starting does not block: no need for the thread
            self.workers = [self._start() for _ in range(self.size)]
        self._lock = threading.Lock()
        self._pending: List[Tuple[float, int, Job]] = []  # heap: costliest first, then job key
        self._closed = False  # no more submissions
        self._submitted = 0
        self._results: "queue.Queue[Any]" = queue.Queue()  # JobResult, or the dispatcher's exception
        self._wake_read, self._wake_write = os.pipe()
        self._collected = False  # results() returned every submitted job
        self._stopped = False
        self._thread = threading.Thread(target=self._dispatch, name="train-dispatcher", daemon=True)
        self._thread.start()

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, self.threads), daemon=True)
        if self.context.get_start_method() == "spawn":
            with _thread_environment(self.threads):
                process.start()
        else:
            process.start()  # a fork of the fork server: its environment was set when it started
        child.close()
        return _Worker(process, parent)

    def _replace(self, index: int) -> _Worker:
        old = self.workers[index]
        old.process.join(timeout=1)
        old.conn.close()
        self.workers[index] = self._start()
        return self.workers[index]

    def submit(self, jobs: List[Job]) -> None:
        """Queue jobs; the dispatcher starts them as workers free up, costliest first."""
        with self._lock:
            if self._closed:
                raise RuntimeError("jobs submitted after results() or close()")
            own = [job for job in jobs if not job.carried]  # carried jobs travel with their carrier
            for job in own:
                job.threads = self.threads
                if job.carries is not None:
                    job.carries.threads = self.threads
                heapq.heappush(self._pending, (-job.cost, job.key, job))
            self._submitted += len(own)
        self._wake()

    def results(self, on_result: Optional[Callable[[JobResult], None]] = None) -> List[JobResult]:
        """Close submissions and wait for every submitted job; results (carried jobs' too) in job-key order."""
        with self._lock:
            self._closed = True
            expected = self._submitted
        self._wake()
        collected: Dict[int, JobResult] = {}
        while len(collected) < expected:
            try:
                item = self._results.get(timeout=0.25)
            except queue.Empty:
                signals.check()  # a stop asked for while the workers fit
                continue
            if isinstance(item, BaseException):
                raise item
            collected[item.key] = item
            if on_result:
                on_result(item)
        with self._lock:
            self._collected = True
        return unfold(list(collected.values()))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _take(self) -> Optional[Job]:
        with self._lock:
            return heapq.heappop(self._pending)[2] if self._pending else None

    def _dropped(self) -> bool:
        with self._lock:
            return self._closed and not self._pending

    def _finished(self) -> bool:
        with self._lock:
            return self._closed and not self._pending and all(w.job is None for w in self.workers)

    def _dispatch(self) -> None:
        try:
            while len(self.workers) < self.size and not self._dropped():
                self.workers.append(self._start())
            while not self._finished():
                for index in range(len(self.workers)):
                    if self.workers[index].job is None:
                        self._assign(index)
                busy = [w for w in self.workers if w.job is not None]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy] + [self._wake_read])
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                self._collect()
        except BaseException as failure:  # noqa: BLE001 - hand it to the waiting main thread
            self._results.put(failure)

    def _assign(self, index: int) -> None:
        job = self._take()
        if job is None:
            return
        worker = self.workers[index]
        if not worker.process.is_alive():
            worker = self._replace(index)
        try:
            worker.conn.send(job)
            worker.job = job
        except (OSError, BrokenPipeError):
            self._results.put(crashed(job, worker.process.exitcode))
            self._replace(index)
        except Exception as failure:  # noqa: BLE001 - the job did not pickle: it alone fails
            self._results.put(failed(job, one_line(failure)))

    def _collect(self) -> None:
        """Take the results of workers that answered; fail the job of a worker that died."""
        for worker in self.workers:
            if worker.job is None:
                continue
            if worker.conn.poll():
                try:
                    self._results.put(worker.conn.recv())
                except (EOFError, OSError):
                    worker.process.join(timeout=1)  # so its exit code is known
                    self._results.put(crashed(worker.job, worker.process.exitcode))
                worker.job = None
            elif not worker.process.is_alive():
                self._results.put(crashed(worker.job, worker.process.exitcode))
                worker.job = None

    def stop(self) -> None:
        """After `results`: tell the workers to exit, without waiting for them (`close` reaps them)."""
        if self._stopped:
            return
        self._stopped = True
        self._halt()
        for worker in self.workers:
            with contextlib.suppress(OSError, BrokenPipeError):
                worker.conn.send(None)

    def close(self) -> None:
        """Reap the workers; before `results` ended (an error), kill them: their jobs are not wanted."""
        if not self._stopped:
            with self._lock:
                unfinished = not self._collected
            if unfinished:
                self._stopped = True
                self._drop_pending()
                for worker in list(self.workers):
                    worker.process.terminate()
                self._halt()
                for worker in self.workers:  # any started meanwhile
                    worker.process.terminate()
            else:
                self.stop()
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()
        if self._wake_read >= 0:
            os.close(self._wake_read)
            os.close(self._wake_write)
            self._wake_read = self._wake_write = -1

    def _drop_pending(self) -> None:
        with self._lock:
            self._closed = True
            self._pending.clear()

    def _halt(self) -> None:
        """Drop the jobs not started and end the dispatcher (after the running jobs end or die)."""
        self._drop_pending()
        self._wake()
        self._thread.join()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
