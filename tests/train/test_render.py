"""table_csv writes what DataFrame.to_csv writes (the preprocessed tables of workspace.md §3.12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.train.render import table_csv


def _tables():
    rng = np.random.default_rng(4)
    yield pd.DataFrame(
        {
            "timestamp": np.arange(5, dtype=np.int64) * 15 + 1_700_000_000,
            "cpu_time": rng.uniform(0, 1e4, 5),
            "package_power": [1e-05, -0.0, 1.5e16, 0.1, 7.0],
            "odd": [np.nan, np.inf, -np.inf, 123456789.123, 2.5e-300],
            "node_type": np.array([1, 1, 2, 2, 2], dtype=np.int64),
        }
    )
    yield pd.DataFrame(
        {
            "id": ["all containers", 'a "quoted", name', "x\ny", "", "plain"],
            "v": [1.0, 2.0, 3.0, 4.0, 5.0],
            "unsigned": np.arange(5, dtype=np.uint32),
        }
    )
    yield pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3), "v": [1.0, 2.0, 3.0]})  # via pandas
    yield pd.DataFrame({"f32": np.array([0.1, 0.2], dtype=np.float32)})  # via pandas
    yield pd.DataFrame({"timestamp": pd.Series([], dtype=np.int64), "v": pd.Series([], dtype=float)})


@pytest.mark.parametrize("index", [False, True])
def test_the_text_is_what_pandas_writes(index: bool):
    for table in _tables():
        assert table_csv(table, index) == table.to_csv(index=index), table.columns.tolist()


def test_real_training_tables_render_as_pandas_renders_them(idle_json):
    import json

    from steps.train.prepare import prepare_training_sets

    sets, _, _ = prepare_training_sets(
        [("idle", json.loads(idle_json.read_text()))], ["rapl-sysfs", "acpi"], {"idle": 0}
    )
    assert sets
    for training_set in sets:
        table = training_set.table.reset_index(drop=True)
        assert table_csv(table, training_set.output_type == "DynPower") == table.to_csv(
            index=training_set.output_type == "DynPower"
        )
