"""Per-input extraction of Kepler 0.10 data (kepler-010.md §1-§3): zones, CPU time, node values, spec.

The result is an `InputData` like a 0.6/0.7 input's, so that groups, node types, assembly,
isolation and fitting work unchanged: zone power (zones.py) stands for the energy series, CPU time
is a per-identity counter (processes per `pid`; containers only when no process series exist), and
the usage ratio and node_exporter's OS counters are node values (one value per timestamp, never
summed over containers). The functions for targets (`zone_energy`) and OS features
(`os_node_values`) take one input's metrics and serve the VM part as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..common.domain import CPU_TIME_FEATURE, ordered_components
from ..common.errors import StepError
from ..common.kepler_metrics import (
    NODE,
    OS_COUNTERS,
    FeatureMetric,
    Generation,
    ZoneEnergy,
    os_metric_names,
    spec_from_cpu_info,
)
from ..common.machine_spec import Spec, known_attributes
from .extract import (
    Gauge,
    InputData,
    Warn,
    _Features,
    _gauge_features,
    _gauge_mean,
    _max_samples,
    _Reader,
    check_one_node,
)
from .os_features import feature_metric_names, instances, os_features
from .rates import counter_rates
from .series import RawMetric, label_key
from .zones import ZonePower, zone_power, zone_rates

PROCESS, CONTAINER = "process", "container"  # where CPU time came from (model metadata `cpu_time_source`)
NO_OS_METRICS = "node_exporter metrics (query --os-selector)"


@dataclass
class Zones:
    """One input's zone power and the zone values it ignored."""

    power: Optional[ZonePower]
    ignored: List[str]


def _zone_raws(reader: _Reader, ze: ZoneEnergy, metrics: Sequence[str]) -> Tuple[Dict[str, RawMetric], List[str]]:
    """Each energy metric's series of known zones; the unknown zone values seen."""
    raws: Dict[str, RawMetric] = {}
    ignored = set()
    for metric in metrics:
        raw = reader.raw(metric)
        if raw is None or not raw.labels:
            continue
        zones = [str(l.get(ze.zone_label, "")) for l in raw.labels]
        ignored.update(z for z in zones if ze.component_of(z) is None)
        raws[metric] = raw.select(np.array([ze.component_of(z) is not None for z in zones], dtype=bool))
    return raws, sorted(ignored)


def zone_energy(reader: _Reader, ze: ZoneEnergy) -> Zones:
    """Power per zone from the total, active and idle counters (zones.py), one node checked."""
    raws, ignored = _zone_raws(reader, ze, (ze.total, ze.active, ze.idle))
    check_one_node(reader.name, list(raws.values()), reader.gen.node_labels)
    identity = label_key((ze.zone_label, ze.path_label))
    merged = {
        metric: reader.merge(raw, identity, metric, drop_negative=True) for metric, raw in raws.items() if raw.labels
    }
    total = merged.get(ze.total)
    if total is None or len(total) == 0:
        return Zones(None, ignored)
    present = {ze.component_of(str(l.get(ze.zone_label, ""))) for l in total.labels}
    components = ordered_components(c for c in present if c)
    rates = zone_rates(total, merged.get(ze.active), merged.get(ze.idle))
    return Zones(zone_power(rates, dict(ze.zones), ze.zone_label, components), ignored)


def _vm_series(reader: _Reader, raw: Optional[RawMetric]) -> Optional[RawMetric]:
    """Series of the node (those of the VM job are not: train.md §6.1)."""
    if raw is None:
        return None
    return raw.select(np.array([l.get("job") != reader.vm_job_name for l in raw.labels], dtype=bool))


def _cpu_time(reader: _Reader, features: _Features) -> Optional[str]:
    """CPU time per process (summed over `pid`), else per container; never both. Its source, None if absent."""
    gen = reader.gen
    process = gen.features[CPU_TIME_FEATURE]
    choices: List[Tuple[str, FeatureMetric, Tuple[str, ...]]] = [(PROCESS, process, gen.process_id_labels)]
    if gen.cpu_time_fallback is not None:
        choices.append((CONTAINER, gen.cpu_time_fallback, gen.container_id_labels))
    features.metrics[CPU_TIME_FEATURE] = process.metric
    for source, entry, identity in choices:
        raw = _vm_series(reader, reader.raw(entry.metric))
        if raw is None or _max_samples(raw) == 0:
            continue
        if source == CONTAINER:
            reader.warn(
                f"input {reader.name}: no {process.metric}; CPU time from {entry.metric} "
                "(processes outside containers are not counted)"
            )
        features.metrics[CPU_TIME_FEATURE] = entry.metric
        features.samples[CPU_TIME_FEATURE] = _max_samples(raw)
        merged = reader.merge(raw, label_key(identity), entry.metric, drop_negative=True)
        features.counters[CPU_TIME_FEATURE] = counter_rates(merged, entry.unit_factor)
        return source
    return None


def _node_gauges(reader: _Reader, features: _Features) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """The generation's node-value gauges (the usage ratio) as they are: mean over series per timestamp."""
    values = {}
    for feature, entry in reader.gen.features.items():
        if entry.kind != NODE:
            continue
        features.metrics[feature] = entry.metric
        raw = reader.raw(entry.metric)
        if raw is None or not raw.labels:
            continue
        features.samples[feature] = _max_samples(raw)
        gauge = _gauge_mean(raw, reader.finite(entry.metric))
        values[feature] = (gauge.t, gauge.v)
    return values


def os_node_values(
    name: str, raws: Mapping[str, RawMetric], warn: Warn, instance: Optional[str] = None
) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """The `os_` features of one node_exporter instance; without `instance`, the input must hold one (exit 1)."""
    found = instances(raws)
    if instance is None and len(found) > 1:
        raise StepError(
            f"input {name} holds node_exporter series of {len(found)} instances ({', '.join(found)}); a node "
            "model takes one: collect with query --os-selector matching one instance"
        )
    return os_features(raws, instance, warn, f"input {name}")


def _os(reader: _Reader, features: _Features) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    raws = {m: raw for m in os_metric_names() if (raw := reader.raw(m)) is not None and raw.labels}
    for counter in OS_COUNTERS:
        features.metrics[counter.feature] = feature_metric_names(counter) if raws else NO_OS_METRICS
    if not raws:
        return {}
    values = os_node_values(reader.name, raws, reader.warn)
    for feature, (t, _) in values.items():
        features.samples[feature] = int(t.size)
    return values


def extract_010(
    name: str,
    response: Mapping[str, list],
    gen: Generation,
    sources: Sequence[str],
    thirdparty: Sequence[str],
    vm: bool,
    vm_job_name: str,
    warn: Warn,
) -> InputData:
    """One 0.10 input as InputData (train.md §2 step 3)."""
    if vm:
        raise StepError(
            f"input {name}: VM models from Kepler >= 0.10 data (--vm-train, kepler-010.md §4) are not supported yet"
        )
    ze = gen.zone_energy
    if ze is None:
        raise StepError(f"input {name}: Kepler {gen.id} metrics have no zones")
    reader = _Reader(name, response, gen, False, vm_job_name, warn)
    energy = zone_energy(reader, ze) if ze.source in sources else Zones(None, [])
    if energy.ignored:
        warn(f"input {name}: {ze.total} zone(s) {', '.join(energy.ignored)} ignored (not RAPL zones)")
    features = _Features()
    source = _cpu_time(reader, features)
    node_values = {**_node_gauges(reader, features), **_os(reader, features)}
    _gauge_features(reader, features, thirdparty)
    data = InputData(
        name,
        gen.id,
        {},
        features.counters,
        features.gauges,
        features.system,
        None,
        None,
        features.metrics,
        features.samples,
    )
    data.node_values = {feature: Gauge(t, v) for feature, (t, v) in node_values.items()}
    data.zones = energy.power
    data.zone_source = ze.source
    data.cpu_time_source = source
    data.spec = _spec(reader)
    data.kepler_versions = _versions(reader)
    return data


def _spec(reader: _Reader) -> Optional[Spec]:
    """The machine spec of kepler_node_cpu_info (None without its series or any known attribute)."""
    info = reader.gen.cpu_info
    raw = reader.raw(info.metric) if info is not None else None
    if raw is None or not raw.labels:
        return None
    spec = spec_from_cpu_info(raw.labels, info)
    return spec if known_attributes(spec) else None


def _versions(reader: _Reader) -> Tuple[str, ...]:
    """The `version` values of kepler_build_info, sorted."""
    raw = reader.raw(reader.gen.build_info)
    label = reader.gen.build_version_label
    if raw is None:
        return ()
    return tuple(sorted({str(l[label]) for l in raw.labels if l.get(label)}))
