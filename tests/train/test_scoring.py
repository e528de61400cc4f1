"""Errors users can trust (scoring.py): time-block CV, extrapolation error, the MAPE floor, their files.

Ground truth: tables whose power function and noise are known (tests/train/helpers.py, and the
synthetic Kepler 0.7 generator end to end), so the expected errors are known too.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from steps.cli import main
from steps.common.domain import TRAINERS
from steps.synth import SynthConfig, generate
from steps.train.derive import fit_or_derive
from steps.train.fit import component_errors
from steps.train.fit_data import FitData, prepare
from steps.train.jobs import Job, run_jobs
from steps.train.options import ScoreSettings
from steps.train.scoring import extrapolation_rows, fold_plan, held_out, out_of_fold, score
from steps.train.summary import negligible_lines
from tests.train.helpers import linear_power, training_set
from tests.train.test_cli import query_document, train, workspace  # noqa: F401 - fixtures

SCORED = ScoreSettings(folds=5, top=0.2, floor=0.5)
NEW_COLUMNS = [
    "cv_mae",
    "cv_mae_std",
    "cv_mape",
    "cv_mape_std",
    "extrapolation_mae",
    "extrapolation_mape",
    "negligible",
]


def _scored(ts, trainer: str, settings: ScoreSettings = SCORED, seed: int = 0):
    data = prepare(ts, seed)
    node = data.nodes[0]
    model, _ = fit_or_derive(data, node, TRAINERS[trainer], seed, settings=settings)
    return data, node, model, score(data, node, model.held_out, settings.floor)


# -- fold plans
@pytest.mark.parametrize(("rows", "folds"), [(10, 5), (11, 5), (103, 5), (7, 2), (50, 7)])
def test_folds_are_contiguous_blocks_that_hold_out_every_row_once(rows: int, folds: int):
    plan = fold_plan(rows, folds)
    assert len(plan) == folds
    assert np.array_equal(np.concatenate(plan), np.arange(rows))  # in order, each row once
    for block in plan:
        assert len(block) > 0 and np.array_equal(block, np.arange(block[0], block[-1] + 1))
    assert max(map(len, plan)) - min(map(len, plan)) <= 1


@pytest.mark.parametrize(("rows", "folds"), [(4, 5), (10, 1), (10, 0)])
def test_a_plan_with_an_empty_block_is_refused(rows: int, folds: int):
    with pytest.raises(ValueError):
        fold_plan(rows, folds)


def test_rows_are_ordered_by_timestamp_stably_across_inputs():
    """Two inputs (or VMs) interleave in time: the folds follow the timestamps, ties keep table order."""
    ts = training_set(linear_power, rows=60, seed=3)
    table = ts.table.copy()
    stamps = table["timestamp"].to_numpy().copy()
    stamps[30:] = stamps[:30] + 5  # a second input, 5 s after the first
    stamps[45] = stamps[44]  # a tie
    table["timestamp"] = stamps
    table = table.iloc[np.random.default_rng(0).permutation(len(table))].reset_index(drop=True)
    node = prepare(replace(ts, table=table), 0).nodes[0]
    order = np.argsort(table["timestamp"].to_numpy(), kind="stable")
    assert np.array_equal(node.timestamp, table["timestamp"].to_numpy(dtype=float)[order])
    assert np.all(np.diff(node.timestamp) >= 0)
    assert np.array_equal(node.load, table["bpf_cpu_time_ms"].to_numpy(dtype=float)[order])
    assert np.array_equal(node.y_all["package"], table["package_power"].to_numpy()[order])


def test_the_slim_job_table_keeps_the_timestamp():
    ts = training_set(linear_power, rows=30)
    assert "timestamp" in FitData.of(ts, 0, slim=True).training_set.table.columns


def test_extrapolation_holds_out_the_top_of_the_main_feature():
    x = np.arange(100, dtype=float)
    held = extrapolation_rows(x, 0.2)
    assert held.sum() == 20 and x[held].min() > x[~held].max()
    with pytest.raises(ValueError):
        extrapolation_rows(np.ones(50), 0.2)  # every value ties with the quantile: nothing above it


# -- ground truth
def test_out_of_fold_predictions_come_from_the_fold_that_held_the_row_out():
    ts = training_set(linear_power, rows=200, noise=1.0)
    data, node, model, _ = _scored(ts, "LinearRegressionTrainer")
    arrays = out_of_fold(data, node, model.held_out)
    assert arrays is not None
    assert set(arrays) == {"timestamp", "load"} | {
        f"{k}_{c}" for c in data.components for k in ("measured", "predicted")
    }
    assert all(a.dtype == np.float64 and len(a) == 200 for a in arrays.values())
    from sklearn.linear_model import LinearRegression

    block = fold_plan(200, 5)[2]
    train_rows = np.setdiff1d(np.arange(200), block)
    x = node.x_all["raw"]
    alone = LinearRegression().fit(x[train_rows], node.y_all["package"][train_rows]).predict(x[block])
    assert np.allclose(arrays["predicted_package"][block], alone)
    assert np.array_equal(arrays["measured_package"], node.y_all["package"])


def _synth_cv_mae(tmp_path: Path, seed: int, noise: float) -> Dict[str, float]:
    config = SynthConfig(
        power="linear", seed=seed, containers=6, duration_s=2 * 3600, step_s=15, noise_w=noise, sources=("rapl-sysfs",)
    )
    data = tmp_path / f"data{seed}"
    data.mkdir()
    generate(config).write_query_response(data / "kepler_query.json")
    err = io.StringIO()
    code = main(
        ["train", "--input", "kepler_query", "--pipeline-name", "truth", "--jobs", "1"]
        + ["--abs-trainers", "LinearRegressionTrainer", "--dyn-trainers", "none"],
        environ={"DATAPATH": str(data), "CONFIG_PATH": str(tmp_path / "none")},
        out=io.StringIO(),
        err=err,
    )
    assert code == 0, err.getvalue()
    with open(data / "truth" / "rapl-sysfs_AbsPower_model_metadata.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["feature_group"] == "BPFOnly"]
    return {key: float(rows[0][key]) for key in ("mae", "cv_mae", "cv_mae_std")}


def test_the_cross_validated_error_of_a_correct_model_is_the_noise_and_is_stable(tmp_path: Path):
    """A linear model of a linear power function errs by the noise only: mean |N(0, σ)| = 0.8 σ."""
    noise = 2.0
    found = [_synth_cv_mae(tmp_path, seed, noise) for seed in range(5)]
    cv = np.array([f["cv_mae"] for f in found])
    assert np.all(cv <= 1.5 * np.sqrt(2 / np.pi) * noise), found
    assert np.all(cv >= 0.5 * np.sqrt(2 / np.pi) * noise), found  # not flattering either
    assert cv.std() / cv.mean() < 0.10, found


def test_extrapolation_ranks_models_that_cannot_extrapolate_below_a_linear_model():
    ts = training_set(linear_power, rows=400, noise=1.0)
    errors = {
        name: _scored(ts, name)[3].extrapolation_mae
        for name in ("LinearRegressionTrainer", "KNeighborsRegressorTrainer", "GradientBoostingRegressorTrainer")
    }
    linear = errors.pop("LinearRegressionTrainer")
    assert linear is not None and linear <= 1.5 * np.sqrt(2 / np.pi), linear
    for name, error in errors.items():
        assert error is not None and error > 2 * linear, (name, error, linear)


def test_time_block_cv_is_reported_with_its_spread():
    ts = training_set(linear_power, rows=300, noise=1.0)
    _, _, model, scores = _scored(ts, "LinearRegressionTrainer")
    assert scores.cv_mae is not None and scores.cv_mae_std is not None
    assert 0 < scores.cv_mae_std < scores.cv_mae
    assert scores.cv_mape is not None and scores.cv_mape > 0 and scores.cv_mape_std is not None
    assert scores.extrapolation_mape is not None and scores.extrapolation_mape > 0
    assert model.mae == pytest.approx(scores.cv_mae, abs=0.3)  # the split error is kept as it was


# -- the MAPE floor
def _tiny_uncore(ts):
    """DynPower labels of ~1e-9 W for uncore (a component the machine barely reports)."""
    table = ts.table.copy()
    table["uncore_power"] = 1e-9 * np.random.default_rng(99).uniform(0.01, 2, size=len(table))
    return replace(ts, table=table, output_type="DynPower")


def test_a_component_below_the_floor_is_negligible_and_has_no_mape(tmp_path: Path):
    ts = _tiny_uncore(training_set(linear_power, rows=300, noise=1.0))
    job = Job(
        key=0, data=FitData.of(ts, 0), trainer=TRAINERS["LinearRegressionTrainer"], stage=tmp_path, scoring=SCORED
    )
    (result,) = run_jobs([job])
    (staged,) = result.models
    metadata = json.loads((staged.folder / "metadata.json").read_text())
    assert metadata["uncore_mape"] == -1
    assert all(0 < metadata[f"{c}_mape"] < 10 for c in ("package", "core", "dram")), metadata
    assert 0 < metadata["mape"] < 10
    scores = json.loads((tmp_path / f"{staged.name}.scores.json").read_text())
    assert scores["negligible"] == ["uncore"]
    assert 0 < scores["cv_mape"] < 10 and 0 < scores["extrapolation_mape"] < 10, scores
    assert "negligible" not in metadata and "cv_mae" not in metadata  # the model folder is as it was
    lines = negligible_lines({("rapl-sysfs", "DynPower", "BPFOnly"): [staged.metadata, staged.metadata]}, 0.5)
    assert lines[1:] == ["  rapl-sysfs/DynPower/BPFOnly: uncore"] and "0.5 W" in lines[0]


def test_without_the_floor_a_tiny_component_dominates_the_mape():
    ts = _tiny_uncore(training_set(linear_power, rows=300, noise=1.0))
    *_, model, scores = _scored(ts, "LinearRegressionTrainer", replace(SCORED, floor=0.0))
    assert model.mape == model.errors["mape"]["uncore"] > 100 and scores.negligible == ()
    assert scores.cv_mape is not None and scores.cv_mape > 100


def test_labels_below_the_floor_enter_no_mape():
    y = np.array([0.0, 0.2, 1.0, 2.0])
    predicted = np.array([0.1, 0.4, 1.5, 2.0])
    assert component_errors(y, predicted) == (0.2, 50.0)  # today's rule: y > 0
    assert component_errors(y, predicted, floor=0.5) == (0.2, 25.0)
    assert component_errors(y, predicted, floor=5.0) == (0.2, -1)


# -- derivation, failures
@pytest.mark.parametrize("name", ["LinearRegressionTrainer", "KNeighborsRegressorTrainer", "XgboostFitTrainer"])
def test_derived_dynpower_scores_equal_a_fresh_fits(name: str):
    from tests.train.test_derive import _pair

    absolute, dynamic = _pair()
    trainer = TRAINERS[name]
    base_data, data = prepare(absolute, 3), prepare(dynamic, 3)
    base, _ = fit_or_derive(base_data, base_data.nodes[0], trainer, 3, settings=SCORED)
    derived, was_derived = fit_or_derive(
        data, data.nodes[0], trainer, 3, base=(base, base_data.nodes[0]), settings=SCORED
    )
    fresh, was_fresh = fit_or_derive(data, data.nodes[0], trainer, 3, settings=SCORED)
    assert was_derived and not was_fresh
    derived_scores = score(data, data.nodes[0], derived.held_out, SCORED.floor)
    fresh_scores = score(data, data.nodes[0], fresh.held_out, SCORED.floor)
    base_scores = score(base_data, base_data.nodes[0], base.held_out, SCORED.floor)
    tolerance = 0.05 if name == "XgboostFitTrainer" else 0.011
    for column in ("cv_mae", "cv_mae_std", "cv_mape", "cv_mape_std", "extrapolation_mae", "extrapolation_mape"):
        assert getattr(derived_scores, column) == pytest.approx(getattr(fresh_scores, column), abs=tolerance), column
    assert derived_scores.cv_mae == pytest.approx(base_scores.cv_mae, abs=0.011)  # a shift keeps the MAE


def test_a_failing_fold_empties_the_cv_columns_and_keeps_the_model(monkeypatch: pytest.MonkeyPatch):
    import steps.train.scoring as scoring

    def failing(*args, **kwargs):
        raise ValueError("injected fold failure")

    monkeypatch.setattr(scoring, "cross_validate", failing)
    ts = training_set(linear_power, rows=200, noise=1.0)
    data, node, model, scores = _scored(ts, "LinearRegressionTrainer")
    assert model.estimators and model.mae > 0
    assert scores.cv_mae is None and scores.cv_mape_std is None and scores.extrapolation_mae is not None
    assert scores.document(True)["cv_mae"] is None
    assert out_of_fold(data, node, model.held_out) is None


def test_scoring_off_keeps_only_negligible():
    ts = training_set(linear_power, rows=200, noise=1.0)
    data, node, model, scores = _scored(ts, "LinearRegressionTrainer", replace(SCORED, folds=0))
    assert model.held_out is None and held_out(data, node, TRAINERS["LinearRegressionTrainer"], 0, SCORED) is not None
    assert scores.document(False) == {"negligible": ["uncore"]}  # helpers' uncore power is 0 W


# -- flags and files, end to end
@pytest.mark.parametrize(
    ("args", "env", "flag"),
    [
        (["--cv-folds", "1"], {}, "--cv-folds"),
        (["--cv-folds", "-3"], {}, "--cv-folds"),
        (["--cv-folds", "five"], {}, "--cv-folds"),
        ([], {"CV_FOLDS": "1"}, "--cv-folds"),
        (["--extrapolation-top", "0"], {}, "--extrapolation-top"),
        (["--extrapolation-top", "0.6"], {}, "--extrapolation-top"),
        ([], {"EXTRAPOLATION_TOP": "nan"}, "--extrapolation-top"),
        (["--mape-floor", "-0.1"], {}, "--mape-floor"),
        ([], {"MAPE_FLOOR": "inf"}, "--mape-floor"),
    ],
)
def test_bad_scoring_flags_are_usage_errors(workspace: Path, args, env, flag):  # noqa: F811
    code, _, err = train(workspace, "--input", "kepler_query", *args, env=env)
    assert code == 2 and flag in err, err
    assert not (workspace / "std_v0.7.11").exists()


def test_no_folds_writes_todays_columns_and_negligible(workspace: Path):  # noqa: F811
    code, _, err = train(
        workspace, "--input", "kepler_query", "--abs-trainers", "LinearRegressionTrainer", "--dyn-trainers", "none"
    )
    assert code == 0, err
    code, _, err = train(
        workspace,
        "--input",
        "kepler_query",
        "--abs-trainers",
        "LinearRegressionTrainer",
        "--dyn-trainers",
        "none",
        "--cv-folds",
        "0",
    )
    assert code == 0, err
    root = workspace / "std_v0.7.11"
    header = (root / "rapl-sysfs_AbsPower_model_metadata.csv").read_text().splitlines()[0]
    assert header == (
        ",model_name,trainer,model_class,model_file,features,fe_files,output_type,mae,mape,node_type,"
        "package_mae,core_mae,uncore_mae,dram_mae,package_mape,core_mape,uncore_mape,dram_mape,"
        "feature_group,negligible"
    )
    assert not list(root.rglob("*.cv.npz"))  # and the first run's are gone with its models
    assert json.loads((root / "train_arguments.json").read_text())["cv_folds"] == 0


def test_scores_and_predictions_travel_into_the_pipeline_and_its_zip(workspace: Path):  # noqa: F811
    code, out, err = train(
        workspace,
        "--input",
        "kepler_query",
        "--abs-trainers",
        "KNeighborsRegressorTrainer",
        "--dyn-trainers",
        "LinearRegressionTrainer",
    )
    assert code == 0, err
    # The synthetic uncore is flat: 0 W once idle is removed, so every DynPower group names it, once.
    assert "Negligible components (no label reaches the MAPE floor of 0.5 W" in out
    assert out.count("  rapl-sysfs/DynPower/BPFOnly: uncore\n") == 1 and "AbsPower/BPFOnly: uncore" not in out
    root = workspace / "std_v0.7.11"
    group = root / "rapl-sysfs" / "AbsPower" / "BPFOnly"
    name = "KNeighborsRegressorTrainer_1"
    with np.load(group / f"{name}.cv.npz") as arrays:
        assert {"timestamp", "load", "measured_package", "predicted_package"} <= set(arrays.files)
        assert np.all(np.diff(arrays["timestamp"]) >= 0) and np.isfinite(arrays["predicted_dram"]).all()
    with zipfile.ZipFile(workspace / "std_v0.7.11.zip") as archive:
        names = set(archive.namelist())
    assert {f"rapl-sysfs/AbsPower/BPFOnly/{name}{suffix}" for suffix in (".cv.npz", ".scores.json")} <= names
    with zipfile.ZipFile(group / f"{name}.zip") as archive:  # the model zip holds the model folder only
        assert archive.namelist() == sorted(p.name for p in (group / name).iterdir())
    with open(root / "rapl-sysfs_AbsPower_model_metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-len(NEW_COLUMNS) :] == NEW_COLUMNS
    row = next(r for r in rows if r["feature_group"] == "BPFOnly")
    assert float(row["cv_mae"]) > 0 and float(row["extrapolation_mae"]) > 0 and row["negligible"].startswith("[")
    assert "cv_mae" in out  # the summary table shows the cross-validated error
