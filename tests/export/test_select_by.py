"""`--select-by` (split, cv, extrapolation): which errors thresholds and best models use, the fallback
to the split errors for pipelines without the chosen ones, and how the reports name the choice."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from steps.export import families
from steps.export.families import Selection, choose, parse_family, parse_negligible
from steps.export.select import ModelRow, judged_by, select_table

from .builder import Model, PipelineSpec, build_pipeline, index_entry, pipeline_metadata
from .conftest import PIPELINE, run_export
from .cv_builder import add_scores, set_cv_folds

M = Model
URL = "https://raw.githubusercontent.com/sustainable-computing-io/kepler-model-db/main/models/v0.7/test-pipe"
# Split, cross-validated and extrapolation errors disagree on the best BPFOnly model of node type 0.
SCORES = {
    ("BPFOnly", "SGDRegressorTrainer_0"): {"cv_mae": "8.0", "cv_mape": "30.0", "extrapolation_mae": "9.0"},
    ("BPFOnly", "XgboostFitTrainer_0"): {"cv_mae": "3.0", "cv_mape": "9.0", "extrapolation_mae": "7.0"},
    ("BPFOnly", "LinearRegressionTrainer_0"): {"cv_mae": "4.0", "cv_mape": "7.0", "extrapolation_mae": "1.0"},
    ("BPFOnly", "KNeighborsRegressorTrainer_0"): {"cv_mae": "50.0", "cv_mape": "60.0"},  # passes split only
    ("BPFOnly", "SVRRegressorTrainer_0"): {"cv_mae": "", "cv_mape": "", "cv_mae_std": "", "cv_mape_std": ""},
}
DYN_SCORES = {("BPFOnly", "SGDRegressorTrainer_0"): {"negligible": "['core']"}}


def models():
    return [
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 0, 2.0, 10.0),  # split best
        M("rapl-sysfs", "AbsPower", "BPFOnly", "XgboostFitTrainer", 0, 5.0, 12.0),  # cv best
        M("rapl-sysfs", "AbsPower", "BPFOnly", "LinearRegressionTrainer", 0, 6.0, 15.0),  # extrapolation best
        M("rapl-sysfs", "AbsPower", "BPFOnly", "KNeighborsRegressorTrainer", 0, 3.0, 8.0),
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SVRRegressorTrainer", 0, 4.0, 9.0),  # its folds failed
        M("rapl-sysfs", "DynPower", "BPFOnly", "SGDRegressorTrainer", 0, 2.0, 5.0),
    ]


def build_cv_pipeline(ws, folds=5, with_cv=True):
    layout = build_pipeline(
        ws["models"],
        PipelineSpec(PIPELINE, {"0": index_entry("intel_xeon", 8, 1, 16, 3000)}, models(), pipeline_metadata(PIPELINE)),
    )
    add_scores(layout, "rapl-sysfs", "AbsPower", SCORES, with_cv=with_cv)
    add_scores(layout, "rapl-sysfs", "DynPower", DYN_SCORES, with_cv=with_cv)
    if folds:
        set_cv_folds(layout, folds)
    return layout


@pytest.fixture
def cv_pipeline(workspace):
    build_cv_pipeline(workspace)
    return workspace


def exported(ws) -> Path:
    return ws["db"] / "v0.7" / PIPELINE


def sidecar_rows(ws, output_type="AbsPower"):
    text = (exported(ws) / "error_report" / "node_type_0.md").read_text()
    section = text.split("## With sidecar estimator", 1)[1].split(f"### rapl-sysfs {output_type} model", 1)[1]
    return [line for line in section.split("###", 1)[0].splitlines() if line.startswith("| BPFOnly")]


def exported_models(ws):
    with open(exported(ws) / "rapl-sysfs_AbsPower_model_metadata.csv", newline="") as handle:
        return [row["model_name"] for row in csv.DictReader(handle)]


# ------------------------------------------------------------------ whole export


@pytest.mark.parametrize(
    "family,best,numbers",
    [
        ("split", "SGDRegressorTrainer_0", "| 2.00 | 10.0 |"),
        ("cv", "XgboostFitTrainer_0", "| 3.00 | 9.0 |"),
        ("extrapolation", "LinearRegressionTrainer_0", "| 1.00 | 15.0 |"),
    ],
)
def test_each_family_picks_its_best_model(cv_pipeline, family, best, numbers):
    result = run_export(cv_pipeline, "--select-by", family)
    assert result.code == 0, result
    assert "--select-by" not in result.err  # no fallback: the pipeline has every family
    [line] = sidecar_rows(cv_pipeline)
    assert line.startswith(f"| BPFOnly | {best} {numbers} {URL}/rapl-sysfs/AbsPower/BPFOnly/{best}.zip |")


def test_split_tables_keep_kepler_model_db_shape(cv_pipeline):
    assert run_export(cv_pipeline, "--select-by", "split").code == 0
    [line] = sidecar_rows(cv_pipeline)
    assert line.count("|") == 6  # five cells, as kepler-model-db's reports
    report = (exported(cv_pipeline) / "error_report" / "node_type_0.md").read_text()
    assert "| Feature group | Model name | MAE | MAPE (%) | URL |\n" in report and "Split MAE" not in report
    version_readme = (cv_pipeline["db"] / "v0.7" / "README.md").read_text()
    assert version_readme.splitlines()[-1].endswith(f"|[link](./{PIPELINE})")


def test_cv_tables_add_the_split_errors_after_the_url(cv_pipeline):
    assert run_export(cv_pipeline).code == 0  # cv is the default
    report = (exported(cv_pipeline) / "error_report" / "node_type_0.md").read_text()
    assert "| Feature group | Model name | MAE | MAPE (%) | URL | Split MAE | Split MAPE (%) |\n" in report
    assert "MAE and MAPE: cross-validated error (5 folds), by which models were selected" in report
    [line] = sidecar_rows(cv_pipeline)
    assert line.endswith("XgboostFitTrainer_0.zip | 5.00 | 12.0 |")


def test_thresholds_use_the_selected_errors(cv_pipeline):
    result = run_export(cv_pipeline, "--select-by", "split")
    assert "rapl-sysfs AbsPower: 5 of 5 models exported (0 over thresholds, 0 without zip" in result.out
    assert "KNeighborsRegressorTrainer_0" in exported_models(cv_pipeline)
    result = run_export(cv_pipeline, "--select-by", "cv")
    assert (
        "rapl-sysfs AbsPower: 3 of 5 models exported (1 over thresholds, 1 without cv error, 0 without zip, "
        "0 without node type)" in result.out
    )
    # sorted by the cross-validated MAE; the failed-fold SVR model and the KNeighbors one are out
    assert exported_models(cv_pipeline) == ["XgboostFitTrainer_0", "LinearRegressionTrainer_0", "SGDRegressorTrainer_0"]


def test_error_key_mape_orders_within_the_family(cv_pipeline):
    assert run_export(cv_pipeline, "--select-by", "cv", env={"ERROR_KEY": "mape"}).code == 0
    assert sidecar_rows(cv_pipeline)[0].startswith("| BPFOnly | LinearRegressionTrainer_0 | 4.00 | 7.0 |")
    assert run_export(cv_pipeline, "--select-by", "split", env={"ERROR_KEY": "mape"}).code == 0
    assert sidecar_rows(cv_pipeline)[0].startswith("| BPFOnly | KNeighborsRegressorTrainer_0 | 3.00 | 8.0 |")


def test_environment_variable_chooses_and_flag_wins(cv_pipeline):
    assert run_export(cv_pipeline, env={"EXPORT_SELECT_BY": "extrapolation"}).code == 0
    assert "LinearRegressionTrainer_0" in sidecar_rows(cv_pipeline)[0]
    assert run_export(cv_pipeline, "--select-by", "split", env={"EXPORT_SELECT_BY": "extrapolation"}).code == 0
    assert "SGDRegressorTrainer_0" in sidecar_rows(cv_pipeline)[0]


def test_readmes_name_the_selection(cv_pipeline):
    assert run_export(cv_pipeline).code == 0
    readme = (exported(cv_pipeline) / "README.md").read_text()
    assert "\nSelected by: cross-validated error (5 folds); best model: lowest MAE\n" in readme
    page = (cv_pipeline["db"] / "v0.7" / ".doc" / f"{PIPELINE}.md").read_text()
    assert "- **Selected by:** cross-validated error (5 folds); best model: lowest MAE\n" in page
    row = (cv_pipeline["db"] / "v0.7" / "README.md").read_text().splitlines()[-1]
    assert row.endswith(f"|[link](./{PIPELINE}) (selected by cross-validated error (5 folds))")
    assert row.count("|") == 4  # still five cells
    assert run_export(cv_pipeline, "--select-by", "extrapolation").code == 0
    readme = (exported(cv_pipeline) / "README.md").read_text()
    assert "\nSelected by: extrapolation error; best model: lowest MAE\n" in readme
    row = (cv_pipeline["db"] / "v0.7" / "README.md").read_text().splitlines()[-1]
    assert row.endswith("(selected by extrapolation error)")  # replaced in place, not appended
    assert (cv_pipeline["db"] / "v0.7" / "README.md").read_text().count(f"[{PIPELINE}](") == 1


def test_folds_unknown_without_train_arguments_key(workspace):
    build_cv_pipeline(workspace, folds=0)
    assert run_export(workspace).code == 0
    assert "\nSelected by: cross-validated error; best model" in (exported(workspace) / "README.md").read_text()


def test_exported_csv_keeps_the_evaluation_columns(cv_pipeline):
    assert run_export(cv_pipeline).code == 0
    header = (exported(cv_pipeline) / "rapl-sysfs_AbsPower_model_metadata.csv").read_text().splitlines()[0]
    assert header.endswith(
        "feature_group,cv_mae,cv_mae_std,cv_mape,cv_mape_std,extrapolation_mae,extrapolation_mape,negligible"
    )


def test_negligible_component_is_named(cv_pipeline):
    assert run_export(cv_pipeline).code == 0
    readme = (exported(cv_pipeline) / "README.md").read_text()
    assert "## Negligible components" in readme
    assert "- rapl-sysfs BPFOnly: core: DynPower negligible, judged by MAE alone\n" in readme


# ------------------------------------------------------------------ fallback


def test_old_pipeline_falls_back_to_split_with_one_warning(trained):
    result = run_export(trained)  # the default is cv; builder.py pipelines have only split errors
    assert result.code == 0, result
    fallback = [line for line in result.err.splitlines() if "--select-by" in line]
    assert fallback == [
        "kepler-model export: warning: --select-by cv: the model metadata CSVs have no cv_mae/cv_mape columns "
        "(trained before cross-validation or with --cv-folds 0); selecting by the split errors (mae, mape)"
    ]
    readme = (trained["db"] / "v0.7" / PIPELINE / "README.md").read_text()
    assert (
        "Selected by: train/test split error, as this pipeline has no cross-validated error (--select-by cv;" in readme
    )
    row = (trained["db"] / "v0.7" / "README.md").read_text().splitlines()[-1]
    assert row.endswith(f"|[link](./{PIPELINE})")  # selected by split: the kepler-model-db row
    # the same selection as --select-by split
    assert "rapl-sysfs AbsPower: 7 of 13 models exported (4 over thresholds, 1 without zip" in result.out


def test_cv_folds_0_pipeline_falls_back_but_names_negligible(workspace):
    build_cv_pipeline(workspace, folds=0, with_cv=False)
    result = run_export(workspace, "--select-by", "extrapolation")
    assert result.code == 0, result
    assert sum("--select-by extrapolation" in line for line in result.err.splitlines()) == 1
    assert "SGDRegressorTrainer_0" in sidecar_rows(workspace)[0]
    readme = (exported(workspace) / "README.md").read_text()
    assert "core: DynPower negligible, judged by MAE alone" in readme


# ------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    "argv,env,named",
    [
        (["--select-by", "best"], {}, "--select-by"),
        (["--select-by", "mae"], {}, "--select-by"),
        ([], {"EXPORT_SELECT_BY": "folds"}, "EXPORT_SELECT_BY"),
    ],
)
def test_bad_value_is_a_one_line_usage_error(trained, argv, env, named):
    result = run_export(trained, *argv, env=env)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1 and named in result.err
    assert "split, cv, extrapolation" in result.err
    assert not trained["db"].exists()


def test_case_and_blank_values():
    assert parse_family(" CV ", "--select-by") == "cv"
    from steps.common.config import Environment
    from steps.export.settings import select_family

    assert select_family("", Environment({"CONFIG_PATH": "/nonexistent"})) == "cv"  # "" means not set
    assert select_family(None, Environment({"CONFIG_PATH": "/none", "EXPORT_SELECT_BY": "split"})) == "split"


# ------------------------------------------------------------------ pure parts


def test_choose_falls_back_when_any_table_lacks_the_columns():
    full = ("mae", "mape", "cv_mae", "cv_mape", "extrapolation_mae", "extrapolation_mape")
    assert choose("cv", [full, full], "mae", 5) == Selection("cv", "cv", "mae", 5)
    chosen = choose("cv", [full, ("mae", "mape")], "mae", 5)
    assert chosen.used == "split" and chosen.fell_back
    assert choose("split", [("mae", "mape")], "mape", None).fell_back is False
    assert choose("extrapolation", [("mae", "mape", "cv_mae", "cv_mape")], "mae", 3).used == "split"


def test_judged_by_reads_the_family_and_missing_cv_counts_apart():
    row = ModelRow(
        "rapl-sysfs", "AbsPower", "BPFOnly", "A_0", "A", 0, 2.0, 10.0,
        families={"split": (2.0, 10.0), "cv": (math.nan, math.nan)},
    )  # fmt: skip
    judged = judged_by(row, "cv")
    assert math.isnan(judged.mae) and judged.split == (2.0, 10.0)
    selection = select_table("rapl-sysfs", "AbsPower", [judged], families_thresholds(), {row.key}, {0}, "mae", "cv")
    assert selection.exported == () and len(selection.without_errors) == 1 and selection.over_thresholds == 0
    assert "1 without cv error" in selection.summary()
    split = select_table(
        "rapl-sysfs", "AbsPower", [judged_by(row, "split")], families_thresholds(), {row.key}, {0}, "mae"
    )
    assert len(split.exported) == 1 and "without split error" not in split.summary()


def families_thresholds():
    from steps.export.select import Thresholds

    return Thresholds()


@pytest.mark.parametrize(
    "text,components",
    [
        ("['core']", ("core",)),
        ("['core', 'dram']", ("core", "dram")),
        ("[]", ()),
        ("", ()),
        ("core", ()),  # not a Python list
        ("__import__('os')", ()),
        ("'dram'", ("dram",)),
    ],
)
def test_parse_negligible(text, components):
    assert parse_negligible(text) == components


def test_negligible_components_grouped_by_source_and_group():
    def row(ot, group, negligible, source="rapl-sysfs"):
        return ModelRow(source, ot, group, "A_0", "A", 0, 1.0, 1.0, negligible=negligible)

    found = families.negligible_components(
        [
            row("DynPower", "Basic", ("core",)),
            row("AbsPower", "Basic", ("core", "dram")),
            row("DynPower", "BPFOnly", ("dram",)),
            row("AbsPower", "Basic", (), source="acpi"),
        ]
    )
    assert found == {
        ("rapl-sysfs", "BPFOnly"): {"dram": ("DynPower",)},
        ("rapl-sysfs", "Basic"): {"core": ("AbsPower", "DynPower"), "dram": ("AbsPower",)},
    }


def test_pipeline_reader_keeps_families_and_negligible(cv_pipeline):
    from steps.common.workspace import PipelineLayout
    from steps.export.pipeline_reader import read_pipeline

    pipeline = read_pipeline(PipelineLayout(cv_pipeline["models"] / PIPELINE))
    assert pipeline.cv_folds == 5
    rows = {r.model_name: r for r in pipeline.tables[0].rows}
    assert rows["XgboostFitTrainer_0"].families["cv"] == (3.0, 9.0)
    assert rows["XgboostFitTrainer_0"].families["extrapolation"] == (7.0, 12.0)
    assert all(math.isnan(v) for v in rows["SVRRegressorTrainer_0"].families["cv"])
    dyn = pipeline.tables[1].rows[0]
    assert dyn.negligible == ("core",)


def test_csv_text_unchanged_for_a_split_pipeline(trained):
    """An old pipeline's exported CSV has exactly the columns it had (no evaluation columns invented)."""
    assert run_export(trained, "--select-by", "split").code == 0
    header = (trained["db"] / "v0.7" / PIPELINE / "rapl-sysfs_AbsPower_model_metadata.csv").read_text()
    first = next(csv.reader(io.StringIO(header)))
    assert first[-1] == "feature_group" and "cv_mae" not in first
