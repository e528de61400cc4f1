"""Feature groups valid for every input (train.md §4) and per-container feature rows (§6.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..common.domain import SYSTEM_FEATURES, FeatureGroup
from ..common.errors import StepError
from .extract import ACCELERATOR_FEATURE, InputData


@dataclass
class GroupChoice:
    """The groups trained, and those dropped with the metrics missing from which inputs."""

    valid: List[FeatureGroup]
    dropped: List[Tuple[FeatureGroup, Dict[str, List[str]]]]  # group, metric -> inputs lacking it

    def dropped_lines(self) -> List[str]:
        lines = []
        for group, missing in self.dropped:
            parts = [f"{metric} (in {', '.join(inputs)})" for metric, inputs in missing.items()]
            lines.append(f"group {group.name} dropped: missing {'; '.join(parts)}")
        return lines


def choose_groups(groups: Sequence[FeatureGroup], inputs: Sequence[InputData]) -> GroupChoice:
    """A group is valid when each of its features' metrics has a series with >= 2 samples in every input."""
    valid, dropped = [], []
    for group in groups:
        missing: Dict[str, List[str]] = {}
        for feature in group.features:
            for data in inputs:
                if not data.feature_valid(feature):
                    metric = data.feature_metrics.get(feature, feature)
                    lacking = missing.setdefault(metric, [])
                    if data.name not in lacking:  # features sharing a source (OS counters) are named once
                        lacking.append(data.name)
        if missing:
            dropped.append((group, missing))
        else:
            valid.append(group)
    if not valid:
        fewest = min(len(m) for _, m in dropped) if dropped else 0
        smallest = [(g, m) for g, m in dropped if len(m) == fewest]
        detail = "; ".join(f"{g.name} needs {', '.join(sorted(m))}" for g, m in smallest)
        raise StepError(f"no feature group is valid for every input: {detail or 'no trainable group'}")
    return GroupChoice(valid, dropped)


def group_columns(group: FeatureGroup, inputs: Sequence[InputData]) -> Tuple[str, ...]:
    """The group's feature columns: `accelerator_intel_qat` replaced by its `_<type>` columns (§6.4)."""
    columns: List[str] = []
    for feature in group.features:
        if feature == ACCELERATOR_FEATURE:
            types = sorted({c for d in inputs for c in d.gauges.get(feature, {})})
            columns.extend(types or [feature])
        else:
            columns.append(feature)
    return tuple(columns)


def has_gauges(group: FeatureGroup, inputs: Sequence[InputData]) -> bool:
    """Groups with gauge features get no DynPower models (§6.4)."""
    return any(feature in d.gauges for feature in group.features for d in inputs)


def counter_features(group: FeatureGroup, data: InputData) -> List[str]:
    """The group's features that are counters (per-container rates) in this input."""
    return [f for f in group.features if f in data.counters]


@dataclass
class ContainerRows:
    """Per-container feature rows of one input and group, sorted by (time, id)."""

    ids: List[str]  # sorted identity strings; `code` indexes them
    code: np.ndarray
    t: np.ndarray
    values: Dict[str, np.ndarray]  # counter feature -> rate (0 where the container has none for it)


def _counter_keys(data: InputData) -> Tuple[np.ndarray, List[str], Dict[str, np.ndarray]]:
    """Per input, once: counter timestamps, sorted container ids, and per feature the row keys t_index * n_ids + id."""
    cached = data.cache.get("counter_keys")
    if cached is not None:
        return cached
    present = [f for f in data.counters if len(data.counters[f])]
    ids = sorted({i for f in present for i in data.counters[f].identities})
    position = {identity: n for n, identity in enumerate(ids)}
    if present:
        stamps, inverse = np.unique(np.concatenate([data.counters[f].t for f in present]), return_inverse=True)
    else:
        stamps, inverse = np.zeros(0), np.zeros(0, dtype=np.int64)
    keys: Dict[str, np.ndarray] = {}
    offset = 0
    for feature in present:
        rates = data.counters[feature]
        to_global = np.array([position[i] for i in rates.identities], dtype=np.int64)
        time_index = inverse[offset : offset + rates.t.size].astype(np.int64)
        offset += rates.t.size
        keys[feature] = time_index * np.int64(max(len(ids), 1)) + to_global[rates.code]
    cached = (stamps, ids, keys)
    data.cache["counter_keys"] = cached
    return cached


def container_rows(data: InputData, features: Sequence[str]) -> ContainerRows:
    """One row per (t, id) where the container has a rate for at least one of the features."""
    stamps, ids, all_keys = _counter_keys(data)
    present = [f for f in features if f in all_keys]
    if not present:
        return ContainerRows([], np.zeros(0, dtype=np.int64), np.zeros(0), {f: np.zeros(0) for f in features})
    first = all_keys[present[0]]
    if all(all_keys[f].size == first.size and np.array_equal(all_keys[f], first) for f in present[1:]):
        # Common case: every feature has rates for the same (t, id) rows.
        order = np.argsort(first, kind="stable")
        keys = first[order]
        values = {f: data.counters[f].r[order] if f in all_keys else np.zeros(keys.size) for f in features}
    else:
        keys, inverse = np.unique(np.concatenate([all_keys[f] for f in present]), return_inverse=True)
        values = {f: np.zeros(keys.size) for f in features}
        offset = 0
        for feature in present:
            size = all_keys[feature].size
            values[feature][inverse[offset : offset + size]] = data.counters[feature].r
            offset += size
    n_ids = np.int64(len(ids))
    return ContainerRows(ids, keys % n_ids, stamps[keys // n_ids], values)


def system_values(data: InputData, feature: str, stamps: np.ndarray) -> np.ndarray:
    """Mean over series at t cast to integer; the latest earlier value where t has none (else 0)."""
    gauge = data.system.get(feature)
    if gauge is None or gauge.t.size == 0:
        return np.zeros(stamps.size, dtype=np.int64)
    position = np.searchsorted(gauge.t, stamps, side="right") - 1
    values = np.where(position >= 0, gauge.v[np.clip(position, 0, None)], gauge.v[0])
    return values.astype(np.int64)


def is_system(feature: str) -> bool:
    """A system feature (node info, CPU frequency): a node-level gauge, not a usage rate."""
    return feature in SYSTEM_FEATURES
