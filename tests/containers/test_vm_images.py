"""VM models (kepler-010.md §4) through the three step images: the host's Kepler 0.10 series on one real
Prometheus, the guests' node_exporter on another, both reached over the host network; query with
OS_SELECTOR/OS_SERVER, train with VM_MAP (a file in the workspace claim's data/ folder), export into v0.10,
with the compiled pipeline's command, arguments and environment (as test_step_images.py runs the 0.7 case)."""

from __future__ import annotations

import json
import os

import pytest

from steps.common.timefmt import format_window_time
from steps.synth import Kepler010Config, generate_010
from tests.pipeline.compiled import load_invocations

from .conftest import REPO_ROOT, STEPS
from .test_step_images import MOUNTS, PUBLISHER, _ok, docker_run

pytestmark = [pytest.mark.containers, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

VM_CONFIG = Kepler010Config(vms=2, duration_s=1800, step_s=15, seed=5, noise_w=1.0, zones=("package", "dram"))
VM_PIPELINE = "std_v0.10"
VM_BENCHMARK = "container-vm-bench"


@pytest.fixture(scope="module")
def vm_container_run(docker, step_images, prometheus_factory, tmp_path_factory):
    truth = generate_010(VM_CONFIG)
    folder = tmp_path_factory.mktemp("vm-openmetrics")
    host = prometheus_factory(truth.write_openmetrics(folder / "host.om", part="host"))
    guests = prometheus_factory(truth.write_openmetrics(folder / "guests.om", part="guests"))
    root = tmp_path_factory.mktemp("vm-container-claims")
    for sub in (*MOUNTS.values(), "workspace/data"):
        (root / sub).mkdir()
        os.chmod(root / sub, 0o777)  # a fresh claim the image user may write (fsGroup in a cluster)
    truth.write_vm_map(root / "workspace" / "data" / "vms.json")
    os.chmod(root / "workspace" / "data" / "vms.json", 0o644)
    start, end = truth.window
    instances = "|".join(sorted(truth.vm_map()))
    values = {
        "BENCHMARK": VM_BENCHMARK,
        "PROM_URL": host.url,
        "OS_SERVER": guests.url,
        "OS_SELECTOR": f'job="node-exporter",instance=~"{instances}"',
        "VM_MAP": "vms",
        "COLLECT_ID": "vm-host",
        "PIPELINE_NAME": VM_PIPELINE,
        "START_TIME": format_window_time(start),
        "END_TIME": format_window_time(end),
        "STEP": "15",
        "PUBLISHER": PUBLISHER,
    }
    results = {}
    for invocation in load_invocations(REPO_ROOT / "manifests" / "kfp" / "kepler-model-pipeline.yaml", values):
        results[invocation.step] = docker_run(docker, invocation, root, step_images.names[invocation.step])
        if results[invocation.step].returncode != 0:
            break
    return truth, root, results


def test_vm_case_runs_in_the_three_images(vm_container_run):
    truth, root, results = vm_container_run
    for step in STEPS:
        assert step in results, f"{step} did not run (an earlier step failed)"
        _ok(results[step])
    document = json.loads((root / "workspace" / "data" / "kepler_query.json").read_text())
    assert {s["metric"]["instance"] for s in document["node_cpu_seconds_total"]} == set(truth.vm_map())
    pipeline = root / "workspace" / "models" / VM_PIPELINE
    metadata = json.loads((pipeline / "metadata.json").read_text())
    assert (metadata["metric_type"], metadata["isolator"]) == ("vm_metrics", "active")
    assert [p.name for p in (pipeline / "rapl-sysfs" / "DynPower").iterdir()] == ["OSCounters"]
    exported = root / "model-db" / "models" / "v0.10"
    assert (exported / VM_PIPELINE / "README.md").is_file() and (exported / f"{VM_PIPELINE}.zip").is_file()
    assert json.loads((exported / VM_PIPELINE / "metadata.json").read_text())["metric_type"] == "vm_metrics"
