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

Pytest fixtures (tests/conftest.py): synth_small, prometheus_factory(data_or_openmetrics_path), prometheus.
CLI: `python -m steps.synth --help`.
"""

from .config import DEFAULT_START, SynthConfig
from .generator import THIRDPARTY_METRIC, SynthData, generate
from .labels import label_sort_key
from .power import PowerModel
from .promserver import PrometheusError, PrometheusServer, PrometheusUnavailable, backfill, find_binary
from .series import Series
from .usage import CGROUP_CPU, FEATURES, ContainerSpec

__all__ = [
    "CGROUP_CPU",
    "DEFAULT_START",
    "FEATURES",
    "THIRDPARTY_METRIC",
    "ContainerSpec",
    "PowerModel",
    "PrometheusError",
    "PrometheusServer",
    "PrometheusUnavailable",
    "Series",
    "SynthConfig",
    "SynthData",
    "backfill",
    "find_binary",
    "generate",
    "label_sort_key",
]
