"""`--max-fit-rows`: a fit sees at most that many rows (a seeded sample), its errors are still measured on
every held-out row, and the flag is checked like the others."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from steps.cli import main
from steps.synth import Kepler010Config, generate_010
from steps.train.fit import fit_rows

WEIGHTS = "rapl-sysfs/AbsPower/CPUTimeOnly/LinearRegressionTrainer_0/weight.json"


def test_fit_rows_is_a_seeded_sorted_sample_only_above_the_cap():
    assert fit_rows(100, 0, 1) is None and fit_rows(100, 100, 1) is None
    rows = fit_rows(1000, 200, 7)
    assert rows is not None and len(rows) == 200 == len(set(rows.tolist()))
    assert (np.diff(rows) > 0).all() and rows.min() >= 0 and rows.max() < 1000
    assert np.array_equal(rows, fit_rows(1000, 200, 7))  # the same rows for the same count and seed
    assert not np.array_equal(rows, fit_rows(1000, 200, 8))


def _train(tmp_path: Path, *extra: str):
    truth = generate_010(Kepler010Config(duration_s=1800, step_s=15, noise_w=0.5, zones=("package",), seed=3))
    truth.write_query_response(tmp_path / "kepler_query.json")
    out, err = io.StringIO(), io.StringIO()
    argv = ["train", "--input", "kepler_query", "--jobs", "1", "--abs-trainers", "LinearRegressionTrainer"]
    argv += ["--dyn-trainers", "none", "--no-onnx", *extra]
    code = main(argv, environ={"DATAPATH": str(tmp_path), "CONFIG_PATH": "/nonexistent"}, out=out, err=err)
    return code, err.getvalue()


def test_a_capped_fit_still_recovers_the_function_and_records_the_cap(tmp_path: Path):
    """50 of the 108 training rows: the slope is the generator's, and train_arguments.json records the cap."""
    code, err = _train(tmp_path, "--max-fit-rows", "50", "-e", "rapl-sysfs")
    assert code == 0, err
    pipeline = tmp_path / "std_v0.10"
    assert json.loads((pipeline / "train_arguments.json").read_text())["max_fit_rows"] == 50
    weights = json.loads(
        (pipeline / "rapl-sysfs/AbsPower/CPUTimeOnly/LinearRegressionTrainer_0/weight.json").read_text()
    )
    x = weights["package"]["All_Weights"]["Numerical_Variables"]["bpf_cpu_time_ms"]
    truth = generate_010(Kepler010Config(duration_s=1800, step_s=15, noise_w=0.5, zones=("package",), seed=3))
    assert x["weight"] / x["scale"] == pytest.approx(truth.model.slope("package"), rel=0.1)
    uncapped = tmp_path / "uncapped"
    uncapped.mkdir()
    assert _train(uncapped, "-e", "rapl-sysfs")[0] == 0
    other = json.loads((uncapped / "std_v0.10" / WEIGHTS).read_text())
    assert other["package"]["All_Weights"]["Numerical_Variables"]["bpf_cpu_time_ms"]["weight"] != x["weight"]


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_a_bad_cap_is_a_usage_error_naming_the_flag(tmp_path: Path, value: str):
    code, err = _train(tmp_path, "--max-fit-rows", value)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--max-fit-rows" in lines[0], err
