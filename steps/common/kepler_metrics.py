"""The one table of Kepler metric names per generation (kepler-metrics.md). No other module spells a metric."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Tuple

from .domain import ENERGY_SOURCES

COUNTER, GAUGE, SYSTEM = "counter", "gauge", "system"
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
    supported_by_train: bool = True
    vm_features: Mapping[str, str] = field(default_factory=dict)

    def energy_metric(self, component: str, vm: bool = False) -> str:
        """`kepler_node_<component>_joules_total`, or the VM metric with --vm-train."""
        if self.id == "0.10":
            return "kepler_node_cpu_joules_total"
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
                "bpf_cpu_time_ms": FeatureMetric("kepler_container_cpu_seconds_total", COUNTER, 1000.0),
                "node_info": FeatureMetric("kepler_node_cpu_info", SYSTEM),
            },
            source_labels={},
            node_info="kepler_node_cpu_info",
            package_ratio=None,
            cgroup_cpu=None,
            container_id_labels=("container_id", "container_name", "pod_id"),
            energy_id_labels=("zone", "path"),
            node_labels=("node_name",),
            supported_by_train=False,
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
