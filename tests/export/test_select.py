"""Selection rule (export.md §4.1) and best-model choice (§5): pure functions, known answers."""

from __future__ import annotations

import math

import pytest

from steps.export.select import ModelRow, Thresholds, best_models, csv_order, passes_thresholds, select_table

DEFAULT = Thresholds()


@pytest.mark.parametrize(
    "mae,mape,exported",
    [
        (2.00, 70.3, True),  # MAE test (published ec2-0.7.11 DynPower Basic PolynomialRegressionTrainer_1)
        (13.10, 5.0, True),  # MAPE test
        (12.00, 25.0, False),  # fails both tests
        (6.95, 100.76, False),  # above the hard cap
        (3.00, -1, True),  # MAE test
        (12.00, -1, False),  # -1 does not pass the MAPE test
    ],
)
def test_worked_table_of_section_4_1(mae, mape, exported):
    assert passes_thresholds(mae, mape, DEFAULT) is exported


@pytest.mark.parametrize(
    "mae,mape,exported",
    [
        (10.0, 99.0, True),
        (10.01, 99.0, False),  # MAE limit inclusive
        (50.0, 20.0, True),
        (50.0, 20.01, False),  # MAPE limit inclusive
        (50.0, 0.0, True),  # MAPE 0 passes
        (100.0, 0.5, True),
        (100.01, 0.5, False),  # hard cap on MAE
        (1.0, 100.0, True),
        (1.0, 100.01, False),  # hard cap on MAPE
        (math.nan, 1.0, False),
        (1.0, math.nan, False),  # unreadable numbers never pass
    ],
)
def test_each_threshold_from_both_sides(mae, mape, exported):
    assert passes_thresholds(mae, mape, DEFAULT) is exported


def test_configured_thresholds():
    strict = Thresholds(mae=2.5, mape=7.5, hard=50)
    assert passes_thresholds(2.5, 60, Thresholds(mae=2.5, mape=7.5, hard=100))
    assert not passes_thresholds(2.5, 60, strict)  # over the hard cap of 50
    assert passes_thresholds(40, 7.5, strict)
    assert not passes_thresholds(3, 8, strict)


def row(name, group="BPFOnly", mae=1.0, mape=1.0, source="rapl-sysfs", ot="AbsPower"):
    trainer, _, node = name.rpartition("_")
    return ModelRow(source, ot, group, name, trainer, int(node), mae, mape)


def test_select_table_counts_each_reason_and_sorts():
    rows = [
        row("SGDRegressorTrainer_0", "Basic", 5, 1),
        row("XgboostFitTrainer_0", "BPFOnly", 7, 1),
        row("LinearRegressionTrainer_0", "BPFOnly", 3, 1),
        row("SVRRegressorTrainer_0", "BPFOnly", 30, 30),
        row("SGDRegressorTrainer_1", "BPFOnly", 1, 1),
        row("SGDRegressorTrainer_9", "BPFOnly", 1, 1),
    ]
    zips = {r.key for r in rows if r.model_name != "SGDRegressorTrainer_1"}
    selection = select_table("rapl-sysfs", "AbsPower", rows, DEFAULT, zips, {0, 1}, "mae")
    assert [r.model_name for r in selection.exported] == [
        "LinearRegressionTrainer_0",
        "XgboostFitTrainer_0",
        "SGDRegressorTrainer_0",
    ]
    assert selection.over_thresholds == 1
    assert [r.model_name for r in selection.without_zip] == ["SGDRegressorTrainer_1"]
    assert [r.model_name for r in selection.without_node_type] == ["SGDRegressorTrainer_9"]
    assert selection.summary() == (
        "rapl-sysfs AbsPower: 3 of 6 models exported (1 over thresholds, 1 without zip, 1 without node type)"
    )


def test_csv_order_by_group_then_error_key_then_name():
    rows = [row("B_0", "X", 2, 1), row("A_0", "X", 2, 9), row("C_0", "W", 9, 0)]
    assert [r.model_name for r in csv_order(rows, "mae")] == ["C_0", "A_0", "B_0"]
    assert [r.model_name for r in csv_order(rows, "mape")] == ["C_0", "B_0", "A_0"]


def test_best_model_lowest_error_then_other_error_then_name():
    rows = [
        row("XgboostFitTrainer_0", mae=2, mape=9),
        row("SGDRegressorTrainer_0", mae=2, mape=3),
        row("LogarithmicRegressionTrainer_0", mae=2, mape=3),
        row("LinearRegressionTrainer_0", mae=4, mape=1),
    ]
    best = best_models(rows, "mae")
    assert best[(0, "rapl-sysfs", "AbsPower", "BPFOnly")].model_name == "LogarithmicRegressionTrainer_0"
    best = best_models(rows, "mape")
    assert best[(0, "rapl-sysfs", "AbsPower", "BPFOnly")].model_name == "LinearRegressionTrainer_0"


def test_local_best_only_among_models_with_weights():
    rows = [row("XgboostFitTrainer_0", mae=1), row("SGDRegressorTrainer_0", mae=5), row("SGDRegressorTrainer_1", mae=5)]
    local = best_models(rows, "mae", eligible={rows[1].key})
    assert {k: r.model_name for k, r in local.items()} == {
        (0, "rapl-sysfs", "AbsPower", "BPFOnly"): "SGDRegressorTrainer_0"
    }


def test_best_model_is_per_node_type_source_output_type_and_group():
    rows = [row("A_0"), row("A_1"), row("A_0", group="Basic"), row("A_0", ot="DynPower"), row("A_0", source="acpi")]
    assert len(best_models(rows, "mae")) == 5


def test_mape_of_minus_one_never_wins_under_error_key_mape():
    rows = [row("A_0", mae=1, mape=-1), row("B_0", mae=5, mape=12)]
    assert best_models(rows, "mape")[(0, "rapl-sysfs", "AbsPower", "BPFOnly")].model_name == "B_0"
