"""Curve fits repeated across feature groups are fitted once per run (a curvefit.CurveCache), same bits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import steps.train.curvefit as curvefit
from steps.common.domain import CURVEFIT, TRAINERS
from steps.train.curve_memo import FileCurveCache
from steps.train.curvefit import CurveFitFailure, fit_cached, logi_func, logi_p0
from steps.train.fit import fit_node
from steps.train.fit_data import prepare
from steps.train.model_files import write_model
from tests.train.helpers import dram_sigmoid, sigmoid_power, training_set
from tests.train.test_cli import query_document, train, workspace  # noqa: F401 - fixtures


def _data():
    x = np.linspace(0, 1, 200)
    return x, 30 + 60 / (1 + np.exp(-8 * (x - 0.5))) + np.random.default_rng(0).normal(0, 1, x.size)


def test_a_repeated_fit_is_read_back_with_the_same_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    x, y = _data()
    calls = []
    original = curvefit.fit_curve

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(curvefit, "fit_curve", counted)
    first = fit_cached(logi_func, logi_p0, x, y, FileCurveCache(tmp_path))
    again = fit_cached(logi_func, logi_p0, x.copy(), y.copy(), FileCurveCache(tmp_path))  # as another process would
    assert len(calls) == 1
    assert first[0].tobytes() == again[0].tobytes() and first[1].tobytes() == again[1].tobytes()
    fit_cached(logi_func, logi_p0, x, y + 1, FileCurveCache(tmp_path))  # another target: fitted
    fit_cached(curvefit.log_func, curvefit.log_p0, x, y, FileCurveCache(tmp_path))  # another curve: fitted
    assert len(calls) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left


def test_a_failed_fit_fails_again_without_fitting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    x, y = _data()
    calls = []

    def failing(*args):
        calls.append(1)
        raise CurveFitFailure("curve fit did not converge within maxfev=30000")

    monkeypatch.setattr(curvefit, "fit_curve", failing)
    for _ in range(2):
        with pytest.raises(CurveFitFailure, match="did not converge within maxfev=30000"):
            fit_cached(logi_func, logi_p0, x, y, FileCurveCache(tmp_path))
    assert len(calls) == 1


class MemoryCache(dict):
    """A curvefit.CurveCache in a dict: the fit core needs nothing more."""

    def put(self, key, outcome):
        self[key] = outcome


def test_the_fit_core_takes_any_cache_with_get_and_put():
    data = prepare(training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid), 0)
    cache = MemoryCache()
    first = fit_node(data, data.nodes[0], TRAINERS["LogisticRegressionTrainer"], 0, cache)
    assert len(cache) == 4  # one fit per component
    again = fit_node(data, data.nodes[0], TRAINERS["LogisticRegressionTrainer"], 0, cache)
    assert len(cache) == 4
    for component, estimator in first.estimators.items():
        assert estimator.popt.tobytes() == again.estimators[component].popt.tobytes()


@pytest.mark.parametrize("trainer", [n for n, t in TRAINERS.items() if t.model_class == CURVEFIT])
def test_models_fitted_and_read_from_the_memo_are_the_same_files(tmp_path: Path, trainer: str):
    data = prepare(training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid), 0)
    spec, memo = TRAINERS[trainer], FileCurveCache(tmp_path / "memo")
    files = {}
    for run in ("plain", "fitted", "read"):
        model = fit_node(data, data.nodes[0], spec, 0, None if run == "plain" else memo)
        staged = write_model(tmp_path / run, model, "AbsPower", None)
        files[run] = {p.relative_to(staged.folder).as_posix(): p.read_bytes() for p in staged.folder.rglob("*")}
    assert files["plain"] == files["fitted"] == files["read"]


@pytest.mark.parametrize("folds", [0, 5])
def test_groups_sharing_a_main_feature_share_their_curve_fits(
    tmp_path: Path,
    workspace: Path,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
    folds: int,
):
    """5 groups x 4 components, but only two main features per component (cpu_instructions /
    cache_miss for the counter groups, bpf_cpu_time_ms / bpf_page_cache_hit for the BPF groups).
    The scoring fits (scoring.py) are shared the same way: each fold and the extrapolation split
    cut the same rows of every group, so a fit set of one group's is another's."""
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
        "--cv-folds",
        str(folds),
    )
    assert code == 0, err
    assert len(list((workspace / "std_v0.7.11" / "rapl-sysfs" / "AbsPower").glob("*/Logarithmic*.zip"))) == 5
    assert len(calls) == 8 * (1 + (folds + 1 if folds else 0))  # the model, each fold, the extrapolation
