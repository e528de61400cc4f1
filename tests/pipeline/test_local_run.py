"""`kepler-model run`: the pipeline's three command lines in order on this machine, stopping at the first failure."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from steps import DEFAULT_PIPELINE_NAME
from steps.cli import main
from steps.common.config import Environment
from steps.common.console import Console
from steps.common.timefmt import format_window_time
from steps.contract import MODELS_FOLDER, PARAMETERS, STEPS
from steps.local_run import cli as local_run
from steps.local_run.checks import CHECKS
from steps.local_run.plan import RunParameters, step_commands

from .compiled import load_invocations, relocate


def run_cli(argv, environ=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=environ if environ is not None else {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def error_lines(err: str):
    return [line for line in err.splitlines() if ": error: " in line]


def good_flags(tmp_path):
    return [
        "--benchmark",
        "b",
        "-s",
        "http://127.0.0.1:9",
        "--id",
        "n1",
        "--publisher",
        "me",
        "-o",
        str(tmp_path / "db"),
        "--data-path",
        str(tmp_path / "ws"),
        "--interval",
        "600",
    ]


def with_flag(flags, name, value):
    flags = list(flags)
    if name in flags:
        flags[flags.index(name) + 1] = value
    else:
        flags += [name, value]
    return flags


def test_command_lines_are_the_pipelines(manifests_dir):
    """Same flags and values as the compiled pipeline (both render the step contract); only the model-db
    folder differs: a local folder instead of the claim's mount."""
    values = {
        "BENCHMARK": "b",
        "PROM_URL": "http://p:9090",
        "COLLECT_ID": "n1",
        "PIPELINE_NAME": "pl",
        "COLLECT_DATE": "June 2024",
        "START_TIME": "2024-06-01T00:00:00Z",
        "END_TIME": "2024-06-01T01:00:00Z",
        "INTERVAL": "",
        "STEP": "15",
        "PUBLISHER": "me",
    }
    compiled = load_invocations(manifests_dir / "kfp" / "kepler-model-pipeline.yaml", values)
    local = step_commands(RunParameters(values, {MODELS_FOLDER: "/local/db/models"}))
    assert [step for step, _args in local] == [i.step for i in compiled] == ["query", "train", "export"]
    for (step, args), invocation in zip(local, compiled):
        assert invocation.command == ["kepler-model", step]
        assert args == [relocate(a, {"/model-db/models": Path("/local/db/models")}) for a in invocation.args]
    assert local[2][1][local[2][1].index("-o") + 1] == "/local/db/models"


def test_run_has_one_flag_per_parameter_that_has_one():
    """`kepler-model run`'s flags come from the contract's parameters: adding one there adds the flag."""
    parser = local_run.build_parser()
    for parameter in PARAMETERS:
        if parameter.flag is not None:
            assert parser._option_string_actions[parameter.flag.long].dest == parameter.flag.dest
    with_flags = {p.name for p in PARAMETERS if p.flag is not None}
    assert with_flags == {p for s in STEPS for p in s.parameter_names()}, "every parameter a step takes, no other"


def test_every_step_of_the_contract_is_checked_before_the_run():
    assert set(CHECKS) == {step.name for step in STEPS}


def test_flags_left_out_are_passed_empty(tmp_path):
    args = local_run.build_parser().parse_args(["--benchmark", "b", "--publisher", "me", "-o", str(tmp_path)])
    params = local_run.parameters_from_args(args)
    assert params.value("PROM_URL") == "" and params.value("START_TIME") == ""
    assert params.value("PIPELINE_NAME") == DEFAULT_PIPELINE_NAME
    assert params.folder(MODELS_FOLDER) == str(tmp_path.resolve())


def test_missing_required_flags_are_a_usage_error_before_any_step(tmp_path):
    code, out, err = run_cli(["run", "--benchmark", "b", "--data-path", str(tmp_path)])
    assert code == 2
    assert err.strip() == "kepler-model run: error: missing required flag(s): --publisher, -o/--output"
    assert out == "" and list(tmp_path.iterdir()) == []


def test_run_is_refused_in_a_step_image(tmp_path):
    code, _out, err = run_cli(["run", "--help"], environ={"KEPLER_MODEL_IMAGE_STEPS": "query"})
    assert code == 1 and "this image does not provide the 'run' step" in err


@pytest.mark.parametrize(
    "flag, value, refused_by, message",
    [
        ("--publisher", "me/you", "export", "--publisher"),  # export's rule, not run's
        ("--publisher", "me_you", "export", "--publisher"),
        ("--pipeline-name", "a/b", "", "--pipeline-name"),
        ("--start-time", "2024-06-01T00:00:00Z", "query", "--end-time"),  # query's window rule
        ("--step", "fast", "query", "--step"),
        ("--id", "../node", "", "--id"),
    ],
)
def test_any_steps_usage_error_stops_the_run_before_the_first_step(tmp_path, flag, value, refused_by, message):
    """Every step's arguments are checked by that step's own rules before query writes anything:
    exit 2, one error line, nothing created in the workspace or the model database."""
    code, out, err = run_cli(["run", *with_flag(good_flags(tmp_path), flag, value)])
    assert code == 2, err
    (line,) = error_lines(err)
    assert line.startswith("kepler-model run: error: " + (f"{refused_by}: " if refused_by else ""))
    assert message in line
    assert "==> step" not in out
    assert list(tmp_path.iterdir()) == []


def test_a_failing_step_without_its_own_error_line_gets_one_from_run(tmp_path):
    """A step that fails silently (here a stand-in runner) still yields exactly one error line."""
    args = local_run.build_parser().parse_args(good_flags(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    calls = []

    def runner(argv, environ, console):
        calls.append(argv[0])
        return 3

    status = local_run.run(args, Environment({}), Console("run", out=out, err=err), runner=runner)
    assert status == 3 and calls == ["query"]
    assert error_lines(err.getvalue()) == ["kepler-model run: error: step query failed with exit status 3"]
    assert "==> query failed with exit status 3; the workspace" in out.getvalue()


def test_a_step_printing_its_error_is_the_only_error_line(tmp_path):
    args = local_run.build_parser().parse_args(good_flags(tmp_path))
    out, err = io.StringIO(), io.StringIO()

    def runner(argv, environ, console):
        console.error("the step's own reason")  # as steps.cli.main prints it, through the console given
        return 1

    assert local_run.run(args, Environment({}), Console("run", out=out, err=err), runner=runner) == 1
    assert error_lines(err.getvalue()) == ["kepler-model run: error: the step's own reason"]


@pytest.mark.integration
def test_stops_at_the_first_failing_step_with_its_status(tmp_path):
    """A dead Prometheus: query fails (exit 1), train/export never start, and one error line says why."""
    code, out, err = run_cli(["run", *good_flags(tmp_path)], environ={"PROM_QUERY_TIMEOUT": "2"})
    assert code == 1
    assert "step 1/3: kepler-model query" in out and "step 2/3" not in out
    (line,) = error_lines(err)
    assert line.startswith("kepler-model query: error: ") and "127.0.0.1:9" in line
    assert "==> query failed with exit status 1; the workspace" in out
    assert not (tmp_path / "db").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_full_local_run_exports_and_prints_where(prometheus, tmp_path):
    start, end = prometheus.window
    db = tmp_path / "model-db" / "models"
    code, out, err = run_cli(
        [
            "run",
            "--benchmark",
            "local-bench",
            "--server",
            prometheus.url,
            "--id",
            "local-node",
            "--pipeline-name",
            "local_pipeline",
            "--start-time",
            format_window_time(start),
            "--end-time",
            format_window_time(end),
            "--step",
            "15",
            "--publisher",
            "kepler-ci",
            "-o",
            str(db),
            "--data-path",
            str(tmp_path / "ws"),
        ]
    )
    assert code == 0, out[-2000:] + err[-2000:]
    readme = db / "v0.7" / "local_pipeline" / "README.md"
    assert readme.is_file()
    assert f"report:         {readme}" in out
    assert f"model database: {db / 'v0.7'}" in out
    assert json.loads((tmp_path / "ws" / "local-bench.json").read_text())["startTimeUTC"] == format_window_time(start)
    # MODEL_PATH defaults to the data path: the trained pipeline sits in the workspace.
    assert (tmp_path / "ws" / "local_pipeline" / "metadata.json").is_file()
    # The run page's files land in the workspace as in a pipeline run (no copies: no orchestrator).
    assert (tmp_path / "ws" / "kepler_query_validate_result.md").is_file()
    assert (tmp_path / "ws" / "local_pipeline_export_metrics.json").is_file()
    report = tmp_path / "ws" / "local_pipeline_export_report.md"
    assert report.read_text().startswith("# Export of local_pipeline") and f"run summary:    {report}" in out


@pytest.mark.parametrize("recorded,folder", [({"kepler_generation": "0.10"}, "v0.10"), ({}, "v0.7")])
def test_run_names_the_version_folder_export_wrote_into(tmp_path: Path, recorded: dict, folder: str):
    """The closing lines of `kepler-model run` point at the generation's own folder (v0.10 for 0.10 data)."""
    from steps.common.workspace import Workspace
    from steps.local_run.cli import _exported_to

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "metadata.json").write_text(json.dumps({"name": "p", **recorded}))
    database = _exported_to(tmp_path / "db", Workspace(tmp_path, tmp_path), "p")
    assert database.version_dir == tmp_path / "db" / folder
