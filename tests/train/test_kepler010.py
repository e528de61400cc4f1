"""Kepler 0.10 extraction rules (kepler-010.md §1-§3) on small inline query documents with known answers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

from steps.cli import main
from steps.common.domain import FEATURE_GROUPS, GROUP_ORDER, OS_FEATURES, feature_groups
from steps.common.errors import StepError
from steps.common.kepler_metrics import GENERATIONS, OS_COUNTERS, os_metric_names, spec_from_cpu_info
from steps.synth import SynthConfig, generate
from steps.train.commit import metadata_components
from steps.train.inputs import extract_input
from steps.train.power import active_power_table, power_layout, power_table
from steps.train.prepare import prepare_training_sets

G = GENERATIONS["0.10"]
ZE = G.zone_energy
T0, STEP = 1_700_000_000, 15
NODE = {"node_name": "n1", "instance": "n1:28282", "job": "kepler"}
FAST = "LinearRegressionTrainer,XgboostFitTrainer"


def series(metric: str, labels: Dict[str, str], values: Sequence[Optional[float]], step: float = STEP) -> dict:
    """One series of a query response; None values are missing samples."""
    return {
        "metric": {"__name__": metric, **labels},
        "values": [[T0 + i * step, repr(float(v))] for i, v in enumerate(values) if v is not None],
    }


def ramp(rate: float, n: int, start: float = 0.0) -> List[float]:
    """A counter rising `rate` per second over n samples STEP apart."""
    return [start + rate * STEP * i for i in range(n)]


def zone_doc(
    zones: Dict[Tuple[str, str], Tuple[Sequence[float], Sequence[float], Sequence[float]]],
) -> Dict[str, list]:
    """Energy of (zone, path) -> (total, active, idle) counter values."""
    doc: Dict[str, list] = {ZE.total: [], ZE.active: [], ZE.idle: []}
    for (zone, path), values in zones.items():
        labels = {**NODE, "zone": zone, "path": path}
        for metric, vals in zip((ZE.total, ZE.active, ZE.idle), values):
            doc[metric].append(series(metric, labels, vals))
    return doc


def split(total_w: float, active_w: float, n: int):
    """Total, active and idle counters of a zone with constant power."""
    return ramp(total_w, n, 1000.0), ramp(active_w, n), ramp(total_w - active_w, n, 1000.0)


def node_doc(n: int = 40, zones=("package", "core", "dram"), ratio: float = 0.4, pids=("11", "12", "13")) -> dict:
    """A complete small 0.10 input: zones of constant power, processes, a usage ratio, CPU and build info."""
    power = {"package": 30.0, "core": 12.0, "uncore": 3.0, "dram": 6.0, "psys": 50.0}
    doc = zone_doc(
        {(z, f"/sys/class/powercap/intel-rapl:{i}"): split(power[z], ratio * power[z], n) for i, z in enumerate(zones)}
    )
    rng = np.random.default_rng(0)
    cpu = G.features["bpf_cpu_time_ms"].metric
    doc[cpu] = []
    for k, pid in enumerate(pids):
        steps = np.cumsum(rng.uniform(0.5, 2.0, n)) * STEP  # CPU seconds, varying
        doc[cpu].append(series(cpu, {**NODE, "pid": pid, "comm": f"p{k}", "type": "regular"}, steps))
    gauge = G.features["cpu_usage_ratio"].metric
    doc[gauge] = [series(gauge, NODE, [ratio] * n)]
    info = G.cpu_info
    doc[info.metric] = [
        series(
            info.metric,
            {**NODE, "processor": str(c), "physical_id": str(c // 2), "model_name": "AMD EPYC 7R13 Processor"},
            [1] * n,
        )
        for c in range(4)
    ]
    doc[G.build_info] = [series(G.build_info, {**NODE, "version": "v0.10.2"}, [1] * n)]
    return doc


def tables(doc: dict, name: str = "q"):
    data = extract_input(name, doc, ["rapl-sysfs"])
    layout = power_layout("rapl-sysfs", [data])
    total = power_table(data, layout)
    return data, layout, total, active_power_table(data, layout, total)


# --------------------------------------------------------------------------------------- zones


def test_zones_sum_over_path_and_are_never_added():
    n = 6
    doc = zone_doc(
        {
            ("package", "/sys/class/powercap/intel-rapl:0"): split(20.0, 8.0, n),
            ("package", "/sys/class/powercap/intel-rapl:1"): split(10.0, 4.0, n),
            ("core", "/sys/class/powercap/intel-rapl:0:0"): split(5.0, 2.0, n),
            ("dram", "aggregated-dram"): split(3.0, 1.0, n),
            ("hwmon-meter", "/sys/class/hwmon/hwmon0"): split(99.0, 9.0, n),  # not a RAPL zone: ignored
        }
    )
    warnings: List[str] = []
    data = extract_input("q", doc, ["rapl-sysfs"], warn=warnings.append)
    assert data.components == ("package", "core", "dram")  # the zones present, in order; no uncore column
    assert any("hwmon-meter" in w and "ignored" in w for w in warnings)
    layout = power_layout("rapl-sysfs", [data])
    assert layout.power_columns == {c: [f"{c}_power"] for c in ("package", "core", "dram")}
    total = power_table(data, layout)
    active = active_power_table(data, layout, total)
    assert total.t.tolist() == [T0 + i * STEP for i in range(1, n)]
    np.testing.assert_allclose(total.columns["package_power"], 30.0)  # both paths, core not added
    np.testing.assert_allclose(total.columns["core_power"], 5.0)
    np.testing.assert_allclose(total.columns["dram_power"], 3.0)
    np.testing.assert_allclose(active.columns["package_power"], 12.0)
    np.testing.assert_allclose(active.columns["dram_power"], 1.0)


def test_a_wrap_of_the_total_is_the_sum_of_active_and_idle():
    total = [100.0, 400.0, 700.0, 40.0, 340.0]  # RAPL wrapped between t2 and t3
    active = [0.0, 90.0, 180.0, 300.0, 390.0]  # 6, 6, 8, 6 W
    idle = [0.0, 210.0, 420.0, 630.0, 840.0]  # 14 W
    data, _, power, act = tables(zone_doc({("package", "p0"): (total, active, idle)}))
    np.testing.assert_allclose(power.columns["package_power"], [20.0, 20.0, (120.0 + 210.0) / STEP, 20.0])
    np.testing.assert_allclose(act.columns["package_power"], [6.0, 6.0, 8.0, 6.0])
    # train.md §6.2's reset rule (v_i / dt) would have given 40 / 15 W at the wrap
    assert power.columns["package_power"][2] != pytest.approx(40.0 / STEP)


@pytest.mark.parametrize(
    "active, idle",
    [
        ([0.0, 90.0, 180.0, 5.0, 95.0], [0.0, 210.0, 420.0, 900.0, 1110.0]),  # active restarts from 0
        ([0.0, 90.0, 180.0, 270.0, 360.0], [0.0, 210.0, 420.0, 50.0, 260.0]),  # idle restarts from the raw reading
    ],
)
def test_an_exporter_restart_gives_no_rate_at_that_timestamp(active, idle):
    total = [100.0, 400.0, 700.0, 1000.0, 1300.0]  # the raw reading goes on
    _, _, power, act = tables(zone_doc({("package", "p0"): (total, active, idle)}))
    restart = T0 + 3 * STEP
    assert restart not in power.t and restart not in act.t
    assert power.t.tolist() == [T0 + STEP, T0 + 2 * STEP, T0 + 4 * STEP]
    np.testing.assert_allclose(power.columns["package_power"], 20.0)
    np.testing.assert_allclose(act.columns["package_power"], [6.0, 6.0, (active[4] - active[3]) / STEP])


def test_one_path_without_a_rate_leaves_the_zone_without_a_value():
    first = split(10.0, 4.0, 5)
    second = list(split(10.0, 4.0, 5))
    second = tuple(v[:2] + [None] + v[3:] for v in second)  # path 1 misses the sample at t2
    _, _, power, _ = tables(zone_doc({("package", "p0"): first, ("package", "p1"): second}))
    # t2: p1 has no sample; t3: p1's first rate after the gap spans 30 s (a rate, but not of t2)
    assert power.t.tolist() == [T0 + STEP, T0 + 3 * STEP, T0 + 4 * STEP]
    np.testing.assert_allclose(power.columns["package_power"], 20.0)


# --------------------------------------------------------------------------------------- features


def test_process_cpu_time_wins_and_state_or_comm_never_split_a_process():
    doc = node_doc(n=5, pids=())
    cpu = G.features["bpf_cpu_time_ms"].metric
    labels = {**NODE, "pid": "7", "type": "regular"}
    # one process whose comm changes (exec) and whose series repeat: one identity
    doc[cpu] = [
        series(cpu, {**labels, "comm": "sh"}, [1.0, 1.5, None, None, None]),
        series(cpu, {**labels, "comm": "stress"}, [None, 1.5, 2.5, 4.0, 6.0]),
        series(cpu, {**NODE, "pid": "8", "comm": "x", "type": "regular"}, [0.0, 0.3, 0.6, 0.9, 1.2]),
    ]
    container = G.cpu_time_fallback.metric  # ignored when process CPU time exists: never both
    doc[container] = [
        series(container, {**NODE, "container_id": "c", "container_name": "n", "pod_id": "p"}, ramp(50, 5))
    ]
    data = extract_input("q", doc, ["rapl-sysfs"])
    assert data.cpu_time_source == "process"
    rates = data.counters["bpf_cpu_time_ms"]
    assert sorted(rates.identities) == ["7", "8"]
    node = {t: 0.0 for t in rates.t}
    for t, r in zip(rates.t, rates.r):
        node[t] += r
    expected = np.array([0.5, 1.0, 1.5, 2.0]) / STEP * 1000 + 0.3 / STEP * 1000
    np.testing.assert_allclose([node[T0 + i * STEP] for i in range(1, 5)], expected)


def test_container_cpu_time_only_without_process_cpu_time():
    doc = node_doc(n=5, pids=())
    doc.pop(G.features["bpf_cpu_time_ms"].metric)
    container = G.cpu_time_fallback.metric
    doc[container] = [
        series(container, {**NODE, "container_id": "c1", "container_name": "web", "pod_id": "p1", "state": s}, v)
        for s, v in (("running", [0.0, 1.5, 3.0, None, None]), ("terminated", [None, None, None, 4.5, 6.0]))
    ]
    warnings: List[str] = []
    data = extract_input("q", doc, ["rapl-sysfs"], warn=warnings.append)
    assert data.cpu_time_source == "container"
    assert any(container in w and "processes outside containers" in w for w in warnings)
    rates = data.counters["bpf_cpu_time_ms"]
    assert rates.identities == ["c1/p1/web"]  # `state` does not split; the name is the third part
    np.testing.assert_allclose(rates.r, 100.0)


def test_usage_ratio_is_a_node_value_never_summed_over_processes():
    doc = node_doc(n=30, ratio=0.4, pids=("1", "2", "3"))
    sets, _, info = prepare_training_sets([("q", doc)], ["rapl-sysfs"], {"q": 0}, isolator="active")
    usage = {(s.group.name, s.output_type): s for s in sets}
    assert [g.name for g in info.groups.valid] == ["CPUTimeOnly", "CPUTimeUsage"]
    for output_type in ("AbsPower", "DynPower"):
        table = usage[("CPUTimeUsage", output_type)].table
        np.testing.assert_allclose(table["cpu_usage_ratio"], 0.4)  # not 3 x 0.4
    abs_table = usage[("CPUTimeUsage", "AbsPower")].table
    dyn_table = usage[("CPUTimeUsage", "DynPower")].table
    np.testing.assert_allclose(dyn_table["bpf_cpu_time_ms"], abs_table["bpf_cpu_time_ms"])  # summed over pids
    np.testing.assert_allclose(abs_table["package_power"], 30.0)
    np.testing.assert_allclose(dyn_table["package_power"], 12.0)  # Kepler's active energy: 0.4 x 30 W
    assert (dyn_table["id"] == "all containers").all()
    assert usage[("CPUTimeUsage", "AbsPower")].metadata == {"kepler_generation": "0.10", "cpu_time_source": "process"}


def _os_doc(n: int = 6, instances=("w1:9100",)) -> dict:
    doc: Dict[str, list] = {m: [] for m in os_metric_names()}
    per_mode = {
        "user": 0.3,
        "nice": 0.1,
        "system": 0.2,
        "irq": 0.05,
        "softirq": 0.05,
        "idle": 0.2,
        "iowait": 0.05,
        "steal": 0.05,
    }
    for instance in instances:
        labels = {"instance": instance, "job": "node-exporter"}
        for cpu in ("0", "1"):
            for mode, share in per_mode.items():
                doc["node_cpu_seconds_total"].append(
                    series("node_cpu_seconds_total", {**labels, "cpu": cpu, "mode": mode}, ramp(share, n, 100.0))
                )
        doc["node_context_switches_total"].append(series("node_context_switches_total", labels, ramp(500, n)))
        doc["node_intr_total"].append(series("node_intr_total", labels, ramp(800, n)))
        # a reboot before t3: the counter restarted from 0 (train.md §6.2: v / dt)
        pgfault = ramp(1000, 3, 5e6) + [1000 * STEP * (i + 1) for i in range(n - 3)]
        doc["node_vmstat_pgfault"].append(series("node_vmstat_pgfault", labels, pgfault))
        doc["node_vmstat_pgmajfault"].append(series("node_vmstat_pgmajfault", labels, ramp(2, n)))
        doc["node_memory_MemTotal_bytes"].append(series("node_memory_MemTotal_bytes", labels, [8e9] * n))
        doc["node_memory_MemAvailable_bytes"].append(series("node_memory_MemAvailable_bytes", labels, [2e9] * n))
        doc["node_load1"].append(series("node_load1", labels, [1.5] * n))
        doc["node_procs_running"].append(series("node_procs_running", labels, [3] * n))
    return doc


def test_os_counter_reductions():
    data = extract_input("q", {**node_doc(n=6), **_os_doc(6)}, ["rapl-sysfs"])
    values = {feature: gauge for feature, gauge in data.node_values.items() if feature.startswith("os_")}
    assert set(values) == set(OS_FEATURES) == {c.feature for c in OS_COUNTERS}
    rates = [T0 + i * STEP for i in range(1, 6)]
    expect = {
        "os_cpu_busy_ms": 2 * (0.3 + 0.1 + 0.2 + 0.05 + 0.05) * 1000,  # idle, iowait, steal excluded; both CPUs
        "os_context_switches": 500.0,
        "os_interrupts": 800.0,
        "os_page_faults": 1000.0,
        "os_major_page_faults": 2.0,
    }
    for feature, value in expect.items():
        assert values[feature].t.tolist() == rates, feature
        np.testing.assert_allclose(values[feature].v, value, err_msg=feature)
    gauges = {"os_memory_used_ratio": 0.75, "os_load1": 1.5, "os_procs_running": 3.0}
    for feature, value in gauges.items():
        assert values[feature].t.size == 6
        np.testing.assert_allclose(values[feature].v, value, err_msg=feature)


def test_os_busy_time_needs_every_cpu():
    doc = _os_doc(6)
    first = doc["node_cpu_seconds_total"][0]  # cpu 0, user: misses the sample at t3
    first["values"] = [v for v in first["values"] if v[0] != T0 + 3 * STEP]
    data = extract_input("q", {**node_doc(n=6), **doc}, ["rapl-sysfs"])
    busy = data.node_values["os_cpu_busy_ms"]
    assert T0 + 3 * STEP not in busy.t and busy.t.size == 4


def test_os_counters_of_two_instances_stop_a_node_model():
    with pytest.raises(StepError, match=r"input q holds node_exporter series of 2 instances \(a:9100, b:9100\)"):
        extract_input("q", {**node_doc(n=6), **_os_doc(6, ("a:9100", "b:9100"))}, ["rapl-sysfs"])


def test_os_group_rows_and_active_isolator():
    sets, skips, info = prepare_training_sets(
        [("q", {**node_doc(n=30), **_os_doc(30)})], ["rapl-sysfs"], {"q": 0}, isolator="active"
    )
    by = {(s.group.name, s.output_type): s for s in sets}
    assert [g.name for g in info.groups.valid] == ["CPUTimeOnly", "CPUTimeUsage", "OSCounters"]
    dyn = by[("OSCounters", "DynPower")].table
    assert list(by[("OSCounters", "AbsPower")].features) == sorted(OS_FEATURES)
    np.testing.assert_allclose(dyn["os_load1"], 1.5)  # a node value: one row per timestamp, not summed
    np.testing.assert_allclose(dyn["package_power"], 12.0)
    assert "cpu_time_source" not in by[("OSCounters", "AbsPower")].metadata  # these models read no CPU time


def test_min_isolator_on_node_values():
    sets, _, _ = prepare_training_sets(
        [("q", {**node_doc(n=30), **_os_doc(30)})], ["rapl-sysfs"], {"q": 0}, isolator="min"
    )
    by = {(s.group.name, s.output_type): s for s in sets}
    dyn = by[("OSCounters", "DynPower")].table
    np.testing.assert_allclose(dyn["os_memory_used_ratio"], 0.75)
    np.testing.assert_allclose(dyn["package_power"], 0.0)  # constant 30 W minus its minimum
    np.testing.assert_allclose(by[("CPUTimeUsage", "DynPower")].table["cpu_usage_ratio"], 0.4)


# --------------------------------------------------------------------------------------- tables


def test_group_rows_are_in_the_one_table():
    assert [FEATURE_GROUPS[n].value for n in ("CPUTimeOnly", "CPUTimeUsage", "OSCounters")] == [11, 12, 13]
    assert GROUP_ORDER.index("CPUTimeOnly") == GROUP_ORDER.index("AcceleratorOnly") + 1
    assert FEATURE_GROUPS["CPUTimeUsage"].features == ("bpf_cpu_time_ms", "cpu_usage_ratio")
    assert FEATURE_GROUPS["OSCounters"].main_index("dram") == FEATURE_GROUPS["OSCounters"].features.index(
        "os_page_faults"
    )
    new = {"CPUTimeOnly", "CPUTimeUsage", "OSCounters"}
    assert not new & {g.name for g in feature_groups((), "0.7")}  # 0.7 runs never see them
    assert {g.name for g in feature_groups((), "0.10")} == new
    assert {g.name for g in feature_groups(("m",), "0.10")} == new | {"ThirdParty"}


def test_spec_from_cpu_info():
    labels = [
        {"processor": str(c), "physical_id": str(c // 4), "model_name": m}
        for c, m in enumerate(["Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"] * 7 + ["odd"])
    ]
    assert spec_from_cpu_info(labels) == {
        "processor": "intel_xeon_platinum_8259cl",
        "cores": 8,
        "chips": 2,
        "memory": None,
        "frequency": None,
    }
    assert spec_from_cpu_info([]) == {
        "processor": None,
        "cores": None,
        "chips": None,
        "memory": None,
        "frequency": None,
    }


def test_model_table_components_follow_the_models():
    assert metadata_components("rapl-sysfs", [{"package_mae": 1, "dram_mae": 2}, {"platform_mae": 3, "mae": 3}]) == (
        "package",
        "dram",
        "platform",
    )
    assert metadata_components("rapl-sysfs", []) == ("package", "core", "uncore", "dram")


# --------------------------------------------------------------------------------------- the command


def _workspace(tmp_path: Path, **documents: dict) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name, document in documents.items():
        (data / f"{name}.json").write_text(json.dumps(document))
    return data


def train(data: Path, *args: str, model_path: Optional[Path] = None) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(model_path or data / "models"), "CONFIG_PATH": str(data / "x")}
    code = main(["train", *args], environ=environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def one_line_failure(code: int, err: str, models: Path, *words: str) -> None:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("kepler-model train: error: "), err
    assert all(word in lines[0] for word in words), lines[0]
    assert not models.exists() or not any(models.iterdir()), "something was written"


@pytest.fixture(scope="module")
def doc07() -> dict:
    return generate(SynthConfig(containers=2, duration_s=600, step_s=15, seed=4)).query_response()


def test_010_with_07_inputs_exit_1_nothing_written(tmp_path, doc07):
    data = _workspace(tmp_path, new=node_doc(), old=doc07)
    code, _, err = train(data, "--input", "new,old", "--abs-trainers", FAST, "--jobs", "1")
    one_line_failure(code, err, data / "models", "new hold Kepler >= 0.10 metrics", "old", "separate pipelines")


def test_inputs_with_different_zones_exit_1_nothing_written(tmp_path):
    data = _workspace(tmp_path, a=node_doc(zones=("package", "dram")), b=node_doc(zones=("package", "core", "dram")))
    code, _, err = train(data, "--input", "a,b", "--abs-trainers", FAST, "--jobs", "1")
    one_line_failure(code, err, data / "models", "different RAPL zones", "a: package, dram", "b: package, core, dram")


def test_the_active_isolator_needs_010_inputs(tmp_path, doc07):
    data = _workspace(tmp_path, old=doc07)
    code, _, err = train(data, "--input", "old", "--isolator", "active", "--jobs", "1")
    one_line_failure(code, err, data / "models", "--isolator active needs Kepler >= 0.10 inputs")


def test_a_pipeline_holds_one_generation(tmp_path, doc07):
    data = _workspace(tmp_path, old=doc07, new=node_doc())
    assert (
        train(data, "--input", "old", "-p", "p", "--abs-trainers", FAST, "--dyn-trainers", "none", "--jobs", "1")[0]
        == 0
    )
    before = sorted(p.as_posix() for p in (data / "models").rglob("*"))
    code, _, err = train(data, "--input", "new", "-p", "p", "--abs-trainers", FAST, "--jobs", "1")
    assert code == 1 and "holds models of Kepler 0.7 (no kepler_generation) data" in err
    assert sorted(p.as_posix() for p in (data / "models").rglob("*")) == before


def test_defaults_metadata_and_node_type_of_a_010_run(tmp_path):
    data = _workspace(tmp_path, kepler_query=node_doc(zones=("package", "core", "dram", "psys")))
    code, out, err = train(
        data, "--input", "kepler_query", "--abs-trainers", FAST, "--dyn-trainers", FAST, "--jobs", "1"
    )
    assert code == 0, err
    pipeline = data / "models" / "std_v0.10"  # the 0.10 default
    metadata = json.loads((pipeline / "metadata.json").read_text())
    keys = list(metadata)
    assert keys[keys.index("metric_type") + 1 : keys.index("metric_type") + 3] == [
        "kepler_generation",
        "kepler_version",
    ]
    assert metadata["isolator"] == "active" and metadata["kepler_generation"] == "0.10"
    assert metadata["kepler_version"] == "v0.10.2"
    model = json.loads(
        (pipeline / "rapl-sysfs/AbsPower/CPUTimeOnly/LinearRegressionTrainer_0/metadata.json").read_text()
    )
    assert list(model)[-2:] == ["kepler_generation", "cpu_time_source"] and model["cpu_time_source"] == "process"
    assert model["machine_spec"]["processor"] == "amd_epyc_7r13"
    assert {f"{c}_mae" for c in ("package", "core", "dram", "platform")} <= set(model)
    index = json.loads((pipeline / "node_type_index.json").read_text())
    assert index == {
        "0": {
            "attrs": {"processor": "amd_epyc_7r13", "cores": 4, "chips": 2, "memory": 0, "frequency": 0},
            "members": [],
        }
    }
    header = (pipeline / "rapl-sysfs_AbsPower_model_metadata.csv").read_text().splitlines()[0]
    assert "platform_mae" in header and "uncore_mae" not in header  # the zones present, none zero-filled
    assert (pipeline / "preprocessed_data" / "preprocess_dyn_default_active_rapl-sysfs_CPUTimeUsage.csv").is_file()


def test_machines_with_other_zones_share_a_pipeline_without_zero_targets(tmp_path):
    spec = tmp_path / "spec-{}.json"
    for n, cores in ((1, 8), (2, 16)):
        Path(str(spec).format(n)).write_text(json.dumps({"processor": "x", "cores": cores}))
    data = _workspace(tmp_path, a=node_doc(zones=("package", "dram")), b=node_doc(zones=("package", "dram", "psys")))
    for name, n in (("a", 1), ("b", 2)):
        code, _, err = train(
            data, "--input", name, "--machine-spec", str(spec).format(n), "--abs-trainers", FAST, "--jobs", "1"
        )
        assert code == 0, err
    text = (data / "models" / "std_v0.10" / "rapl-sysfs_AbsPower_model_metadata.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0])
    named = [c for c in header if c.endswith("_mae") and c not in ("mae", "cv_mae", "extrapolation_mae")]
    assert named == ["package_mae", "dram_mae", "platform_mae"]
    assert {r["node_type"]: r["platform_mae"] == "" for r in rows} == {"0": True, "1": False}
