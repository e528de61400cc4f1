"""Synthetic Kepler 0.7 data with a known power function, and a real throw-away Prometheus.

Public API (import from `steps.synth`):

    SynthConfig(containers=6, duration_s=1800.0, step_s=15.0, start=2024-01-01T00:00:00Z, seed=0,
                power="linear"|"saturating", noise_w=0.0, packages=2, sources=("rapl-sysfs", "acpi"),
                counter_resets=(offset_s, ...), scrape_gaps=((offset_s, length_s), ...),
                node_name="synth-node-0", node_info=1, benchmark="stressng", benchmark_namespace="benchmark",
                background=("coredns", "kube-proxy"), thirdparty=False, job="kepler-exporter",
                package_shares=(), container_lifetimes=((bench_index, first_s, last_s), ...))  # frozen
        scrapes at start + k*step_s; a gap drops scrapes with offset <= t < offset+length; a reset at r
        restarts all counters from 0 right after the first scrape at offset >= r (so train's
        reset-aware rate is exact; keep resets >= 2 scrapes apart)
    generate(config, model=None) -> SynthData                     # deterministic in config.seed
    PowerModel(kind, idle_package_w, cpu_w_per_ms, page_cache_w_per_hit, pmax_w, k_ms, core_share,
               uncore_w, idle_dram_w, dram_w_per_miss, platform_extra_w)
        .power(node_rates: {feature: array}) -> {component: watts}; .idle_power() -> {component: watts}

    SynthData
      .config, .model (PowerModel), .containers (list of ContainerSpec: index, container_id, pod_name,
        container_name, namespace, background, pattern, .id = "cid/pod/container/namespace")
      .timestamps        epoch s of every sample t_0..t_n        .rate_timestamps  t_1..t_n
      .dt                t_i - t_{i-1}                             .window  (first, last) aware UTC datetimes
      .reset_timestamps  samples that are the first after a counter reset
      .components        e.g. ("package", "core", "uncore", "dram", "platform")
      truth (rates/power at t_i are for the interval (t_{i-1}, t_i], as train.md §6.2 computes them):
      .container_rates() -> DataFrame rows (timestamp, container): timestamp, id, container_id, pod_name,
                            container_name, container_namespace, background, <8 features>, cgroupfs_cpu_usage_us
      .node_rates(include_background=True) -> DataFrame index timestamp, same rate columns (node sums)
      .node_power(noise=True, mode="total"|"idle"|"dynamic", per_package=False) -> DataFrame index
                            timestamp, columns "<component>_power" (W); noise=True is exactly what the
                            counters encode; noise=False is model.power(node rates)
      .active_intervals() -> bool (containers, n): container has a rate at t_i (container_lifetimes)
      .thirdparty_values() -> Series of the gauge `node_cpu_temp_celsius` at t_0..t_n (thirdparty=True)
      outputs:
      .metric_names(); .iter_series(metrics=None) -> Series(metric, labels, kind, values, scale, samples)
                            (.floats() = values/scale at data.timestamps[samples]; samples None = all)
      .query_response(metrics=None) -> dict (workspace.md §3.1; metrics and series sorted)
      .write_query_response(path, metrics=None)  streamed, bytes == json.dumps(query_response())
      .write_openmetrics(path)                   streamed OpenMetrics for promtool

    PrometheusServer.from_synth(data, workdir=None) -> server (OpenMetrics written, backfilled, not
        started; .window = data.window; without workdir a temp folder is removed by stop())
    PrometheusServer.from_openmetrics(path, workdir=None) -> server (backfilled, not started)
    PrometheusServer(data_dir, workdir=None); .start() / with ...: ; .url ; .pid ; .stop() (idempotent)
    backfill(openmetrics, data_dir); find_binary(name); PrometheusUnavailable; PrometheusError
    label_sort_key(labels): the order of series within a metric; THIRDPARTY_METRIC

Kepler 0.10 (kepler-010.md §1, §3, §4): a bare-metal node, or a VM host with its guests' node_exporter

    Kepler010Config(containers=None (6; 0 with VMs), processes_per_container=2, system_processes=None,
                    vms=0, vcpus=2, duration_s=1800.0, step_s=15.0, start, seed=0, power="linear"|"saturating",
                    noise_w=0.0, zones=("package", "core", "uncore", "dram") (+ "psys"), sockets=1,
                    aggregate=True, wrap_j=262143.32885, cpus=0 (auto), container_metric=False,
                    process_energy=True, exporter_restarts=(offset_s, ...), guest_offset_s=4.0,
                    guest_missing=((vm, host_offset_s), ...), qemu_cpu_factor=1.03, qemu_overhead_ms=15.0,
                    node_name="synth-node-0", benchmark="stressng", kepler_version="v0.10.2")  # frozen
    generate_010(config, model=None) -> Kepler010Data              # deterministic in config.seed, numpy
    ZonePowerModel(kind, cpu_w_per_ms=0.01, pmax_w=200, k_ms=8000, idle_w=((zone, W), ...), share=((zone, f), ...))
        P_z(x) = idle_w[z] + share[z] * dyn(x), x = node CPU ms/s; dyn = cpu_w_per_ms * x (linear) or
        pmax_w * (1 - exp(-x / k_ms)) (saturating); .power(x, zones), .idle_power(zones), .slope(zone),
        .describe(zone) -> "40 + 0.01 x bpf_cpu_time_ms"

    Kepler010Data
      .config, .model, .containers, .vms (VMSpec: vm_id, vm_name, instance), .processes (ProcessSpec), .cpus
      .host_timestamps t_0..t_n   .rate_timestamps t_1..t_n   .dt   .window (host)   .restart_timestamps
      truth (host interval (t_{i-1}, t_i]; noise=True is exactly what the counters encode):
      .node_cpu_ms() -> Series x (the bpf_cpu_time_ms feature)   .usage_ratio() -> Series (gauge, t_0..t_n)
      .process_rates() -> DataFrame (timestamp, pid, comm, type, container_id, vm_id, cpu_ms)
      .zone_power(kind="total"|"active"|"idle", noise=True) -> DataFrame, a column per zone (W, summed over path)
      .wrap_timestamps(zone); .machine_spec() -> {processor, cores, chips}
      .vm_power(noise=True) -> DataFrame rows (timestamp, vm_id), a column per zone; noise=False: the
                            relation P_z(x) * u * q / x (q = qemu_cpu_factor * guest busy + qemu_overhead_ms)
      .vm_rates() -> rows (timestamp, vm_id): qemu_cpu_ms, guest_busy_ms (guest busy over host intervals)
      .guest_rates() -> the guests' os_* features per guest sample (timestamp, instance, vm_id, ...)
      .guest_timestamps(vm); .vm_map() -> {instance: vm_id}; .write_vm_map(path)
      outputs (part = "all" | "host" | "guests"; guests are the node_exporter series, e.g. for --os-server):
      .part(name) -> SeriesSet; .metric_names(part); .iter_series(); .query_response(metrics, part)
      .write_query_response(path, metrics=None, part="all"); .write_openmetrics(path, part="all")
    SeriesSet(timestamps, recipes): .window, .query_response(), .write_*; union(*sets) joins scrape streams.
    PrometheusServer.from_synth(data.part("host"|"guests"|"all")) serves any of them.

Pytest fixtures (tests/conftest.py): synth_small, prometheus_factory(data_or_openmetrics_path), prometheus.
CLI: `python -m steps.synth --help` (`--generation 0.10 [--vms N]` for Kepler 0.10).
"""

from .config import DEFAULT_START, SynthConfig
from .config010 import Kepler010Config
from .generator import THIRDPARTY_METRIC, SynthData, generate
from .kepler010 import Kepler010Data, generate_010
from .labels import label_sort_key
from .power import PowerModel
from .promserver import PrometheusError, PrometheusServer, PrometheusUnavailable, backfill, find_binary
from .series import Series
from .seriesset import SeriesSet, union
from .usage import CGROUP_CPU, FEATURES, ContainerSpec
from .workload010 import ProcessSpec, VMSpec
from .zones import ZonePowerModel

__all__ = [
    "CGROUP_CPU",
    "DEFAULT_START",
    "FEATURES",
    "THIRDPARTY_METRIC",
    "ContainerSpec",
    "Kepler010Config",
    "Kepler010Data",
    "PowerModel",
    "ProcessSpec",
    "PrometheusError",
    "PrometheusServer",
    "PrometheusUnavailable",
    "Series",
    "SeriesSet",
    "SynthConfig",
    "SynthData",
    "VMSpec",
    "ZonePowerModel",
    "backfill",
    "find_binary",
    "generate",
    "generate_010",
    "label_sort_key",
    "union",
]
