"""Parsing query_range answers: the byte-level fast path must equal the json.loads path exactly."""

import json

import pytest

from steps.query.matrix import Irregular, SeriesStats, parse_matrix_fast, parts_from_result, stats_of_values


def prometheus_body(result, warnings=None):
    """A body as Prometheus writes it (compact separators)."""
    document = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    if warnings:
        document["warnings"] = warnings
    return json.dumps(document, separators=(",", ":")).encode()


def as_tuples(parts):
    return [(p.labels, p.fragment, p.first, p.last, p.stats) for p in parts]


def test_fast_path_equals_json_path_on_the_real_sample(idle_json):
    sample = json.loads(idle_json.read_text())
    for metric, result in sample.items():
        body = prometheus_body(result)
        fast = parse_matrix_fast(body)
        assert as_tuples(fast) == as_tuples(parts_from_result(result)), metric
        for part, series in zip(fast, result):
            # workspace style: the same text json.dumps gives, timestamps untouched
            assert part.fragment.decode() == json.dumps(series["values"])[1:-1]


def test_special_values_and_fractional_timestamps():
    result = [
        {
            "metric": {"__name__": "m", "a": 'x,"values":[ ]]}'},
            "values": [
                [1702462599.5, "NaN"],
                [1702462600, "+Inf"],
                [1702462600.5, "-3"],
                [1702462601.25, "0"],
                [1702462602, "1e+21"],
            ],
        }
    ]
    (part,) = parse_matrix_fast(prometheus_body(result))
    assert part.labels == result[0]["metric"]
    assert (
        part.fragment == b'[1702462599.5, "NaN"], [1702462600, "+Inf"], [1702462600.5, "-3"], '
        b'[1702462601.25, "0"], [1702462602, "1e+21"]'
    )
    assert part.first == 1702462599.5 and part.last == 1702462602
    assert part.stats == SeriesStats(count=5, positive=2, maximum=float("inf"))
    assert as_tuples([part]) == as_tuples(parts_from_result(result))


@pytest.mark.parametrize(
    "values",
    [
        ["-0", "0"],
        ["0", "-0"],
        ["-0"],
        ["9007199254740993", "9007199254740992.0"],  # an int json reads exactly, a float it rounds
        ["1" + "0" * 400, "5"],  # an int too large for a float
        ["+Inf", "1"],
        ["-Inf", "-2"],
        ["Infinity", "2"],
        ["1e+21", "-3.5", "0.25"],
        ["NaN", "-0"],
    ],
)
def test_fast_statistics_equal_the_json_path(values):
    result = [{"metric": {"__name__": "m"}, "values": [[i + 1, v] for i, v in enumerate(values)]}]
    (part,) = parse_matrix_fast(prometheus_body(result))
    (expected,) = parts_from_result(result)
    assert as_tuples([part]) == as_tuples([expected])
    assert repr(part.stats.maximum) == repr(expected.stats.maximum)  # the sign of zero too


def test_member_order_does_not_matter_to_the_fast_path():
    result = [{"metric": {"__name__": "m"}, "values": [[1, "2"], [2, "3"]]}]
    body = json.dumps({"data": {"result": result, "resultType": "matrix"}, "status": "success"}, separators=(",", ":"))
    assert as_tuples(parse_matrix_fast(body.encode())) == as_tuples(parts_from_result(result))


def test_empty_result():
    assert parse_matrix_fast(prometheus_body([])) == []


@pytest.mark.parametrize(
    "body",
    [
        prometheus_body([{"metric": {}, "values": [[1, "1"]]}], warnings=["w"]),
        b'{"status":"error","errorType":"bad_data","error":"x"}',
        b"not json",
        b'{"status":"success","data":{"resultType":"vector","result":[]}}',
        json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]}}
        ).encode(),  # spaced
        prometheus_body([{"metric": {}, "values": [[1, "1_0"]]}]),  # float() reads it, Prometheus never writes it
        prometheus_body([{"metric": {}, "values": []}]),
    ],
)
def test_irregular_bodies_use_the_json_path(body):
    with pytest.raises(Irregular):
        parse_matrix_fast(body)


def test_stats_ignore_nan_for_the_maximum():
    assert stats_of_values(["NaN", "NaN"]) == SeriesStats(2, 0, None)
    assert stats_of_values(["1", "NaN", "0.5"]) == SeriesStats(3, 2, 1.0)


def test_native_histogram_series_fall_back_to_the_json_path():
    result = [
        {"metric": {"__name__": "h"}, "histograms": [[1, {"count": "1"}]]},
        {"metric": {"__name__": "m"}, "values": [[1, "2"]]},
    ]
    with pytest.raises(Irregular):
        parse_matrix_fast(prometheus_body(result))
