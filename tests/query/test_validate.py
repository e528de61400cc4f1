"""The validation table of query.md §8 and its CSV form (workspace.md §3.4)."""

import json

from steps.common.kepler_metrics import GENERATIONS
from steps.query.collect import merge_parts
from steps.query.matrix import SeriesStats, parts_from_result
from steps.query.validate import Row, rows_csv, summary_lines, validation_rows

G07 = GENERATIONS["0.7"]


def s(count, positive, maximum):
    return SeriesStats(count, positive, maximum)


SUMMARIES = {
    "kepler_container_bpf_cpu_time_ms_total": [
        ({"pod_name": "stressng-1"}, s(10, 8, 50.0)),
        ({"pod_name": "coredns-1"}, s(10, 10, 900.0)),
        ({"pod_name": "stressng-2"}, s(10, 0, 0.0)),
    ],
    "kepler_container_cgroupfs_cpu_usage_us_total": [({"pod_name": "coredns-1"}, s(4, 4, 7.0))],
    "kepler_node_package_joules_total": [
        ({"source": "rapl-sysfs", "package": "0"}, s(5, 5, 100.0)),
        ({"source": "intel_rapl", "package": "1"}, s(5, 4, 120.5)),
        ({"source": "trained_power_model", "package": "0"}, s(3, 3, 9.0)),
    ],
    "kepler_node_platform_joules_total": [({"source": "acpi"}, s(2, 2, 1e20))],
    "kepler_node_gpu_joules_total": [({"source": "x"}, s(9, 9, 9.0))],
    "kepler_node_info": [({"cpu_architecture": "Broadwell"}, s(6, 6, 1.0))],
    "kepler_node_core_joules_total": [],
}


def test_rows_in_order_with_pod_filter_sources_and_zero_rows():
    rows, filtered = validation_rows(SUMMARIES, "stressng", G07)
    assert filtered
    assert rows[0] == Row("stressng", "", "kepler_container_bpf_cpu_time_ms_total", 20, 8, 50.0)
    # no pod_name contains the benchmark in this metric: all series count
    assert rows[1] == Row("stressng", "", "kepler_container_cgroupfs_cpu_usage_us_total", 4, 4, 7.0)
    energy = [(r.scenario, r.query, r.count, r.positive, r.total) for r in rows[2:-1]]
    assert energy[:4] == [
        ("rapl-sysfs", "kepler_node_package_joules_total", 10, 9, 120.5),
        ("rapl-sysfs", "kepler_node_core_joules_total", 0, 0, 0),
        ("rapl-sysfs", "kepler_node_uncore_joules_total", 0, 0, 0),
        ("rapl-sysfs", "kepler_node_dram_joules_total", 0, 0, 0),
    ]
    assert [e[0] for e in energy] == ["rapl-sysfs"] * 4 + ["rapl-msr"] * 4 + ["acpi", "hmc", "redfish"] + [
        "trained_power_model"
    ] * 4
    assert energy[8] == ("acpi", "kepler_node_platform_joules_total", 2, 2, 1e20)
    assert energy[11] == ("trained_power_model", "kepler_node_package_joules_total", 3, 3, 9.0)
    # other metrics; kepler_node_gpu_joules_total gets no row
    assert rows[-1] == Row("stressng", "", "kepler_node_info", 6, 6, 1.0)
    assert len(rows) == 2 + 15 + 1


def test_vm_mode_uses_vm_metrics_without_source_filter():
    summaries = {"kepler_vm_package_joules_total": [({"vm_id": "v"}, s(3, 3, 4.0))]}
    rows, _ = validation_rows(summaries, "b", G07, vm=True)
    assert rows[0] == Row("", "rapl-sysfs", "kepler_vm_package_joules_total", 3, 3, 4.0)


def test_csv_text_matches_pandas_style():
    rows = [
        Row("stressng", "", "kepler_container_bpf_cpu_time_ms_total", 36480, 20114, 8823311.0),
        Row("", "acpi", "kepler_node_platform_joules_total", 0, 0, 0),
        Row("stressng", "", "x,y", 1, 1, 1.0),
    ]
    assert rows_csv(rows) == (
        ",pod,scenarioID,query,count,>0,total\n"
        "0,stressng,,kepler_container_bpf_cpu_time_ms_total,36480,20114,8823311.0\n"
        "1,,acpi,kepler_node_platform_joules_total,0,0,0\n"
        '2,stressng,,"x,y",1,1,1.0\n'
    )
    import io

    import pandas as pd

    frame = pd.read_csv(io.StringIO(rows_csv(rows)), index_col=0, keep_default_na=False)
    assert list(frame.columns) == ["pod", "scenarioID", "query", "count", ">0", "total"]


def test_real_sample_counts(idle_json):
    """Known ground truth: counts computed directly from kepler-model-server's idle.json."""
    sample = json.loads(idle_json.read_text())
    summaries = {m: [(x.labels, x.stats) for x in merge_parts([parts_from_result(r)])] for m, r in sample.items()}
    rows, filtered = validation_rows(summaries, "idle", G07)
    assert not filtered  # no pod_name contains "idle"
    by_key = {(r.scenario, r.query): r for r in rows}
    cpu = sample["kepler_container_bpf_cpu_time_ms_total"]
    row = by_key[("", "kepler_container_bpf_cpu_time_ms_total")]
    assert row.count == sum(len(x["values"]) for x in cpu)
    assert row.positive == sum(float(v) > 0 for x in cpu for _, v in x["values"])
    assert row.total == max(float(v) for x in cpu for _, v in x["values"])
    package = [x for x in sample["kepler_node_package_joules_total"] if x["metric"]["source"] == "rapl-sysfs"]
    assert by_key[("rapl-sysfs", "kepler_node_package_joules_total")].count == sum(len(x["values"]) for x in package)
    lines = summary_lines(summaries, rows, filtered, "idle", G07)
    assert any(line.startswith("bpf CPU usage") for line in lines)
    assert any("counting all pods" in line for line in lines)
