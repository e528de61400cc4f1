"""The workspace contract: paths, atomic writes, and readers that name the file and the problem."""

import json
from datetime import datetime, timezone

import pytest

from steps.common.atomic import atomic_path, write_json
from steps.common.config import Environment
from steps.common.errors import StepError
from steps.common.workspace import (
    ModelDatabase,
    Workspace,
    read_machine_spec,
    read_query_response,
    read_window,
    window_document,
)


def test_paths_follow_the_documented_layout(tmp_path):
    ws = Workspace.from_settings(None, Environment({"DATAPATH": str(tmp_path / "d"), "CONFIG_PATH": "/x"}))
    assert ws.model_path == ws.data_path == tmp_path / "d"
    assert ws.query_response("kepler_query.json") == tmp_path / "d" / "kepler_query.json"
    assert ws.machine_spec("m5") == tmp_path / "d" / "machine_spec" / "m5.json"
    assert ws.validation_table("kepler_query") == tmp_path / "d" / "kepler_query_validate_result.csv"
    layout = ws.pipeline("std_v0.7.11")
    assert (
        layout.model_zip("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer_0")
        == tmp_path / "d" / "std_v0.7.11" / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "SGDRegressorTrainer_0.zip"
    )
    assert (
        layout.preprocessed_dyn("default", "min", "acpi", "BPFOnly").name
        == "preprocess_dyn_default_min_acpi_BPFOnly.csv"
    )
    db = ModelDatabase(tmp_path / "models")
    assert db.doc_page("p") == tmp_path / "models" / "v0.7" / ".doc" / "p.md"


def test_model_path_comes_from_its_own_variable(tmp_path):
    env = Environment({"DATAPATH": str(tmp_path / "d"), "MODEL_PATH": str(tmp_path / "m")})
    ws = Workspace.from_settings(str(tmp_path / "flag"), env)
    assert ws.data_path == tmp_path / "flag" and ws.model_path == tmp_path / "m"


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_window_round_trip_is_true_utc(tmp_path):
    start = datetime(2024, 7, 25, 21, 5, 43, tzinfo=timezone.utc)
    end = datetime(2024, 7, 25, 22, 5, 43, tzinfo=timezone.utc)
    path = write_json(tmp_path / "stressng.json", window_document(start, end))
    assert path.read_text() == '{"startTimeUTC": "2024-07-25T21:05:43Z", "endTimeUTC": "2024-07-25T22:05:43Z"}'
    assert read_window(path) == (start, end)


def test_cpe_benchmark_window_uses_latest_push_and_its_offset(tmp_path):
    document = {
        "metadata": {"creationTimestamp": "2023-02-24T01:00:00Z"},
        "status": {
            "results": [
                {"repetitions": [{"pushedTime": "2023-02-24 03:36:49.554647945 +0000 UTC m=+164315.17"}]},
                {"repetitions": [{"pushedTime": "2023-02-24 05:00:00.1 +0200 CEST m=+1"}]},
                {"repetitions": [{"pushedTime": "2023-02-24 02:00:00 +0000 UTC"}]},
            ]
        },
    }
    path = write_json(tmp_path / "cpe.json", document)
    start, end = read_window(path)
    assert start == datetime(2023, 2, 24, 1, 0, 0, tzinfo=timezone.utc)
    assert end == datetime(2023, 2, 24, 3, 36, 49, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "content,problem",
    [
        ('{"startTimeUTC": "2024-01-01T00:00:00Z"}', "startTimeUTC and endTimeUTC"),
        ('{"startTimeUTC": "2024-01-01T01:00:00Z", "endTimeUTC": "2024-01-01T00:00:00Z"}', "not after"),
        ("not json", "not valid JSON"),
    ],
)
def test_bad_window_files_name_the_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(StepError, match=problem) as failure:
        read_window(path)
    assert str(path) in str(failure.value)


def test_missing_window_file_is_named(tmp_path):
    with pytest.raises(StepError, match="does not exist"):
        read_window(tmp_path / "nope.json")


def test_query_response_reader_checks_shape(tmp_path, idle_json):
    response = read_query_response(idle_json)
    assert "kepler_node_package_joules_total" in response
    for bad in ("[1, 2]", '{"m": {"a": 1}}', '{"m": [{"metric": {}}]}', '{"m": [{"metric": {}, "values": [1]}]}'):
        path = tmp_path / "bad.json"
        path.write_text(bad)
        with pytest.raises(StepError, match="is not a query response"):
            read_query_response(path)


@pytest.mark.parametrize(
    "document",
    [
        {
            "attrs": {
                "processor": "intel_xeon_platinum_8259cl",
                "cores": 96,
                "chips": 2,
                "memory": 377,
                "frequency": 3500,
            },
            "members": [],
        },
        {
            "processor": "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
            "cores": 96.0,
            "chips": 2,
            "memory": 377,
            "frequency": 3500,
        },
        {
            "attrs": {
                "NodeAttribute.PROCESSOR": "intel_xeon_platinum_8259cl",
                "NodeAttribute.CORES": 96,
                "NodeAttribute.CHIPS": 2,
                "NodeAttribute.MEMORY": 377,
                "NodeAttribute.FREQUENCY": 3500,
            }
        },
    ],
)
def test_machine_spec_reader_accepts_every_documented_shape(tmp_path, document):
    path = write_json(tmp_path / "spec.json", document)
    assert read_machine_spec(path) == {
        "processor": "intel_xeon_platinum_8259cl",
        "cores": 96,
        "chips": 2,
        "memory": 377,
        "frequency": 3500,
    }
