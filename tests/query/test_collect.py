"""Metric selection, merging of chunks per label set, and order independence (query.md §6-7)."""

import json
import random
import threading
import time
from fractions import Fraction

import pytest

from steps.query.chunks import plan_chunks
from steps.query.collect import collect, expression, merge_parts, select_metrics, selector_matcher
from steps.query.matrix import SeriesStats, parts_from_result


def test_prefix_is_startswith_and_thirdparty_exact():
    names = ["kepler_node_info", "my_kepler_thing", "kepler_container_x", "node_cpu_temp_celsius", "node_cpu_temp"]
    selection = select_metrics(names, "kepler_", ["node_cpu_temp_celsius", "absent_metric", "node_cpu"])
    assert selection.metrics == ("kepler_container_x", "kepler_node_info", "node_cpu_temp_celsius")
    assert selection.missing_thirdparty == ("absent_metric", "node_cpu")


def test_selector_forms():
    assert selector_matcher('instance="w1:9102"') == '{instance="w1:9102"}'
    assert selector_matcher('{instance="w1:9102"}') == '{instance="w1:9102"}'
    assert selector_matcher("") is None
    assert expression("kepler_node_info", 'job="k"') == 'kepler_node_info{job="k"}'
    assert expression("kepler_node_info", None) == "kepler_node_info"


def series(labels, values):
    return {"metric": labels, "values": values}


A = {"__name__": "m", "id": "a"}
B = {"__name__": "m", "id": "b"}


def test_merge_concatenates_per_label_set_in_time_order_and_sorts_series():
    chunk1 = parts_from_result([series(B, [[0, "1"], [3, "2"]]), series(A, [[0, "5"]])])
    chunk2 = parts_from_result([series(A, [[6, "6"], [9, "0"]]), series(B, [[6, "3"]])])
    merged = merge_parts([chunk1, chunk2])
    assert [m.labels for m in merged] == [A, B]
    assert json.loads(b"[" + b", ".join(merged[0].fragments) + b"]") == [[0, "5"], [6, "6"], [9, "0"]]
    assert merged[0].stats == SeriesStats(3, 2, 6.0)
    assert merged[1].stats == SeriesStats(3, 3, 3.0)


def test_repeated_timestamp_keeps_the_first_value():
    chunk1 = parts_from_result([series(A, [[0, "1"], [3, "2"]])])
    chunk2 = parts_from_result([series(A, [[3, "99"], [6, "4"]])])
    (merged,) = merge_parts([chunk1, chunk2])
    assert json.loads(b"[" + b", ".join(merged.fragments) + b"]") == [[0, "1"], [3, "2"], [6, "4"]]
    assert merged.stats == SeriesStats(3, 3, 4.0)


def test_label_sets_differing_in_one_label_stay_apart():
    other = dict(A, mode="idle")
    merged = merge_parts([parts_from_result([series(A, [[0, "1"]]), series(other, [[0, "2"]])])])
    assert len(merged) == 2


def fake_answers(metrics, chunks):
    """Deterministic series per (metric, chunk): 3 series, one sample per grid point of the chunk."""
    answers = {}
    for metric in metrics:
        for chunk in chunks:
            result = []
            for sid in range(3):
                values = [[int(chunk.start) + k * 2, str(sid * k)] for k in range(chunk.points)]
                result.append(series({"__name__": metric, "sid": str(sid)}, values))
            random.Random(chunk.index).shuffle(result)
            answers[(metric, chunk.index)] = result
    return answers


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_result_does_not_depend_on_concurrency_or_arrival_order(concurrency):
    metrics = ["m_a", "m_b", "m_c"]
    chunks = plan_chunks(0, 2 * 25, Fraction(2), max_points=7)  # 26 points -> 4 chunks
    answers = fake_answers(metrics, chunks)
    in_flight = []
    lock = threading.Lock()
    active = [0]

    def fetch(client, metric, chunk, step, selector):
        with lock:
            active[0] += 1
            in_flight.append(active[0])
        time.sleep(random.random() * 0.01)  # arrival order differs from submission order
        with lock:
            active[0] -= 1
        return parts_from_result(answers[(metric, chunk.index)])

    out = [
        (m, [(s.labels, b", ".join(s.fragments)) for s in merged])
        for m, merged in collect(None, metrics, chunks, Fraction(2), None, concurrency, fetch=fetch)
    ]
    assert [m for m, _ in out] == metrics
    assert max(in_flight) <= concurrency
    for _metric, merged in out:
        assert [labels["sid"] for labels, _ in merged] == ["0", "1", "2"]
        values = json.loads(b"[" + merged[1][1] + b"]")
        assert [t for t, _ in values] == list(range(0, 52, 2))  # every point once, in order
    if concurrency == 1:
        test_result_does_not_depend_on_concurrency_or_arrival_order.reference = out
    else:
        assert out == test_result_does_not_depend_on_concurrency_or_arrival_order.reference


def test_a_failed_request_ends_the_collection():
    chunks = plan_chunks(0, 20, Fraction(1), max_points=5)

    def fetch(client, metric, chunk, step, selector):
        if metric == "m_b" and chunk.index == 2:
            raise RuntimeError("boom")
        return []

    with pytest.raises(RuntimeError, match="boom"):
        list(collect(None, ["m_a", "m_b", "m_c"], chunks, Fraction(1), None, 2, fetch=fetch))


def test_requests_run_only_a_bounded_distance_ahead_of_the_writer():
    """Memory holds a few chunk answers, not the window: at most 2 x concurrency answers wait unconsumed."""
    metrics = [f"m_{i:02d}" for i in range(30)]
    chunks = plan_chunks(0, 29, Fraction(1), max_points=10)  # 3 chunks per metric
    completed = [0]
    lock = threading.Lock()

    def fetch(client, metric, chunk, step, selector):
        with lock:
            completed[0] += 1
        return []

    consumed = 0
    for _metric, _ in collect(None, metrics, chunks, Fraction(1), None, 2, fetch=fetch):
        consumed += len(chunks)
        time.sleep(0.005)  # a slow writer: fast workers would otherwise run to the end
        with lock:
            assert completed[0] - consumed <= 2 * 2
    assert completed[0] == 90
