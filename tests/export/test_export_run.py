"""`kepler-model export` on a realistic trained pipeline (tests/export/conftest.py): what is written,
what is refused, and that a failure leaves the destination as it was."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .builder import PipelineSpec, build_pipeline, pipeline_metadata, tree_state
from .conftest import PIPELINE, read_json, realistic_index, realistic_models, run_export

REPO = Path(__file__).resolve().parents[2]

EXPECTED_FILES = sorted(
    [
        "README.md",
        "metadata.json",
        "node_type_index.json",
        "acpi/AbsPower/BPFOnly/SGDRegressorTrainer_10.json",
        "acpi/AbsPower/BPFOnly/SGDRegressorTrainer_10.zip",
        "acpi/AbsPower/Basic/LinearRegressionTrainer_10.zip",
        "acpi_AbsPower_model_metadata.csv",
        "acpi_AbsPower_model_metadata.png",
        "acpi_AbsPower_power_curve.png",
        "error_report/node_type_0.md",
        "error_report/node_type_1.md",
        "error_report/node_type_10.md",
        "error_report/node_type_2.md",
        "rapl-sysfs/AbsPower/BPFOnly/LogarithmicRegressionTrainer_2.json",
        "rapl-sysfs/AbsPower/BPFOnly/LogarithmicRegressionTrainer_2.zip",
        "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0.json",
        "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0.zip",
        "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_10.json",
        "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_10.zip",
        "rapl-sysfs/AbsPower/BPFOnly/XgboostFitTrainer_0.zip",
        "rapl-sysfs/AbsPower/Basic/GradientBoostingRegressorTrainer_0.zip",
        "rapl-sysfs/AbsPower/Basic/SVRRegressorTrainer_2.zip",
        "rapl-sysfs/AbsPower/CounterOnly/ExponentialRegressionTrainer_2.zip",
        "rapl-sysfs/DynPower/BPFOnly/LogisticRegressionTrainer_1.json",
        "rapl-sysfs/DynPower/BPFOnly/LogisticRegressionTrainer_1.zip",
        "rapl-sysfs_AbsPower_model_metadata.csv",
        "rapl-sysfs_AbsPower_model_metadata.png",
        "rapl-sysfs_AbsPower_power_curve.png",
        "rapl-sysfs_DynPower_model_metadata.csv",
        "rapl-sysfs_DynPower_model_metadata.png",
        "rapl-sysfs_DynPower_power_curve.png",
    ]
)


def files_under(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def target(ws) -> Path:
    return ws["db"] / "v0.7" / PIPELINE


def csv_rows(path: Path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_export_writes_the_selected_models_and_reports(trained):
    result = run_export(trained, "--zip=true", "--select-by", "split")  # no fallback warning (test_select_by.py)
    assert result.code == 0, result
    out = target(trained)
    assert files_under(out) == EXPECTED_FILES
    assert (
        "rapl-sysfs AbsPower: 7 of 13 models exported (4 over thresholds, 1 without zip, 1 without node type)"
        in result.out
    )
    assert "acpi DynPower: 0 of 1 models exported (1 over thresholds" in result.out
    assert result.out.rstrip().endswith(f"exported 10 models of {PIPELINE} to {out}")
    warnings = [line for line in result.err.splitlines() if line.startswith("kepler-model export: warning: ")]
    assert len(warnings) == 3 and len(result.err.splitlines()) == 3
    assert "model zip not found: " in warnings[0] and warnings[0].endswith("CounterOnly/SGDRegressorTrainer_1.zip")
    assert "node type 7" in warnings[1]
    assert "ExponentialRegressionTrainer_2" in warnings[2] and "weight.json" in warnings[2]


def test_exported_files_content(trained):
    assert run_export(trained).code == 0
    out, source = target(trained), trained["models"] / PIPELINE
    # model zips are byte copies; weight JSON comes from the folder, else from inside the zip
    for relative in EXPECTED_FILES:
        if relative.endswith(".zip"):
            assert (out / relative).read_bytes() == (source / relative).read_bytes()
    assert (out / "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0.json").read_bytes() == (
        source / "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0/weight.json"
    ).read_bytes()
    with zipfile.ZipFile(source / "rapl-sysfs/DynPower/BPFOnly/LogisticRegressionTrainer_1.zip") as archive:
        assert (out / "rapl-sysfs/DynPower/BPFOnly/LogisticRegressionTrainer_1.json").read_bytes() == archive.read(
            "weight.json"
        )
    # metadata: the pipeline's, plus publisher, collect_time, export_time in that order
    metadata = read_json(out / "metadata.json")
    original = read_json(source / "metadata.json")
    assert list(metadata) == list(original) + ["publisher", "collect_time", "export_time"]
    assert metadata["publisher"] == "sunya-ch" and metadata["collect_time"] == "2024-07-25 21:05:43"
    # node type index: all entries, keys in numeric order
    index_text = (out / "node_type_index.json").read_text()
    assert list(json.loads(index_text)) == ["0", "1", "2", "3", "10"]
    assert json.loads(index_text) == read_json(source / "node_type_index.json")
    # CSV: exported rows only, sorted by group, mae, name, renumbered; cells as in the trained CSV
    rows = csv_rows(out / "rapl-sysfs_AbsPower_model_metadata.csv")
    assert rows[0] == csv_rows(source / "rapl-sysfs_AbsPower_model_metadata.csv")[0]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("0", "XgboostFitTrainer_0"),
        ("1", "SGDRegressorTrainer_0"),
        ("2", "LogarithmicRegressionTrainer_2"),
        ("3", "SGDRegressorTrainer_10"),
        ("4", "SVRRegressorTrainer_2"),
        ("5", "GradientBoostingRegressorTrainer_0"),
        ("6", "ExponentialRegressionTrainer_2"),
    ]
    trained_cells = {r[1]: r[1:] for r in csv_rows(source / "rapl-sysfs_AbsPower_model_metadata.csv")[1:]}
    assert all(r[1:] == trained_cells[r[1]] for r in rows[1:])
    assert not (out / "acpi_DynPower_model_metadata.csv").exists()


def test_pipeline_readme_lists_node_types_numerically_and_existing_plots(trained):
    assert run_export(trained, "--mae-threshold", "10", "--mape-threshold", "7.5").code == 0
    readme = (target(trained) / "README.md").read_text()
    assert "MAE Threshold = 10, MAPE Threshold = 7.5%" in readme
    assert "Available Node Type: 4" in readme
    table_rows = [line for line in readme.splitlines() if line.startswith("| ") and "link" in line]
    assert [row.split(" | ")[0] for row in table_rows] == ["| 0", "| 1", "| 2", "| 10"]
    assert "| 10 |  | 8 | 1 |  |  | 1 | [link](./error_report/node_type_10.md) |" in table_rows
    assert "| 1 | intel_xeon_e5_2686v4 | 72 | 2 | 503 | 3000 | 2 |" in readme
    images = [line for line in readme.splitlines() if line.startswith("![](")]
    assert images == [
        "![](rapl-sysfs_AbsPower_model_metadata.png)",
        "![](acpi_AbsPower_model_metadata.png)",
        "![](rapl-sysfs_DynPower_model_metadata.png)",
        "![](rapl-sysfs_AbsPower_power_curve.png)",
        "![](acpi_AbsPower_power_curve.png)",
        "![](rapl-sysfs_DynPower_power_curve.png)",
    ]
    for image in images:
        assert (target(trained) / image[4:-1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_error_report_local_and_sidecar_best(trained):
    assert run_export(trained, "--base-url", "https://mirror.example/models/").code == 0
    report = (target(trained) / "error_report" / "node_type_0.md").read_text()
    local, sidecar = report.split("## With sidecar estimator")
    base = f"https://mirror.example/models/v0.7/{PIPELINE}/rapl-sysfs/AbsPower"
    assert f"| BPFOnly | SGDRegressorTrainer_0 | 5.00 | 10.0 | {base}/BPFOnly/SGDRegressorTrainer_0.json |" in local
    assert "GradientBoosting" not in local and "Xgboost" not in local
    assert f"| BPFOnly | XgboostFitTrainer_0 | 4.00 | 12.0 | {base}/BPFOnly/XgboostFitTrainer_0.zip |" in sidecar
    assert f"| Basic | GradientBoostingRegressorTrainer_0 | 13.10 | 5.0 | {base}/Basic/" in sidecar
    assert report.count("No model available") == 2 * (12 - 1)  # 12 sections each, one table each


def test_zip_holds_the_folder_and_disappears_without_zip(trained):
    assert run_export(trained, "--zip").code == 0
    archive = trained["db"] / "v0.7" / f"{PIPELINE}.zip"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert names == sorted(names) == EXPECTED_FILES
        assert opened.read("README.md") == (target(trained) / "README.md").read_bytes()
    assert run_export(trained, "--zip=false").code == 0
    assert not archive.exists()


def test_export_twice_is_idempotent_and_keeps_other_pipelines(trained):
    version_dir = trained["db"] / "v0.7"
    other = version_dir / "other-pipeline"
    (other / "rapl-sysfs").mkdir(parents=True)
    (other / "metadata.json").write_text('{"name": "other-pipeline", "init_time": "2020-01-01 00:00:00"}')
    (other / "rapl-sysfs" / "model.zip").write_bytes(b"PK not really")
    (version_dir / "other-pipeline.zip").write_bytes(b"zip of the other")
    other_before = tree_state(other)
    assert run_export(trained, "--zip").code == 0
    first = tree_state(version_dir)
    first_metadata = read_json(target(trained) / "metadata.json")
    assert run_export(trained, "--zip").code == 0
    second = tree_state(version_dir)
    varying = {f"{PIPELINE}/metadata.json", f"{PIPELINE}.zip"}
    assert {k: v for k, v in first.items() if k not in varying} == {k: v for k, v in second.items() if k not in varying}
    second_metadata = read_json(target(trained) / "metadata.json")
    first_metadata.pop("export_time"), second_metadata.pop("export_time")
    assert first_metadata == second_metadata
    readme = (version_dir / "README.md").read_text()
    assert readme.count(f"[{PIPELINE}](") == 1
    assert tree_state(other) == other_before
    assert (version_dir / "other-pipeline.zip").read_bytes() == b"zip of the other"
    assert not [p for p in version_dir.iterdir() if p.name.startswith(".") and p.name != ".doc"]


def test_models_no_longer_selected_disappear(trained):
    assert run_export(trained).code == 0
    assert run_export(trained, "--mae-threshold", "4.5", "--mape-threshold", "4.5").code == 0
    assert files_under(target(trained) / "rapl-sysfs") == [
        "AbsPower/BPFOnly/XgboostFitTrainer_0.zip",
        "AbsPower/CounterOnly/ExponentialRegressionTrainer_2.zip",
        "DynPower/BPFOnly/LogisticRegressionTrainer_1.json",
        "DynPower/BPFOnly/LogisticRegressionTrainer_1.zip",
    ]
    # no weight-capable BPFOnly model is left for rapl-sysfs AbsPower: its power curve goes too
    assert not (target(trained) / "rapl-sysfs_AbsPower_power_curve.png").exists()
    assert "rapl-sysfs_AbsPower_power_curve.png" not in (target(trained) / "README.md").read_text()


def test_ownership_check_refuses_another_pipeline(trained):
    folder = target(trained)
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"name": PIPELINE, "init_time": "2024-01-01 00:00:00"}))
    before = tree_state(trained["db"])
    result = run_export(trained)
    assert result.code == 1
    assert result.err == (
        f"kepler-model export: error: {folder} holds another pipeline (init_time 2024-01-01 "
        "00:00:00); remove it or export under another pipeline name\n"
    )
    assert tree_state(trained["db"]) == before


def test_ownership_check_refuses_a_folder_without_metadata(trained):
    folder = target(trained)
    (folder / "rapl-sysfs").mkdir(parents=True)
    (folder / "notes.txt").write_text("hand-made")
    before = tree_state(trained["db"])
    result = run_export(trained)
    assert result.code == 1 and "holds another pipeline (no readable metadata.json)" in result.err
    assert tree_state(trained["db"]) == before


def test_ownership_follows_the_pipeline_metadata_not_the_folder_name(workspace):
    """A pipeline folder renamed after training keeps its metadata name; re-exporting it still works."""
    build_pipeline(
        workspace["models"],
        PipelineSpec(
            PIPELINE, realistic_index(), realistic_models()[:3], pipeline_metadata("trained-under-another-name")
        ),
    )
    assert run_export(workspace).code == 0
    assert read_json(target(workspace) / "metadata.json")["name"] == "trained-under-another-name"
    assert run_export(workspace).code == 0


def bad_pipeline(ws, damage):
    build_pipeline(
        ws["models"], PipelineSpec(PIPELINE, realistic_index(), realistic_models()[:3], pipeline_metadata(PIPELINE))
    )
    damage(ws["models"] / PIPELINE)


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda p: (p / "metadata.json").unlink(), "metadata.json does not exist"),
        (lambda p: (p / "metadata.json").write_text("{broken"), "is not valid JSON"),
        (lambda p: (p / "node_type_index.json").unlink(), "node_type_index.json does not exist"),
        (lambda p: (p / "node_type_index.json").write_text('{"x": {}}'), "not a node type number"),
        (lambda p: (p / "rapl-sysfs_AbsPower_model_metadata.csv").unlink(), "has no model metadata CSV"),
        (
            lambda p: (p / "rapl-sysfs_AbsPower_model_metadata.csv").write_text(",model_name\n0,a_0\n"),
            "lacks the column(s) mae, mape, feature_group",
        ),
    ],
)
def test_bad_pipeline_is_a_runtime_error_and_writes_nothing(workspace, damage, message):
    bad_pipeline(workspace, damage)
    readme = workspace["db"] / "v0.7" / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text("# v0.7 Build\n")
    before = tree_state(workspace["db"])
    result = run_export(workspace)
    assert result.code == 1 and message in result.err, result
    assert len(result.err.splitlines()) == 1
    assert tree_state(workspace["db"]) == before


def test_no_such_pipeline(trained):
    result = run_export(trained, "-p", "no-such-pipeline")
    assert result.code == 1 and "no-such-pipeline does not exist" in result.err
    assert not trained["db"].exists()


def test_no_model_passing_the_thresholds(trained):
    result = run_export(trained, "--hard-threshold", "0.5")
    assert result.code == 1
    assert "no model of test-pipe passes the selection" in result.err and "nothing was written" in result.err
    assert not trained["db"].exists()
    # an existing model database (earlier export included) is left exactly as it was: no row added
    assert run_export(trained, "--zip").code == 0
    before = tree_state(trained["db"])
    assert run_export(trained, "--hard-threshold", "0.5", "--collect-date", "later").code == 1
    assert tree_state(trained["db"]) == before


@pytest.mark.parametrize("content", [None, '{"startTimeUTC": "2024-07-25T21:05:43Z"}'])
def test_benchmark_missing_or_malformed(trained, content):
    (trained["data"] / "stressng.json").unlink()
    if content:
        (trained["data"] / "stressng.json").write_text(content)
    result = run_export(trained)
    assert result.code == 1 and "stressng.json" in result.err
    assert not trained["db"].exists()


def test_output_that_cannot_be_written(trained):
    blocker = trained["root"] / "a-file"
    blocker.write_text("not a folder")
    before = tree_state(trained["root"])
    result = run_export(trained, "-o", str(blocker / "models"))
    assert result.code == 1 and "cannot write" in result.err and "a-file" in result.err, result
    assert tree_state(trained["root"]) == before


def test_pipeline_written_by_kepler_model_server_is_read(workspace):
    spec = PipelineSpec(
        PIPELINE, realistic_index(), realistic_models(), pipeline_metadata(PIPELINE), server_style_csv=True
    )
    source = build_pipeline(workspace["models"], spec)
    header = csv_rows(source.model_metadata_csv("rapl-sysfs", "AbsPower"))[0]
    assert "Unnamed: 0" in header and "machine_spec" in header and "trainer" not in header
    assert run_export(workspace).code == 0
    rows = csv_rows(target(workspace) / "rapl-sysfs_AbsPower_model_metadata.csv")
    assert rows[0] == [
        "",
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
        "package_mae",
        "core_mae",
        "uncore_mae",
        "dram_mae",
        "package_mape",
        "core_mape",
        "uncore_mape",
        "dram_mape",
        "feature_group",
    ]
    assert rows[1][1:3] == ["XgboostFitTrainer_0", "XgboostFitTrainer"] and rows[1][10] == "0"
    assert len(rows) == 8


DOCUMENTED = {
    "benchmark": "DATAPATH=$WS MODEL_PATH=$WS_MODELS python cmd/main.py export --benchmark $BENCHMARK "
    "--pipeline-name $PIPELINE_NAME -o $EXPORT_PATH --publisher $PUBLISHER --zip=true",
    "collect-date": "DATAPATH=$WS MODEL_PATH=$WS_MODELS python cmd/main.py export --pipeline-name $PIPELINE_NAME "
    "-o $EXPORT_PATH --publisher $PUBLISHER --zip=true --collect-date $COLLECT_DATE",
}


@pytest.mark.parametrize("form,collected", [("benchmark", "2024-07-25 21:05:43"), ("collect-date", "2024-02-15")])
def test_documented_commands_verbatim(trained, form, collected):
    """The two export commands of the user documentation, run by a shell as written (seed.md)."""
    env = dict(
        os.environ,
        WS=str(trained["data"]),
        WS_MODELS=str(trained["models"]),
        BENCHMARK="stressng",
        PIPELINE_NAME=PIPELINE,
        EXPORT_PATH=str(trained["db"]),
        PUBLISHER="sunya-ch",
        COLLECT_DATE=collected,
        CONFIG_PATH=str(trained["root"] / "none"),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    )
    done = subprocess.run(
        ["bash", "-c", DOCUMENTED[form]], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert read_json(target(trained) / "metadata.json")["collect_time"] == collected
    assert (trained["db"] / "v0.7" / f"{PIPELINE}.zip").is_file()
