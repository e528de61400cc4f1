"""DynPower models derived from AbsPower ones (derive.py) equal fresh fits.

Known ground truth: a DynPower table built as the AbsPower table with every power column lowered
by its minimum (what the `min` isolator does), so the fresh DynPower fit is the reference.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import numpy as np
import pytest

from steps.common.domain import TRAINERS
from steps.train.derive import derive_node, may_derive
from steps.train.fit import fit_node
from steps.train.fit_data import FitData, FitInput, prepare
from steps.train.jobs import Job
from steps.train.model_files import write_model
from steps.train.plan import pair_for_derivation
from steps.train.tables import TrainingSet
from tests.train.helpers import saturating_power, training_set
from tests.train.test_jobs import CRASHING, run

SHIFTABLE = [name for name, spec in TRAINERS.items() if spec.absorbs_shift is not None]
# SVR stops when its dual problem is solved to tol=1e-3; XGBoost predicts in float32; the others agree
# to rounding.
TOLERANCE = {"SVRRegressorTrainer": 1e-2, "XgboostFitTrainer": 1e-3}


def _pair(rows: int = 300, node_types=(0,), change=None) -> tuple:
    """AbsPower and min-isolated DynPower sets of the same rows (rapl-sysfs: four components)."""
    absolute = training_set(saturating_power, rows=rows, noise=1.0, node_types=node_types)
    table = absolute.table.copy()
    for columns in absolute.power_columns.values():
        for column in columns:
            table[column] = table[column] - table.groupby("node_type")[column].transform("min")
    table["id"] = "all containers"
    if change is not None:
        change(table)
    dynamic = replace(absolute, output_type="DynPower", table=table)
    return absolute, dynamic


def _fresh_and_derived(name: str, absolute: TrainingSet, dynamic: TrainingSet):
    trainer = TRAINERS[name]
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    base = fit_node(base_data, base_data.nodes[0], trainer, 3)
    return data, fit_node(data, data.nodes[0], trainer, 3), derive_node(base, base_data.nodes[0], data, data.nodes[0])


def _predict(model, data: FitInput, component: str) -> np.ndarray:
    x = data.nodes[0].x_test[data.component_x[component]]
    return np.asarray(model.estimators[component].predict(model.poly.transform(x) if model.poly else x))


@pytest.mark.parametrize("name", SHIFTABLE)
def test_a_derived_model_is_the_abspower_model_lowered_by_the_idle_minimum(name: str):
    absolute, dynamic = _pair()
    trainer = TRAINERS[name]
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    base = fit_node(base_data, base_data.nodes[0], trainer, 3)
    derived = derive_node(base, base_data.nodes[0], data, data.nodes[0])
    assert derived is not None and derived.scaler is data.nodes[0].scaler
    for component in data.components:
        idle = absolute.table[f"{component}_power"].min()
        exact = 1e-3 if name == "XgboostFitTrainer" else 1e-9  # float32 base score and sums
        assert np.allclose(
            _predict(base, base_data, component) - idle, _predict(derived, data, component), rtol=0, atol=exact
        ), component


@pytest.mark.parametrize("name", SHIFTABLE)
def test_a_derived_model_predicts_what_a_fresh_fit_predicts(name: str):
    """Up to rounding: SVR stops at its solver tolerance (tol=1e-3), XGBoost keeps float32 labels, and
    gradient boosting may pick the other of two splits whose gains are equal up to rounding (here for
    one test row of 30)."""
    data, fresh, derived = _fresh_and_derived(name, *_pair())
    assert derived is not None
    tolerance = TOLERANCE.get(name, 1e-8)
    for component in data.components:
        difference = np.abs(_predict(derived, data, component) - _predict(fresh, data, component))
        assert np.mean(difference <= tolerance) >= 0.95, (component, difference)
    for kind in ("mae", "mape"):
        for component, value in fresh.errors[kind].items():
            assert derived.errors[kind][component] == pytest.approx(value, abs=0.02), (kind, component)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.__setitem__("package_power", t["package_power"] * 0.9),  # power scaled (trainer isolator)
        # other feature values (the profile isolator drops containers); a common factor would not do: the
        # MaxAbsScaler removes it, and the derived model is then right
        lambda t: t.__setitem__("bpf_cpu_time_ms", t["bpf_cpu_time_ms"] * (1 + 0.01 * (t.index % 3))),
    ],
)
def test_no_derivation_when_dynpower_is_not_the_shifted_abspower(change):
    _, _, derived = _fresh_and_derived("LinearRegressionTrainer", *_pair(change=change))
    assert derived is None


@pytest.mark.parametrize("name", [n for n in TRAINERS if n not in SHIFTABLE])
def test_no_derivation_for_trainers_whose_fit_does_not_commute_with_a_shift(name: str):
    absolute, dynamic = _pair()
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    base = fit_node(base_data, base_data.nodes[0], TRAINERS["LinearRegressionTrainer"], 3)
    assert derive_node(replace(base, trainer=TRAINERS[name]), base_data.nodes[0], data, data.nodes[0]) is None


def _carrying_jobs(stage: Path, trainers: List, node_types=(0, 1)) -> List[Job]:
    absolute, dynamic = (FitData.of(ts, 5) for ts in _pair(rows=150, node_types=node_types))
    jobs = []
    for trainer in trainers:
        jobs += [
            Job(key=len(jobs), data=absolute, trainer=trainer, stage=stage / "AbsPower"),
            Job(key=len(jobs) + 1, data=dynamic, trainer=trainer, stage=stage / "DynPower"),
        ]
    pair_for_derivation(jobs, "min")
    return jobs


def test_only_trainers_whose_fit_absorbs_a_shift_are_paired_and_only_after_shifting_isolators(tmp_path: Path):
    jobs = _carrying_jobs(tmp_path, [TRAINERS["SGDRegressorTrainer"], TRAINERS["SVRRegressorTrainer"]])
    assert [j.carried for j in jobs] == [False, False, False, True] and jobs[2].carries is jobs[3]
    assert [n for n, t in TRAINERS.items() if may_derive(t, "min")] == SHIFTABLE
    assert not [n for n, t in TRAINERS.items() if may_derive(t, "trainer") or may_derive(t, "profile")]


@pytest.mark.parametrize("workers", [1, 2])
def test_carried_jobs_are_derived_in_the_carrier_and_reported_as_their_own(tmp_path: Path, workers: int):
    trainers = [TRAINERS["GradientBoostingRegressorTrainer"], TRAINERS["KNeighborsRegressorTrainer"]]
    results = run(_carrying_jobs(tmp_path, trainers), workers)
    assert [r.key for r in results] == [0, 1, 2, 3]
    assert [r.label.split("/")[1] for r in results] == ["AbsPower", "DynPower"] * 2
    assert [len(r.models) for r in results] == [2, 2, 2, 2]
    assert [r.derived for r in results] == [0, 2, 0, 2]
    assert sorted(p.name for p in (tmp_path / "DynPower").glob("*.zip")) == [
        "GradientBoostingRegressorTrainer_0.zip",
        "GradientBoostingRegressorTrainer_1.zip",
        "KNeighborsRegressorTrainer_0.zip",
        "KNeighborsRegressorTrainer_1.zip",
    ]


def test_a_crashed_carrier_fails_its_carried_job_too(tmp_path: Path):
    results = run(_carrying_jobs(tmp_path, [CRASHING, TRAINERS["LinearRegressionTrainer"]]), 2)
    assert [len(r.failures) for r in results] == [2, 2, 0, 0]
    assert {f.reason for r in results[:2] for f in r.failures} == {"worker process crashed (exit code 17)"}
    assert [r.derived for r in results] == [0, 0, 0, 2]


def _derived_by_train(data: Path, *flags: str) -> List[int]:
    import io

    from steps.common.config import Environment
    from steps.common.console import Console
    from steps.common.workspace import Workspace
    from steps.train.cli import build_parser, options_from_args
    from steps.train.run import train

    env = Environment({"DATAPATH": str(data), "MODEL_PATH": str(data)})
    options = options_from_args(build_parser().parse_args(["--input", "kepler_query", *flags]), env)
    report = train(options, Workspace.from_settings(None, env), Console("train", out=io.StringIO(), err=io.StringIO()))
    return [r.derived for r in report.results]


def test_train_derives_dynpower_models_only_after_the_isolators_that_shift(tmp_path: Path):
    """min: every shiftable DynPower model is derived; trainer isolator (power scaled): none is."""
    import json

    from steps.synth import generate
    from tests.train.test_cli import CONFIG

    (tmp_path / "kepler_query.json").write_text(json.dumps(generate(CONFIG).query_response()))
    trainers = [
        "--abs-trainers",
        "KNeighborsRegressorTrainer,SGDRegressorTrainer",
        "--dyn-trainers",
        "KNeighborsRegressorTrainer,SGDRegressorTrainer",
        "-e",
        "rapl-sysfs",
    ]
    derived = _derived_by_train(tmp_path, *trainers, "--jobs", "2")
    groups = 5  # CounterOnly, BPFOnly, BPFIRQ, CounterIRQCombined, Basic; one node type
    assert sum(derived) == groups and derived.count(1) == groups  # one k-NN DynPower model per group
    assert (
        sum(
            _derived_by_train(
                tmp_path,
                *trainers,
                "--isolator",
                "trainer",
                "--abs-pipeline-name",
                "std_v0.7.11",
                "--pipeline-name",
                "other",
                "--jobs",
                "1",
            )
        )
        == 0
    )


@pytest.mark.parametrize("name", SHIFTABLE)
def test_a_derived_model_is_written_with_the_same_bytes_every_time(name: str, tmp_path: Path):
    """The same inputs give the same files: a derived model is copied through pickle, since a deep copy
    of scikit-learn's tree node arrays left their struct padding uninitialised (gradient boosting)."""
    absolute, dynamic = _pair()
    trainer = TRAINERS[name]
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    written = []
    for attempt in ("first", "second"):
        base = fit_node(base_data, base_data.nodes[0], trainer, 3)
        derived = derive_node(base, base_data.nodes[0], data, data.nodes[0])
        assert derived is not None
        folder = tmp_path / attempt
        folder.mkdir()
        write_model(folder, derived, "DynPower", None, dynamic.metadata)
        written.append({p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})
    assert written[0].keys() == written[1].keys() and written[0]
    for path, content in written[0].items():
        if path.suffix != ".zip":  # zip members carry the write time
            assert content == written[1][path], path
