"""What the Kepler 0.10 generator writes: label sets of kepler-010.md §1/§3, host and guest parts, bytes
fixed by the seed, the command line, a real Prometheus serving it back, and the demo's 0.10 pieces."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
import requests

from steps.synth import Kepler010Config, PrometheusServer, ZonePowerModel, generate_010
from steps.synth.cli import main as synth_main

from .cases010 import SCRAPE_K8S, SCRAPE_STATIC, VM, node_data

# ---- labels and machine


def test_label_sets_follow_the_spec(node_doc, vm_doc, node):
    def keys(doc, metric):
        return {frozenset(s["metric"]) - {"__name__"} for s in doc[metric]}

    node_labels = SCRAPE_K8S | {"node_name"}
    for metric in (
        "kepler_node_cpu_joules_total",
        "kepler_node_cpu_active_joules_total",
        "kepler_node_cpu_idle_joules_total",
    ):
        assert keys(node_doc, metric) == {frozenset(node_labels | {"zone", "path"})}
    assert keys(node_doc, "kepler_node_cpu_usage_ratio") == {frozenset(node_labels)}
    process = node_labels | {"pid", "comm", "exe", "type"}
    assert keys(node_doc, "kepler_process_cpu_seconds_total") == {
        frozenset(process | {"container_id"}),
        frozenset(process),
    }
    assert keys(node_doc, "kepler_process_cpu_joules_total") == {
        frozenset(process | {"container_id", "state", "zone"}),
        frozenset(process | {"state", "zone"}),
    }
    assert keys(node_doc, "kepler_container_cpu_seconds_total") == {
        frozenset(node_labels | {"container_id", "container_name", "runtime", "state", "pod_id"})
    }
    assert keys(node_doc, "kepler_node_cpu_info") == {
        frozenset(SCRAPE_K8S | {"processor", "vendor_id", "model_name", "physical_id", "core_id"})
    }
    build = node_doc["kepler_build_info"]
    assert len(build) == 1 and build[0]["metric"]["version"] == "v0.10.2" and "node_name" not in build[0]["metric"]
    vm_labels = SCRAPE_STATIC | {"node_name"}
    assert keys(vm_doc, "kepler_vm_cpu_joules_total") == {
        frozenset(vm_labels | {"vm_id", "vm_name", "hypervisor", "state", "zone"})
    }
    qemu = [s["metric"] for s in vm_doc["kepler_process_cpu_seconds_total"] if s["metric"]["type"] == "vm"]
    assert len(qemu) == VM.vms and all(m["comm"] == "qemu-system-x86" and "container_id" not in m for m in qemu)
    assert {m["vm_id"] for m in qemu} == set(vm_doc_vm_ids(vm_doc))
    paths = {s["metric"]["path"] for s in node_doc["kepler_node_cpu_joules_total"]}
    assert paths == {
        "aggregated-package",
        "aggregated-core",
        "aggregated-uncore",
        "aggregated-dram",
        "/sys/class/powercap/intel-rapl:2",
    }
    infos = [s["metric"] for s in node_doc["kepler_node_cpu_info"]]
    assert len(infos) == node.cpus and {m["physical_id"] for m in infos} == {"0", "1"}
    assert node.machine_spec() == {"processor": infos[0]["model_name"], "cores": node.cpus, "chips": 2}


def vm_doc_vm_ids(doc):
    return {s["metric"]["vm_id"] for s in doc["kepler_vm_cpu_joules_total"]}


def test_per_socket_paths_without_aggregation():
    data = node_data(False)
    paths = {s.labels["path"] for s in data.iter_series(["kepler_node_cpu_joules_total"])}
    assert "/sys/class/powercap/intel-rapl:0" in paths and "/sys/class/powercap/intel-rapl:1/intel-rapl:1:2" in paths
    assert not any(p.startswith("aggregated-") for p in paths)


# ---- outputs


def test_parts_split_host_and_guests(vm, tmp_path):
    host, guests, both = (set(vm.metric_names(p)) for p in ("host", "guests", "all"))
    assert host.isdisjoint(guests) and host | guests == both
    assert all(m.startswith("kepler_") for m in host) and all(m.startswith("node_") for m in guests)
    doc = vm.query_response()
    assert {**vm.query_response(part="host"), **vm.query_response(part="guests")} == doc
    vm.write_query_response(tmp_path / "all.json")
    assert (tmp_path / "all.json").read_text() == json.dumps(doc)
    with pytest.raises(ValueError, match="without VMs"):
        generate_010(Kepler010Config(containers=1, duration_s=300)).part("guests")


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    config = Kepler010Config(vms=2, containers=1, duration_s=600, seed=9, noise_w=1.0)
    paths = [tmp_path / f"{n}.om" for n in "abc"]
    generate_010(config).write_openmetrics(paths[0])
    generate_010(config).write_openmetrics(paths[1])
    generate_010(replace(config, seed=10)).write_openmetrics(paths[2])
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


def test_large_cases_generate_in_seconds():
    for config in (
        Kepler010Config(containers=50, duration_s=6 * 3600, seed=1, container_metric=True),
        Kepler010Config(vms=50, duration_s=6 * 3600, seed=1),
    ):
        began = time.monotonic()
        data = generate_010(config)
        assert time.monotonic() - began < 10
        assert data.offsets.size == 6 * 3600 // 15 + 1 and (data.usage_ratio() < 0.9).all()


def test_config_rejects_nonsense():
    for bad in (
        dict(zones=("package", "gpu")),
        dict(guest_offset_s=8.0),
        dict(vms=1, guest_missing=((1, 0.0),)),
        dict(cpus=3, sockets=2),
        dict(wrap_j=0),
        dict(containers=0, vms=0, system_processes=()),
        dict(power="cubic"),
    ):
        with pytest.raises(ValueError):
            Kepler010Config(**bad)
    with pytest.raises(ValueError, match="wrap range"):
        generate_010(Kepler010Config(containers=2, duration_s=300, wrap_j=100.0))
    assert Kepler010Config(vms=2).containers == 0 and Kepler010Config().containers == 6


def test_custom_zone_model_is_used():
    model = ZonePowerModel(
        cpu_w_per_ms=0.0, idle_w=(("package", 10.0), ("core", 5.0)), share=(("package", 1.0), ("core", 1.0))
    )
    data = generate_010(Kepler010Config(containers=1, duration_s=300, zones=("package", "core")), model=model)
    np.testing.assert_allclose(data.zone_power()["package"], 10.0, atol=1e-4)


# ---- the command line


def test_cli_writes_host_guests_and_vm_map(tmp_path, capsys):
    args = ["--generation", "0.10", "--vms", "2", "--duration", "600", "--seed", "4", "--guest-missing", "1:60"]
    files = {
        "--openmetrics": tmp_path / "host.om",
        "--guests-openmetrics": tmp_path / "guests.om",
        "--query-json": tmp_path / "all.json",
        "--vm-map": tmp_path / "vm-map.json",
    }
    assert synth_main(args + [x for flag, path in files.items() for x in (flag, str(path))]) == 0
    data = generate_010(Kepler010Config(vms=2, duration_s=600, seed=4, guest_missing=((1, 60.0),)))
    assert json.loads((tmp_path / "all.json").read_text()) == data.query_response()
    assert json.loads((tmp_path / "vm-map.json").read_text()) == data.vm_map()
    host_text = (tmp_path / "host.om").read_text()
    guest_text = (tmp_path / "guests.om").read_text()
    assert "kepler_vm_cpu_joules_total{" in host_text and "node_cpu_seconds_total" not in host_text
    assert "node_cpu_seconds_total{" in guest_text and "# TYPE node_vmstat_pgfault unknown" in guest_text
    assert "Kepler 0.10, 0 containers, 2 VMs" in capsys.readouterr().out
    for wrong in (["--generation", "0.10", "--thirdparty"], ["--vms", "2"]):
        with pytest.raises(SystemExit) as usage:
            synth_main(wrong + ["--openmetrics", str(tmp_path / "x.om")])
        assert usage.value.code == 2


# ---- a real Prometheus


@pytest.mark.integration
def test_prometheus_serves_names_labels_and_raw_samples(prometheus_factory):
    config = Kepler010Config(
        vms=2, duration_s=600, seed=6, guest_missing=((0, 120.0),), sockets=2, zones=("package", "dram", "psys")
    )
    data = generate_010(config)
    server = prometheus_factory(data)  # host and guests in one Prometheus
    names = requests.get(f"{server.url}/api/v1/label/__name__/values", timeout=30).json()["data"]
    assert names == data.metric_names()
    expected = data.query_response()
    end = data.timestamps[-1]
    for metric in names:
        # a range selector returns raw samples with their own timestamps: the guests' offset and gaps show
        got = requests.get(
            f"{server.url}/api/v1/query", params={"query": f"{metric}[15m]", "time": end}, timeout=30
        ).json()["data"]["result"]
        theirs = {frozenset({**s["metric"], "__name__": metric}.items()): s["values"] for s in got}
        ours = {frozenset(s["metric"].items()): s["values"] for s in expected[metric]}
        assert theirs.keys() == ours.keys(), metric
        for key, values in ours.items():
            assert [[float(t), v] for t, v in theirs[key]] == [[float(t), v] for t, v in values], metric


@pytest.mark.integration
def test_guests_in_their_own_prometheus(tmp_path):
    data = generate_010(Kepler010Config(vms=1, duration_s=300, seed=8))
    with PrometheusServer.from_synth(data.part("guests"), tmp_path) as os_server:
        names = requests.get(f"{os_server.url}/api/v1/label/__name__/values", timeout=30).json()["data"]
        assert names == data.metric_names("guests")
        first, last = os_server.window
        assert (first.timestamp(), last.timestamp()) == (data.guest_timestamps(0)[0], data.guest_timestamps(0)[-1])


# ---- the demo's 0.10 pieces (the full runs: bash scripts/demo.sh --kepler 0.10 / --vm)


def test_demo_prints_known_functions_and_reads_learned_weights(tmp_path, vm):
    from steps.common.workspace import PipelineLayout
    from steps.demo010 import known_zone_lines, missing_support, vm_linear_truth
    from steps.demo07 import linear_weights

    lines = known_zone_lines(vm)
    assert len(lines) == len(VM.zones) and "40 + 0.01 x bpf_cpu_time_ms" in lines[0]
    truth = vm_linear_truth(vm)
    for zone, (a, b) in truth.items():
        # the line through the truth: per-VM power rises with guest busy time, near P_z / capacity per ms/s
        share = dict(vm.model.share)[zone] * vm.model.cpu_w_per_ms + dict(vm.model.idle_w)[zone] / vm.capacity_ms
        assert 0.5 * share < b < 2.0 * share and abs(a) < 1.0
    pipeline = PipelineLayout(tmp_path / "p")
    folder = pipeline.group_dir("rapl-sysfs", "AbsPower", "CPUTimeOnly") / "LinearRegressionTrainer_0"
    folder.mkdir(parents=True)
    weight = {"Bias_Weight": 40.5, "Numerical_Variables": {"bpf_cpu_time_ms": {"scale": 2.0, "weight": 0.02}}}
    (folder / "weight.json").write_text(json.dumps({"package": {"All_Weights": weight}}))
    assert linear_weights(pipeline, "AbsPower", "CPUTimeOnly", "package", ("bpf_cpu_time_ms",)) == (40.5, [0.01])
    assert linear_weights(pipeline, "AbsPower", "CPUTimeOnly", "dram", ("bpf_cpu_time_ms",)) is None
    assert all(isinstance(reason, str) for reason in missing_support(vm=True))
