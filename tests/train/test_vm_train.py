"""VM models end to end (kepler-010.md §4) on synthetic Kepler 0.10 data with known truth: a host with two
VMs whose guests' node_exporter is scraped 4 s after the host, two guest samples missing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

from steps.cli import main
from steps.common.errors import StepError
from steps.common.kepler_metrics import GENERATIONS
from steps.synth import Kepler010Config, generate_010
from steps.train.extract import _Reader
from steps.train.prepare import PrepareInfo
from steps.train.vm_extract import guest_kepler, host_targets, vm_inputs
from steps.train.vm_map import VmMap, VmMode

CONFIG = Kepler010Config(vms=2, duration_s=900, step_s=15, seed=3, guest_missing=((0, 300.0), (1, 600.0)))
ZONES = ("package", "core", "uncore", "dram")
NO_CONFIG = {"CONFIG_PATH": "/nonexistent/kepler-config"}


@pytest.fixture(scope="module")
def vm():
    return generate_010(CONFIG)


@pytest.fixture(scope="module")
def doc(vm) -> dict:
    return vm.query_response()


def paired(vm, doc, target="vm") -> Tuple[List, PrepareInfo]:
    info = PrepareInfo()
    data = vm_inputs([("q", doc)], "auto", VmMode(VmMap("vms.json", tuple(vm.vm_map().items())), target), print, info)
    return data, info


@pytest.mark.parametrize("target", ["vm", "process"])
def test_each_vm_row_is_its_host_power_and_the_guest_row_4s_later(vm, doc, target):
    data, info = paired(vm, doc, target)
    truth = vm.vm_power()
    guests = vm.guest_rates().set_index(["timestamp", "vm_id"])
    assert [d.name for d in data] == [f"q vm {g.vm_id}" for g in vm.vms]
    assert info.generations == {"q": "0.10"}
    for spec, d in zip(vm.vms, data):
        t = d.zones.t
        # rates at t_1..t_n; the one missing guest sample drops one target row
        assert t.size == vm.rate_timestamps.size - 1
        assert d.zones.components == ZONES
        for zone in ZONES:
            expected = truth.loc[[(s, spec.vm_id) for s in t], zone].to_numpy()
            assert np.allclose(d.zones.active[zone][0], expected, atol=1e-6)
            assert np.array_equal(d.zones.total[zone][0], d.zones.active[zone][0])
        for feature in ("os_cpu_busy_ms", "os_page_faults", "os_load1", "os_memory_used_ratio"):
            expected = guests.loc[[(s + CONFIG.guest_offset_s, spec.vm_id) for s in t], feature].to_numpy()
            assert np.allclose(d.node_values[feature].v, expected, rtol=1e-9, atol=1e-9)
        assert d.counters == {} and d.cpu_time_source is None
        assert d.spec is not None and d.kepler_versions == ("v0.10.2",)
    assert info.vm_lines[-1] == (
        "VM alignment: 2 target rows without a guest row within half a step and 2 unused guest rows dropped"
    )


def train(data: Path, models: Path, *argv: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["train", "--input", "q", "--jobs", "1", "--dyn-trainers", "LinearRegressionTrainer", *argv]
    environ = dict(NO_CONFIG, DATAPATH=str(data), MODEL_PATH=str(models))
    return main(args, environ=environ, out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def workspace(tmp_path: Path, vm, doc) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "q.json").write_text(json.dumps(doc))
    vm.write_vm_map(data / "vms.json")
    return data


def test_train_with_a_map_trains_dynpower_vm_models_and_prints_the_drops(workspace: Path, tmp_path: Path):
    code, out, err = train(workspace, tmp_path / "models", "--vm-map", "vms")
    assert code == 0, err
    root = tmp_path / "models" / "std_v0.10"
    metadata = json.loads((root / "metadata.json").read_text())
    assert (metadata["metric_type"], metadata["isolator"], metadata["abs_trainers"]) == ("vm_metrics", "active", [])
    assert sorted(p.name for p in (root / "rapl-sysfs").iterdir()) == ["DynPower"]
    assert [p.name for p in (root / "rapl-sysfs" / "DynPower").iterdir()] == ["OSCounters"]
    arguments = json.loads((root / "train_arguments.json").read_text())
    assert (arguments["vm_train"], arguments["vm_map"], arguments["vm_target"]) == (True, "vms", "vm")
    assert "VM alignment: 2 target rows without a guest row within half a step and 2 unused guest rows" in out
    assert "rapl-sysfs/AbsPower/OSCounters: VM models are DynPower only" in out
    assert out.strip().splitlines()[-1].startswith("trained 1 model into")


def expect_refusal(workspace: Path, tmp_path: Path, vm_map: Dict[str, str], *needles: str) -> None:
    (workspace / "vms.json").write_text(json.dumps(vm_map))
    code, out, err = train(workspace, tmp_path / "models", "--vm-map", "vms")
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert code == 1 and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_a_vm_id_absent_from_the_host_data_is_one_line_exit_1_nothing_written(vm, workspace, tmp_path):
    guests = list(vm.vm_map())
    vm_map = {guests[0]: "no-such-vm", guests[1]: vm.vm_map()[guests[1]]}
    expect_refusal(workspace, tmp_path, vm_map, "'no-such-vm'", "absent from the host data of input(s) q")


def test_two_guests_on_one_vm_id_is_one_line_exit_1(vm, workspace, tmp_path):
    guests = list(vm.vm_map())
    expect_refusal(workspace, tmp_path, {guests[0]: "v", guests[1]: "v"}, "both map to vm_id 'v'", "vms.json")


def test_a_guest_without_series_is_one_line_exit_1(vm, workspace, tmp_path):
    expect_refusal(workspace, tmp_path, {**vm.vm_map(), "10.0.0.99:9100": "v9"}, "'10.0.0.99:9100'", "no series")


def test_a_missing_map_file_is_exit_1_naming_it(workspace, tmp_path):
    code, _, err = train(workspace, tmp_path / "models", "--vm-map", "nope")
    assert code == 1 and f"vm map {workspace / 'nope.json'} does not exist" in err


def test_vm_train_with_010_inputs_needs_the_map(workspace, tmp_path):
    code, _, err = train(workspace, tmp_path / "models", "--vm-train")
    assert code == 1 and "--vm-train with Kepler 0.10 inputs needs --vm-map FILE" in err


def test_guests_map_only_to_kepler_010(tmp_path):
    from steps.synth import SynthConfig, generate

    data = tmp_path / "data"
    data.mkdir()
    (data / "q.json").write_text(json.dumps(generate(SynthConfig(containers=2, duration_s=300)).query_response()))
    (data / "vms.json").write_text('{"g": "v"}')
    code, _, err = train(data, tmp_path / "models", "--vm-map", "vms")
    assert code == 1 and "the inputs hold Kepler 0.7 metrics" in err


# -- a Kepler inside the guest, and the host's process energy: small inline series with known rates

T = [0.0, 15.0, 30.0, 45.0]


def series(metric_labels: dict, values) -> dict:
    return {"metric": metric_labels, "values": [[t, str(v)] for t, v in zip(T, values)]}


def host_and_guest_kepler() -> dict:
    host = {"node_name": "host-1"}
    guest = {"node_name": "guest-a"}
    return {
        "kepler_node_cpu_joules_total": [series({**host, "zone": "package", "path": "p"}, [0, 150, 300, 450])],
        "kepler_process_cpu_joules_total": [
            # the QEMU process of vm-1 (two pids over time would be summed), and a host process without a VM
            series({**host, "pid": "10", "vm_id": "vm-1", "zone": "package"}, [0, 30, 90, 120]),
            series({**host, "pid": "11", "vm_id": "vm-1", "zone": "package"}, [0, 15, 15, 30]),
            series({**host, "pid": "12", "vm_id": "", "zone": "package"}, [0, 100, 200, 300]),
        ],
        "kepler_vm_cpu_joules_total": [series({**host, "vm_id": "vm-1", "zone": "package"}, [0, 45, 105, 150])],
        "kepler_process_cpu_seconds_total": [
            series({**host, "pid": "10"}, [0, 9, 18, 27]),  # the host's own processes: never a guest's
            series({**guest, "pid": "1"}, [0, 1.5, 3.0, 6.0]),
            series({**guest, "pid": "2"}, [0, 0.0, 1.5, 1.5]),
        ],
        "kepler_node_cpu_usage_ratio": [series(host, [0.9] * 4), series(guest, [0.1, 0.2, 0.3, 0.4])],
    }


def test_targets_per_vm_from_the_vm_or_the_process_counter_agree():
    gen = GENERATIONS["0.10"]
    reader = _Reader("q", host_and_guest_kepler(), gen, True, "", print)
    by_vm, hosts = host_targets(reader, gen.vm_energy, per_pid=False)
    by_process, _ = host_targets(reader, gen.process_energy, per_pid=True)
    assert hosts == ["host-1"] and list(by_vm) == list(by_process) == ["vm-1"]
    assert by_vm["vm-1"]["timestamp"].tolist() == [15.0, 30.0, 45.0]
    assert by_vm["vm-1"]["package_power"].tolist() == [3.0, 4.0, 3.0]  # 45, 60, 45 J over 15 s
    assert by_process["vm-1"]["package_power"].tolist() == [3.0, 4.0, 3.0]  # pids 10 + 11


def test_a_kepler_in_the_guest_gives_cpu_time_summed_over_pids_and_the_usage_ratio():
    reader = _Reader("q", host_and_guest_kepler(), GENERATIONS["0.10"], True, "", print)
    found = guest_kepler(reader, ["host-1"])
    assert list(found) == ["guest-a"]
    t, cpu = found["guest-a"]["bpf_cpu_time_ms"]
    assert t.tolist() == [15.0, 30.0, 45.0] and cpu.tolist() == [100.0, 200.0, 200.0]  # (1.5+0, 1.5+1.5, 3+0) s/15 s
    t, ratio = found["guest-a"]["cpu_usage_ratio"]
    assert t.tolist() == T and ratio.tolist() == [0.1, 0.2, 0.3, 0.4]


def test_a_guest_kepler_pairs_into_cpu_time_features():
    info = PrepareInfo()
    (data,) = vm_inputs(
        [("q", host_and_guest_kepler())], "auto", VmMode(VmMap("m", (("guest-a", "vm-1"),))), print, info
    )
    assert data.counters["bpf_cpu_time_ms"].r.tolist() == [100.0, 200.0, 200.0]
    assert data.node_values["cpu_usage_ratio"].v.tolist() == [0.2, 0.3, 0.4]
    assert data.cpu_time_source == "process"
    assert data.zones.active["package"][0].tolist() == [3.0, 4.0, 3.0]


def test_inputs_without_any_pair_in_one_input_are_an_error():
    doc = host_and_guest_kepler()
    guest_only = {"kepler_process_cpu_seconds_total": doc["kepler_process_cpu_seconds_total"]}
    host_only = {k: v for k, v in doc.items() if k != "kepler_process_cpu_seconds_total"}
    mode = VmMode(VmMap("m", (("guest-a", "vm-1"),)))
    with pytest.raises(StepError, match="no VM has its host series and its guest's series in one input"):
        vm_inputs([("a", host_only), ("b", guest_only)], "0.10", mode, print, PrepareInfo())
