"""Run picklable tasks in long-lived worker processes; a worker that dies fails only its own task.

Each worker takes one task at a time over a pipe, so a worker that dies (segfault, OOM kill) loses
exactly the task it held; a replacement starts for the tasks left. Tasks may be submitted while
earlier ones run: a dispatcher thread gives each idle worker the costliest task waiting, whatever
the caller's thread is doing meanwhile. Results come back in task-key order, so nothing depends on
the scheduling. `run_here` runs the same tasks in the calling process (one worker: no processes).

The pool knows nothing of what the tasks do: the caller passes `setup`, run once in each worker
(its return value is handed to every task there), and the modules to preload.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import os
import pickle
import queue
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import signals

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass
class Task:
    """A unit of work: `call(context)` runs in a worker, `context` being what `setup` returned there."""

    key: int  # unique among the tasks of a pool; results come back in key order
    call: Callable[[Any], Any]  # picklable, and so is what it returns
    cost: float = 1.0  # relative run time: the costliest task waiting starts first


@dataclass
class TaskFailed:
    """The result of a task that gave none: its worker died, it raised, or it could not be sent."""

    key: int
    reason: str


def one_line(failure: BaseException) -> str:
    """An exception as one line of at most 300 characters."""
    text = " ".join(str(failure).split()) or type(failure).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def threads_per_worker(cpus: int, workers: int) -> int:
    """The native threads each of `workers` processes may use on `cpus` CPUs (at least one)."""
    return max(1, cpus // max(1, workers))


def run_here(
    tasks: Iterable[Task], context: Any = None, on_result: Optional[Callable[[Any], None]] = None
) -> List[Any]:
    """Run the tasks in this process, costliest first; their results in key order.

    A task's exception propagates (a stop asked for by a signal is checked between tasks).
    """
    results: Dict[int, Any] = {}
    for task in sorted(tasks, key=lambda t: (-t.cost, t.key)):
        signals.check()
        results[task.key] = task.call(context)
        if on_result is not None:
            on_result(results[task.key])
    return [results[key] for key in sorted(results)]


# -------------------------------------------------------------------------------- worker side


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the process that started it dies (SIGKILL of the caller,
    OOM), so that no orphan goes on with work that a later run removes."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return


def _worker(conn: Any, setup: Optional[Callable[[], Any]]) -> None:
    """Worker process: run tasks until told to stop (None) or the pipe closes."""
    _die_with_parent()
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(1)
    context = setup() if setup is not None else None
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            # Skip interpreter teardown (freeing numerical libraries: about half a second of CPU)
            # that the caller would otherwise wait for; results have all been sent.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        try:
            result = task.call(context)
        except BaseException as failure:  # noqa: BLE001 - report, never lose the pipe silently
            result = TaskFailed(task.key, one_line(failure) + " " + traceback.format_exc(limit=1).splitlines()[-1])
        try:
            conn.send(result)
        except (pickle.PicklingError, TypeError, AttributeError) as failure:  # pickled before a byte is sent
            conn.send(TaskFailed(task.key, f"its result cannot be sent back: {one_line(failure)}"))


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


def _context(threads: int, preload: Sequence[str]) -> Any:
    """How workers start: forked from a fork server when they run single-threaded, else spawned.

    The fork server imports `preload` once (for numerical libraries, seconds of CPU), instead of
    every worker importing them; a worker is then ready at once. It is started with every native
    pool limited to one thread, so no BLAS/OpenMP thread exists to be copied in a broken state by
    the fork. Workers with more threads are spawned fresh, with the thread variables set before
    their libraries load. The fork server outlives this process by the time its interpreter takes
    to exit, so it gets /dev/null as standard output and error: a pipe reading this command's
    output ends when the command does. Workers report through their own pipes, not those streams.
    """
    if threads == 1 and "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        with _thread_environment(1), _standard_streams_to_devnull():
            forkserver.ensure_running()  # no-op when this process started it before (the same way)
        return context
    return multiprocessing.get_context("spawn")  # no forked copies of BLAS/OpenMP state


# -------------------------------------------------------------------------------- the pool

OPEN, CLOSED, DONE, ABORTED = "open", "closed", "done", "aborted"


@dataclass
class _Worker:
    process: Any
    conn: Any
    task: Optional[Task] = None


class ProcessPool:
    """`size` long-lived workers, one task at a time each; a dead worker fails only its task.

    Life cycle: OPEN (`submit` any number of times) -> CLOSED (`results` waits for every task)
    -> DONE (all results returned: the workers are told to exit); `close` reaps the workers, and
    before DONE (the caller gave up: an error, a signal) drops the tasks waiting and kills the
    workers at once. A dispatcher thread owns the workers: it starts them (a fork server answers
    only once it has imported its modules, so the caller does not wait for that), then sleeps in
    `wait` on the busy workers' pipes and on a wake-up pipe that `submit` writes to.
    """

    def __init__(
        self, size: int, setup: Optional[Callable[[], Any]] = None, threads: int = 1, preload: Sequence[str] = ()
    ) -> None:
        self.size, self.setup, self.threads = max(1, size), setup, threads
        self.context = _context(threads, preload)
        self.workers: List[_Worker] = []
        if self.context.get_start_method() == "spawn":  # starting does not block: no need for the thread
            self.workers = [self._start() for _ in range(self.size)]
        self._lock = threading.Lock()
        self._state = OPEN
        self._pending: List[Tuple[float, int, Task]] = []  # heap: costliest first, then key
        self._submitted = 0
        self._results: "queue.Queue[Any]" = queue.Queue()  # (key, result), or the dispatcher's exception
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._dispatch, name="pool-dispatcher", daemon=True)
        self._thread.start()

    def __enter__(self) -> "ProcessPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the caller's side
    def submit(self, tasks: Iterable[Task]) -> None:
        """Queue tasks; the dispatcher starts them as workers free up, costliest first."""
        with self._lock:
            if self._state != OPEN:
                raise RuntimeError("tasks submitted after results() or close()")
            for task in tasks:
                heapq.heappush(self._pending, (-task.cost, task.key, task))
                self._submitted += 1
        self._wake()

    def results(self, on_result: Optional[Callable[[Any], None]] = None) -> List[Any]:
        """Close submissions and wait for every task; results (or TaskFailed) in key order.

        `on_result` gets each result as it arrives. A stop asked for by a signal is raised here.
        """
        with self._lock:
            if self._state != OPEN:
                raise RuntimeError("results() called twice or after close()")
            self._state = CLOSED
            expected = self._submitted
        self._wake()
        collected: Dict[int, Any] = {}
        while len(collected) < expected:
            signals.check()
            try:
                item = self._results.get(timeout=0.25)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            key, result = item
            collected[key] = result
            if on_result is not None:
                on_result(result)
        self._finish()
        return [collected[key] for key in sorted(collected)]

    def close(self) -> None:
        """Reap the workers; before `results` returned, kill them first: their tasks are not wanted."""
        with self._lock:
            aborting = self._state in (OPEN, CLOSED)
            if aborting:
                self._state = ABORTED
                self._pending.clear()
        if aborting:
            for worker in list(self.workers):
                worker.process.terminate()
            self._wake()
            self._thread.join()
            for worker in self.workers:  # any started meanwhile
                worker.process.terminate()
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

    def _finish(self) -> None:
        """Every result is in: end the dispatcher and tell the workers to exit (`close` reaps them)."""
        with self._lock:
            self._state = DONE
        self._wake()
        self._thread.join()
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)

    # -- the dispatcher's side
    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, self.setup), daemon=True)
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

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _take(self) -> Optional[Task]:
        with self._lock:
            return heapq.heappop(self._pending)[2] if self._pending else None

    def _no_more_work(self) -> bool:
        """No task waits and none can come."""
        with self._lock:
            return self._state != OPEN and not self._pending

    def _dispatch(self) -> None:
        try:
            while len(self.workers) < self.size and not self._no_more_work():
                self.workers.append(self._start())
            while not (self._no_more_work() and all(w.task is None for w in self.workers)):
                for index in range(len(self.workers)):
                    if self.workers[index].task is None:
                        self._assign(index)
                busy = [w for w in self.workers if w.task is not None]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy] + [self._wake_read])
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                self._collect()
        except BaseException as failure:  # noqa: BLE001 - hand it to the waiting caller
            self._results.put(failure)

    def _crashed(self, worker: _Worker) -> None:
        task, worker.task = worker.task, None
        assert task is not None
        self._results.put(
            (task.key, TaskFailed(task.key, f"worker process crashed (exit code {worker.process.exitcode})"))
        )

    def _assign(self, index: int) -> None:
        task = self._take()
        if task is None:
            return
        worker = self.workers[index]
        if not worker.process.is_alive():
            worker = self._replace(index)
        worker.task = task
        try:
            worker.conn.send(task)
        except OSError:
            self._crashed(worker)
            self._replace(index)
        except Exception as failure:  # noqa: BLE001 - the task did not pickle: it alone fails
            worker.task = None
            self._results.put((task.key, TaskFailed(task.key, one_line(failure))))

    def _collect(self) -> None:
        """Take the results of workers that answered; fail the task of a worker that died."""
        for worker in self.workers:
            if worker.task is None:
                continue
            if worker.conn.poll():
                try:
                    result = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(timeout=1)  # so its exit code is known
                    self._crashed(worker)
                    continue
                self._results.put((worker.task.key, result))
                worker.task = None
            elif not worker.process.is_alive():
                self._crashed(worker)
