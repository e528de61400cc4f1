"""Run outputs (steps/contract/ `RunOutput`): the compiled KFP command copies each result to the artifact path it
is given, the files are the workspace's, and a local run writes the same workspace files without the flags."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from steps.cli import main
from steps.contract import MARKDOWN, STEPS, ClaimPath, ContractError, RunOutput, check_contract, step_named
from steps.contract.table import CLAIMS, PARAMETERS
from steps.local_run.plan import RunParameters, step_commands
from tests.export.builder import PipelineSpec, build_pipeline, pipeline_metadata
from tests.export.conftest import PIPELINE, WINDOW, realistic_index, realistic_models

from .compiled import EXECUTOR_OUTPUT, load_invocations, relocate

OUTPUTS = "/kfp-outputs"  # stands for the paths the KFP launcher gives (under /minio, /s3 or /gcs)


def test_compiled_export_command_copies_its_run_outputs_to_the_artifact_paths(manifests_dir, tmp_path: Path):
    """The export step exactly as compiled (flags, placeholders resolved to paths), host folders for the mounts."""
    workspace, db, outputs = tmp_path / "workspace", tmp_path / "model-db", tmp_path / "outputs"
    build_pipeline(
        workspace / "models",
        PipelineSpec(PIPELINE, realistic_index(), realistic_models(), pipeline_metadata(PIPELINE)),
    )
    (workspace / "data").mkdir()
    (workspace / "data" / "stressng.json").write_text(WINDOW)
    values = {"BENCHMARK": "stressng", "PIPELINE_NAME": PIPELINE, "PUBLISHER": "kepler-ci"}
    (_query, _train, export) = load_invocations(manifests_dir / "kfp" / "kepler-model-pipeline.yaml", values, OUTPUTS)
    assert set(export.outputs) == {o.name for o in step_named("export").run_outputs} | {EXECUTOR_OUTPUT}
    mounts = {"/workspace": workspace, "/model-db": db, OUTPUTS: outputs, "/tmp": tmp_path / "scratch"}
    env = {k: relocate(v, mounts) for k, v in export.env.items()}
    out, err = io.StringIO(), io.StringIO()
    code = main([*export.command[1:], *[relocate(a, mounts) for a in export.args]], environ=env, out=out, err=err)
    assert code == 0, err.getvalue()
    data = workspace / "data"
    assert (outputs / "run_report").read_bytes() == (data / f"{PIPELINE}_export_report.md").read_bytes()
    assert (outputs / "run_metrics").read_bytes() == (data / f"{PIPELINE}_export_metrics.json").read_bytes()
    assert int((outputs / "exported_models").read_text()) > 0
    # KFP's executor output: the metrics as the Metrics artifact's metadata (the run page's metrics table)
    executor = json.loads((outputs / EXECUTOR_OUTPUT).read_text())
    metrics = json.loads((outputs / "run_metrics").read_text())["metrics"]
    (artifact,) = executor["artifacts"]["run_metrics"]["artifacts"]
    assert artifact["metadata"] == {m["name"]: m["numberValue"] for m in metrics} and len(metrics) > 1
    assert executor["parameterValues"] == {"exported_models": int((outputs / "exported_models").read_text())}


def test_a_local_run_passes_no_run_output_flag():
    """`kepler-model run` writes the same workspace files; it has no orchestrator to hand copies to."""
    flags = {o.flag for s in STEPS for o in s.run_outputs}
    assert flags == {"--validation-table-file", "--run-report-file", "--run-metrics-file", "--exported-models-file"}
    values = {"BENCHMARK": "b", "PUBLISHER": "me", "PIPELINE_NAME": "p"}
    folders = {a: "/db" for s in STEPS for a in s.args if isinstance(a, ClaimPath)}
    for _step, args in step_commands(RunParameters(values, folders)):
        assert not flags & set(args)


@pytest.mark.parametrize(
    "output, message",
    [
        (RunOutput("Bad-Name", MARKDOWN, "x"), "is not"),
        (RunOutput("report", "html", "x"), "unknown kind"),
    ],
)
def test_a_bad_run_output_fails_the_contract(output, message):
    steps = list(STEPS)
    steps[2] = dataclasses.replace(steps[2], run_outputs=(output,))
    with pytest.raises(ContractError, match=message):
        check_contract(PARAMETERS, steps, CLAIMS)


def test_a_run_output_twice_or_on_a_taken_flag_fails_the_contract():
    steps = list(STEPS)
    twice = steps[2].run_outputs[:1] * 2
    with pytest.raises(ContractError, match="duplicate run output"):
        check_contract(PARAMETERS, [steps[0], steps[1], dataclasses.replace(steps[2], run_outputs=twice)], CLAIMS)
    taken = dataclasses.replace(steps[2], args=steps[2].args + ("--run-report-file",))
    with pytest.raises(ContractError, match="already an argument"):
        check_contract(PARAMETERS, [steps[0], steps[1], taken], CLAIMS)
