"""The one table of Kepler metric names per generation (kepler-metrics.md). No other module spells a metric."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from .domain import ENERGY_SOURCES
from .machine_spec import Spec, empty_spec, normalize_processor

# Kinds of feature series: per-container counters, gauges summed over series, system values (Full only),
# and node values (0.10's usage ratio, node_exporter's counters and gauges): one value per node and
# timestamp, never summed over containers (kepler-010.md §2.2, §3).
COUNTER, GAUGE, SYSTEM, NODE = "counter", "gauge", "system", "node"
CONTAINER_ID_LABELS = ("container_id", "pod_name", "container_name", "container_namespace")
ENERGY_ID_LABELS = ("package", "mode")
NODE_LABELS = ("exported_instance", "instance")


@dataclass(frozen=True)
class FeatureMetric:
    """Where one feature comes from in one generation: metric, kind of series, unit factor."""

    metric: str
    kind: str
    unit_factor: float = 1.0


@dataclass(frozen=True)
class ZoneEnergy:
    """0.10 node energy (kepler-010.md §1, §2.1): RAPL zones are label values of three counters.

    `zones` maps each known `zone` value to its component, in component order; a zone is summed
    over `path` and never added to another zone (they overlap).
    """

    total: str  # RAPL's raw reading: wraps at the zone's range
    active: str  # Kepler's running sums: unbroken by a wrap, restart with the exporter
    idle: str
    zones: Tuple[Tuple[str, str], ...]
    source: str = "rapl-sysfs"
    zone_label: str = "zone"
    path_label: str = "path"

    def component_of(self, zone: str) -> Optional[str]:
        """The component a zone is, None for a zone this table does not know (ignored with a warning)."""
        return dict(self.zones).get(zone)

    def zone_of(self, component: str) -> str:
        """The `zone` label value of a component (`platform` is `psys`)."""
        return {c: z for z, c in self.zones}.get(component, component)

    @property
    def components(self) -> Tuple[str, ...]:
        """Every component a zone can be, in order."""
        return tuple(c for _, c in self.zones)


@dataclass(frozen=True)
class CpuInfo:
    """The per-logical-CPU info gauge and the labels a machine spec reads from it (kepler-010.md §1)."""

    metric: str
    model_label: str = "model_name"
    cpu_label: str = "processor"
    chip_label: str = "physical_id"


@dataclass(frozen=True)
class Generation:
    """Everything one Kepler metric generation names (kepler-metrics.md §5)."""

    id: str
    detect: Tuple[str, ...]  # metric names that identify this generation (§4)
    features: Mapping[str, FeatureMetric]
    source_labels: Mapping[str, Tuple[str, ...]]  # energy source -> `source` label values
    node_info: Optional[str]
    package_ratio: Optional[str]
    cgroup_cpu: Optional[str]
    container_id_labels: Tuple[str, ...] = CONTAINER_ID_LABELS
    energy_id_labels: Tuple[str, ...] = ENERGY_ID_LABELS
    node_labels: Tuple[str, ...] = NODE_LABELS
    vm_features: Mapping[str, str] = field(default_factory=dict)
    # 0.10 on (kepler-010.md): zones, the container CPU time used only without process CPU time,
    # the labels of a process identity, the info metrics, and the VM part's energy metrics.
    zone_energy: Optional[ZoneEnergy] = None
    cpu_time_fallback: Optional[FeatureMetric] = None
    process_id_labels: Tuple[str, ...] = ()
    cpu_info: Optional[CpuInfo] = None
    build_info: Optional[str] = None
    build_version_label: str = "version"
    vm_energy: Optional[str] = None
    process_energy: Optional[str] = None

    def energy_metric(self, component: str, vm: bool = False) -> str:
        """`kepler_node_<component>_joules_total`, or the VM metric with --vm-train (0.10: one metric, zones)."""
        if self.zone_energy is not None:
            return self.vm_energy if vm and self.vm_energy else self.zone_energy.total
        return f"kepler_{'vm' if vm else 'node'}_{component}_joules_total"

    def feature_metric(self, feature: str) -> Optional[str]:
        entry = self.features.get(feature)
        return entry.metric if entry else None

    def source_of(self, label_value: Optional[str]) -> Optional[str]:
        for source, values in self.source_labels.items():
            if label_value in values:
                return source
        return None

    @property
    def cpu_time_metric(self) -> str:
        return self.features["bpf_cpu_time_ms"].metric

    @property
    def container_cpu_time_metric(self) -> str:
        """The CPU-time metric of containers: the profile isolator's background names come from it."""
        return self.cpu_time_fallback.metric if self.cpu_time_fallback else self.cpu_time_metric


def _workload(prefix: str = "kepler_container_") -> Dict[str, FeatureMetric]:
    names = (
        "bpf_cpu_time_ms",
        "bpf_page_cache_hit",
        "bpf_block_irq",
        "bpf_net_rx_irq",
        "bpf_net_tx_irq",
        "cache_miss",
        "cpu_cycles",
        "cpu_instructions",
    )
    return {name: FeatureMetric(f"{prefix}{name}_total", COUNTER) for name in names}


_SYSTEM_07 = {
    "accelerator_intel_qat": FeatureMetric("kepler_node_accelerator_intel_qat", GAUGE),
    "node_info": FeatureMetric("kepler_node_info", SYSTEM),
    "cpu_scaling_frequency_hertz": FeatureMetric("kepler_node_cpu_scaling_frequency_hertz", SYSTEM),
}

_features_06 = {k: v for k, v in _workload().items() if k != "bpf_page_cache_hit"}
# 0.6 named its CPU-time counter `_us_` but exported milliseconds: factor 1.
_features_06["bpf_cpu_time_ms"] = FeatureMetric("kepler_container_bpf_cpu_time_us_total", COUNTER, 1.0)

GENERATIONS: Dict[str, Generation] = {
    g.id: g
    for g in (
        Generation(
            id="0.6",
            detect=("kepler_container_bpf_cpu_time_us_total",),
            features={**_features_06, **_SYSTEM_07},
            source_labels={"rapl-sysfs": ("rapl",), "acpi": ("acpi",)},
            node_info="kepler_node_info",
            package_ratio="kepler_container_cpu_usage_per_package_ratio",
            cgroup_cpu="kepler_container_cgroupfs_cpu_usage_us_total",
        ),
        Generation(
            id="0.7",
            detect=("kepler_container_bpf_cpu_time_ms_total", "kepler_process_bpf_cpu_time_ms_total")
            + tuple(f"kepler_node_{c}_joules_total" for c in ("package", "core", "uncore", "dram", "platform")),
            features={**_workload(), **_SYSTEM_07},
            source_labels={
                "rapl-sysfs": ("rapl-sysfs", "intel_rapl"),
                "rapl-msr": ("rapl-msr",),
                "acpi": ("acpi",),
                "redfish": ("redfish",),
                "hmc": ("hmc",),
                "trained_power_model": ("trained_power_model",),
            },
            node_info="kepler_node_info",
            package_ratio="kepler_container_cpu_usage_per_package_ratio",
            cgroup_cpu="kepler_container_cgroupfs_cpu_usage_us_total",
            vm_features={name: f"kepler_process_{name}_total" for name in _workload()},
        ),
        Generation(
            id="0.10",
            detect=("kepler_node_cpu_joules_total",),
            features={
                # Kepler's node CPU time: processes summed over `pid` (kepler-010.md §2.2)
                "bpf_cpu_time_ms": FeatureMetric("kepler_process_cpu_seconds_total", COUNTER, 1000.0),
                "cpu_usage_ratio": FeatureMetric("kepler_node_cpu_usage_ratio", NODE),
            },
            source_labels={},
            node_info=None,  # no integer node-type metric: the spec comes from `cpu_info`
            package_ratio=None,
            cgroup_cpu=None,
            # container_name third, as in 0.7's identity: the profile and trainer isolators read it there
            container_id_labels=("container_id", "pod_id", "container_name"),
            energy_id_labels=("zone", "path"),
            node_labels=("node_name", "exported_instance", "instance"),
            zone_energy=ZoneEnergy(
                total="kepler_node_cpu_joules_total",
                active="kepler_node_cpu_active_joules_total",
                idle="kepler_node_cpu_idle_joules_total",
                zones=(
                    ("package", "package"),
                    ("core", "core"),
                    ("uncore", "uncore"),
                    ("dram", "dram"),
                    ("psys", "platform"),
                ),
            ),
            cpu_time_fallback=FeatureMetric("kepler_container_cpu_seconds_total", COUNTER, 1000.0),
            process_id_labels=("pid",),
            cpu_info=CpuInfo("kepler_node_cpu_info"),
            build_info="kepler_build_info",
            vm_energy="kepler_vm_cpu_joules_total",
            process_energy="kepler_process_cpu_joules_total",
        ),
    )
}

# Order of the rules of kepler-metrics.md §4: first match wins.
DETECTION_ORDER = ("0.10", "0.6", "0.7")
DEFAULT_GENERATION = "0.7"


def detect_generation(metric_names: Iterable[str]) -> Optional[str]:
    """The generation whose detection names appear first by rule order; None when undecided."""
    names = set(metric_names)
    for generation_id in DETECTION_ORDER:
        if names & set(GENERATIONS[generation_id].detect):
            return generation_id
    return None


def energy_sources_in_order() -> Tuple[str, ...]:
    """Energy sources in the order of the validation table (query.md §8)."""
    return tuple(ENERGY_SOURCES)


# -- node_exporter's OS counters (kepler-010.md §3): read by exact name with query --os-selector
OS_BUSY, OS_RATE, OS_USED_RATIO, OS_GAUGE = "busy", "rate", "used ratio", "gauge"  # reductions to a node value
OS_CPU_LABEL, OS_MODE_LABEL = "cpu", "mode"
OS_BUSY_MODES = ("user", "nice", "system", "irq", "softirq")  # not idle, iowait, steal; guest is in user/nice
OS_INSTANCE_LABEL = "instance"  # a node model takes one node_exporter instance


@dataclass(frozen=True)
class OsCounter:
    """One `os_` feature: the node_exporter metrics it is reduced from, and how."""

    feature: str
    metrics: Tuple[str, ...]
    reduction: str
    unit_factor: float = 1.0


OS_COUNTERS: Tuple[OsCounter, ...] = (
    OsCounter("os_cpu_busy_ms", ("node_cpu_seconds_total",), OS_BUSY, 1000.0),
    OsCounter("os_context_switches", ("node_context_switches_total",), OS_RATE),
    OsCounter("os_interrupts", ("node_intr_total",), OS_RATE),
    OsCounter("os_page_faults", ("node_vmstat_pgfault",), OS_RATE),
    OsCounter("os_major_page_faults", ("node_vmstat_pgmajfault",), OS_RATE),
    # total first, then available: 1 - available / total
    OsCounter("os_memory_used_ratio", ("node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes"), OS_USED_RATIO),
    OsCounter("os_load1", ("node_load1",), OS_GAUGE),
    OsCounter("os_procs_running", ("node_procs_running",), OS_GAUGE),
)


def os_metric_names() -> Tuple[str, ...]:
    """Every node_exporter metric the OS features read, sorted (what query collects with --os-selector)."""
    return tuple(sorted({metric for counter in OS_COUNTERS for metric in counter.metrics}))


def spec_from_cpu_info(labels: Sequence[Mapping[str, Any]], info: Optional[CpuInfo] = None) -> Spec:
    """The machine spec the CPU info series give (kepler-010.md §1; query.md §5.4 for the processor).

    `processor` = the most frequent `model_name` (ties: the first in text order), normalised;
    `cores` = distinct `processor` label values; `chips` = distinct `physical_id` values; memory
    and frequency stay unknown. No series: every attribute unknown.
    """
    info = info or GENERATIONS["0.10"].cpu_info or CpuInfo("")
    spec = empty_spec()
    models = Counter(str(l[info.model_label]) for l in labels if l.get(info.model_label))
    if models:
        most = max(models.values())
        spec["processor"] = normalize_processor(min(m for m, n in models.items() if n == most)) or None
    cpus = {str(l[info.cpu_label]) for l in labels if l.get(info.cpu_label) not in (None, "")}
    chips = {str(l[info.chip_label]) for l in labels if l.get(info.chip_label) not in (None, "")}
    spec["cores"] = len(cpus) or None
    spec["chips"] = len(chips) or None
    return spec
