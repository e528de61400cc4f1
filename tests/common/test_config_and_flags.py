"""Value resolution (flag > env > config file > default) and the shared flag parsers."""

import pytest

from steps.common.config import Environment, resolve
from steps.common.errors import UsageError
from steps.common.flags import parse_bool, positive_number, split_list


def test_flag_wins_over_environment_and_config_file(tmp_path):
    (tmp_path / "PROM_URL").write_text("http://from-file:9090\n")
    env = Environment({"PROM_URL": "http://from-env:9090", "CONFIG_PATH": str(tmp_path)})
    assert resolve("http://flag:9090", env, "PROM_URL") == "http://flag:9090"
    assert resolve("", env, "PROM_URL") == "http://from-env:9090"


def test_environment_wins_over_config_file_and_file_over_default(tmp_path):
    (tmp_path / "PROM_URL").write_text("  http://from-file:9090 \n")
    env = Environment({"CONFIG_PATH": str(tmp_path), "PROM_SERVER": ""})
    assert resolve(None, env, "PROM_URL", default="d") == "http://from-file:9090"
    assert resolve(None, Environment({"CONFIG_PATH": str(tmp_path / "none")}), "PROM_URL", default="d") == "d"


def test_first_set_variable_wins_in_order():
    env = Environment({"PROM_URL": "", "PROM_SERVER": "http://server:9090", "CONFIG_PATH": "/nonexistent"})
    assert resolve(None, env, "PROM_URL", "PROM_SERVER") == "http://server:9090"
    env = Environment({"PROM_URL": "http://url:9090", "PROM_SERVER": "http://server:9090"})
    assert resolve(None, env, "PROM_URL", "PROM_SERVER") == "http://url:9090"


@pytest.mark.parametrize(
    "word,expected",
    [
        (None, True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("", False),
    ],
)
def test_booleans_mean_what_they_say(word, expected):
    assert parse_bool(word, "--zip") is expected


def test_non_boolean_is_a_usage_error():
    with pytest.raises(UsageError, match="--zip"):
        parse_bool("maybe", "--zip")


def test_lists_accept_commas_spaces_and_quotes():
    assert split_list("a,b c") == ["a", "b", "c"]
    assert split_list(['"kepler_query"', "'idle'", " ,x,, "]) == ["kepler_query", "idle", "x"]
    assert split_list(None) == [] and split_list("") == []


def test_positive_number_rejects_zero_negative_and_text():
    assert positive_number("3", "--step") == 3.0
    assert positive_number("4", "--concurrency", integer=True) == 4
    for bad in ("0", "-1", "abc", ""):
        with pytest.raises(UsageError, match="--step"):
            positive_number(bad, "--step")
