"""node_exporter's OS counters as node features (kepler-010.md §3). Pure: metrics in, one value per timestamp out.

Counters become per-second rates (train.md §6.2: a counter that falls restarted from zero, as
node_exporter's do at a reboot); gauges are node values as they are. `os_cpu_busy_ms` sums the
rates of every `cpu` in the busy modes, with train.md §6.3's span rule: at a timestamp where one
CPU's series has no rate the sum has no value (a node value is never invented). The selection of
one node_exporter `instance` is the caller's: a node model takes the node's, the VM part each
guest's (`instances` lists them).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..common.kepler_metrics import (
    OS_BUSY,
    OS_BUSY_MODES,
    OS_COUNTERS,
    OS_CPU_LABEL,
    OS_GAUGE,
    OS_INSTANCE_LABEL,
    OS_MODE_LABEL,
    OS_RATE,
    OS_USED_RATIO,
    OsCounter,
)
from .rates import counter_rates
from .series import RawMetric, finite_samples, label_key, merge_series
from .zones import span_sum

Series = Tuple[np.ndarray, np.ndarray]  # (t ascending, value)
Warn = Callable[[str], None]


def instances(raws: Mapping[str, RawMetric]) -> List[str]:
    """The node_exporter instances of these metrics' series, sorted ("" for a series without the label)."""
    return sorted({str(l.get(OS_INSTANCE_LABEL, "")) for raw in raws.values() for l in raw.labels})


def _of_instance(raw: RawMetric, instance: Optional[str]) -> RawMetric:
    if instance is None:
        return raw
    return raw.select(np.array([str(l.get(OS_INSTANCE_LABEL, "")) == instance for l in raw.labels], dtype=bool))


def _busy(raw: RawMetric, counter: OsCounter, warn: Optional[Warn], what: str) -> Series:
    keep = np.array([l.get(OS_MODE_LABEL) in OS_BUSY_MODES for l in raw.labels], dtype=bool)
    merged = merge_series(raw.select(keep), label_key((OS_CPU_LABEL, OS_MODE_LABEL)), True, warn, what)
    rates = counter_rates(merged, counter.unit_factor)
    stamps = np.unique(merged.t)
    total, valid = span_sum(rates, rates.r, np.ones(len(rates.identities), dtype=bool), stamps)
    return stamps[valid], total[valid]


def _rate(raw: RawMetric, counter: OsCounter, warn: Optional[Warn], what: str) -> Series:
    rates = counter_rates(merge_series(raw, label_key(()), True, warn, what), counter.unit_factor)
    return rates.t, rates.r


def _gauge(raw: RawMetric, warn: Optional[Warn], what: str) -> Series:
    """Mean per timestamp over the series (one per instance; more only across a relabelled scrape)."""
    finite = finite_samples(raw, warn, what)
    t, inverse = np.unique(raw.t[finite], return_inverse=True)
    total = np.bincount(inverse, weights=raw.v[finite], minlength=t.size)
    count = np.bincount(inverse, minlength=t.size)
    return t, total / np.maximum(count, 1)


def _used_ratio(total: Series, available: Series) -> Series:
    common, at_total, at_available = np.intersect1d(total[0], available[0], return_indices=True)
    size, free = total[1][at_total], available[1][at_available]
    positive = size > 0
    return common[positive], 1.0 - free[positive] / size[positive]


def reduce_counter(
    counter: OsCounter, raws: Mapping[str, RawMetric], warn: Optional[Warn] = None, what: str = ""
) -> Optional[Series]:
    """One `os_` feature from its metrics (already one instance's); None when a metric is missing."""
    parts = [raws.get(metric) for metric in counter.metrics]
    if any(raw is None or not raw.labels for raw in parts):
        return None
    label = f"{what} {counter.metrics[0]}".strip()
    if counter.reduction == OS_BUSY:
        return _busy(parts[0], counter, warn, label)
    if counter.reduction == OS_RATE:
        return _rate(parts[0], counter, warn, label)
    if counter.reduction == OS_USED_RATIO:
        return _used_ratio(_gauge(parts[0], warn, label), _gauge(parts[1], warn, f"{what} {counter.metrics[1]}"))
    if counter.reduction == OS_GAUGE:
        return _gauge(parts[0], warn, label)
    raise ValueError(f"unknown OS counter reduction {counter.reduction!r}")


def os_features(
    raws: Mapping[str, RawMetric], instance: Optional[str] = None, warn: Optional[Warn] = None, what: str = ""
) -> Dict[str, Series]:
    """Every `os_` feature whose metrics are present, of one instance (None: all series, one instance assumed)."""
    selected = {metric: _of_instance(raw, instance) for metric, raw in raws.items()}
    features: Dict[str, Series] = {}
    for counter in OS_COUNTERS:
        series = reduce_counter(counter, selected, warn, what)
        if series is not None:
            features[counter.feature] = series
    return features


def feature_metric_names(counter: OsCounter) -> str:
    """How a missing feature is named in the dropped-group lines: its metric(s)."""
    return ", ".join(counter.metrics)
