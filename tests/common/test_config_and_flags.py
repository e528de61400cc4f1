"""Value resolution (flag > env > config file > default), the shared flag parsers and the flags commands share."""

import argparse
import importlib

import pytest

from steps.common import flags
from steps.common.config import Environment, resolve
from steps.common.errors import UsageError
from steps.common.flags import parse_bool, positive_number, split_list
from steps.contract import COMMANDS


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


SHARED_FLAGS = [value for value in vars(flags).values() if isinstance(value, flags.Flag)]


def command_parsers():
    """Every command's parser, built the way the dispatcher builds it (module named by the contract)."""
    return {c.name: importlib.import_module(c.module).build_parser() for c in COMMANDS}


def test_a_shared_flag_adds_its_meaning_and_the_commands_detail():
    parser = argparse.ArgumentParser()
    action = flags.DATA_PATH.add(parser, "must exist")
    assert action.option_strings == ["--data-path"] and action.dest == flags.DATA_PATH.dest == "data_path"
    assert action.help == "workspace folder (env DATAPATH, default /data); must exist"
    assert flags.PIPELINE_NAME.long == "--pipeline-name" and flags.INPUT.help("query JSON names") == "query JSON names"


def test_every_command_takes_a_shared_flag_with_its_one_meaning():
    """A shared flag is spelled, and means, the same in every command that takes it: defined once, in flags.py."""
    taken = {}
    for command, parser in command_parsers().items():
        for flag in SHARED_FLAGS:
            actions = {parser._option_string_actions.get(name) for name in flag.names}
            if actions == {None}:
                continue
            (action,) = actions
            assert action is not None and action.option_strings == list(flag.names), (command, flag.names)
            assert action.help.startswith(flag.meaning), (command, flag.long, action.help)
            taken.setdefault(flag.long, []).append(command)
    assert all(len(commands) >= 2 for commands in taken.values()), taken
    assert set(taken) == {flag.long for flag in SHARED_FLAGS}, "every shared flag is taken by some command"
