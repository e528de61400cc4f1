"""Extraction and isolation against the synthetic generator's known truth (steps.synth)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from steps.common.errors import StepError
from steps.common.kepler_metrics import GENERATIONS
from steps.synth import THIRDPARTY_METRIC, SynthConfig, generate
from steps.train.features import container_rows
from steps.train.inputs import extract_input
from steps.train.prepare import prepare_training_sets

FEATURES = (
    "bpf_cpu_time_ms",
    "bpf_page_cache_hit",
    "bpf_block_irq",
    "bpf_net_rx_irq",
    "bpf_net_tx_irq",
    "cache_miss",
    "cpu_cycles",
    "cpu_instructions",
)
RESET_GAP = SynthConfig(
    containers=5, duration_s=1800, step_s=15, seed=3, counter_resets=(600.0,), scrape_gaps=((900.0, 60.0),), noise_w=0.5
)


@pytest.fixture(scope="module")
def reset_gap():
    return generate(RESET_GAP)


def _sets(doc, **kwargs):
    kwargs.setdefault("node_types", {name: 0 for name in ([kwargs.get("name", "q")])})
    name = kwargs.pop("name", "q")
    return prepare_training_sets([(name, doc)], kwargs.pop("sources", ["rapl-sysfs"]), **kwargs)


def _get(sets, group, output_type, source="rapl-sysfs"):
    found = [s for s in sets if s.group.name == group and s.output_type == output_type and s.source == source]
    assert found, f"no {source}/{output_type}/{group}"
    return found[0]


def _relative_error(measured: np.ndarray, truth: np.ndarray) -> float:
    return float(np.max(np.abs(measured - truth) / np.maximum(np.abs(truth), 1e-9)))


def test_power_and_usage_match_truth_across_reset_and_gap(reset_gap):
    """Per-second power and node usage equal the generator's truth within 1 %, reset and gap rows included."""
    sets, skips, _ = _sets(reset_gap.query_response(), sources=["rapl-sysfs", "acpi"])
    assert skips == []
    table = _get(sets, "Basic", "AbsPower").table.set_index("timestamp")
    truth = reset_gap.node_power(noise=True)
    truth.index = truth.index.astype(np.int64)
    assert table.index.tolist() == truth.index.tolist()  # every t_1..t_n, nothing invented in the gap
    for reset in reset_gap.reset_timestamps:
        assert int(reset) in table.index
    gap_row = int(RESET_GAP.start.timestamp() + 900 + 60)
    assert gap_row in table.index and gap_row - 15 not in table.index
    for column in ("package_power", "dram_power", "core_power"):
        assert _relative_error(table[column].to_numpy(), truth[column].to_numpy()) < 0.01
    rates = reset_gap.node_rates()
    for feature in ("bpf_cpu_time_ms", "cpu_instructions", "cache_miss", "bpf_page_cache_hit"):
        assert _relative_error(table[feature].to_numpy(), rates[feature].to_numpy()) < 0.01
    platform = _get(sets, "Basic", "AbsPower", "acpi").table
    assert _relative_error(platform["platform_power"].to_numpy(), truth["platform_power"].to_numpy()) < 0.01


def test_container_rows_match_truth(reset_gap):
    data = extract_input("q", reset_gap.query_response(), ["rapl-sysfs"])
    rows = container_rows(data, FEATURES)
    truth = reset_gap.container_rates().sort_values(["timestamp", "id"]).reset_index(drop=True)
    assert len(rows.t) == len(truth)
    assert [rows.ids[c] for c in rows.code] == truth["id"].tolist()
    assert rows.t.tolist() == truth["timestamp"].tolist()
    for feature in FEATURES:
        assert np.allclose(rows.values[feature], truth[feature].to_numpy(), rtol=1e-9, atol=1e-9)


def test_min_isolator_shape_of_dynamic_power(reset_gap):
    sets, _, _ = _sets(reset_gap.query_response())
    dyn = _get(sets, "BPFOnly", "DynPower").table
    abs_table = _get(sets, "BPFOnly", "AbsPower").table
    assert list(dyn.columns) == [
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
    assert len(dyn) == len(abs_table)
    assert dyn["package_power"].min() == 0 and dyn["dram_power"].min() == 0
    true_dynamic = reset_gap.node_power(noise=True, mode="dynamic")["package_power"].to_numpy()
    assert np.corrcoef(dyn["package_power"].to_numpy(), true_dynamic)[0, 1] > 0.99
    # min isolation is the absolute power shifted down by its minimum
    shifted = abs_table["package_power"] - abs_table["package_power"].min()
    assert np.allclose(dyn["package_power"].to_numpy(), shifted.to_numpy())
    assert np.allclose(dyn["bpf_cpu_time_ms"].to_numpy(), abs_table["bpf_cpu_time_ms"].to_numpy())


def test_none_isolator_keeps_power_and_sums_features(reset_gap):
    sets, _, _ = _sets(reset_gap.query_response(), isolator="none")
    dyn = _get(sets, "CounterOnly", "DynPower").table
    abs_table = _get(sets, "CounterOnly", "AbsPower").table
    assert np.allclose(dyn["package_power"].to_numpy(), abs_table["package_power"].to_numpy())
    assert np.allclose(dyn["cpu_cycles"].to_numpy(), abs_table["cpu_cycles"].to_numpy())


def _rename_to_06(doc):
    """Kepler 0.6 names: `_us_` CPU-time counter, no page-cache hits, `source="rapl"`."""
    doc = copy.deepcopy(doc)
    g06, g07 = GENERATIONS["0.6"], GENERATIONS["0.7"]
    doc[g06.cpu_time_metric] = doc.pop(g07.cpu_time_metric)
    for series in doc[g06.cpu_time_metric]:
        series["metric"]["__name__"] = g06.cpu_time_metric
    doc.pop(g07.feature_metric("bpf_page_cache_hit"))
    for _metric, series_list in doc.items():
        for series in series_list:
            if series["metric"].get("source") == "rapl-sysfs":
                series["metric"]["source"] = "rapl"
    return doc


def test_kepler_06_names_accepted(reset_gap):
    doc06 = _rename_to_06(reset_gap.query_response())
    sets, skips, info = _sets(doc06)
    assert info.generations == {"q": "0.6"}
    assert [g.name for g in info.groups.valid] == ["CounterOnly", "CounterIRQCombined"]
    sets07, _, _ = _sets(reset_gap.query_response())
    a = _get(sets, "CounterOnly", "AbsPower").table
    b = _get(sets07, "CounterOnly", "AbsPower").table
    pd.testing.assert_frame_equal(a, b)
    # 0.6 and 0.7 inputs combine (their features share names)
    both, _, info = prepare_training_sets(
        [("old", doc06), ("new", reset_gap.query_response())], ["rapl-sysfs"], {"old": 0, "new": 1}
    )
    table = _get(both, "CounterOnly", "AbsPower").table
    assert len(table) == 2 * len(a) and table["node_type"].tolist() == [0] * len(a) + [1] * len(a)


def _relabel_node(doc, node, shift_s=0.0):
    doc = copy.deepcopy(doc)
    for series_list in doc.values():
        for series in series_list:
            for key in ("instance", "exported_instance"):
                if key in series["metric"]:
                    series["metric"][key] = node
            series["values"] = [[t + shift_s, v] for t, v in series["values"]]
    return doc


def test_mixed_nodes_rejected_sequential_accepted():
    data = generate(SynthConfig(containers=2, duration_s=300, step_s=15))
    doc = data.query_response()
    other = _relabel_node(doc, "worker-2")
    mixed = {m: doc[m] + other[m] for m in doc}
    with pytest.raises(
        StepError,
        match=r"input mix holds energy series of 2 nodes \(synth-node-0, worker-2\); "
        r"collect one node per query \(query --selector\)",
    ):
        extract_input("mix", mixed, ["rapl-sysfs"])
    later = _relabel_node(doc, "worker-2", shift_s=3600)
    sequential = {m: doc[m] + later[m] for m in doc}
    extracted = extract_input("seq", sequential, ["rapl-sysfs"])
    assert extracted.source_has_data("rapl-sysfs")


def test_bad_values_and_duplicates_are_harmless(reset_gap):
    """NaN/Inf samples, a negative counter sample and a duplicated series (another scrape job) change nothing
    beyond the rows they touch."""
    doc = reset_gap.query_response()
    clean, _, _ = _sets(doc)
    dirty = copy.deepcopy(doc)
    metric = GENERATIONS["0.7"].cpu_time_metric
    duplicate = copy.deepcopy(dirty[metric][0])
    duplicate["metric"]["instance"] = "another-scraper"
    dirty[metric].append(duplicate)
    package = dirty["kepler_node_package_joules_total"][0]
    package["values"].insert(3, [package["values"][3][0] + 0.5, "NaN"])
    package["values"].insert(6, [package["values"][6][0] + 0.5, "+Inf"])
    victim = dirty[metric][1]["values"]
    victim[10] = [victim[10][0], "-3"]
    warnings = []
    noisy, _, _ = _sets(dirty, warn=warnings.append)
    assert any("negative" in w for w in warnings)
    a = _get(clean, "BPFOnly", "AbsPower").table.set_index("timestamp")
    b = _get(noisy, "BPFOnly", "AbsPower").table.set_index("timestamp")
    assert a.index.equals(b.index)
    pd.testing.assert_series_equal(a["package_power"], b["package_power"])
    t10, t11 = victim[10][0], victim[11][0]
    untouched = ~a.index.isin([t10, t11])
    assert np.allclose(a.loc[untouched, "bpf_cpu_time_ms"], b.loc[untouched, "bpf_cpu_time_ms"])


def _with_package_ratio(data, doc):
    """Add Kepler's per-package usage ratio: each container 70 % on package 0, 30 % on package 1."""
    doc = copy.deepcopy(doc)
    metric = GENERATIONS["0.7"].package_ratio
    series_list = []
    for source in doc[GENERATIONS["0.7"].cpu_time_metric]:
        for package, share in (("0", 0.7), ("1", 0.3)):
            labels = dict(source["metric"], __name__=metric, package=package)
            series_list.append({"metric": labels, "values": [[t, str(share)] for t, _ in source["values"]]})
    doc[metric] = series_list
    return doc


def test_per_package_ratio_variant(reset_gap):
    doc = _with_package_ratio(reset_gap, reset_gap.query_response())
    sets, _, _ = _sets(doc)
    abs_set = _get(sets, "BPFOnly", "AbsPower")
    assert abs_set.power_columns["package"] == ["package_0_package_power", "package_1_package_power"]
    assert abs_set.ratio_columns == ["packge_ratio_0", "packge_ratio_1"]
    table = abs_set.table
    assert list(table.columns)[-3:] == ["node_type", "packge_ratio_0", "packge_ratio_1"]
    truth = reset_gap.node_power(noise=True, per_package=True)
    for column in ("package_0_package_power", "package_1_dram_power"):
        assert _relative_error(table[column].to_numpy(), truth[column].to_numpy()) < 0.01
    assert np.allclose(table["packge_ratio_0"], 0.7) and np.allclose(table["packge_ratio_1"], 0.3)
    dyn = _get(sets, "BPFOnly", "DynPower").table
    assert list(dyn.columns)[:3] == ["timestamp", "packge_ratio_0", "packge_ratio_1"]
    assert np.allclose(dyn["packge_ratio_0"], 0.7)


def test_smooth_extractor(reset_gap):
    sets, _, _ = _sets(reset_gap.query_response(), extractor="smooth", isolator="none")
    plain, _, _ = _sets(reset_gap.query_response(), isolator="none")
    smooth_abs = _get(sets, "BPFOnly", "AbsPower").table
    plain_abs = _get(plain, "BPFOnly", "AbsPower").table
    assert len(smooth_abs) == len(plain_abs) - 29
    expected = plain_abs["package_power"].rolling(30).mean().dropna().to_numpy()
    assert np.allclose(smooth_abs["package_power"].to_numpy(), expected)
    assert (smooth_abs["node_type"] == 0).all()
    dyn = _get(sets, "BPFOnly", "DynPower").table
    # container windows never span containers: each container loses its first 29 rows
    assert len(dyn) == len(plain_abs) - 29


def test_profile_isolator(reset_gap):
    idle_config = SynthConfig(containers=0, duration_s=600, step_s=15, seed=5)
    idle = generate(idle_config)
    sets, skips, info = _sets(
        reset_gap.query_response(),
        isolator="profile",
        profile_input=("idle", idle.query_response()),
        node_types={"q": 0, "idle": 0},
    )
    profile = info.profiles["rapl-sysfs"]
    assert set(profile) == {"package", "core", "uncore", "dram"}
    idle_package = idle.node_power(noise=True)["package_power"]
    assert profile["package"]["0"]["min_watt"] == pytest.approx(idle_package.min())
    assert profile["package"]["0"]["max_watt"] == pytest.approx(idle_package.max())
    assert info.background == ["coredns", "kube-proxy"]
    dyn = _get(sets, "BPFOnly", "DynPower").table
    abs_table = _get(sets, "BPFOnly", "AbsPower").table
    background = (profile["package"]["0"]["min_watt"] + profile["package"]["0"]["max_watt"]) / 2
    expected = np.clip(abs_table["package_power"].to_numpy() - background, 0, None)
    assert np.allclose(dyn["package_power"].to_numpy(), expected)
    truth = reset_gap.container_rates()
    foreground = truth[~truth["background"]].groupby("timestamp")["bpf_cpu_time_ms"].sum().to_numpy()
    assert np.allclose(dyn["bpf_cpu_time_ms"].to_numpy(), foreground)
    # a node type without a profile: no DynPower, reported
    sets, skips, _ = _sets(
        reset_gap.query_response(),
        isolator="profile",
        profile_input=("idle", idle.query_response()),
        node_types={"q": 4, "idle": 0},
    )
    assert not [s for s in sets if s.output_type == "DynPower"]
    assert any("node type(s) 4" in s.reason for s in skips)


class LinearAbsModel:
    """A hand-written AbsPower model implementing the AbsModelPredictor protocol (no trained pipeline needed)."""

    def __init__(self, name, group, features, mae, idle_w, slope, node_type=0):
        self.source, self.group, self.name = "rapl-sysfs", group, name
        self.features, self.mae, self.node_type = tuple(features), mae, node_type
        self.idle_w, self.slope = idle_w, slope

    def predict(self, X_raw):
        package = self.idle_w + self.slope * X_raw[:, 0]
        return {
            "package": package,
            "core": np.zeros(len(X_raw)),
            "uncore": np.zeros(len(X_raw)),
            "dram": np.zeros(len(X_raw)),
        }


def test_trainer_isolator(reset_gap):
    model = reset_gap.model
    good = LinearAbsModel(
        "SGDRegressorTrainer_0",
        "BPFOnly",
        ["bpf_cpu_time_ms", "bpf_page_cache_hit"],
        2.0,
        model.idle_power()["package"],
        model.cpu_w_per_ms,
    )
    worse = LinearAbsModel("AAA_0", "BPFOnly", ["bpf_cpu_time_ms", "bpf_page_cache_hit"], 5.0, 0.0, 0.0)
    other_node = LinearAbsModel("Other_1", "BPFOnly", ["bpf_cpu_time_ms"], 0.1, 0.0, 0.0, node_type=1)
    needs_counters = LinearAbsModel("C_0", "CounterOnly", ["cpu_cycles"], 0.1, 0.0, 0.0)
    sets, skips, info = _sets(
        reset_gap.query_response(),
        isolator="trainer",
        abs_models=[worse, good, other_node, needs_counters],
        bg_hints=["coredns", "kube"],
    )
    choice = info.trainer_choices[("rapl-sysfs", "BPFOnly")]
    assert [(c.node_type, c.model) for c in choice] == [(0, "BPFOnly/SGDRegressorTrainer_0")]
    assert choice[0].rho >= 0.7
    dyn = _get(sets, "BPFOnly", "DynPower").table
    abs_table = _get(sets, "BPFOnly", "AbsPower").table
    rates = reset_gap.container_rates()
    bg_ms = rates[rates["background"]].groupby("timestamp")["bpf_cpu_time_ms"].sum().to_numpy()
    bg_power = model.idle_power()["package"] + model.cpu_w_per_ms * bg_ms
    expected = np.maximum(0, abs_table["package_power"].to_numpy() - bg_power)
    assert np.allclose(dyn["package_power"].to_numpy(), expected)
    # the model predicts 0 W background for core, so core keeps the node's power
    assert np.allclose(dyn["core_power"].to_numpy(), abs_table["core_power"].to_numpy())
    # features are the sums over non-background containers only
    foreground = rates[~rates["background"]].groupby("timestamp")["bpf_cpu_time_ms"].sum().to_numpy()
    assert np.allclose(dyn["bpf_cpu_time_ms"].to_numpy(), foreground)
    # a model fits every table holding its features (C_0 serves CounterOnly; BPFOnly models serve BPFIRQ)
    assert _get(sets, "CounterOnly", "DynPower") and _get(sets, "BPFIRQ", "DynPower")
    # groups without any candidate get no DynPower, reported
    sets, skips, _ = _sets(reset_gap.query_response(), isolator="trainer", abs_models=[good])
    assert not [s for s in sets if s.output_type == "DynPower" and s.group.name == "CounterOnly"]
    assert "rapl-sysfs/DynPower/CounterOnly" in [s.what for s in skips]


def test_thirdparty_gauge_group():
    data = generate(SynthConfig(containers=2, duration_s=600, step_s=15, thirdparty=True))
    sets, skips, info = _sets(data.query_response(), thirdparty=[THIRDPARTY_METRIC])
    assert "ThirdParty" in [g.name for g in info.groups.valid]
    third = _get(sets, "ThirdParty", "AbsPower")
    assert third.features == (THIRDPARTY_METRIC,)
    truth = data.thirdparty_values()
    table = third.table.set_index("timestamp")
    assert np.allclose(table[THIRDPARTY_METRIC].to_numpy(), truth.loc[truth.index.isin(table.index)].to_numpy())
    assert any(s.what == "rapl-sysfs/DynPower/ThirdParty" for s in skips)


def test_accelerator_split_by_type(reset_gap):
    doc = copy.deepcopy(reset_gap.query_response())
    metric = GENERATIONS["0.7"].feature_metric("accelerator_intel_qat")
    stamps = [t for t, _ in doc["kepler_node_package_joules_total"][0]["values"]]
    doc[metric] = [
        {"metric": {"__name__": metric, "type": kind}, "values": [[t, str(value)] for t in stamps]}
        for kind, value in (("dc", 2), ("cy", 5))
    ]
    frequency = GENERATIONS["0.7"].feature_metric("cpu_scaling_frequency_hertz")
    doc[frequency] = [
        {"metric": {"__name__": frequency, "cpu": str(cpu)}, "values": [[t, str(khz)] for t in stamps]}
        for cpu, khz in ((0, 2000001), (1, 3000000))
    ]
    sets, _, info = _sets(doc)
    full = _get(sets, "Full", "AbsPower")
    assert full.table["cpu_scaling_frequency_hertz"].tolist() == [2500000] * len(full.table)
    assert set(full.table["node_info"]) == {RESET_GAP.node_info}
    assert list(full.table.columns[:3]) == ["timestamp", "accelerator_intel_qat_cy", "accelerator_intel_qat_dc"]
    accel = _get(sets, "AcceleratorOnly", "AbsPower")
    assert accel.features == ("accelerator_intel_qat_cy", "accelerator_intel_qat_dc")
    assert (accel.table["accelerator_intel_qat_cy"] == 5).all()
    assert "WorkloadOnly" in [g.name for g in info.groups.valid]
    workload = _get(sets, "WorkloadOnly", "AbsPower")
    assert workload.features[:2] == ("accelerator_intel_qat_cy", "accelerator_intel_qat_dc")
    assert not [s for s in sets if s.output_type == "DynPower" and s.group.name in ("AcceleratorOnly", "WorkloadOnly")]


def test_no_valid_group_names_missing_metrics(reset_gap):
    doc = {m: s for m, s in reset_gap.query_response().items() if "bpf" not in m and "cache_miss" not in m}
    doc06 = {m: s for m, s in _rename_to_06(reset_gap.query_response()).items() if "cpu_cycles" not in m}
    with pytest.raises(StepError, match="no feature group is valid for every input"):
        prepare_training_sets([("a", doc), ("b", doc06)], ["rapl-sysfs"], {"a": 0, "b": 0})


def test_source_without_series_is_skipped(reset_gap):
    sets, skips, _ = _sets(reset_gap.query_response(), sources=["rapl-msr", "rapl-sysfs"])
    assert {s.source for s in sets} == {"rapl-sysfs"}
    assert skips[0].what == "rapl-msr" and "kepler_node_package_joules_total" in skips[0].reason


def test_node_types_callable_gets_node_info(reset_gap):
    seen = {}

    def resolve(observed):
        seen.update(observed)
        return {name: 7 for name in observed}

    sets, _, info = _sets(reset_gap.query_response(), node_types=resolve)
    assert seen == {"q": RESET_GAP.node_info}
    assert set(_get(sets, "BPFOnly", "AbsPower").table["node_type"]) == {7}


def _to_vm(doc):
    """VM-side metrics (train.md §6.7): process counters with job=vm, kepler_vm_<c>_joules_total with vm_id."""
    out = {}
    for metric, series_list in doc.items():
        if metric.startswith("kepler_container_"):
            name = metric.replace("kepler_container_", "kepler_process_")
            out[name] = [
                {"metric": dict(s["metric"], __name__=name, job="vm", pid=str(n)), "values": s["values"]}
                for n, s in enumerate(series_list)
            ]
        elif metric.startswith("kepler_node_") and metric.endswith("_joules_total"):
            name = metric.replace("kepler_node_", "kepler_vm_")
            out[name] = [
                {
                    "metric": {
                        "__name__": name,
                        "vm_id": "vm-1",
                        "package": s["metric"].get("package", ""),
                        "mode": s["metric"]["mode"],
                    },
                    "values": s["values"],
                }
                for s in series_list
                if s["metric"].get("source") != "acpi"
            ]
    return out


def test_vm_mode(reset_gap):
    bare, _, _ = _sets(reset_gap.query_response())
    vm_sets, skips, info = _sets(_to_vm(reset_gap.query_response()), vm=True)
    assert info.generations == {"q": "0.7"}
    a = _get(bare, "Basic", "AbsPower").table
    b = _get(vm_sets, "Basic", "AbsPower").table
    pd.testing.assert_frame_equal(a, b)
    # bare-metal extraction ignores container series of the VM job
    mixed = copy.deepcopy(reset_gap.query_response())
    for metric in [m for m in mixed if m.startswith("kepler_container_")]:
        mixed[metric] = mixed[metric] + [
            {"metric": dict(s["metric"], job="vm", container_id="vm-side"), "values": s["values"]}
            for s in mixed[metric]
        ]
    again, _, _ = _sets(mixed)
    pd.testing.assert_frame_equal(_get(again, "Basic", "AbsPower").table, a)


def test_repeated_samples_dropped_with_warning():
    """A query step shorter than the scrape interval repeats samples: 0 W rows are dropped and a warning says so."""
    data = generate(SynthConfig(containers=2, duration_s=600, step_s=30))
    doc = copy.deepcopy(data.query_response())
    for series_list in doc.values():
        for series in series_list:
            series["values"] = [pair for t, v in series["values"] for pair in ([t, v], [t + 15, v])]
    warnings = []
    sets, _, _ = _sets(doc, warn=warnings.append)
    table = _get(sets, "BPFOnly", "AbsPower").table
    truth = data.node_power(noise=True)
    assert table["timestamp"].tolist() == truth.index.astype(np.int64).tolist()
    # the rate over the 15 s after a repeated sample covers the whole 30 s scrape interval
    assert _relative_error(table["package_power"].to_numpy(), 2 * truth["package_power"].to_numpy()) < 0.01
    assert any("step at least as long as the scrape interval" in w for w in warnings)


def test_thirdparty_counter_with_container_labels(reset_gap):
    """A -tm metric whose series carry the container identity labels is a per-container counter."""
    metric = GENERATIONS["0.7"].cgroup_cpu
    sets, _, info = _sets(reset_gap.query_response(), thirdparty=[metric], isolator="none")
    third_abs = _get(sets, "ThirdParty", "AbsPower").table
    truth = reset_gap.node_rates()["cgroupfs_cpu_usage_us"].to_numpy()
    assert _relative_error(third_abs[metric].to_numpy(), truth) < 0.01
    third_dyn = _get(sets, "ThirdParty", "DynPower").table
    assert np.allclose(third_dyn[metric].to_numpy(), third_abs[metric].to_numpy())


def test_stream_yields_each_source_and_group_in_order_before_the_next_is_extracted(reset_gap):
    """The stream gives one (source, group) per step, in the order and with the sets of the collected call."""
    from steps.train.prepare import PrepareInfo, stream_training_sets

    doc = reset_gap.query_response()
    sets, skips, _ = _sets(doc, sources=["rapl-sysfs", "acpi"])
    info = PrepareInfo()
    steps = stream_training_sets([("q", doc)], ["rapl-sysfs", "acpi"], {"q": 0}, info)
    first_sets, _ = next(steps)
    assert info.groups is not None and info.node_types == {"q": 0}  # known before the first group is fitted
    assert {s.group.name for s in first_sets} == {info.groups.valid[0].name}
    streamed = first_sets + [s for made, _ in steps for s in made]
    assert [(s.source, s.group.name, s.output_type) for s in streamed] == [
        (s.source, s.group.name, s.output_type) for s in sets
    ]
    for one, other in zip(streamed, sets):
        pd.testing.assert_frame_equal(one.table, other.table)
