"""Plots (export.md §8): the power-curve evaluation against hand-computed values, and PNG output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from steps.export import plots
from steps.export.select import ModelRow

LINEAR = {
    "package": {
        "All_Weights": {
            "Bias_Weight": 143.8,
            "Categorical_Variables": {},
            "Numerical_Variables": {
                "bpf_cpu_time_ms": {"scale": 95877.0, "weight": 305.1},
                "bpf_page_cache_hit": {"scale": 1.0, "weight": 50.0},
            },
        }
    }
}


def curve(trainer, params):
    return {
        "platform": {
            "All_Weights": {
                "Categorical_Variables": {},
                "CurveFit_Weights": params,
                "Numerical_Variables": {"bpf_cpu_time_ms": {"scale": 400.0}, "bpf_page_cache_hit": {"scale": 1.0}},
            }
        }
    }


def test_linear_curve_is_bias_plus_weight_times_scaled_x():
    xs, ys = plots.predict_curve(LINEAR, "package", "SGDRegressorTrainer")
    assert len(xs) == 20 and xs[0] == 0 and xs[-1] == pytest.approx(95877.0)
    assert ys[0] == pytest.approx(143.8)  # bpf_page_cache_hit is held at 0
    assert ys[-1] == pytest.approx(143.8 + 305.1)
    assert ys[10] == pytest.approx(143.8 + 305.1 * xs[10] / 95877.0)


def test_negative_predictions_are_zero():
    weights = {
        "package": {
            "All_Weights": {
                "Bias_Weight": -10.0,
                "Numerical_Variables": {"bpf_cpu_time_ms": {"scale": 10.0, "weight": 20.0}},
            }
        }
    }
    _, ys = plots.predict_curve(weights, "package", "SGDRegressorTrainer")
    assert ys[0] == 0 and ys[-1] == pytest.approx(10.0) and (ys >= 0).all()


@pytest.mark.parametrize(
    "trainer,params,at_one",
    [
        ("LogarithmicRegressionTrainer", [70.0, 4.0, 40.0], 70.0 * math.log(5.0) + 40.0),
        ("LogisticRegressionTrainer", [90.0, 0.4, 6.0, 30.0], 90.0 / (1 + math.exp(-6.0 * 0.6)) + 30.0),
        ("ExponentialRegressionTrainer", [10.0, 1.5, 35.0], 10.0 * math.exp(1.5) + 35.0),
    ],
)
def test_curve_fit_formulas_on_scaled_x(trainer, params, at_one):
    xs, ys = plots.predict_curve(curve(trainer, params), "platform", trainer)
    assert xs[-1] == pytest.approx(400.0)
    assert ys[-1] == pytest.approx(at_one)
    first = {
        "LogarithmicRegressionTrainer": 40.0,
        "ExponentialRegressionTrainer": 45.0,
        "LogisticRegressionTrainer": 90.0 / (1 + math.exp(6.0 * 0.4)) + 30.0,
    }[trainer]
    assert ys[0] == pytest.approx(first)


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def test_metadata_plot_renders_and_is_reproducible():
    rows = [
        ModelRow(
            "acpi",
            "AbsPower",
            group,
            f"{trainer}_{n}",
            trainer,
            n,
            1.0,
            1.0,
            {"platform_mae": str(1.5 + n), "platform_mape": "3.0"},
        )
        for group in ("Basic", "BPFOnly")
        for trainer in ("SGDRegressorTrainer", "XgboostFitTrainer")
        for n in (0, 2)
    ]
    first = plots.metadata_plot("acpi", "AbsPower", ("platform",), rows)
    assert is_png(first)
    assert plots.metadata_plot("acpi", "AbsPower", ("platform",), rows) == first


def test_power_curve_splits_into_subplots_of_at_most_15_lines():
    curves = [(n, f"SGDRegressorTrainer_{n}", "SGDRegressorTrainer", LINEAR) for n in range(17)]
    assert is_png(plots.power_curve_plot("rapl-sysfs", "AbsPower", "package", curves))
    chunks = [curves[i : i + plots.LINES_PER_SUBPLOT] for i in range(0, len(curves), plots.LINES_PER_SUBPLOT)]
    assert [len(c) for c in chunks] == [15, 2]
    assert np.isfinite(plots.predict_curve(LINEAR, "package", "SGDRegressorTrainer")[1]).all()
