"""The fast query-response parser gives what json.loads gives, samples as columns (steps/train/query_columns.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from steps.common.errors import StepError
from steps.common.sample_text import pair_values, split_pairs
from steps.common.workspace import SampleColumns, read_query_response
from steps.synth import SynthConfig, generate
from steps.train.query_columns import parse_query_response
from steps.train.series import flatten_metric


def _same_as_json(data: bytes) -> Any:
    """Parse both ways; labels, times and values (NaN included) must agree metric by metric."""
    fast, plain = parse_query_response(data), json.loads(data)
    assert list(fast) == list(plain)
    for metric in plain:
        a, b = flatten_metric(fast[metric]), flatten_metric(plain[metric])
        assert a.labels == b.labels, metric
        assert np.array_equal(a.series, b.series) and np.array_equal(a.t, b.t, equal_nan=True), metric
        assert np.array_equal(a.v, b.v, equal_nan=True), metric
    return fast


def _series(values: str, name: str = "kepler_node_package_joules_total", labels: str = '{"package": "0"}') -> bytes:
    return f'{{"{name}": [{{"metric": {labels}, "values": {values}}}]}}'.encode()


def test_the_real_sample_parses_to_columns_with_json_s_numbers(idle_json: Path):
    fast = _same_as_json(idle_json.read_bytes())
    series = fast["kepler_node_package_joules_total"][0]["values"]
    assert isinstance(series, SampleColumns) and len(series) == 7
    assert series.t[0] == 1702462599.0


def test_synthetic_responses_parse_to_columns():
    response = generate(SynthConfig(containers=3, duration_s=600, step_s=15, seed=2)).query_response()
    fast = _same_as_json(json.dumps(response).encode())
    assert all(isinstance(s["values"], SampleColumns) for series in fast.values() for s in series if s["values"])
    _same_as_json(json.dumps(response, indent=2).encode())  # other spacing, same answer
    compact = _same_as_json(json.dumps(response, separators=(",", ":")).encode())  # as Prometheus writes
    assert all(isinstance(s["values"], SampleColumns) for series in compact.values() for s in series if s["values"])


@pytest.mark.parametrize(
    "values",
    [
        '[[1, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1.5e3"], [5, "-0.25"]]',  # columns
        '[[1, "abc"], [2, "5"]]',  # not a number: the list is kept, extraction makes NaN of it
        '[[1, null], [2, "5"]]',
        "[[1, 7], [2, 8.5]]",  # numbers instead of strings
        '[["1", "7"], ["2", "8"]]',  # textual times
        "[[1, 2, 3], [4, 5, 6]]",  # not pairs
        "[[1]]",
        "[]",
        '[[1, "2"]]',
    ],
)
def test_irregular_samples_give_what_json_gives(values: str):
    _same_as_json(_series(values))


@pytest.mark.parametrize(
    "document",
    [
        _series('[[1, "2"], [3, "4"]]', labels='{"note": "\\"values\\": [[9, \\"9\\"]]"}'),  # the key's text in a label
        _series('[[1, "2"], [3, "4"]]', labels='{"note": "x]] y"}'),
        _series('[[1, "2"]]', name="values"),  # a metric called values
        b'{"a": [{"metric": {}, "values": [[1, "2"]]}], "b": [], "c": [{"metric": {"k": "v"}, "values": []}]}',
    ],
)
def test_awkward_documents_give_what_json_gives(document: bytes):
    _same_as_json(document)


def test_documents_that_are_not_query_responses_fail_as_before(tmp_path: Path):
    for name, text, expected in [
        ("list", b"[[1, 2]]", "expected an object"),
        ("broken", b'{"m": [{"metric": {}, "values": [[1, "2"]', "is not valid JSON"),
        ("triples", _series("[[1, 2, 3]]"), "not a [time, value] pair"),
    ]:
        path = tmp_path / f"{name}.json"
        path.write_bytes(text)
        with pytest.raises(StepError, match=expected.replace("[", r"\[").replace("]", r"\]")):
            read_query_response(path, parse_query_response)


@pytest.mark.parametrize("text", [b'[1,"2"],[3.5,"-Inf"]', b'[1, "2"], [3.5, "-Inf"]', b'[ 1 ,\n"2" ] ,\t[3.5,"-Inf"]'])
def test_the_shared_scanner_reads_compact_and_spaced_lists_alike(text: bytes):
    assert split_pairs(text) == ([b"1", b"3.5"], [b"2", b"-Inf"])
    assert pair_values(text) == [b"2", b"-Inf"]


@pytest.mark.parametrize(
    "text", [b'[1 5, "2"]', b'[1, "1,5"]', b'[1, "1 2"]', b"[1, 2]", b'["1", "2"]', b'[1, "2", 3]', b'[, "2"]', b"[1]"]
)
def test_the_shared_scanner_refuses_anything_but_number_pairs(text: bytes):
    assert split_pairs(text) is None and pair_values(text) is None
