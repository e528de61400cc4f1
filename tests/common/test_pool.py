"""steps/common/pool.py with trivial tasks: order, crashes, late submissions, closing, signals, the fork server."""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

from steps.common import signals
from steps.common.pool import ProcessPool, Task, TaskFailed, run_here


def square(x: int, context: Any) -> int:
    return x * x


def sleep_then(x: int, seconds: float, context: Any) -> int:
    time.sleep(seconds)
    return x


def crash(context: Any) -> None:
    os._exit(17)  # like a segfault or an OOM kill: no word to the pool


def explode(context: Any) -> None:
    raise ValueError("injected failure")


def whose(context: Any) -> Any:
    return context


def worker_setup() -> tuple:
    return ("ready", os.getpid())


def tasks(*calls: Any) -> List[Task]:
    return [Task(key, call, cost) for key, (call, cost) in enumerate(calls)]


def test_results_come_in_key_order_whatever_the_costs():
    calls = [(functools.partial(square, x), cost) for x, cost in ((1, 1), (2, 50), (3, 5), (4, 100), (5, 0.1))]
    with ProcessPool(2) as pool:
        pool.submit(tasks(*calls))
        assert pool.results() == [1, 4, 9, 16, 25]
    assert run_here(tasks(*calls)) == [1, 4, 9, 16, 25]


def test_a_task_that_kills_its_worker_fails_alone():
    calls = [(functools.partial(square, 2), 1), (crash, 1), (functools.partial(square, 3), 1), (explode, 1)]
    calls += [(functools.partial(square, x), 1) for x in range(4, 8)]
    seen = []
    with ProcessPool(2) as pool:
        pool.submit(tasks(*calls))
        results = pool.results(seen.append)
    assert results[0] == 4 and results[2] == 9 and results[4:] == [16, 25, 36, 49]
    assert results[1] == TaskFailed(1, "worker process crashed (exit code 17)")
    assert isinstance(results[3], TaskFailed) and results[3].reason.startswith("injected failure ValueError")
    assert len(seen) == len(calls)


def test_a_task_that_does_not_pickle_fails_alone():
    with ProcessPool(1) as pool:
        pool.submit([Task(0, lambda context: 1), Task(1, functools.partial(square, 5))])
        failed, value = pool.results()
    assert isinstance(failed, TaskFailed) and failed.key == 0 and value == 25


def test_setup_runs_once_per_worker_and_its_result_reaches_every_task():
    with ProcessPool(2, setup=worker_setup) as pool:
        pool.submit(Task(k, whose) for k in range(6))
        contexts = pool.results()
    assert {c[0] for c in contexts} == {"ready"} and len({c[1] for c in contexts}) <= 2
    assert os.getpid() not in {c[1] for c in contexts}
    assert run_here([Task(0, whose)], context="here") == ["here"]


def test_tasks_may_be_submitted_while_others_run():
    with ProcessPool(2) as pool:
        pool.submit([Task(0, functools.partial(sleep_then, 0, 0.3)), Task(2, functools.partial(square, 2))])
        time.sleep(0.1)
        pool.submit([Task(1, functools.partial(square, 1))])
        assert pool.results() == [0, 1, 4]
        with pytest.raises(RuntimeError):
            pool.submit([Task(3, functools.partial(square, 3))])


def test_closing_before_the_results_kills_the_workers_at_once():
    """An error in the caller ends the run: queued tasks are dropped and workers do not linger."""
    pool = ProcessPool(2)
    pool.submit(Task(k, functools.partial(sleep_then, k, 30)) for k in range(6))
    time.sleep(0.5)
    started = time.perf_counter()
    pool.close()
    assert time.perf_counter() - started < 5
    assert pool.workers and not any(w.process.is_alive() for w in pool.workers)
    with pytest.raises(RuntimeError):
        pool.results()


def test_a_signal_stops_the_wait_for_results():
    previous = {s: signal.getsignal(s) for s in signals.HANDLED}
    signals.install()
    try:
        pool = ProcessPool(1)
        pool.submit([Task(0, functools.partial(sleep_then, 0, 30))])
        started = time.perf_counter()
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(signals.Interrupted):
            pool.results()
        pool.close()
        assert time.perf_counter() - started < 5
        assert not any(w.process.is_alive() for w in pool.workers)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signals._state.update(requested=0, raised=False, deferring=0)


def test_run_here_lets_exceptions_through_and_runs_the_costliest_first():
    order: List[int] = []
    calls = [(lambda context, k=k: order.append(k) or k, cost) for k, cost in ((0, 1), (1, 3), (2, 2))]
    assert run_here(tasks(*calls)) == [0, 1, 2] and order == [1, 2, 0]
    with pytest.raises(ValueError, match="injected"):
        run_here([Task(0, explode)])


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_fork_server_does_not_hold_the_callers_output_open():
    """It outlives the caller by its interpreter's exit; a pipe reading the caller must end with it."""
    with ProcessPool(1, threads=1) as pool:
        pool.submit([Task(0, functools.partial(square, 2))])
        assert pool.results() == [4]
        servers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                if parent == os.getpid() and b"forkserver" in (stat.parent / "cmdline").read_bytes():
                    servers.append(stat.parent)
            except (OSError, ValueError, IndexError):
                continue  # a process that ended meanwhile
        assert servers
        for server in servers:
            assert os.readlink(server / "fd" / "1") == os.devnull
            assert os.readlink(server / "fd" / "2") == os.devnull
