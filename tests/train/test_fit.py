"""Fitting with known ground truth: coefficients, error levels, weights, files, pickles (train.md §8-§9)."""

from __future__ import annotations

import base64
import json
import pickletools
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

from steps.common.domain import ENERGY_SOURCES, FEATURE_GROUPS, TRAINER_NAMES, TRAINERS
from steps.train import curvefit
from steps.train.fit import component_errors, fit_node
from steps.train.fit_data import prepare
from steps.train.model_files import write_model
from steps.train.weights import weight_document
from tests.train.helpers import (
    COMPONENT_FACTOR,
    LINEAR_BIAS,
    LINEAR_COEF,
    dram_sigmoid,
    linear_power,
    saturating_power,
    sigmoid_power,
    training_set,
)


def _fit(ts, trainer: str, seed: int = 0):
    data = prepare(ts, seed)
    return data, fit_node(data, data.nodes[0], TRAINERS[trainer], seed)


def test_linear_regression_recovers_true_coefficients_and_weights_reproduce_predictions():
    ts = training_set(linear_power, rows=300, noise=0.5)
    data, model = _fit(ts, "LinearRegressionTrainer")
    scales = model.scaler.scale_
    for component in ("package", "core", "dram"):
        estimator = model.estimators[component]
        factor = COMPONENT_FACTOR[component]
        for i, feature in enumerate(model.features):
            recovered = estimator.coef_[i] / scales[i]  # back to watts per raw unit
            assert recovered == pytest.approx(LINEAR_COEF[feature] * factor, rel=0.05)
        assert estimator.intercept_ == pytest.approx(LINEAR_BIAS * factor, rel=0.05)

    weights = weight_document(model)
    x_raw = ts.table[list(model.features)].to_numpy(dtype=float)[:50]
    for component in model.components:
        entry = weights[component]["All_Weights"]
        by_weights = entry["Bias_Weight"] + sum(
            entry["Numerical_Variables"][f]["weight"] * x_raw[:, i] / entry["Numerical_Variables"][f]["scale"]
            for i, f in enumerate(model.features)
        )
        by_model = model.estimators[component].predict(model.scaler.transform(x_raw))
        np.testing.assert_allclose(by_weights, by_model, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("power", [linear_power, saturating_power], ids=["linear", "saturating"])
def test_best_abs_model_error_is_near_the_noise_level(power):
    noise = 2.0
    ts = training_set(power, rows=400, noise=noise, seed=3)
    data = prepare(ts, 0)
    maes = {}
    for name in (
        "LinearRegressionTrainer",
        "PolynomialRegressionTrainer",
        "GradientBoostingRegressorTrainer",
        "LogisticRegressionTrainer",
        "LogarithmicRegressionTrainer",
        "KNeighborsRegressorTrainer",
    ):
        try:
            maes[name] = fit_node(data, data.nodes[0], TRAINERS[name], 0).mae
        except Exception:  # noqa: BLE001 - a curve that does not fit this data is allowed to fail
            continue
    best = min(maes.values())
    assert best <= 1.5 * noise, maes


def test_errors_follow_the_spec_rules():
    y = np.array([0.0, 10.0, 20.0, 0.0])
    predicted = np.array([1.0, 11.0, 18.0, 0.0])
    mae, mape = component_errors(y, predicted)
    assert mae == 1.0  # (1 + 1 + 2 + 0) / 4
    assert mape == 10.0  # mean(1/10, 2/20) * 100 over y > 0 only
    mae, mape = component_errors(np.zeros(3), np.ones(3))
    assert (mae, mape) == (1.0, -1) and isinstance(mape, int)


def test_model_errors_are_component_maxima_and_mape_minus_one_only_when_all_are():
    ts = training_set(linear_power, rows=200, noise=1.0)
    _, model = _fit(ts, "LinearRegressionTrainer")
    assert model.mae == max(model.errors["mae"].values())
    assert model.errors["mape"]["uncore"] == -1  # uncore is always 0 W
    assert model.mape == max(v for v in model.errors["mape"].values())
    assert model.mape > 0


EXPECTED_EXTRA = {
    "PolynomialRegressionTrainer": {"poly_scaler.pkl"},
    "LinearRegressionTrainer": {"weight.json"},
    "SGDRegressorTrainer": {"weight.json"},
    "XgboostFitTrainer": {"weight.json"},
    "LogarithmicRegressionTrainer": {"weight.json"},
    "LogisticRegressionTrainer": {"weight.json"},
    "ExponentialRegressionTrainer": {"weight.json"},
}


@pytest.mark.parametrize("trainer", TRAINER_NAMES)
def test_every_trainer_writes_the_model_files(tmp_path: Path, trainer: str):
    ts = training_set(sigmoid_power, rows=200, noise=1.0, dram=dram_sigmoid)
    data, model = _fit(ts, trainer)
    staged = write_model(tmp_path / "g", model, "AbsPower", None)
    components = ENERGY_SOURCES["rapl-sysfs"].components
    suffix = ".json" if trainer == "XgboostFitTrainer" else ".pkl"
    expected = (
        {"metadata.json", f"{trainer}_0.json", "scaler.pkl"}
        | {c + suffix for c in components}
        | EXPECTED_EXTRA.get(trainer, set())
    )
    with zipfile.ZipFile(staged.zip) as archive:
        names = archive.namelist()
    assert names == sorted(expected)
    assert sorted(p.name for p in staged.folder.iterdir()) == sorted(expected)
    assert not [p for p in (tmp_path / "g").iterdir() if p.name.startswith(".")]

    metadata = json.loads((staged.folder / "metadata.json").read_text())
    assert list(metadata)[:10] == [
        "model_name",
        "trainer",
        "model_class",
        "model_file",
        "features",
        "fe_files",
        "output_type",
        "mae",
        "mape",
        "node_type",
    ]
    assert metadata["model_file"] == f"{trainer}_0.json"
    assert metadata["fe_files"] == (["poly_scaler.pkl"] if trainer.startswith("Polynomial") else [])
    mapping = json.loads((staged.folder / f"{trainer}_0.json").read_text())
    assert list(mapping) == list(components)
    assert mapping["package"]["fe_files"][0] == "scaler.pkl"
    assert mapping["package"]["features"] == list(FEATURE_GROUPS["BPFOnly"].features)

    # every component reloads and predicts what the fitted estimator predicts
    x = model.scaler.transform(ts.table[list(model.features)].to_numpy(dtype=float)[:20])
    if model.poly is not None:
        x = joblib.load(staged.folder / "poly_scaler.pkl").transform(x)
    for component in components:
        if trainer == "XgboostFitTrainer":
            from xgboost import XGBRegressor

            loaded = XGBRegressor()
            loaded.load_model(str(staged.folder / f"{component}.json"))
        else:
            loaded = curvefit.load(staged.folder / f"{component}.pkl")
        np.testing.assert_allclose(loaded.predict(x), model.estimators[component].predict(x), rtol=1e-6)


def test_xgboost_weights_hold_the_saved_component_models(tmp_path: Path):
    ts = training_set(linear_power, rows=150, noise=1.0)
    _, model = _fit(ts, "XgboostFitTrainer")
    staged = write_model(tmp_path / "g", model, "AbsPower", None)
    weights = json.loads((staged.folder / "weight.json").read_text())
    for component in model.components:
        entry = weights[component]["All_Weights"]
        assert base64.b64decode(entry["XGboost_Weights"]) == (staged.folder / f"{component}.json").read_bytes()
        assert list(entry["Numerical_Variables"]["bpf_cpu_time_ms"]) == ["scale"]


def _globals(data: bytes) -> set:
    """GLOBAL/STACK_GLOBAL names in a pickle stream (joblib appends raw array bytes: stop there)."""
    names, strings = set(), []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL":
                names.add(arg.replace(" ", "."))
            elif isinstance(arg, str):
                strings.append(arg)
            elif opcode.name == "STACK_GLOBAL":
                names.add(f"{strings[-2]}.{strings[-1]}")
    except ValueError:
        pass
    return names


@pytest.mark.parametrize(
    "trainer,func",
    [
        ("LogarithmicRegressionTrainer", "log_func"),
        ("LogisticRegressionTrainer", "logi_func"),
        ("ExponentialRegressionTrainer", "expo_func"),
    ],
)
def test_curve_fit_pickles_use_kepler_model_server_names(tmp_path: Path, trainer: str, func: str):
    ts = training_set(sigmoid_power, rows=200, noise=0.5, dram=dram_sigmoid)
    _, model = _fit(ts, trainer)
    estimator = model.estimators["package"]
    path = tmp_path / "package.pkl"
    curvefit.dump(estimator, path)
    data = path.read_bytes()
    found = _globals(data)
    assert "kepler_model.train.trainer.curvefit.CurveFitModel" in found
    assert f"kepler_model.train.trainer.{trainer}.main.{func}" in found
    assert f"kepler_model.train.trainer.{trainer}.main.p0_func".encode() in data.replace(b"\n", b".")
    assert b"steps.train" not in data  # nothing of ours leaks into the pickle

    loaded = curvefit.load(path)
    assert list(vars(loaded)) == ["fit_func", "popt", "pcov", "feature_index", "p0_func"]
    assert loaded.fit_func is curvefit.CURVES[func].func and loaded.p0_func is curvefit.CURVES[func].p0
    assert loaded.feature_index == FEATURE_GROUPS["BPFOnly"].features.index("bpf_cpu_time_ms")
    x = np.random.default_rng(0).uniform(0, 1, (10, 2))
    np.testing.assert_allclose(loaded.predict(x), estimator.predict(x))


def test_constant_target_still_gives_a_logistic_model():
    ts = training_set(linear_power, rows=100, factors={"package": 1.0, "core": 0.0, "uncore": 0.0, "dram": 0.3})
    _, model = _fit(ts, "LogisticRegressionTrainer")
    assert curvefit.logi_p0(np.zeros(3), np.zeros(3))[2] == 1.0  # k = 1 when std(y) = 0
    assert model.errors["mae"]["core"] == 0.0 and model.errors["mape"]["core"] == -1


def test_initial_guesses_follow_the_spec():
    x, y = np.array([0.0, 0.5, 1.0]), np.array([10.0, 20.0, 40.0])
    assert curvefit.log_p0(x, y) == [30.0, 1.0, 10.0]
    amplitude, x0, k, off = curvefit.logi_p0(x, y)
    assert (amplitude, x0, off) == (30.0, 0.5, 10.0) and k == np.floor(30.0 / np.std(y))
    assert curvefit.expo_p0(x, y) == [11.0, 1.0, -1.0]  # floor(30 / e) = 11, c = 10 - 11


def test_too_few_rows_fail_the_node_type_only():
    ts = training_set(linear_power, rows=8, node_types=(0,))
    data = prepare(ts, 0)
    assert data.nodes[0].problem == "only 8 rows"
    with pytest.raises(ValueError, match="only 8 rows"):
        fit_node(data, data.nodes[0], TRAINERS["LinearRegressionTrainer"], 0)
