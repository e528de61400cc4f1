"""Curve fits repeated across feature groups are fitted once per run (curvefit.CurveMemo), same bits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import steps.train.curvefit as curvefit
from steps.train.curvefit import CurveFitFailure, CurveMemo, fit_curve, logi_func, logi_p0
from steps.train.fit import fit_node, prepare
from steps.train.model_files import write_model
from steps.train.trainers import TRAINERS
from tests.train_fit.helpers import dram_sigmoid, sigmoid_power, training_set
from tests.train_fit.test_cli import query_document, train, workspace  # noqa: F401 - fixtures


def _data():
    x = np.linspace(0, 1, 200)
    return x, 30 + 60 / (1 + np.exp(-8 * (x - 0.5))) + np.random.default_rng(0).normal(0, 1, x.size)


def test_a_repeated_fit_is_read_back_with_the_same_bits(tmp_path: Path):
    x, y = _data()
    calls = []

    def fit():
        calls.append(1)
        return fit_curve(logi_func, logi_p0, x, y)

    first = CurveMemo(tmp_path).fetch(logi_func, x, y, fit)
    again = CurveMemo(tmp_path).fetch(logi_func, x.copy(), y.copy(), fit)  # another process would do the same
    assert len(calls) == 1
    assert first[0].tobytes() == again[0].tobytes() and first[1].tobytes() == again[1].tobytes()
    CurveMemo(tmp_path).fetch(logi_func, x, y + 1, fit)  # another target: fitted
    CurveMemo(tmp_path).fetch(curvefit.log_func, x, y, fit)  # another curve: fitted
    assert len(calls) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left


def test_a_failed_fit_fails_again_without_fitting(tmp_path: Path):
    x, y = _data()
    calls = []

    def fit():
        calls.append(1)
        raise CurveFitFailure("curve fit did not converge within maxfev=30000")

    for _ in range(2):
        with pytest.raises(CurveFitFailure, match="did not converge within maxfev=30000"):
            CurveMemo(tmp_path).fetch(logi_func, x, y, fit)
    assert len(calls) == 1


@pytest.mark.parametrize("trainer", [n for n, t in TRAINERS.items() if t.model_class == "curvefit"])
def test_models_fitted_and_read_from_the_memo_are_the_same_files(tmp_path: Path, trainer: str):
    data = prepare(training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid), 0)
    spec, memo = TRAINERS[trainer], CurveMemo(tmp_path / "memo")
    files = {}
    for run in ("plain", "fitted", "read"):
        model = fit_node(data, data.nodes[0], spec, 0, memo=None if run == "plain" else memo)
        staged = write_model(tmp_path / run, model, "AbsPower", None)
        files[run] = {p.relative_to(staged.folder).as_posix(): p.read_bytes() for p in staged.folder.rglob("*")}
    assert files["plain"] == files["fitted"] == files["read"]


def test_groups_sharing_a_main_feature_share_their_curve_fits(
    tmp_path: Path,
    workspace: Path,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
):
    """5 groups x 4 components, but only two main features per component (cpu_instructions /
    cache_miss for the counter groups, bpf_cpu_time_ms / bpf_page_cache_hit for the BPF groups)."""
    calls = []
    original = curvefit.fit_curve
    monkeypatch.setattr(curvefit, "fit_curve", lambda *args: calls.append(1) or original(*args))
    code, out, err = train(
        workspace,
        "--input",
        "kepler_query",
        "-e",
        "rapl-sysfs",
        "--jobs",
        "1",
        "--abs-trainers",
        "LogarithmicRegressionTrainer",
        "--dyn-trainers",
        "none",
    )
    assert code == 0, err
    assert len(list((workspace / "std_v0.7.11" / "rapl-sysfs" / "AbsPower").glob("*/Logarithmic*.zip"))) == 5
    assert len(calls) == 8
