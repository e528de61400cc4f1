"""Flattening, merging by identity and rates (train.md §6.1-§6.2) on small inline payloads."""

from __future__ import annotations

import numpy as np
import pytest

from steps.train.rates import counter_rates
from steps.train.series import flatten_metric, label_key, merge_series


def _series(labels, values):
    return {"metric": labels, "values": values}


def test_counter_reset_worked_example():
    """train.md §6.2: 100, 160, 20, 80 at t = 0, 15, 30, 45 -> 4.0, 1.333, 4.0."""
    raw = flatten_metric([_series({"a": "x"}, [[0, "100"], [15, "160"], [30, "20"], [45, "80"]])])
    rates = counter_rates(merge_series(raw, label_key(("a",))))
    assert rates.t.tolist() == [15, 30, 45]
    assert rates.r == pytest.approx([4.0, 20 / 15, 4.0])
    assert rates.first.tolist() == [0] and rates.last.tolist() == [45]


def test_per_row_gaps_not_mean_gap():
    raw = flatten_metric([_series({}, [[0, "0"], [10, "100"], [40, "400"]])])
    rates = counter_rates(merge_series(raw, label_key(("a",))))
    assert rates.r == pytest.approx([10.0, 10.0])


def test_values_as_numbers_and_special_strings():
    """Readers accept numeric values; NaN/Inf are dropped rather than propagated."""
    raw = flatten_metric(
        [_series({}, [[0, 1], [1, 2.5]]), _series({}, [[0, "NaN"], [1, "+Inf"], [2, "-Inf"], [3, "7"], [4, "junk"]])]
    )
    assert raw.v[:2].tolist() == [1.0, 2.5]
    assert np.isnan(raw.v[2]) and np.isinf(raw.v[3]) and np.isinf(raw.v[4]) and raw.v[5] == 7 and np.isnan(raw.v[6])
    merged = merge_series(raw, lambda labels: "one")
    assert merged.t.tolist() == [0, 1, 3]  # t=0 and t=1 from the first series, NaN/Inf/junk gone
    assert merged.v.tolist() == [1.0, 2.5, 7.0]


def test_malformed_samples_do_not_crash():
    raw = flatten_metric([_series({}, [[0, "1"], [15], "x", [30, "4"], ["45", "7"]])])
    merged = merge_series(raw, lambda labels: "x")
    assert merged.t.tolist() == [0, 30, 45] and merged.v.tolist() == [1, 4, 7]


def test_merge_same_identity_union_and_largest_value():
    """Series differing only in non-identity labels merge; a repeated timestamp keeps the largest value."""
    a = _series(
        {
            "container_id": "c",
            "pod_name": "p",
            "container_name": "n",
            "container_namespace": "ns",
            "command": "old",
            "instance": "i1",
        },
        [[0, "10"], [15, "20"], [30, "30"]],
    )
    b = _series(
        {
            "container_id": "c",
            "pod_name": "p",
            "container_name": "n",
            "container_namespace": "ns",
            "command": "new",
            "instance": "i2",
        },
        [[30, "35"], [45, "50"]],
    )
    other = _series(
        {"container_id": "d", "pod_name": "p", "container_name": "m", "container_namespace": "ns"},
        [[0, "1"], [15, "2"]],
    )
    raw = flatten_metric([b, other, a])
    merged = merge_series(raw, label_key(("container_id", "pod_name", "container_name", "container_namespace")))
    assert merged.identities == ["c/p/n/ns", "d/p/m/ns"]
    rows = merged.code == 0
    assert merged.t[rows].tolist() == [0, 15, 30, 45]
    assert merged.v[rows].tolist() == [10, 20, 35, 50]


def test_negative_counter_values_dropped_with_warning():
    warnings = []
    raw = flatten_metric([_series({}, [[0, "10"], [15, "-5"], [30, "40"]])])
    merged = merge_series(raw, lambda labels: "x", drop_negative=True, warn=warnings.append, what="m")
    assert merged.t.tolist() == [0, 30]
    assert len(warnings) == 1 and "negative" in warnings[0]
    assert counter_rates(merged).r == pytest.approx([1.0])


def test_empty_metric():
    raw = flatten_metric([])
    merged = merge_series(raw, lambda labels: "x")
    assert len(merged) == 0 and len(counter_rates(merged)) == 0
