"""The Kepler 0.10 generator's truth agrees with the counters it emits: zone energy across RAPL wraps and
an exporter restart, processes and their energy, guests offset and thinned as configured, and the
known VM relation. Metric names are spelled here from the spec on purpose (an independent check)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from steps.synth import Kepler010Config, generate_010

from .cases010 import BUSY_MODES, NODE, VM, arrays, by_zone_path, counter_rates, energy_rates, node_data

# ---- the node's energy counters


@pytest.mark.parametrize("aggregate", [True, False])
def test_zone_power_truth_equals_the_counters_across_wraps_and_restart(aggregate):
    data = node_data(aggregate)
    doc = data.query_response()
    totals = by_zone_path(doc, "kepler_node_cpu_joules_total")
    actives = by_zone_path(doc, "kepler_node_cpu_active_joules_total")
    idles = by_zone_path(doc, "kepler_node_cpu_idle_joules_total")
    assert set(totals) == set(actives) == set(idles)
    for kind in ("total", "active", "idle"):
        truth = data.zone_power(kind)
        summed = defaultdict(lambda: 0.0)
        for key in totals:
            times, rates = energy_rates(totals[key], actives[key], idles[key], kind)
            np.testing.assert_array_equal(times, truth.index.to_numpy())
            summed[key[0]] = summed[key[0]] + rates  # sum a zone over its paths
        for zone in NODE.zones:
            np.testing.assert_allclose(summed[zone], truth[zone].to_numpy(), rtol=1e-12, atol=1e-9, equal_nan=True)
    for zone in ("package", "psys"):
        assert data.wrap_timestamps(zone).size >= 5  # the test saw real wraps
    restart = data.restart_timestamps
    assert restart.size == 1
    for kind in ("total", "active", "idle"):
        power = data.zone_power(kind)
        assert np.isnan(power.loc[restart[0]]).all() and power.drop(restart[0]).notna().all().all()


def test_raw_totals_wrap_at_the_range_and_active_idle_never_wrap(node, node_doc):
    falls = {"kepler_node_cpu_joules_total": 0, "kepler_node_cpu_active_joules_total": 0}
    restart = node.restart_timestamps[0]
    for metric in (*falls, "kepler_node_cpu_idle_joules_total"):
        for series in node_doc[metric]:
            t, v = arrays(series["values"])
            down = t[1:][np.diff(v) < 0]
            if metric == "kepler_node_cpu_joules_total":
                path = series["metric"]["path"]
                # a merged total counts modulo the sockets' summed range: below it always
                limit = 2 * NODE.wrap_j if path.startswith("aggregated-") else NODE.wrap_j
                assert v.max() < limit and path in (
                    f"aggregated-{series['metric']['zone']}",
                    "/sys/class/powercap/intel-rapl:2",
                )
                falls[metric] += down.size
            else:
                assert list(down) == [restart]  # only Kepler's restart makes them fall
    assert falls["kepler_node_cpu_joules_total"] > 20


def test_active_is_the_energy_delta_times_the_usage_ratio(node, node_doc):
    ratio = {t: float(v) for t, v in node_doc["kepler_node_cpu_usage_ratio"][0]["values"]}
    actives = by_zone_path(node_doc, "kepler_node_cpu_active_joules_total")
    idles = by_zone_path(node_doc, "kepler_node_cpu_idle_joules_total")
    for key, values in actives.items():
        t, a = arrays(values)
        _, i = arrays(idles[key])
        da, di = np.round(np.diff(a) * 1000), np.round(np.diff(i) * 1000)  # millijoules
        u = np.array([ratio[x] for x in t[1:]])
        ok = (da >= 0) & (di >= 0)
        np.testing.assert_array_equal(da[ok], np.rint((da + di)[ok] * u[ok]))
    np.testing.assert_allclose(
        node.usage_ratio().to_numpy(), [float(v) for _, v in node_doc["kepler_node_cpu_usage_ratio"][0]["values"]]
    )
    assert 0 < node.usage_ratio().min() and node.usage_ratio().max() <= 1


def test_noise_free_power_is_the_public_zone_model():
    data = generate_010(Kepler010Config(containers=3, duration_s=900, seed=2, zones=("package", "dram", "psys")))
    x = data.node_cpu_ms().to_numpy()
    for zone, watts in data.model.power(x, data.config.zones).items():
        # mJ rounding of each interval's energy is the only difference
        np.testing.assert_allclose(data.zone_power()[zone], watts, atol=0.5e-3 / 15 + 1e-9)
    model = data.model
    assert model.describe("package") == "40 + 0.01 x bpf_cpu_time_ms"
    np.testing.assert_allclose(data.zone_power()["package"], 40 + 0.01 * x, atol=1e-4)


def test_noise_has_the_configured_size():
    data = generate_010(Kepler010Config(containers=3, duration_s=6 * 3600, seed=3, noise_w=2.0))
    residual = data.zone_power()["package"] - data.zone_power(noise=False)["package"]
    assert abs(residual.std() - 2.0) < 0.1 and abs(residual.mean()) < 0.1
    assert data.zone_power(noise=False)["package"].to_numpy() == pytest.approx(
        data.model.power(data.node_cpu_ms().to_numpy(), ["package"])["package"]
    )


def test_saturating_model_bends():
    data = generate_010(Kepler010Config(containers=6, duration_s=1800, seed=4, power="saturating"))
    model = data.model
    x = np.array([0.0, model.k_ms, 10 * model.k_ms])
    p = model.power(x, ["package"])["package"]
    assert p[0] == 40 and p[1] == pytest.approx(40 + 200 * (1 - np.exp(-1))) and p[2] < 40 + 200
    assert "exp(-bpf_cpu_time_ms" in model.describe("package")


# ---- processes, containers, attribution


def test_process_cpu_time_rates_equal_truth_and_sum_to_the_node(node, node_doc):
    truth = node.process_rates().set_index(["timestamp", "pid"])["cpu_ms"]
    total = 0.0
    for series in node_doc["kepler_process_cpu_seconds_total"]:
        times, rates = counter_rates(series["values"])
        pid = int(series["metric"]["pid"])
        expected = truth.loc[[(t, pid) for t in times]].to_numpy()
        np.testing.assert_allclose(rates * 1000.0, expected, rtol=1e-9, atol=1e-9)
        total = total + rates * 1000.0
    np.testing.assert_allclose(total, node.node_cpu_ms().to_numpy(), rtol=1e-9)
    kinds = node.process_rates()["type"].unique()
    assert set(kinds) == {"container", "regular"}


def test_container_cpu_seconds_is_the_sum_of_its_processes(node, node_doc):
    per_container = defaultdict(lambda: 0.0)
    for series in node_doc["kepler_process_cpu_seconds_total"]:
        if "container_id" in series["metric"]:
            per_container[series["metric"]["container_id"]] += arrays(series["values"])[1]
    containers = node_doc["kepler_container_cpu_seconds_total"]
    assert len(containers) == NODE.containers
    for series in containers:
        np.testing.assert_allclose(arrays(series["values"])[1], per_container[series["metric"]["container_id"]])
    plain = generate_010(Kepler010Config(containers=1, duration_s=300))
    assert "kepler_container_cpu_seconds_total" not in plain.metric_names()  # unreleased: optional


def test_process_energy_is_its_cpu_share_of_active_energy(node):
    rates = node.process_rates()
    share = rates["cpu_ms"].to_numpy().reshape(-1, len(node.processes))
    share = share / share.sum(axis=1, keepdims=True)
    active = node.zone_power("active")
    for zone in NODE.zones:
        mj = node.process_mj[zone].T  # (n, processes)
        expected = active[zone].to_numpy()[:, None] * share * 1000.0 * node.dt[:, None]
        ok = ~np.isnan(expected)
        assert np.all(np.abs(mj[ok] - expected[ok]) <= 0.5 + 1e-6)


# ---- VMs and guests


def test_guest_samples_are_offset_and_missing_as_configured(vm, vm_doc):
    host = vm.host_timestamps
    for index, guest in enumerate(vm.vms):
        missing = {host[int(round(o / VM.step_s))] + 4.0 for v, o in VM.guest_missing if v == index}
        expected = [t + 4.0 for t in host if t + 4.0 not in missing]
        assert list(vm.guest_timestamps(index)) == expected
        for metric in ("node_cpu_seconds_total", "node_load1", "node_vmstat_pgfault", "node_memory_MemTotal_bytes"):
            for series in vm_doc[metric]:
                if series["metric"]["instance"] == guest.instance:
                    assert [t for t, _ in series["values"]] == expected
    assert sum(len(vm.guest_timestamps(i)) for i in range(VM.vms)) == VM.vms * host.size - 3


def test_guest_features_from_the_series_equal_the_truth(vm, vm_doc):
    truth = vm.guest_rates().set_index(["timestamp", "instance"])
    busy, wall = defaultdict(lambda: 0.0), defaultdict(lambda: 0.0)
    for series in vm_doc["node_cpu_seconds_total"]:
        m = series["metric"]
        times, rates = counter_rates(series["values"])
        assert (rates >= 0).all()
        wall[(m["instance"], m["cpu"])] += rates
        if m["mode"] in BUSY_MODES:
            busy[m["instance"]] = busy[m["instance"]] + rates * 1000.0
    for guest in vm.vms:
        rows = truth.xs(guest.instance, level="instance")
        np.testing.assert_allclose(busy[guest.instance], rows["os_cpu_busy_ms"], rtol=1e-9)
        for cpu in range(VM.vcpus):
            np.testing.assert_allclose(wall[(guest.instance, str(cpu))], 1.0, atol=5 * 0.01 / 15)  # s of CPU per s
    for metric, feature in (
        ("node_context_switches_total", "os_context_switches"),
        ("node_intr_total", "os_interrupts"),
        ("node_vmstat_pgfault", "os_page_faults"),
        ("node_vmstat_pgmajfault", "os_major_page_faults"),
    ):
        for series in vm_doc[metric]:
            times, rates = counter_rates(series["values"])
            expected = truth.loc[[(t, series["metric"]["instance"]) for t in times], feature].to_numpy()
            np.testing.assert_allclose(rates, expected, rtol=1e-9)
    avail = {s["metric"]["instance"]: arrays(s["values"])[1] for s in vm_doc["node_memory_MemAvailable_bytes"]}
    total = {s["metric"]["instance"]: arrays(s["values"])[1] for s in vm_doc["node_memory_MemTotal_bytes"]}
    for guest in vm.vms:
        rows = truth.xs(guest.instance, level="instance")
        np.testing.assert_allclose(
            1 - avail[guest.instance][1:] / total[guest.instance][1:], rows["os_memory_used_ratio"]
        )
    assert vm.vm_map() == {g.instance: g.vm_id for g in vm.vms}


def test_vm_energy_is_the_qemu_process_energy_and_its_cpu_share(vm, vm_doc):
    qemu = {
        (s["metric"]["vm_id"], s["metric"]["zone"]): s["values"]
        for s in vm_doc["kepler_process_cpu_joules_total"]
        if s["metric"]["type"] == "vm"
    }
    truth = vm.vm_power()
    restart = vm.restart_timestamps[0]
    for series in vm_doc["kepler_vm_cpu_joules_total"]:
        key = (series["metric"]["vm_id"], series["metric"]["zone"])
        assert series["values"] == qemu[key]  # --vm-target process gives the same target
        t, v = arrays(series["values"])
        rates = np.diff(v) / np.diff(t)
        ok = t[1:] != restart
        assert (np.diff(v)[~ok] < 0).all()  # restarted from 0 at Kepler's first read
        expected = truth.xs(key[0], level="vm_id")[key[1]].to_numpy()
        np.testing.assert_allclose(rates[ok], expected[ok], rtol=1e-9, atol=1e-9)
        assert np.isnan(expected[~ok]).all()
    # attribution: the VM's CPU share of the zone's active energy, up to 0.5 mJ rounding
    active = vm.zone_power("active")
    rates = vm.vm_rates()
    share = rates["qemu_cpu_ms"].unstack("vm_id").div(vm.node_cpu_ms(), axis=0)
    for zone in VM.zones:
        got = truth[zone].unstack("vm_id")
        np.testing.assert_allclose(got, share.mul(active[zone], axis=0).to_numpy(), atol=0.5e-3 / 15 + 1e-9)


def test_the_known_vm_relation_holds_without_noise():
    data = generate_010(Kepler010Config(vms=4, duration_s=3600, seed=5))
    rates = data.vm_rates()
    q = VM.qemu_cpu_factor * rates["guest_busy_ms"] + VM.qemu_overhead_ms
    assert np.abs(rates["qemu_cpu_ms"] - q).max() <= 10.0 / 15 + 1e-9  # one 10 ms tick per interval
    x = data.node_cpu_ms()
    u = data.usage_ratio().iloc[1:]
    for zone in data.config.zones:
        p_z = data.model.power(x.to_numpy(), [zone])[zone]
        relation = (rates["qemu_cpu_ms"].unstack("vm_id").mul(p_z * u.to_numpy() / x.to_numpy(), axis=0)).stack()
        np.testing.assert_allclose(data.vm_power()[zone], relation.reindex(data.vm_power().index), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(
            data.vm_power(noise=False)[zone], relation.reindex(data.vm_power().index), rtol=1e-12
        )


def test_guest_busy_predicts_vm_power_after_nearest_alignment(vm):
    """What a VM model sees: each host row paired with the guest row 4 s later; busy explains the power."""
    guests = vm.guest_rates()
    power = vm.vm_power()["package"].dropna()
    paired = []
    for (t, vm_id), watts in power.items():
        rows = guests[(guests["vm_id"] == vm_id) & (np.abs(guests["timestamp"] - t) <= VM.step_s / 2)]
        if len(rows):
            paired.append((rows["os_cpu_busy_ms"].iloc[0], watts))
    busy, watts = np.array(paired).T
    assert len(paired) >= 0.97 * power.size
    assert np.corrcoef(busy, watts)[0, 1] > 0.95
