"""The one name validator (steps/common/names.py) and the workspace path methods that use it.

A name that becomes one path component must be plain: no separator, not `.` or `..`, no control
character, at most MAX_NAME_BYTES of UTF-8. The table of hostile values fed through every flag,
variable and file cell is tests/common/test_hostile_names.py; this file checks the rules and the
last line of defence in steps/common/workspace.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from steps.common.config import Environment
from steps.common.errors import StepError, UsageError
from steps.common.names import (
    MAX_NAME_BYTES,
    check_flag_name,
    check_flag_names,
    check_name,
    check_pipeline_flag,
    name_problem,
    resolve_name,
    shown,
)
from steps.common.workspace import ModelDatabase, PipelineLayout, Workspace, query_csv_name

NO_CONFIG = "/nonexistent-kepler-config"


@pytest.mark.parametrize(
    "value",
    [
        "std_v0.7.11",
        "ec2-0.7.11",
        "kepler_query",
        "m5.metal",
        "node-7",
        "SGDRegressorTrainer_0",
        "rapl-sysfs",
        ".hidden",
        "a..b",
        "with space",
        "ünïcødé-名前",
        "x" * MAX_NAME_BYTES,
        "é" * (MAX_NAME_BYTES // 2),
    ],
)
def test_plain_names_pass(value):
    assert name_problem(value) is None
    assert check_name(value, "--id") == value


@pytest.mark.parametrize(
    "value, problem",
    [
        ("", "empty"),
        (".", "names a folder"),
        ("..", "names a folder"),
        ("../../x", "path separator"),
        ("/abs", "path separator"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("x\x00y", "control character"),
        ("x\ny", "control character"),
        ("x\ty", "control character"),
        ("x\x1by", "control character"),
        ("x\x7fy", "control character"),
        ("x\u2028y", "line break"),
        ("x" * (MAX_NAME_BYTES + 1), f"{MAX_NAME_BYTES + 1} bytes long"),
        ("é" * (MAX_NAME_BYTES // 2 + 1), f"{MAX_NAME_BYTES + 2} bytes long"),
        ("x\udcffy", "not valid Unicode"),
        (None, "expected text"),
        (7, "expected text"),
    ],
)
def test_hostile_names_are_refused_with_the_reason(value, problem):
    reason = name_problem(value)
    assert reason is not None and problem in reason


def test_a_file_value_is_a_runtime_error_a_flag_value_a_usage_error():
    with pytest.raises(StepError) as caught:
        check_name("../x", "model metadata /p/t.csv line 2: model_name")
    assert type(caught.value) is StepError and caught.value.exit_code == 1
    assert str(caught.value) == (
        "model metadata /p/t.csv line 2: model_name '../x' is not a plain name: "
        "it contains a path separator ('/' or '\\')"
    )
    with pytest.raises(UsageError) as caught:
        check_flag_name("..", "--id")
    assert caught.value.exit_code == 2 and str(caught.value).startswith("--id '..' is not a plain name")
    with pytest.raises(StepError, match=r"; it names a file$"):
        check_name("a/b", "metric", hint="it names a file")


def test_messages_stay_one_short_line():
    """Control characters are escaped and long values cut, so the error is one readable line."""
    assert shown("x\ny\x00") == "'x\\ny\\x00'"
    with pytest.raises(UsageError) as caught:
        check_flag_name("x\n" + "y" * 500, "--benchmark")
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200 and "...'" in message


def test_list_flags_check_every_item():
    assert check_flag_names(["a", "b.json"], "--input") == ["a", "b.json"]
    with pytest.raises(UsageError, match=r"^--input 'a/b' is not a plain name"):
        check_flag_names(["ok", "a/b"], "--input")


def test_pipeline_names_are_plain_names_of_the_pipeline_character_set():
    """train.md §1: a pipeline name is also a URL segment and a Markdown cell of the model database."""
    for name in ("std_v0.7.11", "ec2-0.7.11", "A1"):
        assert check_pipeline_flag(name, "--pipeline-name") == name
    with pytest.raises(UsageError, match=r"^--pipeline-name '\.\./x' is not a plain name"):
        check_pipeline_flag("../x", "--pipeline-name")
    for name in ("a b", "-lead", ".hidden", "a|b", "é"):
        with pytest.raises(UsageError, match=r"is not a valid pipeline name: use letters, digits"):
            check_pipeline_flag(name, "--abs-pipeline-name")


def test_resolve_name_names_the_flag_or_the_variable():
    env = Environment({"COLLECT_ID": "../x", "CONFIG_PATH": NO_CONFIG})
    assert resolve_name(" node-1 ", env, "--id", "COLLECT_ID") == "node-1"
    with pytest.raises(UsageError, match=r"^COLLECT_ID \(default of --id\) '\.\./x' is not a plain name"):
        resolve_name(None, env, "--id", "COLLECT_ID")
    with pytest.raises(UsageError, match=r"^--id '/abs' is not a plain name"):
        resolve_name("/abs", env, "--id", "COLLECT_ID")
    assert resolve_name("", Environment({"CONFIG_PATH": NO_CONFIG}), "--id", "COLLECT_ID", default="d") == "d"


def test_resolve_name_checks_the_config_file_too(tmp_path):
    (tmp_path / "COLLECT_ID").write_text("a/b\n")
    with pytest.raises(UsageError, match=r"^COLLECT_ID \(default of --id\) 'a/b'"):
        resolve_name("", Environment({"CONFIG_PATH": str(tmp_path)}), "--id", "COLLECT_ID")


# -- the last line of defence: every path method checks the names it joins (StepError, exit 1)


def _workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "data", tmp_path / "models")


PATH_METHODS = [
    ("time-window name", lambda ws, bad: ws.window(bad)),
    ("time-window name", lambda ws, bad: ws.window(bad + ".json") if bad else ws.window(".json")),
    ("query JSON name", lambda ws, bad: ws.query_response(bad)),
    ("query output name", lambda ws, bad: ws.validation_table(bad)),
    ("query output name", lambda ws, bad: ws.query_csv_dir(bad)),
    ("metric name", lambda ws, bad: ws.query_csv("output", bad)),
    ("machine id", lambda ws, bad: ws.machine_spec(bad)),
    ("machine id", lambda ws, bad: ws.machine_spec_candidates(bad)),
    ("pipeline name", lambda ws, bad: ws.profile(bad, "rapl-sysfs")),
    ("energy source", lambda ws, bad: ws.profile("p", bad)),
    ("pipeline name", lambda ws, bad: ws.pipeline(bad)),
    ("pipeline name", lambda ws, bad: ws.pipeline_zip(bad)),
    ("energy source", lambda ws, bad: ws.pipeline("p").model_metadata_csv(bad, "AbsPower")),
    ("output type", lambda ws, bad: ws.pipeline("p").metadata_plot("acpi", bad)),
    ("output type", lambda ws, bad: ws.pipeline("p").power_curve_plot("acpi", bad)),
    ("extractor", lambda ws, bad: ws.pipeline("p").preprocessed_abs(bad, "acpi", "BPFOnly")),
    ("isolator", lambda ws, bad: ws.pipeline("p").preprocessed_dyn("default", bad, "acpi", "BPFOnly")),
    ("feature group", lambda ws, bad: ws.pipeline("p").preprocessed_dyn("default", "min", "acpi", bad)),
    ("energy source", lambda ws, bad: ws.pipeline("p").source_dir(bad)),
    ("feature group", lambda ws, bad: ws.pipeline("p").group_dir("acpi", "AbsPower", bad)),
    ("model name", lambda ws, bad: ws.pipeline("p").model_dir("acpi", "AbsPower", "BPFOnly", bad)),
    ("model name", lambda ws, bad: ws.pipeline("p").model_zip("acpi", "AbsPower", "BPFOnly", bad)),
    ("model name", lambda ws, bad: ws.pipeline("p").model_weight_file("acpi", "AbsPower", "BPFOnly", bad)),
    ("model name", lambda ws, bad: ws.pipeline("p").weight_json("acpi", "AbsPower", "BPFOnly", bad)),
    ("pipeline name", lambda ws, bad: ModelDatabase(ws.model_path).pipeline(bad)),
    ("pipeline name", lambda ws, bad: ModelDatabase(ws.model_path).pipeline_zip(bad)),
    ("pipeline name", lambda ws, bad: ModelDatabase(ws.model_path).doc_page(bad)),
    ("model-db version", lambda ws, bad: ModelDatabase(ws.model_path, bad).version_readme),
    ("metric name", lambda ws, bad: query_csv_name(bad)),
]


@pytest.mark.parametrize("what, call", PATH_METHODS)
@pytest.mark.parametrize("bad", ["../../x", "/abs", "a\\b", "..", "x\x00y", ""])
def test_path_methods_refuse_what_is_not_a_plain_name(tmp_path, what, call, bad):
    with pytest.raises(StepError) as caught:
        call(_workspace(tmp_path), bad)
    assert type(caught.value) is StepError and str(caught.value).startswith(f"{what} ")
    assert "is not a plain name" in str(caught.value)


def test_path_methods_keep_the_layout_and_the_json_suffix_rule(tmp_path):
    ws = _workspace(tmp_path)
    assert ws.window("stressng.json") == ws.window("stressng") == tmp_path / "data" / "stressng.json"
    assert (
        ws.query_csv("kepler_query.json", "kepler_node_info")
        == tmp_path / "data" / "kepler_query_csv" / "kepler_node_info.csv"
    )
    assert ws.profile("p", "acpi") == tmp_path / "data" / "p" / "profile" / "acpi.json"
    assert PipelineLayout(Path()).error_report(3) == Path("error_report") / "node_type_3.md"
    assert ModelDatabase(tmp_path / "db", "v0.8").pipeline_zip("p") == tmp_path / "db" / "v0.8" / "p.zip"
