"""What keeps scoring's cost down (#12's benchmark): each change here is checked to change no number, or
to change it within what the docstring of the code claims.

- hyper-parameters validated on a trainer's first fit only (fit.py `_fit_checked_once`);
- a DynPower curve fit's held-out predictions are its AbsPower fit's shifted (derive.py);
- curve-fit jobs that make the same fits run as one chain (plan.py `chain_shared_curve_fits`);
- a large table's scoring fits run on threads (scoring.py `_each`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import List

import numpy as np
import pytest

import steps.train.curvefit as curvefit
from steps.common.domain import CURVEFIT, TRAINERS, Estimator
from steps.train import fit, scoring
from steps.train.derive import fit_or_derive, may_ride
from steps.train.fit import fit_estimators, predict
from steps.train.fit_data import FitData, prepare
from steps.train.jobs import Job
from steps.train.options import ScoreSettings
from steps.train.plan import JobPlan, chain_shared_curve_fits, pair_for_derivation
from steps.train.scoring import THREADED_ROWS, cross_validate, extrapolate, fold_plan, held_out, score
from steps.train.tables import TrainingSet
from tests.train.helpers import dram_sigmoid, saturating_power, sigmoid_power, training_set
from tests.train.test_jobs import run

SCORED = ScoreSettings(folds=5, top=0.2, floor=0.5)
CURVES = [name for name, trainer in TRAINERS.items() if trainer.scores_absorb_shift]


# -- hyper-parameters checked once
def test_a_trainers_hyper_parameters_are_still_checked_on_its_first_fit():
    broken = replace(
        TRAINERS["GradientBoostingRegressorTrainer"],
        name="BrokenBoostingTrainer",
        estimator=Estimator("sklearn.ensemble:GradientBoostingRegressor", (("n_estimators", 0),)),
    )
    data = prepare(training_set(saturating_power, rows=60), 0)
    node = data.nodes[0]
    with pytest.raises(ValueError, match="n_estimators"):
        fit_estimators(data, broken, 0, node.x_train, node.y_train)
    assert "BrokenBoostingTrainer" not in fit._CHECKED  # a fit that failed its check is checked again


def test_fits_after_the_first_give_what_a_validated_fit_gives(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fit, "_CHECKED", set())  # this process's first fit of the trainer: validated
    data = prepare(training_set(saturating_power, rows=200, noise=1.0), 0)
    node, trainer = data.nodes[0], TRAINERS["GradientBoostingRegressorTrainer"]
    fits = [fit_estimators(data, trainer, 0, node.x_train, node.y_train) for _ in range(2)]
    first, second = (predict(data, poly, estimators, node.x_test) for poly, estimators in fits)
    assert first.keys() == second.keys()
    for component in first:
        assert np.array_equal(first[component], second[component]), component


# -- a DynPower curve fit's scores
FACTORS = {"package": 1.0, "core": 0.6, "uncore": 0.1, "dram": 0.2}  # every component with its own noise


def _abs_and_dyn(name: str, change=None):
    if name == "LogisticRegressionTrainer":  # a saturating table leaves its fit without an optimum
        absolute = training_set(sigmoid_power, rows=300, noise=1.0, factors=FACTORS, dram=dram_sigmoid)
    else:
        absolute = training_set(saturating_power, rows=300, noise=1.0, factors=FACTORS)
    dynamic = _min_isolated(absolute)
    if change is not None:
        change(dynamic.table)
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    trainer = TRAINERS[name]
    base, _ = fit_or_derive(base_data, base_data.nodes[0], trainer, 3, settings=SCORED)
    model, derived = fit_or_derive(data, data.nodes[0], trainer, 3, base=(base, base_data.nodes[0]), settings=SCORED)
    return base, base_data, data, model, derived


@pytest.mark.parametrize("name", CURVES)
def test_a_dynpower_curve_fit_is_fitted_but_its_held_out_predictions_are_the_abspower_ones_shifted(name: str):
    base, base_data, data, model, derived = _abs_and_dyn(name)
    assert not derived  # the model itself is a fresh fit, as kepler-model-server makes it
    assert model.held_out is not None and model.held_out.cv is not None
    for component in data.components:
        offset = base_data.nodes[0].y_all[component].min() - data.nodes[0].y_all[component].min()
        assert np.array_equal(model.held_out.cv[component], base.held_out.cv[component] - offset), component
        rows, values = model.held_out.extrapolation[component]
        assert np.array_equal(values, base.held_out.extrapolation[component][1] - offset), component


@pytest.mark.parametrize("name", CURVES)
def test_shifted_curve_fit_scores_match_fitting_every_fold_afresh(name: str):
    """The claim of derive.py: the optimum moves with the target, MINPACK's path barely matters."""
    _, _, data, model, _ = _abs_and_dyn(name)
    node = data.nodes[0]
    shifted = score(data, node, model.held_out, SCORED.floor)
    fresh = score(data, node, held_out(data, node, TRAINERS[name], 3, SCORED), SCORED.floor)
    assert shifted.cv_mae == pytest.approx(fresh.cv_mae, abs=0.011)
    assert shifted.extrapolation_mae == pytest.approx(fresh.extrapolation_mae, abs=0.011)


def test_curve_fit_scores_are_fitted_when_dynpower_is_not_the_shifted_abspower():
    def scaled(table):
        table["package_power"] = table["package_power"] * 0.9

    _, _, data, model, _ = _abs_and_dyn("LogarithmicRegressionTrainer", change=scaled)
    node = data.nodes[0]
    fresh = held_out(data, node, TRAINERS["LogarithmicRegressionTrainer"], 3, SCORED)
    for component in data.components:
        assert np.array_equal(model.held_out.cv[component], fresh.cv[component]), component


def test_curve_fit_dynpower_jobs_ride_with_their_abspower_job_only_when_scored_after_a_shift():
    for name in CURVES:
        assert may_ride(TRAINERS[name], "min", scored=True)
        assert not may_ride(TRAINERS[name], "min", scored=False)
        assert not may_ride(TRAINERS[name], "trainer", scored=True)
    assert not may_ride(TRAINERS["SGDRegressorTrainer"], "min", scored=True)


# -- curve-fit jobs sharing their fits
def _same_rows(group: str) -> TrainingSet:
    """A set of `group` whose BPFOnly columns (features and power) are BPFOnly's set's."""
    shared = training_set(saturating_power, rows=80, noise=1.0, factors=FACTORS).table
    own = training_set(lambda frame: np.zeros(len(frame)), rows=80, group=group)
    table = own.table.copy()
    for column in shared.columns:
        table[column] = shared[column]
    return replace(own, table=table)


def _min_isolated(absolute: TrainingSet) -> TrainingSet:
    table = absolute.table.copy()
    for column in [c for columns in absolute.power_columns.values() for c in columns]:
        table[column] = table[column] - table[column].min()
    table["id"] = "all containers"
    return replace(absolute, output_type="DynPower", table=table)


def _jobs(stage: Path, groups: List[str], trainers: List[str]) -> List[Job]:
    jobs: List[Job] = []
    for group in groups:
        absolute = _same_rows(group)
        for ts in (absolute, _min_isolated(absolute)):
            data, folder = FitData.of(ts, 0), stage / group / ts.output_type
            jobs += [Job(len(jobs) + i, data, TRAINERS[t], folder) for i, t in enumerate(trainers)]
    pair_for_derivation(jobs, "min", scored=True)
    chain_shared_curve_fits(jobs)
    return jobs


def test_curve_fit_jobs_of_groups_sharing_a_main_feature_run_as_one_chain(tmp_path: Path):
    """BPFOnly and BPFIRQ share bpf_cpu_time_ms; CounterOnly's curves read cpu_instructions."""
    jobs = _jobs(
        tmp_path, ["BPFOnly", "BPFIRQ", "CounterOnly"], ["LogarithmicRegressionTrainer", "SVRRegressorTrainer"]
    )
    heads = [j for j in jobs if not j.carried]
    chains = [[(j.data.group.name, j.data.output_type, j.trainer.name[:3]) for j in head.chain()] for head in heads]
    assert [
        ("BPFOnly", "AbsPower", "Log"),
        ("BPFOnly", "DynPower", "Log"),
        ("BPFIRQ", "AbsPower", "Log"),
        ("BPFIRQ", "DynPower", "Log"),
    ] in chains
    assert [("CounterOnly", "AbsPower", "Log"), ("CounterOnly", "DynPower", "Log")] in chains
    # SVR: each DynPower job rides with its AbsPower job (derivation), no chain across groups
    assert sum(1 for chain in chains if chain[0][2] == "SVR") == 3
    followers = {(j.data.group.name, j.data.output_type): j.from_carrier for j in jobs[0].chain()}
    assert followers == {
        ("BPFOnly", "AbsPower"): False,
        ("BPFOnly", "DynPower"): True,
        ("BPFIRQ", "AbsPower"): False,  # its own AbsPower fits: never derived from another group's
        ("BPFIRQ", "DynPower"): True,
    }


def test_a_chain_makes_each_shared_fit_once_and_gives_what_separate_jobs_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    calls = []
    original = curvefit.fit_curve
    monkeypatch.setattr(curvefit, "fit_curve", lambda *args: calls.append(1) or original(*args))
    for job in (jobs := _jobs(tmp_path / "chained", ["BPFOnly", "BPFIRQ"], ["LogarithmicRegressionTrainer"])):
        job.curve_cache, job.scoring = tmp_path / "memo", SCORED
    results = run(jobs, 1)
    assert [len(r.models) for r in results] == [1, 1, 1, 1] and not any(r.failures for r in results)
    # AbsPower: the model, five folds, the extrapolation, per component (4); the BPFIRQ job reads them.
    # DynPower: each group's model is fitted (its split rows are the same, so BPFIRQ's is read), the
    # scoring fits are the AbsPower ones shifted.
    assert len(calls) == 4 * 7 + 4
    separate = _jobs(tmp_path / "separate", ["BPFOnly", "BPFIRQ"], ["LogarithmicRegressionTrainer"])
    for job in separate:
        job.carries, job.carried, job.scoring = None, False, SCORED
    for chained, alone in zip(results, run(separate, 2)):
        assert chained.label == alone.label
    for path in (tmp_path / "chained").rglob("*.pkl"):
        assert path.read_bytes() == (tmp_path / "separate" / path.relative_to(tmp_path / "chained")).read_bytes()


# -- threads
@pytest.mark.parametrize("name", [name for name, trainer in TRAINERS.items() if trainer.model_class != CURVEFIT])
def test_scoring_fits_on_threads_give_what_one_thread_gives(name: str, monkeypatch: pytest.MonkeyPatch):
    """Every threaded trainer (small tables threaded here, to keep the test short)."""
    monkeypatch.setattr(scoring, "THREADED_ROWS", 100)
    data = prepare(training_set(saturating_power, rows=300, noise=1.0), 0)
    node, trainer = data.nodes[0], TRAINERS[name]
    folds = fold_plan(300, 5)
    alone, threaded = (cross_validate(data, node, trainer, 0, folds, None, threads) for threads in (1, 2))
    for component in data.components:
        assert np.array_equal(alone[component], threaded[component]), component
    alone, threaded = (extrapolate(data, node, trainer, 0, 0.2, None, threads) for threads in (1, 2))
    for component in data.components:
        assert np.array_equal(alone[component][1], threaded[component][1]), component


def test_small_tables_and_curve_fits_are_scored_on_one_thread(monkeypatch: pytest.MonkeyPatch):
    import threading

    seen = set()
    each = scoring._each

    def watched(call, items, trainer, threads, rows):
        return each(lambda item: seen.add(threading.current_thread().name) or call(item), items, trainer, threads, rows)

    monkeypatch.setattr(scoring, "_each", watched)
    large = prepare(training_set(saturating_power, rows=THREADED_ROWS, noise=1.0), 0)
    small = prepare(training_set(saturating_power, rows=200, noise=1.0), 0)
    settings = replace(SCORED, threads=2)
    held_out(small, small.nodes[0], TRAINERS["LinearRegressionTrainer"], 0, settings)
    held_out(large, large.nodes[0], TRAINERS["LogarithmicRegressionTrainer"], 0, settings)
    assert seen == {threading.main_thread().name}
    held_out(large, large.nodes[0], TRAINERS["LinearRegressionTrainer"], 0, settings)
    assert len(seen) > 1


def test_the_plan_holds_curve_fit_jobs_back_until_every_set_is_in_and_chains_them(tmp_path: Path):
    """Sets arrive one group at a time from extraction; only once all are in can groups sharing a main
    feature be chained. `index` stands in for the node-type index (no machine specs here)."""
    trainers = ["LogarithmicRegressionTrainer", "SVRRegressorTrainer"]
    plan = JobPlan(trainers, trainers, "min", 0, lambda: tmp_path, SimpleNamespace(entries={}), False, SCORED)
    run_now = []
    for group in ("BPFOnly", "BPFIRQ"):
        absolute = _same_rows(group)
        run_now += plan.add([absolute, _min_isolated(absolute)])
    assert {j.trainer.name for j in run_now} == {"SVRRegressorTrainer"}
    held = plan.finish()
    assert {j.trainer.name for j in held} == {"LogarithmicRegressionTrainer"} and len(held) == 4
    heads = [j for j in held if not j.carried]
    assert len(heads) == 1 and [j.key for j in heads[0].chain()] == sorted(j.key for j in held)
    assert plan.finish() == []
