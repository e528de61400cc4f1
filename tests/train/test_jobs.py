"""Training jobs in worker processes: failures stay local, a crashed worker fails one job, --jobs changes no byte."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, List

import pytest

from steps.common.domain import SCIKIT, TRAINERS, Estimator
from steps.train.fit_data import FitData
from steps.train.jobs import Job, JobResult, run_jobs, start_pool, submit
from tests.train.helpers import dram_sigmoid, sigmoid_power, training_set


class Exploding:
    def fit(self, x: Any, y: Any) -> None:
        raise RuntimeError("injected failure")


class Crashing:
    def fit(self, x: Any, y: Any) -> None:
        os._exit(17)  # a worker dying without a word (like a segfault or an OOM kill)


EXPLODING = replace(
    TRAINERS["LinearRegressionTrainer"],
    name="ExplodingTrainer",
    estimator=Estimator(f"{__name__}:Exploding"),
    weight=None,
)
CRASHING = replace(
    TRAINERS["LinearRegressionTrainer"],
    name="CrashingTrainer",
    estimator=Estimator(f"{__name__}:Crashing"),
    weight=None,
    model_class=SCIKIT,
)


def run(jobs: List[Job], workers: int) -> List[JobResult]:
    """The jobs in this process (workers=1) or in a pool, as train runs them."""
    if workers <= 1:
        return run_jobs(jobs)
    with start_pool(workers, 1) as pool:
        submit(pool, jobs)
        return run_jobs(jobs, pool)


def _jobs(stage: Path, trainers: List[Any], seed: int = 0) -> List[Job]:
    ts = training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid, node_types=(0, 1))
    data = FitData.of(ts, seed)
    return [Job(key=i, data=data, trainer=t, stage=stage) for i, t in enumerate(trainers)]


def _listing(stage: Path) -> List[str]:
    return sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))


def _outputs(stage: Path, results: List[JobResult]) -> tuple:
    return (
        [m.metadata for r in results for m in r.models],
        {
            p.relative_to(stage).as_posix(): p.read_bytes()
            for p in sorted(stage.rglob("*"))
            if p.is_file() and p.suffix in (".json", ".pkl")
        },
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_trainer_never_stops_the_others_and_leaves_nothing(tmp_path: Path, workers: int):
    trainers = [TRAINERS["LinearRegressionTrainer"], EXPLODING, TRAINERS["KNeighborsRegressorTrainer"]]
    results = run(_jobs(tmp_path, trainers), workers)
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
    results = run(_jobs(tmp_path, trainers), 2)
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
        outputs[workers] = _outputs(stage, run(_jobs(stage, [TRAINERS[n] for n in names], seed=7), workers))
    assert outputs[1][0] == outputs[2][0]
    assert outputs[1][1].keys() == outputs[2][1].keys()
    differing = [name for name in outputs[1][1] if outputs[1][1][name] != outputs[2][1][name]]
    assert differing == []


def test_jobs_submitted_while_others_run_match_an_in_process_run(tmp_path: Path):
    """Workers prepare the sets themselves; late submissions and scheduling change no byte."""
    names = ["SVRRegressorTrainer", "XgboostFitTrainer", "LinearRegressionTrainer", "LogisticRegressionTrainer"]
    sets = [
        training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid, node_types=(0, 1), seed=s) for s in (1, 2)
    ]
    outputs = {}
    for mode in ("in-process", "streamed"):
        stage = tmp_path / mode
        data = [FitData.of(ts, 3, slim=mode == "streamed") for ts in sets]
        jobs = [
            Job(key=len(sets) * i + k, data=data[k], trainer=TRAINERS[name], stage=stage / str(k))
            for k in range(len(sets))
            for i, name in enumerate(names)
        ]
        if mode == "in-process":
            results = run_jobs(jobs)
        else:
            with start_pool(2, 1) as pool:
                submit(pool, [j for j in jobs if j.key % 2 == 0])
                time.sleep(0.5)  # the second set arrives while the first one's jobs run
                submit(pool, [j for j in jobs if j.key % 2 == 1])
                results = run_jobs(jobs, pool)
        assert [r.key for r in results] == sorted(j.key for j in jobs)
        outputs[mode] = _outputs(stage, results)
    assert outputs["in-process"][0] == outputs["streamed"][0] and len(outputs["streamed"][0]) == 16
    assert outputs["in-process"][1] == outputs["streamed"][1]


def test_a_process_prepares_a_set_once_for_all_its_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import steps.train.fit_data as fit_data

    calls = []
    original = fit_data.prepare
    monkeypatch.setattr(fit_data, "prepare", lambda *args: calls.append(1) or original(*args))
    names = ["LinearRegressionTrainer", "KNeighborsRegressorTrainer", "SGDRegressorTrainer"]
    results = run(_jobs(tmp_path, [TRAINERS[n] for n in names]), 1)
    assert [len(r.models) for r in results] == [2, 2, 2] and len(calls) == 1
