"""ONNX copies of the models (steps/train/onnx_models.py, onnx_check.py).

Known ground truth: the pickled model as kepler-model-server loads it (joblib scaler, poly and
component pickles, XGBoost JSON) on the raw rows of the training table. Every trainer, AbsPower and
DynPower (derived from AbsPower where the trainer allows, fitted otherwise).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import joblib
import numpy as np
import onnxruntime
import pytest

from steps.common.domain import CURVEFIT, SCIKIT, TRAINERS, XGBOOST
from steps.train import curvefit, onnx_check, onnx_models
from steps.train.fit_data import FitData
from steps.train.jobs import Job, JobResult
from steps.train.plan import pair_for_derivation
from steps.train.summary import onnx_lines
from tests.train.helpers import dram_sigmoid, sigmoid_power, training_set
from tests.train.test_jobs import run

OUTPUT_TYPES = ("AbsPower", "DynPower")


def _sets():
    """AbsPower and min-isolated DynPower sets of the same rows (rapl-sysfs: four components, uncore flat)."""
    absolute = training_set(sigmoid_power, rows=150, noise=1.0, dram=dram_sigmoid)
    table = absolute.table.copy()
    for columns in absolute.power_columns.values():
        for column in columns:
            table[column] = table[column] - table[column].min()
    table["id"] = "all containers"
    return absolute, replace(absolute, output_type="DynPower", table=table)


def _train(stage: Path, onnx: bool, trainers=None) -> List[JobResult]:
    trainers = list(TRAINERS.values()) if trainers is None else trainers
    absolute, dynamic = (FitData.of(ts, 5) for ts in _sets())
    jobs: List[Job] = []
    for trainer in trainers:
        for data in (absolute, dynamic):
            job = Job(key=len(jobs), data=data, trainer=trainer, stage=stage / data.output_type)
            job.onnx = onnx
            jobs.append(job)
    pair_for_derivation(jobs, "min")
    return run(jobs, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Dict:
    stage = tmp_path_factory.mktemp("onnx")
    results = _train(stage, onnx=True)
    return {"stage": stage, "results": {r.label: r for r in results}}


def _server_predictions(folder: Path, raw: np.ndarray) -> Dict[str, np.ndarray]:
    """The model folder as kepler-model-server applies it: scaler, poly, then each component's model."""
    metadata = json.loads((folder / "metadata.json").read_text())
    x = joblib.load(folder / "scaler.pkl").transform(raw)
    if (folder / "poly_scaler.pkl").exists():
        x = joblib.load(folder / "poly_scaler.pkl").transform(x)
    predicted = {}
    for component, entry in json.loads((folder / f"{metadata['model_name']}.json").read_text()).items():
        path = folder / entry["model_file"]
        if metadata["model_class"] == XGBOOST:
            import xgboost

            model = xgboost.XGBRegressor()
            model.load_model(str(path))
        elif metadata["model_class"] == CURVEFIT:  # kepler-model-server's names, mapped to ours
            model = curvefit.load(path)
        else:
            model = joblib.load(path)
        predicted[component] = np.asarray(model.predict(x), dtype=float).ravel()
    return predicted


@pytest.mark.parametrize("output_type", OUTPUT_TYPES)
@pytest.mark.parametrize("name", list(TRAINERS))
def test_every_model_has_an_onnx_graph_that_predicts_what_the_pickles_do(trained, name: str, output_type: str):
    result = trained["results"][f"rapl-sysfs/{output_type}/BPFOnly/{name}"]
    assert not result.failures and not result.onnx_skipped, (result.failures, result.onnx_skipped)
    if output_type == "DynPower" and TRAINERS[name].absorbs_shift is not None:
        assert result.derived == 1  # the ONNX graph is the derived model's (lowered intercept, base score, ...)
    group = trained["stage"] / output_type
    folder, graph = group / f"{name}_0", group / f"{name}_0.onnx"
    assert graph.is_file()
    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    features = json.loads(session.get_modelmeta().custom_metadata_map["features"])
    assert features == json.loads((folder / "metadata.json").read_text())["features"]
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [(o.name, o.type) for o in session.get_outputs()] == [
        (c, "tensor(double)") for c in ("package", "core", "uncore", "dram")
    ]
    _, dynamic = _sets()
    table = dynamic.table if output_type == "DynPower" else _sets()[0].table
    raw = table[features].to_numpy(dtype=float)
    want = _server_predictions(folder, raw)
    outputs = session.run(list(want), {"features": raw})
    for component, got in zip(want, outputs):
        assert got.shape == (len(raw), 1)
        error = np.abs(got.ravel() - want[component])
        ok = (error <= onnx_check.ABS_TOLERANCE) | (error <= onnx_check.REL_TOLERANCE * np.abs(want[component]))
        assert ok.all(), (component, float(error.max()))


def _members(archive: Path) -> List[tuple]:
    with zipfile.ZipFile(archive) as z:
        return [(i.filename, i.CRC, i.file_size) for i in z.infolist()]


def test_onnx_writing_changes_no_model_zip(trained, tmp_path: Path):
    _train(tmp_path, onnx=False)
    for output_type in OUTPUT_TYPES:
        with_onnx = sorted((trained["stage"] / output_type).glob("*.zip"))
        without = sorted((tmp_path / output_type).glob("*.zip"))
        assert [p.name for p in with_onnx] == [p.name for p in without] and len(without) == len(TRAINERS)
        for a, b in zip(with_onnx, without):
            assert [m[0] for m in _members(a)] == [m[0] for m in _members(b)], a.name
            assert _members(a) == _members(b), a.name
            assert not any(name.endswith(".onnx") for name, _, _ in _members(a))
        assert not list((tmp_path / output_type).glob("*.onnx"))


def test_a_graph_that_does_not_reproduce_the_model_is_not_written(tmp_path: Path, monkeypatch):
    """The guard: a wrong curve (b off by one) and a converter that raises; the models themselves stay."""
    right = onnx_models.CURVES["expo_func"]
    monkeypatch.setitem(
        onnx_models.CURVES, "expo_func", lambda g, x, p, params: right(g, x, p, [params[0], params[1] + 1, params[2]])
    )

    def broken(estimator, width, float32):
        raise RuntimeError("converter exploded")

    monkeypatch.setitem(onnx_models.CONVERTERS, XGBOOST, broken)
    trainers = [TRAINERS[n] for n in ("ExponentialRegressionTrainer", "XgboostFitTrainer", "LinearRegressionTrainer")]
    results = {r.label: r for r in _train(tmp_path, onnx=True, trainers=trainers)}
    for output_type in OUTPUT_TYPES:
        expo = results[f"rapl-sysfs/{output_type}/BPFOnly/ExponentialRegressionTrainer"]
        xgb = results[f"rapl-sysfs/{output_type}/BPFOnly/XgboostFitTrainer"]
        assert len(expo.models) == 1 and not expo.failures and len(xgb.models) == 1 and not xgb.failures
        assert [s.what for s in expo.onnx_skipped] == [
            f"rapl-sysfs/{output_type}/BPFOnly/ExponentialRegressionTrainer_0"
        ]
        assert expo.onnx_skipped[0].reason.startswith("package differs on ")
        assert [s.reason for s in xgb.onnx_skipped] == ["converter exploded"]
        group = tmp_path / output_type
        assert sorted(p.name for p in group.glob("*.onnx")) == ["LinearRegressionTrainer_0.onnx"]
        assert (group / "ExponentialRegressionTrainer_0.zip").is_file() and (
            group / "XgboostFitTrainer_0.zip"
        ).is_file()
    lines = onnx_lines([s for r in results.values() for s in r.onnx_skipped])
    assert lines[0] == "ONNX not written (4):"
    assert "  rapl-sysfs/AbsPower/BPFOnly/XgboostFitTrainer_0: onnx not written: converter exploded" in lines


def test_the_tolerance_decides(tmp_path: Path, monkeypatch):
    """A float32 estimator (SVR) differs from the double model in the last digits: no tolerance, no file."""
    monkeypatch.setattr(onnx_check, "ABS_TOLERANCE", 0.0)
    monkeypatch.setattr(onnx_check, "REL_TOLERANCE", 0.0)
    results = _train(tmp_path, onnx=True, trainers=[TRAINERS["SVRRegressorTrainer"], TRAINERS["SGDRegressorTrainer"]])
    skipped = {s.what.rsplit("/", 1)[1] for r in results for s in r.onnx_skipped}
    assert "SVRRegressorTrainer_0" in skipped
    assert not (tmp_path / "AbsPower" / "SVRRegressorTrainer_0.onnx").exists()


def test_train_writes_onnx_by_default_and_not_with_no_onnx(tmp_path: Path, monkeypatch):
    """The flag end to end: the summary names a model whose graph failed; --no-onnx / TRAIN_ONNX=false write none."""
    from steps.common.config import Environment
    from steps.common.console import Console
    from steps.common.workspace import Workspace
    from steps.synth import generate
    from steps.train.cli import build_parser, options_from_args
    from steps.train.run import train
    from tests.train.test_cli import CONFIG

    (tmp_path / "kepler_query.json").write_text(json.dumps(generate(CONFIG).query_response()))

    def broken(estimator, width, float32):
        raise RuntimeError("no graph today")

    monkeypatch.setitem(onnx_models.CONVERTERS, SCIKIT, broken)

    def train_with(*flags: str, env: Optional[Dict[str, str]] = None) -> str:
        environ = Environment({"DATAPATH": str(tmp_path), "MODEL_PATH": str(tmp_path), **(env or {})})
        arguments = ["--input", "kepler_query", "-e", "rapl-sysfs", "--jobs", "1", "--cv-folds", "0", *flags]
        options = options_from_args(build_parser().parse_args(arguments), environ)
        out = io.StringIO()
        train(options, Workspace.from_settings(None, environ), Console("train", out=out, err=io.StringIO()))
        return out.getvalue()

    pipeline = tmp_path / "std_v0.7.11" / "rapl-sysfs"
    out = train_with("--abs-trainers", "LinearRegressionTrainer,LogarithmicRegressionTrainer", "--dyn-trainers", "none")
    graphs = sorted(p.name for p in pipeline.rglob("*.onnx"))
    assert graphs and all(g.startswith("LogarithmicRegressionTrainer_") for g in graphs)
    assert "onnx not written: no graph today" in out and "ONNX not written (" in out
    assert all(p.with_suffix(".zip").is_file() for p in pipeline.rglob("*.onnx"))
    # A new run without ONNX replaces the models of its node types: no stale graph stays beside them.
    train_with("--abs-trainers", "LogarithmicRegressionTrainer", "--dyn-trainers", "none", "--no-onnx")
    assert not list(pipeline.rglob("*.onnx"))
    train_with("--abs-trainers", "LogarithmicRegressionTrainer", "--dyn-trainers", "none", env={"TRAIN_ONNX": "false"})
    assert not list(pipeline.rglob("*.onnx"))


@pytest.mark.parametrize(
    "flags, env, expected",
    [([], {}, True), (["--no-onnx"], {}, False), (["--onnx=false"], {}, False), ([], {"TRAIN_ONNX": "false"}, False)]
    + [(["--onnx"], {"TRAIN_ONNX": "false"}, True)],
)
def test_onnx_flag(flags, env, expected):
    from steps.common.config import Environment
    from steps.train.cli import build_parser, options_from_args

    args = build_parser().parse_args(["--input", "q", *flags])
    assert options_from_args(args, Environment(env)).onnx is expected
