"""Columnar samples of one metric: flattening a query response and merging series by identity.

A query response holds each series' samples as `SampleColumns` (read_query_response) or as Python
lists of `[t, "v"]` pairs; everything after this module works on numpy arrays (identity code, time,
value), so extraction cost stays linear in the number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..common.workspace import SampleColumns

Labels = Mapping[str, str]
IdentityOf = Callable[[Labels], str]
Warn = Callable[[str], None]

_TIME = itemgetter(0)
_VALUE = itemgetter(1)


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _pair(sample: Any) -> Tuple[float, float]:
    if isinstance(sample, (list, tuple)) and len(sample) == 2:
        return _to_float(sample[0]), _to_float(sample[1])
    return np.nan, np.nan


def _values(samples: Any) -> Tuple[np.ndarray, np.ndarray]:
    """Times and values of one series; bad values become NaN (dropped later)."""
    if isinstance(samples, SampleColumns):  # parsed from the file's bytes already
        return samples.t, samples.v
    count = len(samples)
    try:
        times = np.fromiter(map(_TIME, samples), dtype=np.float64, count=count)
        texts = list(map(_VALUE, samples))
    except (TypeError, ValueError, IndexError, KeyError):
        # Malformed samples (not [t, v] pairs, textual times): the slow, forgiving path.
        pairs = np.array([_pair(sample) for sample in samples], dtype=np.float64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
    try:
        # Fast path: numpy parses each text as `float` does ("NaN", "+Inf" included), in C. One text
        # at a time, never a joined string, so that "1 2" cannot pass for two numbers.
        values = np.array(texts, dtype=np.float64)
        if values.shape == (count,):
            return times, values
    except (TypeError, ValueError):
        pass
    return times, np.fromiter(map(_to_float, texts), dtype=np.float64, count=count)


@dataclass
class RawMetric:
    """All samples of one metric: per-series labels, and one row per sample pointing at its series."""

    labels: List[Labels]
    series: np.ndarray  # int64 series position per sample
    t: np.ndarray
    v: np.ndarray

    @property
    def sample_counts(self) -> np.ndarray:
        """Finite samples per series (validity of feature groups counts these)."""
        finite = np.isfinite(self.v)
        return np.bincount(self.series[finite], minlength=len(self.labels))

    def select(self, keep_series: np.ndarray) -> "RawMetric":
        """Only the series whose position is True in `keep_series` (re-numbered)."""
        keep_series = np.asarray(keep_series, dtype=bool)
        if keep_series.all():
            return self
        new_position = np.cumsum(keep_series) - 1
        rows = keep_series[self.series] if self.series.size else np.zeros(0, dtype=bool)
        return RawMetric(
            [l for l, k in zip(self.labels, keep_series) if k],
            new_position[self.series[rows]],
            self.t[rows],
            self.v[rows],
        )


def flatten_metric(series_list: Sequence[Mapping[str, Any]]) -> RawMetric:
    """One metric of a query response (workspace.md §3.1) as columns."""
    labels: List[Labels] = []
    times: List[np.ndarray] = []
    values: List[np.ndarray] = []
    lengths: List[int] = []
    for series in series_list:
        samples = series.get("values") or []
        labels.append(series.get("metric") or {})
        t, v = _values(samples) if samples else (np.zeros(0), np.zeros(0))
        times.append(t)
        values.append(v)
        lengths.append(len(t))
    if not labels:
        empty = np.zeros(0)
        return RawMetric([], np.zeros(0, dtype=np.int64), empty, empty)
    position = np.repeat(np.arange(len(labels), dtype=np.int64), lengths)
    return RawMetric(labels, position, np.concatenate(times), np.concatenate(values))


@dataclass
class SeriesSet:
    """Merged samples of one metric: sorted by (identity, time), one sample per (identity, time).

    `identities[code]` is the identity string; `labels[code]` the labels of its first series (for
    labels that do not split identity but are read later, such as `container_name` or `type`).
    """

    identities: List[str]
    labels: List[Labels]
    code: np.ndarray
    t: np.ndarray
    v: np.ndarray

    @classmethod
    def empty(cls) -> "SeriesSet":
        return cls([], [], np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return int(self.t.size)

    def select_identities(self, keep: np.ndarray) -> "SeriesSet":
        """Only the identities whose code is True in `keep`, re-numbered."""
        keep = np.asarray(keep, dtype=bool)
        new_code = np.cumsum(keep) - 1
        rows = keep[self.code] if self.code.size else np.zeros(0, dtype=bool)
        return SeriesSet(
            [i for i, k in zip(self.identities, keep) if k],
            [l for l, k in zip(self.labels, keep) if k],
            new_code[self.code[rows]],
            self.t[rows],
            self.v[rows],
        )


def finite_samples(raw: RawMetric, warn: Optional[Warn] = None, what: str = "") -> np.ndarray:
    """Which samples have a finite time and value (train.md §6.1 drops the others).

    A value that was not a number in the file (parsed as NaN by either reader), NaN or ±Inf is
    counted in one warning `<what>: dropped N non-numeric or non-finite sample(s)`, like negative
    counter values, so that bad data never vanishes silently.
    """
    keep = np.isfinite(raw.v) & np.isfinite(raw.t)
    dropped = int(keep.size - np.count_nonzero(keep))
    if dropped and warn:
        warn(f"{what}: dropped {dropped} non-numeric or non-finite sample(s)")
    return keep


def merge_series(
    raw: RawMetric, identity_of: IdentityOf, drop_negative: bool = False, warn: Optional[Warn] = None, what: str = ""
) -> SeriesSet:
    """Merge series of equal identity (train.md §6.1): union of samples, largest value at a repeated time.

    Non-finite values are dropped and counted (`finite_samples`); with `drop_negative` (counters)
    negative values too, with a warning.
    """
    codes: Dict[str, int] = {}
    identities: List[str] = []
    labels: List[Labels] = []
    series_code = np.empty(len(raw.labels), dtype=np.int64)
    for position, series_labels in enumerate(raw.labels):
        identity = identity_of(series_labels)
        code = codes.get(identity)
        if code is None:
            code = codes[identity] = len(identities)
            identities.append(identity)
            labels.append(series_labels)
        series_code[position] = code
    keep = finite_samples(raw, warn, what)
    if drop_negative:
        negative = keep & (raw.v < 0)
        if negative.any():
            keep &= ~negative
            if warn:
                warn(f"{what}: dropped {int(negative.sum())} negative counter value(s)")
    code = series_code[raw.series[keep]]
    t = raw.t[keep]
    v = raw.v[keep]
    if code.size > 1 and np.all((code[1:] > code[:-1]) | ((code[1:] == code[:-1]) & (t[1:] > t[:-1]))):
        return SeriesSet(identities, labels, code, t, v)  # one time-sorted series per identity: nothing to merge
    order = np.lexsort((v, t, code))
    code, t, v = code[order], t[order], v[order]
    if code.size > 1:
        # Sorted by value last, so the last row of each (identity, time) run holds the largest value.
        last = np.ones(code.size, dtype=bool)
        last[:-1] = (code[1:] != code[:-1]) | (t[1:] != t[:-1])
        code, t, v = code[last], t[last], v[last]
    return SeriesSet(identities, labels, code, t, v)


def label_key(names: Sequence[str]) -> IdentityOf:
    """Identity function joining the given labels with `/` (a missing label counts as "")."""
    if len(names) == 1:
        name = names[0]
        return lambda labels: str(labels.get(name, ""))
    return lambda labels: "/".join(str(labels.get(name, "")) for name in names)
