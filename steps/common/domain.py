"""Domain tables of train.md §3: feature groups, energy sources and components, output types, trainers.

Each table lives here once; every other module looks names up instead of spelling them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# -- features (train.md §3.1)
COUNTER_FEATURES = ("cache_miss", "cpu_cycles", "cpu_instructions")
BPF_FEATURES = ("bpf_cpu_time_ms", "bpf_page_cache_hit")
IRQ_FEATURES = ("bpf_block_irq", "bpf_net_rx_irq", "bpf_net_tx_irq")
ACCELERATOR_FEATURES = ("accelerator_intel_qat",)
SYSTEM_FEATURES = ("node_info", "cpu_scaling_frequency_hertz")
WORKLOAD_FEATURES = COUNTER_FEATURES + BPF_FEATURES + IRQ_FEATURES


@dataclass(frozen=True)
class FeatureGroup:
    """A named, fixed list of input features; `features` is already sorted (column order of X)."""

    name: str
    value: int
    features: Tuple[str, ...]
    main_feature: Optional[str]
    dram_main_feature: Optional[str]
    trainable: bool = True

    def main_index(self, component: str, features: Optional[Tuple[str, ...]] = None) -> int:
        """Column of the curve-fit input: the main feature (dram has its own), else the first."""
        features = features or self.features
        wanted = self.dram_main_feature if component == "dram" else self.main_feature
        return features.index(wanted) if wanted in features else 0


def _group(
    name: str, value: int, features: Tuple[str, ...], main: Optional[str], dram: Optional[str], trainable: bool = True
) -> FeatureGroup:
    return FeatureGroup(name, value, tuple(sorted(features)), main, dram, trainable)


FEATURE_GROUPS: Dict[str, FeatureGroup] = {
    g.name: g
    for g in (
        _group("Full", 1, WORKLOAD_FEATURES + ACCELERATOR_FEATURES + SYSTEM_FEATURES, "cpu_instructions", "cache_miss"),
        _group("WorkloadOnly", 2, WORKLOAD_FEATURES + ACCELERATOR_FEATURES, "cpu_instructions", "cache_miss"),
        _group("CounterOnly", 3, COUNTER_FEATURES, "cpu_instructions", "cache_miss"),
        _group("BPFOnly", 4, BPF_FEATURES, "bpf_cpu_time_ms", "bpf_page_cache_hit"),
        _group("IRQOnly", 5, (), None, None, trainable=False),
        _group("CounterIRQCombined", 6, COUNTER_FEATURES + IRQ_FEATURES, "cpu_instructions", "cache_miss"),
        _group("Basic", 7, COUNTER_FEATURES + BPF_FEATURES, "cpu_instructions", "cache_miss"),
        _group("BPFIRQ", 8, BPF_FEATURES + IRQ_FEATURES, "bpf_cpu_time_ms", "bpf_page_cache_hit"),
        _group("AcceleratorOnly", 9, ACCELERATOR_FEATURES, "accelerator_intel_qat", "accelerator_intel_qat"),
        _group("ThirdParty", 10, (), None, None),
    )
}

# Processing order of groups and of the "valid groups" list.
GROUP_ORDER = (
    "Full",
    "WorkloadOnly",
    "CounterOnly",
    "BPFOnly",
    "BPFIRQ",
    "CounterIRQCombined",
    "Basic",
    "AcceleratorOnly",
    "ThirdParty",
)


def feature_groups(thirdparty: Tuple[str, ...] = ()) -> List[FeatureGroup]:
    """Trainable groups in processing order; third-party names join WorkloadOnly and form ThirdParty."""
    groups = []
    for name in GROUP_ORDER:
        group = FEATURE_GROUPS[name]
        if name == "WorkloadOnly" and thirdparty:
            group = _group(
                name, group.value, group.features + tuple(thirdparty), group.main_feature, group.dram_main_feature
            )
        if name == "ThirdParty":
            if not thirdparty:
                continue
            ordered = tuple(sorted(thirdparty))
            group = FeatureGroup(name, group.value, ordered, ordered[0], ordered[0])
        groups.append(group)
    return groups


# -- energy sources (train.md §3.2)
@dataclass(frozen=True)
class EnergySource:
    name: str
    components: Tuple[str, ...]
    unit_label: Optional[str]  # "package" when components are measured per package


ENERGY_SOURCES: Dict[str, EnergySource] = {
    s.name: s
    for s in (
        EnergySource("rapl-sysfs", ("package", "core", "uncore", "dram"), "package"),
        EnergySource("rapl-msr", ("package", "core", "uncore", "dram"), "package"),
        EnergySource("acpi", ("platform",), None),
        EnergySource("hmc", ("platform",), None),
        EnergySource("redfish", ("platform",), None),
        EnergySource("trained_power_model", ("package", "core", "uncore", "dram"), "package"),
    )
}
SOURCE_ORDER = tuple(ENERGY_SOURCES)  # rapl-sysfs, rapl-msr, acpi, hmc, redfish, trained_power_model
DEFAULT_ENERGY_SOURCE = "rapl-sysfs"

# -- output types (train.md §3.3)
OUTPUT_TYPES = {"AbsPower": 1, "DynPower": 2}
ABS_POWER, DYN_POWER = "AbsPower", "DynPower"

# -- trainers (train.md §3.4): the implementations are one table in steps/train/trainers.py
TRAINER_NAMES = (
    "PolynomialRegressionTrainer",
    "GradientBoostingRegressorTrainer",
    "KNeighborsRegressorTrainer",
    "LinearRegressionTrainer",
    "SVRRegressorTrainer",
    "XgboostFitTrainer",
    "SGDRegressorTrainer",
    "LogarithmicRegressionTrainer",
    "LogisticRegressionTrainer",
    "ExponentialRegressionTrainer",
)
# Weight JSON that export publishes (export.md §4.3).
PUBLISHED_WEIGHT_TRAINERS = (
    "SGDRegressorTrainer",
    "LogarithmicRegressionTrainer",
    "LogisticRegressionTrainer",
    "ExponentialRegressionTrainer",
)

EXTRACTORS = ("default", "smooth")
ISOLATORS = ("none", "min", "profile", "trainer")
METRIC_GENERATIONS = ("auto", "0.6", "0.7", "0.10")


def model_name(trainer: str, node_type: int) -> str:
    return f"{trainer}_{node_type}"


def split_model_name(name: str) -> Tuple[str, int]:
    """`SGDRegressorTrainer_0` -> ("SGDRegressorTrainer", 0); the node type follows the last `_`."""
    trainer, _, node = name.rpartition("_")
    return trainer, int(node)


def model_metadata_columns(source: str) -> Tuple[str, ...]:
    """Columns of `<source>_<ot>_model_metadata.csv` after the index (workspace.md §3.11)."""
    components = ENERGY_SOURCES[source].components
    return (
        (
            "model_name",
            "trainer",
            "model_class",
            "model_file",
            "features",
            "fe_files",
            "output_type",
            "mae",
            "mape",
            "node_type",
        )
        + tuple(f"{c}_mae" for c in components)
        + tuple(f"{c}_mape" for c in components)
        + ("feature_group",)
    )
