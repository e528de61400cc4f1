"""Export flags (export.md §1, §3, §11): usage errors exit 2 before anything is read or written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from steps.common.config import Environment
from steps.common.errors import StepError, UsageError
from steps.export.cli import build_parser
from steps.export.run import collect_time
from steps.export.settings import DEFAULT_BASE_URL, settings_from_args

from .builder import tree_state
from .conftest import run_export

REQUIRED = ["-p", "pipe", "-o", "/tmp/db", "--publisher", "sunya-ch"]


def settings(*argv: str, env=None, required=True):
    args = build_parser().parse_args(list(REQUIRED if required else []) + list(argv))
    return settings_from_args(args, Environment(dict({"CONFIG_PATH": "/nonexistent"}, **(env or {}))))


def usage_error(*argv: str, env=None, required=True) -> str:
    with pytest.raises(UsageError) as caught:
        settings(*argv, env=env, required=required)
    assert caught.value.exit_code == 2
    return str(caught.value)


@pytest.mark.parametrize("missing", ["-p", "-o", "--publisher"])
def test_required_flags(missing):
    argv = list(REQUIRED)
    position = argv.index(missing)
    del argv[position : position + 2]
    assert missing in usage_error(*argv, "--collect-date", "May 2024", required=False)


def test_empty_string_means_not_set_for_required_flags():
    assert "--publisher" in usage_error("-p", "x", "-o", "/d", "--publisher", "", "--collect-date", "d", required=False)


@pytest.mark.parametrize("publisher", ["a", "sunya-ch", "A1-b2", "x" * 39])
def test_valid_publishers(publisher):
    assert settings("--publisher", publisher, "--collect-date", "d").publisher == publisher


@pytest.mark.parametrize("publisher", ["-lead", "x" * 40, "under_score", "a b", "a/b", "é"])
def test_invalid_publishers(publisher):
    assert "--publisher" in usage_error("--publisher", publisher, "--collect-date", "d")


def test_neither_benchmark_nor_collect_date():
    assert "--benchmark" in usage_error()
    assert "--collect-date" in usage_error("--benchmark", "", "--collect-date", "")


@pytest.mark.parametrize("date", ["Feb | 2024", "Feb\n2024", "Feb\r2024"])
def test_collect_date_that_would_break_the_table(date):
    assert "--collect-date" in usage_error("--collect-date", date)


def test_collect_date_is_kept_verbatim_and_wins_over_benchmark():
    chosen = settings("--benchmark", "missing-file", "--collect-date", "February 2024")
    assert collect_time(chosen) == "February 2024"  # the benchmark file is not even read


def test_benchmark_start_is_the_collect_time_in_utc(tmp_path):
    (tmp_path / "stressng.json").write_text(
        '{"startTimeUTC": "2024-07-25T21:05:43Z", "endTimeUTC": "2024-07-25T22:05:43Z"}'
    )
    (tmp_path / "cpe.json").write_text(
        '{"metadata": {"creationTimestamp": "2023-02-24T01:00:00Z"}, "status": '
        '{"results": [{"repetitions": [{"pushedTime": '
        '"2023-02-24 03:36:49.55 +0000 UTC m=+1.0"}]}]}}'
    )
    assert collect_time(settings("--benchmark", "stressng", "--data-path", str(tmp_path))) == "2024-07-25 21:05:43"
    assert collect_time(settings("--benchmark", "cpe.json", "--data-path", str(tmp_path))) == "2023-02-24 01:00:00"


@pytest.mark.parametrize("content", [None, "not json", '{"startTimeUTC": "yesterday"}', "[]"])
def test_benchmark_missing_or_malformed_is_a_runtime_error(tmp_path, content):
    if content is not None:
        (tmp_path / "bench.json").write_text(content)
    with pytest.raises(StepError) as caught:
        collect_time(settings("--benchmark", "bench", "--data-path", str(tmp_path)))
    assert caught.value.exit_code == 1 and "bench.json" in str(caught.value)


@pytest.mark.parametrize(
    "argv,expected",
    [
        ([], False),
        (["--zip"], True),
        (["--zip=true"], True),
        (["--zip=TRUE"], True),
        (["--zip=1"], True),
        (["--zip=yes"], True),
        (["--zip=false"], False),
        (["--zip=0"], False),
        (["--zip=No"], False),
        (["--zip", "false"], False),
        (["--zip="], False),
    ],
)
def test_zip_is_a_real_boolean(argv, expected):
    assert settings("--collect-date", "d", *argv).make_zip is expected


@pytest.mark.parametrize("value", ["maybe", "2", "on", "ture"])
def test_zip_with_another_value_is_a_usage_error(value):
    assert "--zip" in usage_error("--collect-date", "d", f"--zip={value}")


def test_thresholds_from_flags_variables_and_defaults():
    chosen = settings("--collect-date", "d")
    assert (chosen.thresholds.mae, chosen.thresholds.mape, chosen.thresholds.hard) == (10, 20, 100)
    env = {"EXPORT_MAE_THRESHOLD": "7.5", "EXPORT_MAPE_THRESHOLD": "15", "EXPORT_HARD_THRESHOLD": "50"}
    chosen = settings("--collect-date", "d", env=env)
    assert (chosen.thresholds.mae, chosen.thresholds.mape, chosen.thresholds.hard) == (7.5, 15, 50)
    chosen = settings("--collect-date", "d", "--mae-threshold", "3", "--hard-threshold", "", env=env)
    assert (chosen.thresholds.mae, chosen.thresholds.hard) == (3, 50)


def test_threshold_from_config_file(tmp_path):
    (tmp_path / "EXPORT_MAPE_THRESHOLD").write_text("12\n")
    chosen = settings("--collect-date", "d", env={"CONFIG_PATH": str(tmp_path)})
    assert chosen.thresholds.mape == 12


@pytest.mark.parametrize(
    "flag,value",
    [("--mae-threshold", "-1"), ("--mape-threshold", "ten"), ("--hard-threshold", "nan"), ("--mae-threshold", "inf")],
)
def test_bad_threshold_flags(flag, value):
    assert flag in usage_error("--collect-date", "d", flag, value)


def test_bad_threshold_variable_is_named():
    assert "EXPORT_HARD_THRESHOLD" in usage_error("--collect-date", "d", env={"EXPORT_HARD_THRESHOLD": "-5"})


def test_base_url_and_version_folder():
    chosen = settings("--collect-date", "d")
    assert chosen.base_url == DEFAULT_BASE_URL and chosen.database.version == "v0.7"
    chosen = settings("--collect-date", "d", "--base-url", "https://mirror.example/models/", "--version", "v0.8")
    assert chosen.base_url == "https://mirror.example/models" and chosen.database.version == "v0.8"
    chosen = settings("--collect-date", "d", env={"MODEL_DB_BASE_URL": "http://x/m//", "MODEL_DB_VERSION": "0.9"})
    assert chosen.base_url == "http://x/m" and chosen.database.version_dir == Path("/tmp/db/v0.9")
    assert "--version" in usage_error("--collect-date", "d", "--version", "../v0.7")


def test_error_key():
    assert settings("--collect-date", "d", env={"ERROR_KEY": "MAPE"}).error_key == "mape"
    assert "ERROR_KEY" in usage_error("--collect-date", "d", env={"ERROR_KEY": "rmse"})


def test_input_is_a_comma_list_with_quotes_stripped():
    assert settings("--collect-date", "d", "-i", "'a_kepler_query', b.json c").inputs == (
        "a_kepler_query",
        "b.json",
        "c",
    )


def test_invalid_pipeline_name():
    assert "--pipeline-name" in usage_error(
        "-p", "../etc", "-o", "x", "--publisher", "me", "--collect-date", "d", required=False
    )


def test_help_shows_env_fallbacks():
    from steps.cli import main

    out = io.StringIO()
    assert main(["export", "--help"], environ={}, out=out, err=io.StringIO()) == 0
    text = build_parser().format_help()
    for name in (
        "EXPORT_MAE_THRESHOLD",
        "EXPORT_MAPE_THRESHOLD",
        "EXPORT_HARD_THRESHOLD",
        "MODEL_DB_BASE_URL",
        "MODEL_DB_VERSION",
        "DATAPATH",
        "MODEL_PATH",
        "ERROR_KEY",
    ):
        assert name in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--zip=maybe"],
        ["--collect-date", "a|b", "--benchmark", ""],
        ["--publisher", "-x"],
        ["--mae-threshold", "abc"],
    ],
)
def test_usage_errors_through_the_command_exit_2_and_write_nothing(trained, argv):
    before = tree_state(trained["root"])
    result = run_export(trained, *argv)
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and result.err.startswith("kepler-model export: error: ")
    assert tree_state(trained["root"]) == before


def test_no_benchmark_and_no_collect_date_through_the_command(trained):
    result = run_export(trained, "-p", "test-pipe", "-o", str(trained["db"]), "--publisher", "me", defaults=False)
    assert result.code == 2 and "--collect-date" in result.err
    assert not trained["db"].exists()
