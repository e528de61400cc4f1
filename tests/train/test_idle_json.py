"""Extraction of the real idle.json (kepler-model-server test data): known figures and column layouts."""

from __future__ import annotations

import json

import pytest

from steps.common.errors import StepError
from steps.train.extract import background_container_names
from steps.train.inputs import extract_input
from steps.train.power import power_layout, power_table
from steps.train.prepare import prepare_training_sets
from steps.train.profile import compute_profiles


@pytest.fixture(scope="module")
def idle(idle_json):
    return json.loads(idle_json.read_text())


def test_package_power_figure_and_repeated_last_row(idle):
    """train.md §6.2: 132.60 W at 1702462614; the repeated last sample (1702462686) gives 0 W and is dropped."""
    data = extract_input("idle", idle, ["rapl-sysfs"])
    assert data.generation == "0.7"
    assert data.node_info == 1
    table = power_table(data, power_layout("rapl-sysfs", [data]))
    stamps = table.t.tolist()
    assert stamps[0] == 1702462614  # the first sample has no rate
    assert table.columns["package_power"][0] == pytest.approx(1989.05 / 15, abs=0.005)
    assert round(table.columns["package_power"][0], 2) == 132.60
    assert 1702462686 not in stamps and 1702462683 in stamps
    assert table.dropped_zero == 1


def test_prepare_layouts_and_groups(idle):
    warnings = []
    sets, skips, info = prepare_training_sets(
        [("idle", idle)], ["rapl-sysfs", "acpi"], {"idle": 0}, warn=warnings.append
    )
    assert [g.name for g in info.groups.valid] == ["CounterOnly", "BPFOnly", "BPFIRQ", "CounterIRQCombined", "Basic"]
    assert [g.name for g, _ in info.groups.dropped] == ["Full", "WorkloadOnly", "AcceleratorOnly"]
    assert any("kepler_node_accelerator_intel_qat" in w for w in warnings)
    assert skips == []
    keys = [(s.source, s.group.name, s.output_type) for s in sets]
    assert keys[:4] == [
        ("rapl-sysfs", "CounterOnly", "AbsPower"),
        ("rapl-sysfs", "CounterOnly", "DynPower"),
        ("rapl-sysfs", "BPFOnly", "AbsPower"),
        ("rapl-sysfs", "BPFOnly", "DynPower"),
    ]
    assert len(sets) == 20
    bpf_abs, bpf_dyn = sets[2], sets[3]
    assert list(bpf_abs.table.columns) == [
        "timestamp",
        "bpf_cpu_time_ms",
        "bpf_page_cache_hit",
        "package_power",
        "core_power",
        "uncore_power",
        "dram_power",
        "node_type",
        "packge_ratio_package",
    ]
    assert list(bpf_dyn.table.columns) == [
        "timestamp",
        "packge_ratio_package",
        "bpf_cpu_time_ms",
        "bpf_page_cache_hit",
        "package_power",
        "core_power",
        "uncore_power",
        "dram_power",
        "node_type",
        "id",
    ]
    assert bpf_abs.power_columns == {
        "package": ["package_power"],
        "core": ["core_power"],
        "uncore": ["uncore_power"],
        "dram": ["dram_power"],
    }
    assert bpf_abs.ratio_columns == ["packge_ratio_package"]
    assert bpf_abs.table["timestamp"].tolist() == [1702462614, 1702462629, 1702462650, 1702462665, 1702462683]
    assert (bpf_dyn.table["id"] == "all containers").all()
    assert bpf_dyn.table["package_power"].min() == 0  # min isolator
    acpi_abs = [s for s in sets if s.source == "acpi" and s.output_type == "AbsPower"][0]
    assert list(acpi_abs.table.columns) == [
        "timestamp",
        "cache_miss",
        "cpu_cycles",
        "cpu_instructions",
        "platform_power",
        "node_type",
    ]
    assert acpi_abs.ratio_columns == []


def test_idle_profile_and_background(idle):
    data = extract_input("idle", idle, ["rapl-sysfs"])
    profiles = compute_profiles(data, ["rapl-sysfs", "acpi"], node_type=3)
    assert set(profiles) == {"rapl-sysfs"}  # acpi was not extracted for this input
    package = profiles["rapl-sysfs"]["package"]["3"]
    assert package["#unit"] == 1
    assert package["min_watt"] <= 132.61 <= package["max_watt"]
    names = background_container_names(idle)
    assert "nvidia-container-toolkit-ctr" in names and names == sorted(names)


def test_generation_errors(idle):
    # Kepler >= 0.10 inputs are extracted now (kepler-010.md); an undecided input still stops train.
    new = extract_input("new", {"kepler_node_cpu_joules_total": [{"metric": {}, "values": [[0, "1"]]}]}, ["rapl-sysfs"])
    assert new.generation == "0.10" and not new.source_has_data("rapl-sysfs")  # no known zone
    with pytest.raises(StepError, match="--metric-generation 0.6, 0.7 or 0.10"):
        extract_input("odd", {"something_else": []}, ["rapl-sysfs"])
    forced = extract_input("idle", idle, ["rapl-sysfs"], generation="0.10")  # a 0.7 file read with 0.10 names
    assert forced.generation == "0.10" and forced.zones is None and not forced.counters
