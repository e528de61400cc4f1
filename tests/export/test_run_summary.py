"""The export's run summary (steps/export/run_summary.py): the Markdown report and KFP's metrics file, built from
the error reports' lines; written into the workspace and copied to the paths the pipeline gives."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from steps.export import run_summary
from steps.export.markdown import ReportLine
from steps.export.run_summary import RunSummary, metric_name, metrics_document, report_markdown
from steps.export.select import TableSelection, Thresholds

from .conftest import PIPELINE, run_export

# KFP's metric name pattern (kubeflow.org pipelines metrics docs); the values must be finite numbers.
KFP_METRIC_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,62}[a-z0-9])?$")


def line(group: str, model: str, mae: float, mape: float) -> ReportLine:
    return ReportLine(group, model, mae, mape, f"https://example/{group}/{model}.zip")


def selection(source: str, output_type: str, total: int, exported: int, over: int) -> TableSelection:
    return TableSelection(source, output_type, total, tuple(object() for _ in range(exported)), over, (), ())  # type: ignore[arg-type]


SUMMARY = RunSummary(
    pipeline="std_v0.7",
    published="/model-db/models/v0.7/std_v0.7",
    thresholds=Thresholds(10, 20, 100),
    errors="split errors",
    selections=(selection("rapl-sysfs", "AbsPower", 6, 3, 2), selection("acpi", "DynPower", 2, 1, 1)),
    lines={
        1: {
            ("rapl-sysfs", "AbsPower"): [
                line("BPFOnly", "SGDRegressorTrainer_1", 6.5, -1),
                line("Basic", "X_1", 9, 12),
            ],
            ("acpi", "DynPower"): [line("BPFOnly", "LinearRegressionTrainer_1", 1.25, 3.5)],
        },
        0: {("rapl-sysfs", "AbsPower"): [line("BPFOnly", "SGDRegressorTrainer_0", 4.0, 15.0)]},
    },
)


def check_kfp_metrics(document: dict) -> dict:
    """KFP's metrics file: {"metrics": [...]} with unique legal names, finite numbers and a known format."""
    assert set(document) == {"metrics"}
    names = [m["name"] for m in document["metrics"]]
    assert len(set(names)) == len(names), names
    for metric in document["metrics"]:
        assert set(metric) == {"name", "numberValue", "format"}
        assert KFP_METRIC_NAME.match(metric["name"]), metric
        assert isinstance(metric["numberValue"], float) and math.isfinite(metric["numberValue"]), metric
        assert metric["format"] in ("RAW", "PERCENTAGE")
    json.dumps(document, allow_nan=False)  # strict JSON: no NaN or Infinity
    return {m["name"]: m["numberValue"] for m in document["metrics"]}


def test_metrics_are_the_best_errors_per_group_over_node_types_and_the_count():
    values = check_kfp_metrics(metrics_document(SUMMARY))
    assert values == {
        "acpi-dynpower-bpfonly-mae": 1.25,
        "acpi-dynpower-bpfonly-mape": 3.5,
        "rapl-sysfs-abspower-basic-mae": 9.0,
        "rapl-sysfs-abspower-basic-mape": 12.0,
        "rapl-sysfs-abspower-bpfonly-mae": 4.0,  # node type 0's, lower than node type 1's
        "rapl-sysfs-abspower-bpfonly-mape": 15.0,  # node type 1's -1 (never measured) is not a best
        "exported-models": 4.0,
    }


def test_an_error_never_measured_has_no_metric():
    summary = RunSummary(
        "p", "/db/p", Thresholds(), "split errors", (), {0: {("acpi", "AbsPower"): [line("g", "m", 3, -1)]}}
    )
    values = check_kfp_metrics(metrics_document(summary))
    assert values == {"acpi-abspower-g-mae": 3.0, "exported-models": 0.0}
    nan = RunSummary("p", "/db/p", Thresholds(), "e", (), {0: {("acpi", "AbsPower"): [line("g", "m", math.nan, 2)]}})
    assert check_kfp_metrics(metrics_document(nan)) == {"acpi-abspower-g-mape": 2.0, "exported-models": 0.0}


def test_metric_names_are_kfp_legal_and_unique():
    assert metric_name(("trained_power_model", "DynPower", "CPUTimeUsage", "mape")) == (
        "trained-power-model-dynpower-cputimeusage-mape"
    )
    long = metric_name(("rapl-sysfs", "AbsPower", "A" * 80, "mae"))
    assert KFP_METRIC_NAME.match(long) and len(long) <= 64
    first = metric_name(("x", "CPU_Time"))
    second = metric_name(("x", "cpu-time"), taken=[first])
    assert first == "x-cpu-time" and second != first and KFP_METRIC_NAME.match(second)
    assert KFP_METRIC_NAME.match(metric_name(("1st", "group")))


def test_report_says_counts_rule_and_best_models():
    text = report_markdown(SUMMARY)
    assert text.startswith("# Export of std_v0.7\n")
    assert "4 of 8 trained models exported to `/model-db/models/v0.7/std_v0.7`." in text
    assert "Selection (split errors): a model is exported when MAE <= 10 W or MAPE <= 20 %, both <= 100" in text
    assert "| rapl-sysfs | AbsPower | 6 | 3 | 2 | 0 | 0 |" in text
    assert text.index("## Best models of node type 0") < text.index("## Best models of node type 1")
    assert "| rapl-sysfs | AbsPower | BPFOnly | SGDRegressorTrainer_1 | 6.50 | -1.0 |" in text
    assert "| acpi | DynPower | BPFOnly | LinearRegressionTrainer_1 | 1.25 | 3.5 |" in text
    assert "![" not in text  # no images: KFP's Markdown view cannot show files by relative path


def test_summary_files_are_workspace_files_beside_the_query_outputs(tmp_path: Path):
    assert run_summary.summary_files(tmp_path, "p1") == (
        tmp_path / "p1_export_report.md",
        tmp_path / "p1_export_metrics.json",
    )


def test_export_writes_the_summary_and_copies_it_where_asked(trained, tmp_path: Path):
    """The run outputs' flags: the workspace files, copied byte for byte; the count as text."""
    kfp = tmp_path / "kfp-outputs"
    result = run_export(
        trained,
        "--run-report-file",
        str(kfp / "run_report"),
        "--run-metrics-file",
        str(kfp / "run_metrics"),
        "--exported-models-file",
        str(kfp / "exported_models" / "data"),
    )
    assert result.code == 0, result
    report = trained["data"] / f"{PIPELINE}_export_report.md"
    metrics = trained["data"] / f"{PIPELINE}_export_metrics.json"
    assert (kfp / "run_report").read_bytes() == report.read_bytes()
    assert (kfp / "run_metrics").read_bytes() == metrics.read_bytes()
    exported = re.search(r"exported (\d+) models of", result.out).group(1)
    assert (kfp / "exported_models" / "data").read_text() == exported
    values = check_kfp_metrics(json.loads(metrics.read_text()))
    assert values["exported-models"] == float(exported)
    assert report.read_text().startswith(f"# Export of {PIPELINE}\n")
    assert not [p for p in trained["data"].iterdir() if p.name.startswith(".")], "no staging folder left"


def test_without_the_flags_only_the_workspace_files(trained, tmp_path: Path):
    result = run_export(trained)
    assert result.code == 0, result
    assert (trained["data"] / f"{PIPELINE}_export_report.md").is_file()
    assert (trained["data"] / f"{PIPELINE}_export_metrics.json").is_file()
    assert "run summary: " in result.out


def test_a_failed_export_writes_no_summary_and_no_copy(trained, tmp_path: Path):
    result = run_export(
        trained, "--mae-threshold", "0", "--mape-threshold", "0", "--run-report-file", str(tmp_path / "r")
    )
    assert result.code == 1, result
    assert not (tmp_path / "r").exists()
    assert not list(trained["data"].glob("*_export_*"))


@pytest.mark.parametrize("flag", ["--run-report-file", "--run-metrics-file", "--exported-models-file"])
def test_the_flags_are_in_the_help(flag):
    from steps.export.cli import build_parser

    assert flag in build_parser().format_help()
