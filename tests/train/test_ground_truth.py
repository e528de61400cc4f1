"""Generator -> train, end to end: the trained models recover the generator's known power function.

The synthetic data has a known package power (linear or saturating in CPU time, plus Gaussian
noise of `NOISE` W), a counter reset and an irregular scrape gap, so these tests check what a
user cares about: that training on Kepler-shaped counters gives back the truth.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from steps.cli import main
from steps.synth import SynthConfig, generate

NOISE = 1.0
COMMON = dict(
    containers=8,
    duration_s=2 * 3600,
    step_s=15,
    noise_w=NOISE,
    sources=("rapl-sysfs",),
    counter_resets=(2400.0,),
    scrape_gaps=((4000.0, 45.0),),
)


def _train(tmp_path: Path, config: SynthConfig, *flags: str) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    generate(config).write_query_response(data / "kepler_query.json")
    err = io.StringIO()
    code = main(
        ["train", "--input", "kepler_query", "--pipeline-name", "truth", "--jobs", "1", *flags],
        environ={"DATAPATH": str(data), "CONFIG_PATH": str(tmp_path / "none")},
        out=io.StringIO(),
        err=err,
    )
    assert code == 0, err.getvalue()
    return data / "truth"


def test_linear_regression_recovers_the_true_coefficients(tmp_path):
    config = SynthConfig(power="linear", seed=5, **COMMON)
    truth = generate(config).model
    pipeline = _train(tmp_path, config, "--abs-trainers", "LinearRegressionTrainer", "--dyn-trainers", "none")
    model = pipeline / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_1"
    weights = json.loads((model / "weight.json").read_text())["package"]["All_Weights"]
    variables = weights["Numerical_Variables"]
    cpu = variables["bpf_cpu_time_ms"]["weight"] / variables["bpf_cpu_time_ms"]["scale"]
    page_cache = variables["bpf_page_cache_hit"]["weight"] / variables["bpf_page_cache_hit"]["scale"]
    assert cpu == pytest.approx(truth.cpu_w_per_ms, rel=0.05)
    assert page_cache == pytest.approx(truth.page_cache_w_per_hit, rel=0.05)
    assert weights["Bias_Weight"] == pytest.approx(truth.idle_package_w, rel=0.05)


@pytest.mark.parametrize("power", ["linear", "saturating"])
def test_best_abs_power_model_error_is_at_the_noise_level(tmp_path, power):
    config = SynthConfig(power=power, seed=6, **COMMON)
    pipeline = _train(tmp_path, config, "--dyn-trainers", "none")
    with open(pipeline / "rapl-sysfs_AbsPower_model_metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 40  # five groups x ten trainers, a few curve fits may not converge
    best = min(float(row["mae"]) for row in rows)
    # The MAE of the true function itself is about 0.8 x NOISE (the mean of |N(0, NOISE)|).
    assert best <= 1.5 * NOISE, sorted(float(row["mae"]) for row in rows)[:5]
