"""VM mode's flags (kepler-010.md §4): train --vm-map/--vm-target, the VM_MAP/VM_TARGET pipeline parameters
and the `kepler-model run ... --vm-map FILE` form; usage errors exit 2 with one line before anything is written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from steps.cli import main
from steps.common.config import Environment
from steps.common.errors import StepError, UsageError
from steps.common.workspace import Workspace
from steps.contract import PARAMETERS, step_named
from steps.local_run import cli as local_run
from steps.local_run.plan import step_commands
from steps.train.cli import build_parser, options_from_args
from steps.train.options import train_arguments

NO_CONFIG = {"CONFIG_PATH": "/nonexistent/kepler-config"}


def options(*argv: str, **env: str):
    args = build_parser().parse_args(["--input", "q", "--jobs", "1", *argv])
    return options_from_args(args, Environment(dict(NO_CONFIG, **env)))


def refused(*argv: str, **env: str) -> str:
    with pytest.raises(UsageError) as caught:
        options(*argv, **env)
    return str(caught.value)


def test_node_models_by_default_and_with_an_empty_map():
    for argv in ((), ("--vm-map", ""), ("--vm-map", "", "--vm-target", "")):  # "" is the pipeline's "not set"
        found = options(*argv)
        assert (found.vm, found.vm_map, found.vm_target, found.metric_type) == (False, None, None, "bm_metrics")


def test_a_map_selects_vm_mode_with_the_vm_target_by_default():
    found = options("--vm-map", "vms.json")
    assert (found.vm, found.vm_map, found.vm_target, found.metric_type) == (True, "vms", "vm", "vm_metrics")
    assert options("--vm-map", "vms", "--vm-target", "process", "--vm-train").vm_target == "process"
    assert options("--vm-map", "vms", "--isolator", "active").isolator == "active"


def test_the_map_falls_back_to_the_vm_map_variable_and_the_flag_wins():
    assert options(VM_MAP="from-env").vm_map == "from-env"
    assert options("--vm-map", "from-flag", VM_MAP="from-env").vm_map == "from-flag"
    assert "VM_MAP (default of --vm-map) 'a/b' is not a plain name" in refused(VM_MAP="a/b")


def test_vm_train_alone_keeps_the_older_vm_mode():
    found = options("--vm-train")
    assert (found.vm, found.vm_map, found.vm_target) == (True, None, None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--vm-map", "../vms"), "--vm-map '../vms' is not a plain name"),
        (("--vm-map", "a\nb"), "--vm-map 'a\\nb' is not a plain name"),
        (("--vm-map", "m", "--vm-target", "qemu"), "--vm-target: unknown value 'qemu'; choose one of vm, process"),
        (("--vm-target", "process"), "--vm-target needs --vm-map FILE"),
        (("--vm-map", "m", "--vm-train=false"), "--vm-map selects VM mode"),
        (("--vm-train", "--metric-generation", "0.10"), "--vm-train with Kepler 0.10 metrics needs --vm-map FILE"),
        (("--vm-map", "m", "--metric-generation", "0.7"), "not --metric-generation 0.7"),
        (("--vm-map", "m", "--isolator", "min"), "--isolator is active (or left out), not min"),
        (("--vm-map", "m", "--dyn-trainers", "none"), "--dyn-trainers none leaves nothing to train"),
    ],
)
def test_usage_errors(argv, message):
    assert message in refused(*argv)


def test_a_usage_error_is_one_line_and_exit_2_before_anything_is_written(tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    argv = ["train", "--input", "q", "--vm-map", "m", "--vm-target", "host"]
    code = main(argv, environ=dict(NO_CONFIG, DATAPATH=str(tmp_path)), out=out, err=err)
    assert code == 2
    assert err.getvalue().splitlines() == [
        "kepler-model train: error: --vm-target: unknown value 'host'; choose one of vm, process"
    ]
    assert list(tmp_path.iterdir()) == []


def test_train_arguments_record_the_map_and_the_target(tmp_path: Path):
    recorded = train_arguments(options("--vm-map", "vms"), Workspace(tmp_path, tmp_path), {"q": "0.10"})
    assert list(recorded)[-2:] == ["vm_map", "vm_target"]
    assert (recorded["vm_train"], recorded["vm_map"], recorded["vm_target"]) == (True, "vms", "vm")
    node = train_arguments(options(), Workspace(tmp_path, tmp_path), {"q": "0.10"})
    assert "vm_map" not in node and "vm_target" not in node  # a node-model run keeps workspace.md §3.9's keys


def test_the_map_is_a_json_file_of_the_workspace(tmp_path: Path):
    workspace = Workspace(tmp_path / "data", tmp_path / "models")
    assert workspace.vm_map("vms") == workspace.vm_map("vms.json") == tmp_path / "data" / "vms.json"
    with pytest.raises(StepError, match="vm map name '../x' is not a plain name"):
        workspace.vm_map("../x")


def test_the_pipeline_parameters_reach_train_with_their_flags():
    parameters = {p.name: p for p in PARAMETERS}
    assert (parameters["VM_MAP"].default, parameters["VM_TARGET"].default) == ("", "")
    args = step_named("train").render_args(lambda name: f"<{name}>")
    assert args[args.index("--vm-map") + 1] == "<VM_MAP>" and args[args.index("--vm-target") + 1] == "<VM_TARGET>"


def test_kepler_model_run_passes_the_map_and_target_to_train(tmp_path: Path):
    argv = ["--benchmark", "b", "--publisher", "me", "-o", str(tmp_path), "--vm-map", "vms", "--vm-target", "process"]
    params = local_run.parameters_from_args(local_run.build_parser().parse_args(argv))
    train = dict(step_commands(params))["train"]
    assert train[train.index("--vm-map") + 1] == "vms" and train[train.index("--vm-target") + 1] == "process"
    query = dict(step_commands(params))["query"]
    assert "--vm-map" not in query


def test_kepler_model_run_refuses_a_bad_map_name_before_the_first_step(tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    argv = ["run", "--benchmark", "b", "--publisher", "me", "-o", str(tmp_path / "db")]
    argv += ["--data-path", str(tmp_path / "ws"), "--interval", "600", "--vm-map", "../vms"]
    code = main(argv, environ=dict(NO_CONFIG), out=out, err=err)
    assert code == 2
    assert err.getvalue().splitlines() == [
        "kepler-model run: error: train: --vm-map '../vms' is not a plain name: it contains a path separator "
        "('/' or '\\')"
    ]
    assert "==> step" not in out.getvalue() and not (tmp_path / "db").exists()
