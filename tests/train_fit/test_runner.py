"""The parallel runner: failures stay local, crashed workers fail one job, results do not depend on --jobs."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, List

import pytest

from steps.train.fit import prepare
from steps.train.runner import Job, run_jobs
from steps.train.trainers import SCIKIT, TRAINERS
from tests.train_fit.helpers import dram_sigmoid, sigmoid_power, training_set


class _Exploding:
    def fit(self, x: Any, y: Any) -> None:
        raise RuntimeError("injected failure")


def build_exploding(seed: int, threads: int) -> Any:
    return _Exploding()


class _Crashing:
    def fit(self, x: Any, y: Any) -> None:
        os._exit(17)  # a worker dying without a word (like a segfault or an OOM kill)


def build_crashing(seed: int, threads: int) -> Any:
    return _Crashing()


EXPLODING = replace(TRAINERS["LinearRegressionTrainer"], name="ExplodingTrainer", build=build_exploding, weight=None)
CRASHING = replace(
    TRAINERS["LinearRegressionTrainer"], name="CrashingTrainer", build=build_crashing, weight=None, model_class=SCIKIT
)


def _jobs(stage: Path, trainers: List[Any], seed: int = 0) -> List[Job]:
    data = prepare(training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid, node_types=(0, 1)), seed)
    return [Job(key=i, data=data, trainer=t, seed=seed, stage=stage) for i, t in enumerate(trainers)]


def _listing(stage: Path) -> List[str]:
    return sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_trainer_never_stops_the_others_and_leaves_nothing(tmp_path: Path, workers: int):
    trainers = [TRAINERS["LinearRegressionTrainer"], EXPLODING, TRAINERS["KNeighborsRegressorTrainer"]]
    results = run_jobs(_jobs(tmp_path, trainers), workers, cpus=2)
    assert [r.label.rsplit("/", 1)[1] for r in results] == [t.name for t in trainers]
    assert [len(r.models) for r in results] == [2, 0, 2]
    assert [f.what.rsplit("/", 1)[1] for f in results[1].failures] == ["ExplodingTrainer_0", "ExplodingTrainer_1"]
    assert all(f.reason == "injected failure" for f in results[1].failures)
    listing = _listing(tmp_path)
    assert not [p for p in listing if "Exploding" in p or "/." in p or p.startswith(".")], listing
    assert "LinearRegressionTrainer_1.zip" in listing and "KNeighborsRegressorTrainer_0" in listing


def test_a_crashed_worker_fails_only_its_job(tmp_path: Path):
    trainers = [
        TRAINERS["LinearRegressionTrainer"],
        CRASHING,
        TRAINERS["SGDRegressorTrainer"],
        TRAINERS["KNeighborsRegressorTrainer"],
    ]
    results = run_jobs(_jobs(tmp_path, trainers), 2, cpus=2)
    assert [len(r.models) for r in results] == [2, 0, 2, 2], [r.failures for r in results]
    assert {f.reason for f in results[1].failures} == {"worker process crashed (exit code 17)"}
    assert len(results[1].failures) == 2
    assert not [p for p in _listing(tmp_path) if "Crashing" in p and not p.startswith(".")]


def test_results_do_not_depend_on_the_number_of_workers(tmp_path: Path):
    names = [
        "XgboostFitTrainer",
        "SGDRegressorTrainer",
        "GradientBoostingRegressorTrainer",
        "LogisticRegressionTrainer",
        "SVRRegressorTrainer",
    ]
    outputs = {}
    for workers in (1, 2):
        stage = tmp_path / f"w{workers}"
        results = run_jobs(_jobs(stage, [TRAINERS[n] for n in names], seed=7), workers, cpus=2)
        outputs[workers] = (
            [m.metadata for r in results for m in r.models],
            {
                p.relative_to(stage).as_posix(): p.read_bytes()
                for p in sorted(stage.rglob("*"))
                if p.is_file() and p.suffix in (".json", ".pkl")
            },
        )
    assert outputs[1][0] == outputs[2][0]
    assert outputs[1][1].keys() == outputs[2][1].keys()
    differing = [name for name in outputs[1][1] if outputs[1][1][name] != outputs[2][1][name]]
    assert differing == []


def test_jobs_submitted_while_others_run_match_an_in_process_run(tmp_path: Path):
    """Workers prepare FitRequests themselves; late submissions and scheduling change no byte."""
    import time

    from steps.train.fit import FitRequest
    from steps.train.runner import WorkerPool

    names = ["SVRRegressorTrainer", "XgboostFitTrainer", "LinearRegressionTrainer", "LogisticRegressionTrainer"]
    sets = [
        training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid, node_types=(0, 1), seed=s) for s in (1, 2)
    ]
    outputs = {}
    for mode in ("in-process", "streamed"):
        stage = tmp_path / mode
        jobs = [
            Job(
                key=len(sets) * i + k,
                data=prepare(ts, 3) if mode == "in-process" else FitRequest.of(ts, 3),
                trainer=TRAINERS[name],
                seed=3,
                stage=stage / str(k),
            )
            for k, ts in enumerate(sets)
            for i, name in enumerate(names)
        ]
        if mode == "in-process":
            results = run_jobs(jobs, 1, cpus=2)
        else:
            with WorkerPool(2, 1) as pool:
                pool.submit([j for j in jobs if j.key % 2 == 0])
                time.sleep(0.5)  # the second set arrives while the first one's jobs run
                pool.submit([j for j in jobs if j.key % 2 == 1])
                results = pool.results()
        assert [r.key for r in results] == sorted(j.key for j in jobs)
        outputs[mode] = (
            [m.metadata for r in results for m in r.models],
            {
                p.relative_to(stage).as_posix(): p.read_bytes()
                for p in sorted(stage.rglob("*"))
                if p.is_file() and p.suffix in (".json", ".pkl")
            },
        )
    assert outputs["in-process"][0] == outputs["streamed"][0] and len(outputs["streamed"][0]) == 16
    assert outputs["in-process"][1] == outputs["streamed"][1]


def test_closing_a_pool_before_its_results_kills_the_workers_at_once(tmp_path: Path):
    """An error during extraction ends the run: queued jobs are dropped and workers do not linger."""
    import time

    from steps.train.runner import WorkerPool

    pool = WorkerPool(2, 1)
    pool.submit(_jobs(tmp_path, [TRAINERS["SVRRegressorTrainer"]] * 6))
    started = time.perf_counter()
    pool.close()
    assert time.perf_counter() - started < 5
    assert not any(w.process.is_alive() for w in pool.workers)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_fork_server_does_not_hold_the_callers_output_open(tmp_path: Path):
    """It outlives the caller by its interpreter's exit; a pipe reading `train` must end with `train`."""
    from steps.train.runner import WorkerPool

    with WorkerPool(1, 1) as pool:
        pool.submit(_jobs(tmp_path, [TRAINERS["LinearRegressionTrainer"]]))
        assert len(pool.results()) == 1
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
