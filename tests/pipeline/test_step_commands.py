"""The commands in the compiled spec are commands the step CLIs accept: run them for real, in order.

Each step's exact container command and arguments (parameters substituted, "" for unset) run as a
local process against a real Prometheus; host folders stand in for the two claims. The workspace
is checked between steps. Bad inputs: a missing required parameter fails its step with one clear
line (never a green run), and a failed step leaves the workspace so a rerun works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import pytest

from steps.common.timefmt import format_window_time

from .compiled import Invocation, load_invocations, relocate
from .conftest import REPO_ROOT

pytestmark = [pytest.mark.integration]

KEPLER_MODEL = Path(sys.executable).with_name("kepler-model")
PIPELINE = "ci_pipeline"
BENCHMARK = "ci-bench"
COLLECT_ID = "ci-node"
PUBLISHER = "kepler-ci"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
OUTPUTS = "/kfp-outputs"  # stands for the artifact paths the KFP launcher gives


def _steps_ready() -> str:
    missing = [s for s in ("query", "train", "export") if not (REPO_ROOT / "steps" / s / "cli.py").exists()]
    return f"step CLIs not written yet: {missing}" if missing else ""


@pytest.fixture(scope="module")
def values(prometheus) -> Dict[str, str]:
    start, end = prometheus.window
    return {
        "BENCHMARK": BENCHMARK,
        "PROM_URL": prometheus.url,
        "COLLECT_ID": COLLECT_ID,
        "PIPELINE_NAME": PIPELINE,
        "COLLECT_DATE": "",
        "START_TIME": format_window_time(start),
        "END_TIME": format_window_time(end),
        "INTERVAL": "",
        "STEP": "15",
        "PUBLISHER": PUBLISHER,
    }


def run_invocation(
    invocation: Invocation, claims: Dict[str, Path], objects: Optional[Dict[str, Path]] = None
) -> subprocess.CompletedProcess:
    """Run one step as its container would, with host folders for the claims (by claim parameter), for the
    Secrets/ConfigMaps (by name; a missing one is an empty folder, as an optional volume) and for /tmp."""
    mounts = {path: claims[parameter] for parameter, path in invocation.mounts}
    for name, path in invocation.objects:
        mounts[path] = (objects or {}).get(name) or claims["WORKSPACE_CLAIM"].parent / f"missing-{name}"
        mounts[path].mkdir(exist_ok=True)
    for path in invocation.scratch:
        mounts[path] = claims["WORKSPACE_CLAIM"].parent / f"scratch-{invocation.step}"
        mounts[path].mkdir(exist_ok=True)
    if invocation.outputs:
        mounts[OUTPUTS] = claims["WORKSPACE_CLAIM"].parent / "kfp-outputs"
    env = {k: v for k, v in os.environ.items() if k not in ("DATAPATH", "MODEL_PATH", "PROM_URL", "PROM_SERVER")}
    env.update({k: relocate(v, mounts) for k, v in invocation.env.items()})
    env["KEPLER_MODEL_IMAGE_STEPS"] = invocation.step  # as in the step's image
    assert invocation.command[0] == "kepler-model"
    argv = [str(KEPLER_MODEL), *invocation.command[1:], *[relocate(a, mounts) for a in invocation.args]]
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd=claims["WORKSPACE_CLAIM"])
    print(f"{invocation.step}: exit {done.returncode} in {time.monotonic() - started:.1f}s")
    return done


@pytest.fixture(scope="module")
def claims(tmp_path_factory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("claims")
    found = {"WORKSPACE_CLAIM": root / "workspace", "MODEL_DB_CLAIM": root / "model-db"}
    for path in found.values():
        path.mkdir()
    return found


@pytest.fixture(scope="module")
def pipeline_run(manifests_dir, values, claims):
    """query -> train -> export from the compiled spec, each preceded by a failing attempt where noted."""
    reason = _steps_ready()
    if reason:
        pytest.skip(reason)
    kfp_file = manifests_dir / "kfp" / "kepler-model-pipeline.yaml"
    results = {}
    # A dead Prometheus first: query fails with one line and writes no query JSON; the rerun then works.
    (dead_query, *_rest) = load_invocations(kfp_file, {**values, "PROM_URL": "http://127.0.0.1:9"})
    results["query-dead-server"] = run_invocation(dead_query, claims)
    results["after-dead-server"] = sorted(p.name for p in (claims["WORKSPACE_CLAIM"] / "data").glob("kepler_query*"))
    # Run outputs go where the KFP launcher would put the artifacts (OUTPUTS, a host folder here).
    query, train, export = load_invocations(kfp_file, values, OUTPUTS)
    results["query"] = run_invocation(query, claims)
    results["after-query"] = snapshot(claims)
    results["train"] = run_invocation(train, claims)
    results["after-train"] = snapshot(claims)
    # Missing PUBLISHER: export refuses before writing anything; the rerun with it works.
    (_q, _t, export_unset) = load_invocations(kfp_file, {**values, "PUBLISHER": ""})
    results["export-no-publisher"] = run_invocation(export_unset, claims)
    results["after-failed-export"] = snapshot(claims)
    results["export"] = run_invocation(export, claims)
    results["after-export"] = snapshot(claims)
    return results


def snapshot(claims: Dict[str, Path]) -> set:
    return {str(p.relative_to(root.parent)) for root in claims.values() for p in root.rglob("*") if p.is_file()}


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_failed_query_is_one_clear_line_and_leaves_no_partial_output(pipeline_run):
    failed = pipeline_run["query-dead-server"]
    assert failed.returncode == 1
    errors = [l for l in failed.stderr.splitlines() if l.startswith("kepler-model query: error: ")]
    assert len(errors) == 1 and "127.0.0.1:9" in errors[0], failed.stderr
    assert pipeline_run["after-dead-server"] == []


def test_query_writes_the_window_and_the_query_json(pipeline_run, claims, values):
    _ok(pipeline_run["query"])
    data = claims["WORKSPACE_CLAIM"] / "data"
    window = json.loads((data / f"{BENCHMARK}.json").read_text())
    assert window == {"startTimeUTC": values["START_TIME"], "endTimeUTC": values["END_TIME"]}
    response = json.loads((data / "kepler_query.json").read_text())
    assert any(name.startswith("kepler_") and series for name, series in response.items())
    assert not [p for p in pipeline_run["after-query"] if p.startswith("model-db/")], (
        "query must not touch the model-db claim"
    )
    markdown = data / "kepler_query_validate_result.md"  # the validation table for the run page, copied there
    assert markdown.read_text().startswith("# Validation table of kepler_query")
    assert (claims["WORKSPACE_CLAIM"].parent / "kfp-outputs" / "validation_table").read_bytes() == markdown.read_bytes()


def test_train_writes_the_pipeline_under_model_path(pipeline_run, claims):
    _ok(pipeline_run["train"])
    pipeline = claims["WORKSPACE_CLAIM"] / "models" / PIPELINE
    assert (pipeline / "metadata.json").is_file() and (pipeline / "node_type_index.json").is_file()
    assert list(pipeline.glob("*/*/*/*.zip")), "at least one model zip"
    new = pipeline_run["after-train"] - pipeline_run["after-query"]
    assert new and all(p.startswith("workspace/") for p in new)


def test_missing_publisher_fails_export_before_writing(pipeline_run):
    failed = pipeline_run["export-no-publisher"]
    assert failed.returncode == 2, failed.stderr
    (line,) = [l for l in failed.stderr.splitlines() if "error" in l]
    assert line.startswith("kepler-model export: error: ") and "publisher" in line
    assert pipeline_run["after-failed-export"] == pipeline_run["after-train"]


def test_export_writes_the_model_database(pipeline_run, claims):
    _ok(pipeline_run["export"])
    version = claims["MODEL_DB_CLAIM"] / "models" / "v0.7"
    assert (version / "README.md").is_file()
    assert (version / f"{PIPELINE}.zip").is_file()
    exported = version / PIPELINE
    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata["publisher"] == PUBLISHER
    assert (exported / "README.md").is_file()
    data, copies = claims["WORKSPACE_CLAIM"] / "data", claims["WORKSPACE_CLAIM"].parent / "kfp-outputs"
    assert (copies / "run_report").read_bytes() == (data / f"{PIPELINE}_export_report.md").read_bytes()
    assert (copies / "run_metrics").read_bytes() == (data / f"{PIPELINE}_export_metrics.json").read_bytes()
    assert json.loads((copies / "run_metrics").read_text())["metrics"][-1]["name"] == "exported-models"
    assert int((copies / "exported_models").read_text()) > 0


def test_missing_benchmark_fails_query_without_writing(manifests_dir, values, tmp_path):
    """BENCHMARK unset: query has neither --input nor --benchmark, a usage error (exit 2), nothing written."""
    reason = _steps_ready()
    if reason:
        pytest.skip(reason)
    claims = {"WORKSPACE_CLAIM": tmp_path / "ws", "MODEL_DB_CLAIM": tmp_path / "db"}
    for path in claims.values():
        path.mkdir()
    (query, _t, _e) = load_invocations(
        manifests_dir / "kfp" / "kepler-model-pipeline.yaml", {**values, "BENCHMARK": ""}
    )
    done = run_invocation(query, claims)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("kepler-model query: error: ") and "--benchmark" in done.stderr
    assert not [p for p in claims["WORKSPACE_CLAIM"].rglob("*") if p.is_file()]


def test_step_refuses_to_run_in_another_steps_image(manifests_dir, values, claims):
    (query, _t, _e) = load_invocations(manifests_dir / "kfp" / "kepler-model-pipeline.yaml", values)
    env = dict(os.environ, KEPLER_MODEL_IMAGE_STEPS="train")
    done = subprocess.run(
        [str(KEPLER_MODEL), *query.command[1:], "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "kepler-model query: error: this image does not provide the 'query' step"


def test_query_reads_the_token_and_ca_from_the_mounted_secret_and_configmap(manifests_dir, values, tmp_path):
    """PROM_TOKEN_SECRET and PROM_CA_CONFIGMAP set: the query step gets --token-file/--ca-file paths inside the
    mounted objects, reads both, and never prints the token."""
    reason = _steps_ready()
    if reason:
        pytest.skip(reason)
    claims = {"WORKSPACE_CLAIM": tmp_path / "ws", "MODEL_DB_CLAIM": tmp_path / "db"}
    objects = {"prom-token": tmp_path / "secret", "prom-ca": tmp_path / "configmap"}
    for path in [*claims.values(), *objects.values()]:
        path.mkdir()
    token = "s3cr3t-token-value"
    (objects["prom-token"] / "token").write_text(token + "\n")
    (objects["prom-ca"] / "ca.crt").write_text(CA_BUNDLE.read_text() if CA_BUNDLE.is_file() else "")
    (query, _t, _e) = load_invocations(
        manifests_dir / "kfp" / "kepler-model-pipeline.yaml",
        {**values, "PROM_TOKEN_SECRET": "prom-token", "PROM_CA_CONFIGMAP": "prom-ca"},
    )
    assert query.args[-4:] == [
        "--token-file",
        "/var/run/secrets/kepler-model/prometheus-token/token",
        "--ca-file",
        "/etc/kepler-model/prometheus-ca/ca.crt",
    ]
    done = run_invocation(query, claims, objects)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bearer token is sent to" in done.stderr  # read from the file (plain http warning)
    assert token not in done.stdout + done.stderr


def test_a_wrong_secret_name_fails_query_on_the_missing_file(manifests_dir, values, tmp_path):
    """The volume is optional: a Secret that does not exist mounts empty and the step says which file is missing."""
    reason = _steps_ready()
    if reason:
        pytest.skip(reason)
    claims = {"WORKSPACE_CLAIM": tmp_path / "ws", "MODEL_DB_CLAIM": tmp_path / "db"}
    for path in claims.values():
        path.mkdir()
    (query, _t, _e) = load_invocations(
        manifests_dir / "kfp" / "kepler-model-pipeline.yaml", {**values, "PROM_TOKEN_SECRET": "no-such-secret"}
    )
    done = run_invocation(query, claims)
    assert done.returncode == 1, done.stderr
    (line,) = [l for l in done.stderr.splitlines() if ": error: " in l]
    assert line.startswith("kepler-model query: error: token file ") and "/token cannot be read" in line
    assert not [p for p in claims["WORKSPACE_CLAIM"].rglob("*") if p.is_file()]


def test_unset_secret_and_configmap_mean_no_flags(manifests_dir, values):
    (query, _t, _e) = load_invocations(manifests_dir / "kfp" / "kepler-model-pipeline.yaml", values)
    assert "--token-file" not in query.args and "--ca-file" not in query.args and query.objects == []
