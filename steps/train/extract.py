"""Per-input extraction (train.md §6.1-§6.4): generation check, one-node rule, merged series and rates.

`extract_input` turns one query response into an `InputData` of numpy columns; the power table,
features and assembled tables are computed from it by power.py, features.py and assemble.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..common.domain import ENERGY_SOURCES, SYSTEM_FEATURES, WORKLOAD_FEATURES
from ..common.errors import StepError
from ..common.kepler_metrics import GENERATIONS, Generation, detect_generation
from ..common.machine_spec import Spec
from .node_types import NodeInfo, NodeInfoConflict
from .rates import Rates, counter_rates
from .series import RawMetric, SeriesSet, finite_samples, flatten_metric, label_key, merge_series

Warn = Callable[[str], None]
DEFAULT_VM_JOB_NAME = "vm"
ACCELERATOR_FEATURE = "accelerator_intel_qat"
ACCELERATOR_TYPE_LABEL = "type"
VM_ID_LABEL = "vm_id"
VM_FEATURE_ID_LABELS = ("container_id", "pid")


def resolve_generation(name: str, response: Mapping[str, list], forced: str = "auto") -> Generation:
    """The input's generation (kepler-metrics.md §4); an undecided input stops train."""
    if forced and forced != "auto":
        generation_id: Optional[str] = forced
    else:
        generation_id = detect_generation(metric for metric, series in response.items() if series)
        if generation_id is None:
            generation_id = detect_generation(response.keys())
    if generation_id is None:
        raise StepError(
            f"cannot tell the Kepler metric generation of input {name}: none of its metric names is "
            "characteristic; give --metric-generation 0.6, 0.7 or 0.10"
        )
    generation = GENERATIONS.get(generation_id)
    if generation is None:
        raise StepError(f"unknown metric generation {generation_id!r}")
    return generation


@dataclass
class Gauge:
    """Per-timestamp values of one gauge column (already summed or averaged over series)."""

    t: np.ndarray
    v: np.ndarray


@dataclass
class InputData:
    """Everything extraction needs from one input, as columns."""

    name: str
    generation: str
    energy: Dict[str, Dict[str, SeriesSet]]  # source -> component -> merged energy samples
    counters: Dict[str, Rates]  # workload feature (or third-party counter) -> per-container rates
    gauges: Dict[str, Dict[str, Gauge]]  # gauge feature -> column name -> summed values
    system: Dict[str, Gauge]  # system feature -> mean over series
    ratio: Optional[SeriesSet]  # per-package usage ratio, identity "<container id>|<package>"
    node_info: NodeInfo  # None when absent; a NodeInfoConflict is resolved (or raised) with the node types
    feature_metrics: Dict[str, str]  # feature -> metric name it maps to
    feature_samples: Dict[str, int]  # feature -> most finite samples of one relevant series
    cache: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # derived arrays (features.py)
    # Kepler 0.10 on (extract_010.py): node values (usage ratio, OS counters), zone power, the spec of
    # kepler_node_cpu_info, where CPU time came from, the Kepler versions of kepler_build_info.
    node_values: Dict[str, Gauge] = field(default_factory=dict)
    zones: Any = None  # zones.ZonePower; its source is the generation's zone source
    zone_source: Optional[str] = None
    spec: Optional[Spec] = None
    cpu_time_source: Optional[str] = None  # "process" | "container"
    kepler_versions: Tuple[str, ...] = ()

    def feature_valid(self, feature: str) -> bool:
        return self.feature_samples.get(feature, 0) >= 2

    def source_has_data(self, source: str) -> bool:
        if self.zones is not None:
            return source == self.zone_source and bool(self.zones.components)
        return any(len(s) for s in self.energy.get(source, {}).values())

    @property
    def components(self) -> Tuple[str, ...]:
        """0.10: the zones present, as components in order; () for 0.6/0.7 (the source's own)."""
        return tuple(self.zones.components) if self.zones is not None else ()


def _node_of(labels: Mapping[str, str], node_labels: Sequence[str]) -> str:
    for name in node_labels:
        value = labels.get(name)
        if value:
            return str(value)
    return ""


def check_one_node(name: str, raws: Sequence[RawMetric], node_labels: Sequence[str]) -> None:
    """Stop when series of two nodes have samples at a common timestamp (train.md §6.1)."""
    node_codes: Dict[str, int] = {}
    codes, times = [], []
    for raw in raws:
        per_series = np.array(
            [node_codes.setdefault(_node_of(l, node_labels), len(node_codes)) for l in raw.labels], dtype=np.int64
        )
        if per_series.size:
            finite = np.isfinite(raw.v)
            codes.append(per_series[raw.series[finite]])
            times.append(raw.t[finite])
    if len(node_codes) < 2 or not codes:
        return
    pairs = np.unique(np.stack([np.concatenate(times), np.concatenate(codes).astype(np.float64)]), axis=1)
    stamps, counts = np.unique(pairs[0], return_counts=True)
    shared = stamps[counts > 1]
    if shared.size:
        at_shared = np.isin(pairs[0], shared)
        names = {code: node for node, code in node_codes.items()}
        nodes = sorted({names[int(c)] or "(no node label)" for c in pairs[1][at_shared]})
        raise StepError(
            f"input {name} holds energy series of {len(nodes)} nodes ({', '.join(nodes)}); "
            "collect one node per query (query --selector)"
        )


def _node_info(name: str, raw: Optional[RawMetric], finite: np.ndarray) -> NodeInfo:
    """The one non-negative integer of the node-info metric's finite samples, None when there is none.

    Non-finite samples are ignored (counted by the caller); other disagreeing values are a
    NodeInfoConflict, which only stops train when no machine spec decides the node type (train.md §5.1).
    """
    if raw is None:
        return None
    values = np.unique(raw.v[finite])
    if values.size == 0:
        return None
    if values.size != 1 or values[0] < 0 or values[0] != int(values[0]):
        return NodeInfoConflict(name, tuple(float(v) for v in values))
    return int(values[0])


def _gauge_sum(raw: RawMetric, finite: np.ndarray, split_label: Optional[str], column_prefix: str) -> Dict[str, Gauge]:
    """Gauge series summed per timestamp, one column per value of `split_label` when given."""
    columns: Dict[str, Gauge] = {}
    keys = [column_prefix if split_label is None else f"{column_prefix}_{l.get(split_label, '')}" for l in raw.labels]
    for column in sorted(set(keys)):
        keep_series = np.array([k == column for k in keys], dtype=bool)
        rows = finite & keep_series[raw.series]
        t, inverse = np.unique(raw.t[rows], return_inverse=True)
        columns[column] = Gauge(t, np.bincount(inverse, weights=raw.v[rows], minlength=t.size))
    return columns


def _gauge_mean(raw: RawMetric, finite: np.ndarray) -> Gauge:
    t, inverse = np.unique(raw.t[finite], return_inverse=True)
    total = np.bincount(inverse, weights=raw.v[finite], minlength=t.size)
    count = np.bincount(inverse, minlength=t.size)
    return Gauge(t, total / np.maximum(count, 1))


def _max_samples(raw: RawMetric) -> int:
    counts = raw.sample_counts
    return int(counts.max()) if counts.size else 0


class _Reader:
    """One input's metrics, each flattened once; a gauge's bad samples are reported once per input."""

    def __init__(
        self, name: str, response: Mapping[str, list], gen: Generation, vm: bool, vm_job_name: str, warn: Warn
    ) -> None:
        self.name, self.response, self.gen = name, response, gen
        self.vm, self.vm_job_name, self.warn = vm, vm_job_name, warn
        self._raws: Dict[str, RawMetric] = {}
        self._finite: Dict[str, np.ndarray] = {}

    def raw(self, metric: Optional[str]) -> Optional[RawMetric]:
        """The metric's samples as columns; None when the input lacks it."""
        if metric is None or metric not in self.response:
            return None
        if metric not in self._raws:
            self._raws[metric] = flatten_metric(self.response[metric])
        return self._raws[metric]

    def finite(self, metric: str) -> np.ndarray:
        """Finite samples of a gauge metric read whole (after `raw`)."""
        if metric not in self._finite:
            self._finite[metric] = finite_samples(self._raws[metric], self.warn, f"input {self.name} {metric}")
        return self._finite[metric]

    def merge(self, raw: RawMetric, identity: Callable, metric: str, drop_negative: bool) -> SeriesSet:
        """`merge_series` with this input's warnings."""
        return merge_series(
            raw, identity, drop_negative=drop_negative, warn=self.warn, what=f"input {self.name} {metric}"
        )


@dataclass
class _Features:
    """The feature part of an InputData, filled feature by feature (§6.4)."""

    metrics: Dict[str, str] = field(default_factory=dict)
    samples: Dict[str, int] = field(default_factory=dict)
    counters: Dict[str, Rates] = field(default_factory=dict)
    gauges: Dict[str, Dict[str, Gauge]] = field(default_factory=dict)
    system: Dict[str, Gauge] = field(default_factory=dict)


def extract_pre_010(
    name: str,
    response: Mapping[str, list],
    gen: Generation,
    sources: Sequence[str],
    thirdparty: Sequence[str],
    vm: bool,
    vm_job_name: str,
    warn: Warn,
) -> InputData:
    """Flatten and validate one 0.6/0.7 input (steps 3 of train.md §2) into columns (steps/train/inputs.py
    chooses this or extract_010 by the input's generation)."""
    reader = _Reader(name, response, gen, vm, vm_job_name, warn)
    energy = _energy(reader, sources)
    features = _Features()
    _workload_features(reader, features)
    _gauge_features(reader, features, thirdparty)
    ratio = None
    if not vm and gen.package_ratio and response.get(gen.package_ratio):
        ratio_identity = label_key(tuple(gen.container_id_labels) + ("package",))
        ratio = reader.merge(reader.raw(gen.package_ratio), ratio_identity, gen.package_ratio, drop_negative=False)
    node_info_raw = reader.raw(gen.node_info) if gen.node_info else None
    node_info = _node_info(name, node_info_raw, reader.finite(gen.node_info)) if node_info_raw is not None else None
    return InputData(
        name,
        gen.id,
        energy,
        features.counters,
        features.gauges,
        features.system,
        ratio,
        node_info,
        features.metrics,
        features.samples,
    )


def _energy(reader: _Reader, sources: Sequence[str]) -> Dict[str, Dict[str, SeriesSet]]:
    """Merged energy samples per source and component (§6.1): identity (package, mode), or (vm_id, package, mode)."""
    gen, vm = reader.gen, reader.vm
    components = []
    for source in sources:
        for component in ENERGY_SOURCES[source].components:
            if component not in components:
                components.append(component)
    node_labels: Sequence[str] = (VM_ID_LABEL,) if vm else gen.node_labels
    energy_identity = label_key(((VM_ID_LABEL,) if vm else ()) + tuple(gen.energy_id_labels))
    energy_raws: Dict[str, RawMetric] = {}
    for component in components:
        metric_raw = reader.raw(gen.energy_metric(component, vm=vm))
        if metric_raw is not None and metric_raw.labels:
            energy_raws[component] = metric_raw
    check_one_node(reader.name, list(energy_raws.values()), node_labels)
    energy: Dict[str, Dict[str, SeriesSet]] = {}
    for source in sources:
        per_component: Dict[str, SeriesSet] = {}
        for component in ENERGY_SOURCES[source].components:
            metric_raw = energy_raws.get(component)
            if metric_raw is None:
                continue
            if not vm:
                keep = np.array([gen.source_of(l.get("source")) == source for l in metric_raw.labels], dtype=bool)
                metric_raw = metric_raw.select(keep)
            if metric_raw.labels:
                metric = gen.energy_metric(component, vm=vm)
                per_component[component] = reader.merge(metric_raw, energy_identity, metric, drop_negative=True)
        energy[source] = per_component
    return energy


def _add_counter(reader: _Reader, features: _Features, feature: str, metric: str, factor: float) -> None:
    """A counter feature: per-container rates of the metric's container series (VM series with --vm-train)."""
    features.metrics[feature] = metric
    metric_raw = reader.raw(metric)
    if metric_raw is None:
        return
    jobs = np.array([l.get("job") == reader.vm_job_name for l in metric_raw.labels], dtype=bool)
    metric_raw = metric_raw.select(jobs if reader.vm else ~jobs)
    features.samples[feature] = _max_samples(metric_raw)
    identity = label_key(VM_FEATURE_ID_LABELS if reader.vm else reader.gen.container_id_labels)
    features.counters[feature] = counter_rates(reader.merge(metric_raw, identity, metric, drop_negative=True), factor)


def _workload_features(reader: _Reader, features: _Features) -> None:
    """The workload counters of the generation (or its VM metrics)."""
    gen = reader.gen
    for feature in WORKLOAD_FEATURES:
        if reader.vm:
            metric = gen.vm_features.get(feature)
            factor = 1.0
        else:
            entry = gen.features.get(feature)
            metric, factor = (entry.metric, entry.unit_factor) if entry else (None, 1.0)
        if metric is None:
            features.metrics[feature] = f"(no {feature} metric in Kepler {gen.id})"
            continue
        _add_counter(reader, features, feature, metric, factor)


def _gauge_features(reader: _Reader, features: _Features, thirdparty: Sequence[str]) -> None:
    """The accelerator gauge, the system features and the third-party metrics (counters or gauges)."""
    gen = reader.gen
    accelerator = gen.features.get(ACCELERATOR_FEATURE)
    if accelerator is not None:
        features.metrics[ACCELERATOR_FEATURE] = accelerator.metric
        metric_raw = reader.raw(accelerator.metric)
        if metric_raw is not None:
            features.samples[ACCELERATOR_FEATURE] = _max_samples(metric_raw)
            features.gauges[ACCELERATOR_FEATURE] = _gauge_sum(
                metric_raw, reader.finite(accelerator.metric), ACCELERATOR_TYPE_LABEL, ACCELERATOR_FEATURE
            )
    for feature in SYSTEM_FEATURES:
        entry = gen.features.get(feature)
        if entry is None:
            continue
        features.metrics[feature] = entry.metric
        metric_raw = reader.raw(entry.metric)
        if metric_raw is not None:
            features.samples[feature] = _max_samples(metric_raw)
            features.system[feature] = _gauge_mean(metric_raw, reader.finite(entry.metric))
    id_labels = VM_FEATURE_ID_LABELS if reader.vm else gen.container_id_labels
    for metric in thirdparty:
        metric_raw = reader.raw(metric)
        features.metrics[metric] = metric
        if metric_raw is None:
            continue
        if metric_raw.labels and all(all(k in l for k in id_labels) for l in metric_raw.labels):
            _add_counter(reader, features, metric, metric, 1.0)
        else:
            features.samples[metric] = _max_samples(metric_raw)
            features.gauges[metric] = _gauge_sum(metric_raw, reader.finite(metric), None, metric)


def container_name_of(identity: str) -> str:
    """The third part of a container identity `container_id/pod_name/container_name/container_namespace`."""
    parts = identity.split("/")
    return parts[2] if len(parts) > 2 else ""


def background_container_names(
    response: Mapping[str, list], generation: str = "auto", name: str = "idle", vm_job_name: str = DEFAULT_VM_JOB_NAME
) -> List[str]:
    """`container_name` values of the CPU-time feature series of the idle input (train.md §7.3).

    0.10: those of the container CPU-time metric (process series name no container).
    """
    gen = resolve_generation(name, response, generation)
    names = set()
    for series in response.get(gen.container_cpu_time_metric) or []:
        labels = series.get("metric") or {}
        if labels.get("job") != vm_job_name and "container_name" in labels:
            names.add(str(labels["container_name"]))
    return sorted(names)
