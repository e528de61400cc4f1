"""query with Kepler 0.10 data (kepler-010.md): zone rows of the validation table, node_exporter's OS counters
from their own server and selector, the machine spec from kepler_node_cpu_info; then train and export on
what it wrote, against REAL Prometheus servers backfilled with generated 0.10 data of known content."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from steps.cli import main
from steps.common.config import Environment
from steps.common.kepler_metrics import GENERATIONS, os_metric_names
from steps.common.timefmt import format_window_time
from steps.query.machine import CPU_INFO, HOST, NODE, HostProbe, machine_spec_sources, with_cpu_info
from steps.query.matrix import SeriesStats
from steps.query.run import QueryDeps
from steps.query.validate import Row, validation_rows
from steps.synth import Kepler010Config, PrometheusServer, PrometheusUnavailable, generate_010
from steps.train.inputs import extract_input

from .test_cli import invoke

G = GENERATIONS["0.10"]


def test_validation_rows_are_per_zone():
    total = G.zone_energy.total
    summaries = {
        total: [
            ({"zone": "package", "path": "/sys/class/powercap/intel-rapl:0"}, SeriesStats(4, 4, 10.0)),
            ({"zone": "package", "path": "/sys/class/powercap/intel-rapl:1"}, SeriesStats(4, 3, 12.0)),
            ({"zone": "psys", "path": "/sys/class/powercap/intel-rapl:1"}, SeriesStats(4, 4, 30.0)),
        ],
        G.zone_energy.active: [({"zone": "package"}, SeriesStats(4, 4, 1.0))],  # a `_joules` metric: no row
        "kepler_node_cpu_usage_ratio": [({}, SeriesStats(4, 4, 0.5))],
    }
    rows, _ = validation_rows(summaries, "stressng", G)
    assert rows == [
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="package"}', 8, 7, 12.0),
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="core"}', 0, 0, 0),
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="uncore"}', 0, 0, 0),
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="dram"}', 0, 0, 0),
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="psys"}', 4, 4, 30.0),
        Row("stressng", "", "kepler_node_cpu_usage_ratio", 4, 4, 0.5),
    ]


def test_os_server_needs_an_os_selector(tmp_path):
    code, _, err = invoke(
        ["--benchmark", "b", "--interval", "60", "--data-path", str(tmp_path), "--os-server", "http://127.0.0.1:9"]
    )
    assert code == 2 and "--os-server needs --os-selector" in err
    assert not any(tmp_path.iterdir())


def test_cpu_info_comes_between_the_node_and_the_host(tmp_path):
    node = {"status": {"capacity": {"cpu": "16", "memory": "64Gi"}}, "metadata": {"labels": {}}}
    probe = HostProbe(proc=tmp_path, brand=lambda: "Other CPU", logical_cpus=lambda: 2, total_memory=lambda: 2**30)
    sources = machine_spec_sources(
        "w1",
        True,
        None,
        Environment({"NODE_NAME": "w1"}),
        lambda _: None,
        read_node=lambda _: node,
        host=probe,
        cluster=True,
    )
    assert [name for name, _ in sources] == [NODE, HOST]
    merged = with_cpu_info(
        sources, {"processor": "amd_epyc_7r13", "cores": 8, "chips": 1, "memory": None, "frequency": None}
    )
    assert [name for name, _ in merged] == [NODE, CPU_INFO, HOST]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A VM host's Kepler 0.10 data on one Prometheus, its guest's node_exporter on another."""
    truth = generate_010(
        Kepler010Config(vms=1, duration_s=1800, step_s=15, noise_w=0.3, zones=("package", "dram", "psys"))
    )
    started = []
    try:
        for part in ("host", "guests"):
            started.append(PrometheusServer.from_synth(truth.part(part), tmp_path_factory.mktemp(part)).start())
    except PrometheusUnavailable as missing:
        pytest.fail(str(missing), pytrace=False)
    yield truth, started[0], started[1]
    for server in started:
        server.stop()


def _host_without_cpu_facts(tmp_path: Path) -> HostProbe:
    return HostProbe(
        proc=tmp_path,
        brand=lambda: None,
        logical_cpus=lambda: None,
        total_memory=lambda: 64 * 2**30,
        frequency=lambda: None,
    )


@pytest.mark.integration
def test_query_train_export_on_generated_010_data(servers, tmp_path):
    truth, host, guests = servers
    instance = next(iter(truth.vm_map()))
    start, end = truth.window
    data = tmp_path / "data"
    argv = ["--benchmark", "stressng", "--server", host.url, "--output", "kepler_query", "--id", "w1", "--step", "15"]
    argv += ["--start-time", format_window_time(start), "--end-time", format_window_time(end), "--data-path", str(data)]
    argv += ["--os-server", guests.url, "--os-selector", f'instance="{instance}",job="node-exporter"']
    code, out, err = invoke(
        argv, deps=QueryDeps(sleep=lambda s: None, host=_host_without_cpu_facts(tmp_path), in_cluster=False)
    )
    assert code == 0, err
    document = json.loads((data / "kepler_query.json").read_text())
    assert list(document) == sorted(document) and set(os_metric_names()) <= set(document)
    assert {s["metric"]["instance"] for m in os_metric_names() for s in document[m]} == {instance}
    spec = json.loads((data / "machine_spec" / "w1.json").read_text())["attrs"]
    truth_spec = truth.machine_spec()
    assert (spec["cores"], spec["chips"], spec["memory"], spec["frequency"]) == (
        truth_spec["cores"],
        truth_spec["chips"],
        64,
        None,
    )
    assert spec["processor"] and "from kepler_node_cpu_info" in out
    table = (data / "kepler_query_validate_result.csv").read_text()
    assert 'kepler_node_cpu_joules_total{zone=""psys""}' in table and "node_cpu_seconds_total" in table

    # the OS features train reads are the guest's (each grid point sees the guest sample 11 s before it)
    extracted = extract_input("kepler_query", document, ["rapl-sysfs"])
    busy = extracted.node_values["os_cpu_busy_ms"]
    guest = truth.guest_rates().set_index("timestamp")["os_cpu_busy_ms"]
    np.testing.assert_allclose(busy.v, guest.reindex(busy.t - 11).to_numpy())

    environ = {"DATAPATH": str(data), "MODEL_PATH": str(tmp_path / "models"), "CONFIG_PATH": str(tmp_path / "none")}
    trainers = "LinearRegressionTrainer,SGDRegressorTrainer"
    for argv in (
        [
            "train",
            "--input",
            "kepler_query",
            "--id",
            "w1",
            "--abs-trainers",
            trainers,
            "--dyn-trainers",
            trainers,
            "--jobs",
            "1",
        ],
        ["export", "-p", "std_v0.10", "-o", str(tmp_path / "db"), "--publisher", "me", "--benchmark", "stressng"],
    ):
        out_, err_ = io.StringIO(), io.StringIO()
        assert main(argv, environ=environ, out=out_, err=err_) == 0, err_.getvalue()
    pipeline = tmp_path / "models" / "std_v0.10"
    groups = sorted(p.name for p in (pipeline / "rapl-sysfs" / "AbsPower").iterdir())
    assert groups == ["CPUTimeOnly", "CPUTimeUsage", "OSCounters"]
    index = json.loads((pipeline / "node_type_index.json").read_text())
    assert index["0"]["attrs"]["memory"] == 64 and index["0"]["members"] == ["w1"]
    readme = (tmp_path / "db" / "v0.10" / "std_v0.10" / "README.md").read_text()
    assert "RAPL zones: package, dram, psys" in readme
