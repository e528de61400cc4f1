"""Fit plots of the best models (out-of-fold predictions from `<model>.cv.npz`): written as PNGs,
linked from the pipeline README, the same bytes on every export, and a reason when there is none."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from steps.cli import main
from steps.common.workspace import PipelineLayout
from steps.export import fit_data, fit_plots, fit_report

from .builder import Model, PipelineSpec, build_pipeline, index_entry, pipeline_metadata
from .conftest import PIPELINE, run_export
from .cv_builder import add_scores, set_cv_folds, write_predictions

PNG = b"\x89PNG\r\n\x1a\n"
RAPL = ("package", "core", "uncore", "dram")


def models():
    M = Model
    return [
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 0, 2.0, 10.0),  # split best
        M("rapl-sysfs", "AbsPower", "BPFOnly", "XgboostFitTrainer", 0, 5.0, 12.0),  # cv best
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 1, 3.0, 10.0),  # node type 1, no npz
        M("rapl-sysfs", "DynPower", "Basic", "LinearRegressionTrainer", 0, 2.0, 5.0),
        M("acpi", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 0, 4.0, 8.0),
    ]


def build(ws) -> PipelineLayout:
    index = {"0": index_entry("intel_xeon", 8, 1, 16, 3000), "1": index_entry("amd_epyc", 16, 1, 32, 3500)}
    layout = build_pipeline(ws["models"], PipelineSpec(PIPELINE, index, models(), pipeline_metadata(PIPELINE)))
    add_scores(layout, "rapl-sysfs", "AbsPower", {("BPFOnly", "XgboostFitTrainer_0"): {"cv_mae": "1.5"}})
    add_scores(layout, "rapl-sysfs", "DynPower", {})
    add_scores(layout, "acpi", "AbsPower", {})
    set_cv_folds(layout, 4)
    for key, shift in (
        (("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer_0"), 0.0),
        (("rapl-sysfs", "AbsPower", "BPFOnly", "XgboostFitTrainer_0"), 1.0),
        (("rapl-sysfs", "DynPower", "Basic", "LinearRegressionTrainer_0"), -1.0),
    ):
        write_predictions(layout, key, RAPL, shift=shift)
    write_predictions(layout, ("acpi", "AbsPower", "BPFOnly", "SGDRegressorTrainer_0"), ("platform",), rows=5000)
    return layout


@pytest.fixture
def with_predictions(workspace):
    build(workspace)
    return workspace


def folder(ws) -> Path:
    return ws["db"] / "v0.7" / PIPELINE


FIT_PNGS = [
    "acpi_AbsPower_BPFOnly_0_fit.png",
    "rapl-sysfs_AbsPower_BPFOnly_0_fit.png",
    "rapl-sysfs_DynPower_Basic_0_fit.png",
]


def test_fit_plots_written_linked_and_reasoned(with_predictions):
    result = run_export(with_predictions)
    assert result.code == 0, result
    out = folder(with_predictions)
    assert sorted(p.name for p in out.glob("*_fit.png")) == FIT_PNGS
    for name in FIT_PNGS:
        assert (out / name).read_bytes().startswith(PNG)
    readme = (out / "README.md").read_text()
    linked = re.findall(r"!\[\]\(([^)]+_fit\.png)\)", readme)
    assert sorted(linked) == FIT_PNGS
    # the plotted model is the best by the selected (cross-validated) error, and is named
    assert "BPFOnly, node type 0 (XgboostFitTrainer_0):\n\n![](rapl-sysfs_AbsPower_BPFOnly_0_fit.png)" in readme
    assert "BPFOnly, node type 1 (SGDRegressorTrainer_1): no plot, SGDRegressorTrainer_1.cv.npz is missing." in readme
    # sections in table order: rapl-sysfs AbsPower, rapl-sysfs DynPower, acpi AbsPower
    fits = readme.split("## Fit of the best models", 1)[1]
    assert re.findall(r"### (.+)", fits) == ["rapl-sysfs (AbsPower)", "rapl-sysfs (DynPower)", "acpi (AbsPower)"]


def test_split_selection_plots_the_split_best(with_predictions):
    assert run_export(with_predictions, "--select-by", "split").code == 0
    readme = (folder(with_predictions) / "README.md").read_text()
    assert "BPFOnly, node type 0 (SGDRegressorTrainer_0):\n\n![](rapl-sysfs_AbsPower_BPFOnly_0_fit.png)" in readme


def test_fit_plots_are_the_same_bytes_on_every_export(with_predictions, tmp_path):
    assert run_export(with_predictions).code == 0
    first = {name: (folder(with_predictions) / name).read_bytes() for name in FIT_PNGS}
    other = dict(with_predictions, db=tmp_path / "other" / "models")
    assert run_export(other).code == 0
    assert {name: (folder(other) / name).read_bytes() for name in FIT_PNGS} == first
    assert run_export(with_predictions).code == 0  # re-export over the first
    assert {name: (folder(with_predictions) / name).read_bytes() for name in FIT_PNGS} == first


def test_broken_predictions_give_a_reason_not_a_failure(with_predictions):
    layout = PipelineLayout(with_predictions["models"] / PIPELINE)
    path = fit_data.predictions_path(layout, ("rapl-sysfs", "DynPower", "Basic", "LinearRegressionTrainer_0"))
    path.write_bytes(b"not a zip")
    result = run_export(with_predictions)
    assert result.code == 0, result
    readme = (folder(with_predictions) / "README.md").read_text()
    assert (
        "Basic, node type 0 (LinearRegressionTrainer_0): no plot, LinearRegressionTrainer_0.cv.npz cannot be read"
        in readme
    )
    assert not (folder(with_predictions) / "rapl-sysfs_DynPower_Basic_0_fit.png").exists()


def test_zip_includes_the_fit_plots(with_predictions):
    import zipfile

    assert run_export(with_predictions, "--zip=true").code == 0
    with zipfile.ZipFile(with_predictions["db"] / "v0.7" / f"{PIPELINE}.zip") as archive:
        assert set(FIT_PNGS) <= set(archive.namelist())


# ------------------------------------------------------------------ pure parts


def arrays(rows=50, components=("package",)):
    data = {"timestamp": np.arange(rows, dtype=float)[::-1] * 15, "load": np.linspace(0, 100, rows)}
    for c in components:
        data[f"measured_{c}"] = np.full(rows, 10.0)
        data[f"predicted_{c}"] = np.linspace(9, 11, rows)
    return data


def test_fit_data_sorts_by_time_and_keeps_known_components():
    data = fit_data.fit_data(arrays(components=("package", "dram", "gpu")), ("package", "core", "dram"), "x")
    assert data.components == ("package", "dram")
    assert list(data.timestamp) == sorted(data.timestamp)
    assert data.load[0] == 100.0  # the last row in the file is the first in time


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: a.pop("load"), "no 'load' array"),
        (lambda a: a.pop("timestamp"), "no 'timestamp' array"),
        (lambda a: a.pop("measured_package"), "no measured_/predicted_ arrays of package"),
        (lambda a: a.update(load=np.zeros(3)), "different or empty shapes"),
        (lambda a: a.update(timestamp=np.zeros((50, 2))), "different or empty shapes"),
    ],
)
def test_fit_data_rejects_unusable_files(change, message):
    data = arrays()
    change(data)
    with pytest.raises(fit_data.FitDataError, match=message):
        fit_data.fit_data(data, ("package",), "m.cv.npz")


def test_missing_file_reason(tmp_path):
    with pytest.raises(fit_data.FitDataError, match=r"^m\.cv\.npz is missing$"):
        fit_data.read_fit_data(tmp_path / "m.cv.npz", ("package",))


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "m.cv.npz"
    np.savez(path, timestamp=np.array([object()], dtype=object))
    with pytest.raises(fit_data.FitDataError, match="cannot be read"):
        fit_data.read_fit_data(path, ("package",))


def test_a_reused_figure_draws_the_same_bytes_as_a_fresh_one():
    small = fit_data.fit_data(arrays(60), ("package",), "a")
    large = fit_data.fit_data(arrays(9000), ("package",), "b")
    fresh = fit_plots.fit_plot("a", "load", small)
    plotter = fit_plots.FitPlotter()
    plotter.plot("b", "other load", large)
    assert plotter.plot("a", "load", small) == fresh
    assert fresh.startswith(PNG) and b"Software" not in fresh


def test_all_missing_means_one_line():
    entries = [fit_report.FitEntry("acpi", "AbsPower", "Basic", 0, "A_0", reason="A_0.cv.npz is missing")]
    assert fit_report.all_missing(entries)
    assert not fit_report.all_missing([])
    assert not fit_report.all_missing(entries + [fit_report.FitEntry("acpi", "AbsPower", "X", 0, "B_0", plot="p.png")])


# ------------------------------------------------------------------ Kepler 0.10


@pytest.fixture(scope="module")
def trained_010(tmp_path_factory):
    """A small std_v0.10 pipeline trained by `kepler-model train` (zones as components), with train's
    cross-validation output added by hand."""
    from steps.synth import Kepler010Config, generate_010

    root = tmp_path_factory.mktemp("fit010")
    data = root / "data"
    data.mkdir()
    truth = generate_010(Kepler010Config(duration_s=600, step_s=15, zones=("package", "dram"), seed=3, noise_w=0.2))
    truth.write_query_response(data / "kepler_query.json")
    (data / "stressng.json").write_text(
        '{"startTimeUTC": "2024-01-01T00:00:00Z", "endTimeUTC": "2024-01-01T00:10:00Z"}'
    )
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(root / "models"), "CONFIG_PATH": str(root / "none")}
    trainers = "LinearRegressionTrainer,SGDRegressorTrainer"
    argv = ["train", "--input", "kepler_query", "--abs-trainers", trainers, "--dyn-trainers", trainers, "--jobs", "1"]
    err = io.StringIO()
    assert main(argv, environ=environ, out=io.StringIO(), err=err) == 0, err.getvalue()
    [pipeline] = [p for p in (root / "models").iterdir() if p.is_dir()]
    return {"data": data, "models": root / "models", "root": root, "name": pipeline.name}


def test_010_pipeline_fit_plots_in_v010(trained_010, tmp_path):
    layout = PipelineLayout(trained_010["models"] / trained_010["name"])
    plotted = []
    for csv_path in sorted(layout.root.glob("*_model_metadata.csv")):
        source, output_type = csv_path.name[: -len("_model_metadata.csv")].rsplit("_", 1)
        header, *rows = [line.split(",") for line in csv_path.read_text().splitlines()]
        if "cv_mae" not in header:
            add_scores(layout, source, output_type, {})
        components = [c[: -len("_mae")] for c in header if c.endswith("_mae") and c != "mae" and not c.startswith("cv")]
        components = [c for c in components if c != "extrapolation"]
        for group in sorted({p.name for p in layout.output_dir(source, output_type).iterdir() if p.is_dir()}):
            for model_dir in layout.group_dir(source, output_type, group).iterdir():
                if model_dir.is_dir():
                    write_predictions(layout, (source, output_type, group, model_dir.name), components)
                    plotted.append((source, output_type, group))
    set_cv_folds(layout, 3)
    db = tmp_path / "db" / "models"
    environ = {
        "DATAPATH": str(trained_010["data"]),
        "MODEL_PATH": str(trained_010["models"]),
        "CONFIG_PATH": str(tmp_path / "none"),
    }
    argv = ["export", "-p", trained_010["name"], "-o", str(db), "--publisher", "me", "--benchmark", "stressng"]
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, environ=environ, out=out, err=err) == 0, err.getvalue()
    assert "--select-by" not in err.getvalue()
    target = db / "v0.10" / trained_010["name"]
    readme = (target / "README.md").read_text()
    assert "Selected by: cross-validated error (3 folds)" in readme
    pngs = sorted(p.name for p in target.glob("*_fit.png"))
    assert pngs and all(name in readme for name in pngs)
    assert all((target / name).read_bytes().startswith(PNG) for name in pngs)
    assert json.loads((target / "metadata.json").read_text())["kepler_generation"] == "0.10"
