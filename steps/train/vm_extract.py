"""VM models of Kepler >= 0.10 (kepler-010.md §4): each input's host targets per VM and guest features,
paired by the --vm-map (vm_pairing.py) and handed to the node pipeline as one InputData per VM.

- Targets (host; identity `vm_id`, `zone`): rates of `kepler_vm_cpu_joules_total`, or with
  `--vm-target process` of `kepler_process_cpu_joules_total` of the series with a `vm_id`, per
  `pid`; running sums, so no rate where a counter falls (zones.strict_rates); a zone summed over
  its series with the span rule (zones.span_sum). One power column `<component>_power` per zone.
- Guest features: the `os_` features of each node_exporter `instance` (os_features.py); from a
  Kepler in the guest (its `node_name`, never the host's), CPU time as rate x 1000 of
  `kepler_process_cpu_seconds_total` summed over `pid` and the usage ratio as it is.
- Each pair becomes an InputData like a node's: its zone power (total and active alike: the VM's
  share of the node's active energy) at the aligned timestamps, the guest's values as node values
  (CPU time as one counter identity), the host's machine spec and Kepler versions. VM models are
  DynPower only (`dyn_only`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.domain import CPU_TIME_FEATURE, ordered_components
from ..common.errors import StepError
from ..common.kepler_metrics import NODE, Generation, os_metric_names
from ..common.machine_spec import Spec
from .extract import (
    VM_ID_LABEL,
    Gauge,
    InputData,
    Warn,
    _gauge_mean,
    _node_of,
    _Reader,
    check_one_node,
    resolve_generation,
)
from .extract_010 import PROCESS, _spec, _versions
from .inputs import extract_input
from .os_features import instances, os_features
from .power import power_column
from .rates import Rates, counter_rates
from .series import RawMetric, finite_samples, label_key
from .vm_map import VmMode, target_metric
from .vm_pairing import TIMESTAMP, VmInput, VmPair, pair_vms, summary_lines
from .zones import ZonePower, span_sum, strict_rates

Series = Tuple[np.ndarray, np.ndarray]
GUEST_IDENTITY = "guest"  # the one container-level identity of a VM's rows
POWER_SUFFIX = power_column("", None)  # "_power"


def _series_table(features: Mapping[str, Series]) -> pd.DataFrame:
    """One row per timestamp of any feature; NaN where a feature has no value (no candidate row then)."""
    stamps = np.unique(np.concatenate([t for t, _ in features.values()])) if features else np.zeros(0)
    columns: Dict[str, np.ndarray] = {TIMESTAMP: stamps}
    for feature, (t, v) in features.items():
        values = np.full(stamps.size, np.nan)
        values[np.searchsorted(stamps, t)] = v
        columns[feature] = values
    return pd.DataFrame(columns)


def _target_raw(reader: _Reader, metric: str) -> Optional[RawMetric]:
    """The target metric's series that name a VM."""
    raw = reader.raw(metric)
    if raw is None:
        return None
    return raw.select(np.array([bool(l.get(VM_ID_LABEL)) for l in raw.labels], dtype=bool))


def host_targets(reader: _Reader, metric: str, per_pid: bool) -> Tuple[Dict[str, pd.DataFrame], List[str]]:
    """Per vm_id, `timestamp` and the power of each zone where every zone has a value; the host's nodes."""
    gen, ze = reader.gen, reader.gen.zone_energy
    raw = _target_raw(reader, metric)
    if raw is None or not raw.labels or ze is None:
        return {}, []
    check_one_node(reader.name, [raw], gen.node_labels)
    nodes = sorted({_node_of(l, gen.node_labels) for l in raw.labels} - {""})
    keys = (VM_ID_LABEL, ze.zone_label) + (tuple(gen.process_id_labels) if per_pid else ())
    found = strict_rates(reader.merge(raw, label_key(keys), metric, drop_negative=True))
    stamps = np.union1d(found.t, found.first[np.isfinite(found.first)])
    vm_of = [str(l.get(VM_ID_LABEL, "")) for l in found.labels]
    component_of = [ze.component_of(str(l.get(ze.zone_label, ""))) for l in found.labels]
    ignored = sorted({str(l.get(ze.zone_label, "")) for l, c in zip(found.labels, component_of) if c is None})
    if ignored:
        reader.warn(f"input {reader.name}: {metric} zone(s) {', '.join(ignored)} ignored (not RAPL zones)")
    targets: Dict[str, pd.DataFrame] = {}
    for vm_id in sorted(set(vm_of)):
        components = ordered_components({c for v, c in zip(vm_of, component_of) if v == vm_id and c})
        columns, valid = {}, np.ones(stamps.size, dtype=bool)
        for component in components:
            keep = np.array([v == vm_id and c == component for v, c in zip(vm_of, component_of)], dtype=bool)
            watts, ok = span_sum(found, found.rate, keep, stamps)
            columns[power_column(component, None)], valid = watts, valid & ok
        table = pd.DataFrame({TIMESTAMP: stamps, **columns})
        targets[vm_id] = table[valid].reset_index(drop=True)
    return targets, nodes


def _cpu_time(reader: _Reader, raw: RawMetric, factor: float, what: str) -> Series:
    """One node's CPU time: rates per `pid`, summed at each timestamp over the processes that have one."""
    merged = reader.merge(raw, label_key(reader.gen.process_id_labels), what, drop_negative=True)
    rates = counter_rates(merged, factor)
    stamps, inverse = np.unique(rates.t, return_inverse=True)
    return stamps, np.bincount(inverse, weights=rates.r, minlength=stamps.size)


def _of_node(raw: Optional[RawMetric], node: str, labels: Sequence[str]) -> Optional[RawMetric]:
    if raw is None:
        return None
    picked = raw.select(np.array([_node_of(l, labels) == node for l in raw.labels], dtype=bool))
    return picked if picked.labels else None


def guest_kepler(reader: _Reader, host_nodes: Sequence[str]) -> Dict[str, Dict[str, Series]]:
    """Per guest node_name (never a host's): CPU time (ms/s) and the usage ratio of a Kepler in the guest."""
    gen = reader.gen
    cpu = gen.features[CPU_TIME_FEATURE]
    raw = reader.raw(cpu.metric)
    if raw is None or not raw.labels:
        return {}
    guests = sorted({_node_of(l, gen.node_labels) for l in raw.labels} - set(host_nodes) - {""})
    found: Dict[str, Dict[str, Series]] = {}
    for guest in guests:
        what = f"{cpu.metric} of guest {guest}"
        features = {CPU_TIME_FEATURE: _cpu_time(reader, _of_node(raw, guest, gen.node_labels), cpu.unit_factor, what)}
        for feature, entry in gen.features.items():
            gauge = _of_node(reader.raw(entry.metric), guest, gen.node_labels) if entry.kind == NODE else None
            if gauge is not None:
                mean = _gauge_mean(gauge, finite_samples(gauge, reader.warn, f"input {reader.name} {what}"))
                features[feature] = (mean.t, mean.v)
        found[guest] = features
    return found


def guest_node_exporter(reader: _Reader) -> Dict[str, Dict[str, Series]]:
    """Per node_exporter `instance`: its `os_` features (the host's own instance too: the map decides)."""
    raws = {m: raw for m in os_metric_names() if (raw := reader.raw(m)) is not None and raw.labels}
    return {
        instance: os_features(raws, instance, reader.warn, f"input {reader.name} instance {instance}")
        for instance in instances(raws)
    }


@dataclass
class HostInput:
    """One input in VM mode: its plain tables for the pairing, and the host facts every VM of it shares."""

    tables: VmInput
    generation: Generation
    spec: Optional[Spec]
    versions: Tuple[str, ...]


def host_input(name: str, response: Mapping[str, list], gen: Generation, mode: VmMode, warn: Warn) -> HostInput:
    """One input's targets per vm_id and feature tables per guest identity, with the host's spec and versions."""
    reader = _Reader(name, response, gen, True, "", warn)
    metric = target_metric(mode.target, gen.vm_energy, gen.process_energy)
    targets, hosts = host_targets(reader, metric, per_pid=metric == gen.process_energy)
    guests = guest_node_exporter(reader)
    for guest, features in guest_kepler(reader, hosts).items():
        guests[guest] = {**guests.get(guest, {}), **features}
    tables = VmInput(name, targets, {g: _series_table(f) for g, f in guests.items() if f})
    return HostInput(tables, gen, _spec(reader), _versions(reader))


def _one_identity(t: np.ndarray, r: np.ndarray) -> Rates:
    """A guest's summed CPU time as the rates of one identity (the node's container-level row)."""
    ends = (np.array([t[0]]), np.array([t[-1]])) if t.size else (np.full(1, np.nan), np.full(1, np.nan))
    return Rates([GUEST_IDENTITY], [{}], np.zeros(t.size, dtype=np.int64), t, r, *ends)


def pair_data(pair: VmPair, host: HostInput) -> InputData:
    """One paired VM as an InputData of the node pipeline (module docstring)."""
    gen, table = host.generation, pair.table
    t = table[TIMESTAMP].to_numpy(dtype=float)
    counters: Dict[str, Rates] = {}
    node_values: Dict[str, Gauge] = {}
    for feature in pair.features:
        values = table[feature].to_numpy(dtype=float)
        if feature == CPU_TIME_FEATURE:
            counters[feature] = _one_identity(t, values)
        else:
            node_values[feature] = Gauge(t, values)
    metrics = {f: f"{f} of guest {pair.guest}" for f in pair.features}
    data = InputData(
        f"{pair.input} vm {pair.vm_id}",
        gen.id,
        {},
        counters,
        {},
        {},
        None,
        None,
        metrics,
        dict.fromkeys(metrics, t.size),
    )
    components = tuple(c[: -len(POWER_SUFFIX)] for c in pair.powers)
    power = {c: (table[power_column(c, None)].to_numpy(dtype=float), np.ones(t.size, dtype=bool)) for c in components}
    data.zones = ZonePower(components, t, dict(power), dict(power))
    data.zone_source = gen.zone_energy.source if gen.zone_energy is not None else None
    data.node_values, data.spec, data.kepler_versions = node_values, host.spec, host.versions
    data.cpu_time_source = PROCESS if counters else None
    return data


def vm_inputs(
    inputs: Sequence[Tuple[str, Mapping[str, list]]], generation: str, mode: VmMode, warn: Warn, info: Any
) -> List[InputData]:
    """Every paired VM of the inputs as an InputData; the pairing's summary lines and the inputs'
    generations into `info` (prepare.PrepareInfo). Inputs before Kepler 0.10, a coverage gap of the
    map or no pair at all: StepError (exit 1)."""
    hosts: List[HostInput] = []
    for name, response in inputs:
        gen = resolve_generation(name, response, generation)
        if gen.zone_energy is None:
            raise StepError(
                f"input {name} holds Kepler {gen.id} metrics; --vm-map pairs guests with the VMs of Kepler >= 0.10 "
                "(for older Kepler use --vm-train without a map)"
            )
        info.generations[name] = gen.id
        hosts.append(host_input(name, response, gen, mode, warn))
    pairing = pair_vms(mode.map, [h.tables for h in hosts])
    if not pairing.pairs:
        raise StepError(
            f"vm map {mode.map.source}: no VM has its host series and its guest's series in one input; "
            "query each host with its guests"
        )
    info.vm_lines = summary_lines(pairing)
    by_name = {h.tables.name: h for h in hosts}
    return [pair_data(pair, by_name[pair.input]) for pair in pairing.pairs]


def extract_inputs(
    inputs: Sequence[Tuple[str, Mapping[str, list]]],
    sources: Sequence[str],
    generation: str,
    thirdparty: Sequence[str],
    vm: bool,
    vm_job_name: str,
    warn: Warn,
    vm_mode: Optional[VmMode],
    info: Any,
) -> List[InputData]:
    """The InputData of train.md §2 step 3: one per input, or with a VM map one per paired VM (`vm_inputs`)."""
    if vm_mode is None:
        return [extract_input(n, r, sources, generation, thirdparty, vm, vm_job_name, warn) for n, r in inputs]
    if thirdparty:
        warn("--thirdparty-metrics ignored with --vm-map: VM models take the guests' features")
    return vm_inputs(inputs, generation, vm_mode, warn, info)
