"""`kepler-model run`: the pipeline's three command lines in order on this machine, stopping at the first failure."""

from __future__ import annotations

import io
import json

import pytest

from steps.cli import main
from steps.common.timefmt import format_window_time
from steps.local_run.plan import RunParameters, step_commands

from .conftest import load_pipeline_module



def run_cli(argv, environ=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=environ if environ is not None else {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_command_lines_are_the_pipelines():
    """Same flags and values as the compiled pipeline; only the model-db path differs (a local folder)."""
    pipeline = load_pipeline_module()
    values = {"BENCHMARK": "b", "PROM_URL": "http://p:9090", "COLLECT_ID": "n1", "PIPELINE_NAME": "pl",
              "COLLECT_DATE": "June 2024", "START_TIME": "2024-06-01T00:00:00Z", "END_TIME": "2024-06-01T01:00:00Z",
              "INTERVAL": "", "STEP": "15", "PUBLISHER": "me", "WORKSPACE_CLAIM": "w", "MODEL_DB_CLAIM": "d"}
    params = RunParameters(benchmark="b", prom_url="http://p:9090", collect_id="n1", pipeline_name="pl",
                           collect_date="June 2024", start_time="2024-06-01T00:00:00Z",
                           end_time="2024-06-01T01:00:00Z", interval="", step="15", publisher="me",
                           model_db=f"{pipeline.MODEL_DB_MOUNT}/models")
    expected = [(s.name, s.render_args(values.__getitem__)) for s in pipeline.STEPS]
    assert step_commands(params) == expected


def test_missing_required_flags_are_a_usage_error_before_any_step(tmp_path):
    code, out, err = run_cli(["run", "--benchmark", "b", "--data-path", str(tmp_path)])
    assert code == 2
    assert err.strip() == "kepler-model run: error: missing required flag(s): --publisher, -o/--output"
    assert out == "" and list(tmp_path.iterdir()) == []


def test_run_is_refused_in_a_step_image(tmp_path):
    code, _out, err = run_cli(["run", "--help"], environ={"KEPLER_MODEL_IMAGE_STEPS": "query"})
    assert code == 1 and "this image does not provide the 'run' step" in err


@pytest.mark.integration
def test_stops_at_the_first_failing_step_with_its_status(tmp_path):
    """A dead Prometheus: query fails (exit 1) and train/export never start."""
    code, out, err = run_cli(["run", "--benchmark", "b", "-s", "http://127.0.0.1:9", "--publisher", "me",
                              "-o", str(tmp_path / "db"), "--data-path", str(tmp_path / "ws"),
                              "--interval", "600"], environ={"PROM_QUERY_TIMEOUT": "2"})
    assert code == 1
    assert "step 1/3: kepler-model query" in out and "step 2/3" not in out
    assert "kepler-model query: error: " in err
    assert "kepler-model run: error: step query failed with exit status 1" in err
    assert not (tmp_path / "db").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_full_local_run_exports_and_prints_where(prometheus, tmp_path):
    start, end = prometheus.window
    db = tmp_path / "model-db" / "models"
    code, out, err = run_cli(["run", "--benchmark", "local-bench", "--server", prometheus.url, "--id", "local-node",
                              "--pipeline-name", "local_pipeline", "--start-time", format_window_time(start),
                              "--end-time", format_window_time(end), "--step", "15", "--publisher", "kepler-ci",
                              "-o", str(db), "--data-path", str(tmp_path / "ws")])
    assert code == 0, out[-2000:] + err[-2000:]
    readme = db / "v0.7" / "local_pipeline" / "README.md"
    assert readme.is_file()
    assert f"report:         {readme}" in out
    assert f"model database: {db / 'v0.7'}" in out
    assert json.loads((tmp_path / "ws" / "local-bench.json").read_text())["startTimeUTC"] == format_window_time(start)
    # MODEL_PATH defaults to the data path: the trained pipeline sits in the workspace.
    assert (tmp_path / "ws" / "local_pipeline" / "metadata.json").is_file()
