"""The three step images, run with a real Docker engine against a real Prometheus on the host network.

query, train and export run one after another with `docker run --network host`, sharing one
bind-mounted workspace and model-db folder, using the exact command, arguments and environment of
the compiled pipeline. Checks the outputs, that the containers ran as the non-root image user,
that a step is refused by another step's image, and the image sizes.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from steps.common.timefmt import format_window_time
from tests.pipeline.compiled import Invocation, load_invocations

from .conftest import REPO_ROOT, STEPS, Docker

pytestmark = [pytest.mark.containers, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

MB = 1_000_000
SIZE_LIMITS = {"query": 250 * MB, "train": 900 * MB, "export": 500 * MB}
IMAGE_USER = 1000
PIPELINE = "container_pipeline"
BENCHMARK = "container-bench"
PUBLISHER = "kepler-ci"
MOUNTS = {"WORKSPACE_CLAIM": "workspace", "MODEL_DB_CLAIM": "model-db"}
OUTPUTS = "/kfp-outputs"  # stands for the artifact paths the KFP launcher gives; a host folder "kfp-outputs"


def docker_run(docker: Docker, invocation: Invocation, root: Path, image: str) -> subprocess.CompletedProcess:
    """`docker run` of one compiled step: same entrypoint, args and env; host folders as the claims; locked
    down as the manifests' pods are (read-only root, a tmpfs per emptyDir, no capabilities or escalation)."""
    argv = [
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        invocation.command[0],
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]
    for path in invocation.scratch:
        argv += ["--tmpfs", path]
    for parameter, path in invocation.mounts:
        argv += ["-v", f"{root / MOUNTS[parameter]}:{path}"]
    if invocation.outputs:
        argv += ["-v", f"{root / 'kfp-outputs'}:{OUTPUTS}"]
    for key, value in invocation.env.items():
        argv += ["-e", f"{key}={value}"]
    return docker.run(*argv, image, *invocation.command[1:], *invocation.args, timeout=900)


@pytest.fixture(scope="module")
def container_run(docker, step_images, prometheus, tmp_path_factory):
    root = tmp_path_factory.mktemp("container-claims")
    for folder in [*MOUNTS.values(), "kfp-outputs"]:
        (root / folder).mkdir()
        os.chmod(root / folder, 0o777)  # a fresh claim the image user may write (fsGroup in a cluster)
    start, end = prometheus.window
    values = {
        "BENCHMARK": BENCHMARK,
        "PROM_URL": prometheus.url,
        "COLLECT_ID": "container-node",
        "PIPELINE_NAME": PIPELINE,
        "START_TIME": format_window_time(start),
        "END_TIME": format_window_time(end),
        "STEP": "15",
        "PUBLISHER": PUBLISHER,
    }
    results, seconds = {}, {}
    for invocation in load_invocations(REPO_ROOT / "manifests" / "kfp" / "kepler-model-pipeline.yaml", values, OUTPUTS):
        started = time.monotonic()
        results[invocation.step] = docker_run(docker, invocation, root, step_images.names[invocation.step])
        seconds[invocation.step] = time.monotonic() - started
        if results[invocation.step].returncode != 0:
            break
    print(
        f"\nimage sizes (MB): { {s: round(b / MB) for s, b in step_images.sizes.items()} }; "
        f"build s: { {k: round(v) for k, v in step_images.build_seconds.items()} }; "
        f"run s: { {k: round(v, 1) for k, v in seconds.items()} }"
    )
    return root, results


def _ok(done) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_three_steps_run_in_their_images(container_run):
    root, results = container_run
    for step in STEPS:
        assert step in results, f"{step} did not run (an earlier step failed)"
        _ok(results[step])
    data = root / "workspace" / "data"
    assert json.loads((data / f"{BENCHMARK}.json").read_text())["startTimeUTC"].endswith("Z")
    assert (data / "kepler_query.json").stat().st_size > 0
    pipeline = root / "workspace" / "models" / PIPELINE
    assert (pipeline / "metadata.json").is_file() and list(pipeline.glob("*/*/*/*.zip"))
    exported = root / "model-db" / "models" / "v0.7"
    assert (exported / PIPELINE / "README.md").is_file() and (exported / f"{PIPELINE}.zip").is_file()
    assert json.loads((exported / PIPELINE / "metadata.json").read_text())["publisher"] == PUBLISHER


def test_run_outputs_land_in_the_workspace_and_at_the_artifact_paths(container_run):
    """The validation table (query) and the run summary (export): workspace files, copied byte for byte to the
    paths the pipeline gives (`--<name>-file`), as `kepler-model run` writes the same workspace files."""
    root, results = container_run
    for step in ("query", "export"):
        _ok(results[step])
    data, copies = root / "workspace" / "data", root / "kfp-outputs"
    table = data / "kepler_query_validate_result.md"
    assert table.read_text().startswith("# Validation table of kepler_query")
    assert (copies / "validation_table").read_bytes() == table.read_bytes()
    report, metrics = data / f"{PIPELINE}_export_report.md", data / f"{PIPELINE}_export_metrics.json"
    assert report.read_text().startswith(f"# Export of {PIPELINE}")
    assert (copies / "run_report").read_bytes() == report.read_bytes()
    assert (copies / "run_metrics").read_bytes() == metrics.read_bytes()
    document = json.loads(metrics.read_text())
    assert document["metrics"][-1] == {
        "name": "exported-models",
        "numberValue": float((copies / "exported_models").read_text()),
        "format": "RAW",
    }


def test_containers_ran_as_the_non_root_image_user(container_run, docker, step_images):
    root, _results = container_run
    owners = {p.stat().st_uid for p in root.rglob("*") if p.is_file()}
    assert owners == {IMAGE_USER}, owners
    for step in STEPS:
        done = docker.run("run", "--rm", "--entrypoint", "id", step_images.names[step], "-u", check=True)
        assert done.stdout.strip() == str(IMAGE_USER)


def test_a_step_is_refused_by_another_steps_image(docker, step_images):
    done = docker.run("run", "--rm", "--entrypoint", "kepler-model", step_images.names["query"], "train", "--help")
    assert done.returncode == 1
    assert done.stderr.strip() == "kepler-model train: error: this image does not provide the 'train' step"
    done = docker.run("run", "--rm", "--entrypoint", "kepler-model", step_images.names["export"], "run", "--help")
    assert done.returncode == 1 and "does not provide the 'run' step" in done.stderr


def test_entrypoint_runs_the_images_step(docker, step_images):
    """`docker run IMAGE --help` is the step's own help (ENTRYPOINT kepler-model <step>)."""
    for step in STEPS:
        done = docker.run("run", "--rm", step_images.names[step], "--help", check=True)
        assert done.stdout.startswith(f"usage: kepler-model {step}")


def test_the_step_argument_names_and_restricts_each_image(docker, step_images):
    """One Dockerfile, three images: STEP set the title label and the one step each image provides."""
    for step in STEPS:
        config = json.loads(
            docker.run("image", "inspect", "-f", "{{json .Config}}", step_images.names[step], check=True).stdout
        )
        assert config["Labels"]["org.opencontainers.image.title"] == f"kepler-model-{step}"
        assert f"KEPLER_MODEL_IMAGE_STEPS={step}" in config["Env"]
        assert config["Entrypoint"] == ["kepler-model-step"] and config["User"] == f"{IMAGE_USER}:{IMAGE_USER}"


def test_images_hold_only_their_steps_dependencies(docker, step_images):
    probe = (
        "import importlib.util as u, json; print(json.dumps({m: bool(u.find_spec(m)) for m in "
        "['pandas', 'sklearn', 'xgboost', 'matplotlib', 'requests', 'kubernetes', 'kfp', 'pip']}))"
    )
    found = {
        step: json.loads(
            docker.run("run", "--rm", "--entrypoint", "python", step_images.names[step], "-c", probe, check=True).stdout
        )
        for step in STEPS
    }
    assert not any(found["query"][m] for m in ("pandas", "sklearn", "xgboost", "matplotlib"))
    assert found["train"]["sklearn"] and found["train"]["xgboost"] and not found["train"]["kubernetes"]
    assert found["export"]["matplotlib"] and not found["export"]["sklearn"]
    assert not any(found[s]["kfp"] or found[s]["pip"] for s in STEPS)


def test_image_sizes_are_within_targets(step_images):
    over = {s: f"{step_images.sizes[s] / MB:.0f} MB" for s in STEPS if step_images.sizes[s] >= SIZE_LIMITS[s]}
    assert not over, f"over the size targets {SIZE_LIMITS}: {over}"
