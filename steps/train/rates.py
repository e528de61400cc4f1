"""Per-row rates of merged counters (train.md §6.2): each row's own time gap, counter resets respected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .series import Labels, SeriesSet


@dataclass
class Rates:
    """Rates of a SeriesSet: defined at every sample but each identity's first, same identity codes.

    `first`/`last` are each identity's first and last sample time (its span, §6.3).
    """

    identities: List[str]
    labels: List[Labels]
    code: np.ndarray
    t: np.ndarray
    r: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def __len__(self) -> int:
        return int(self.t.size)


def spans(samples: SeriesSet) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of a merged SeriesSet (sorted by identity, then time): which samples start their identity's run, and
    each identity's first and last sample time (NaN for an identity without samples)."""
    n_ids = len(samples.identities)
    first, last = np.full(n_ids, np.nan), np.full(n_ids, np.nan)
    code, t = samples.code, samples.t
    starts = np.ones(code.size, dtype=bool)
    starts[1:] = code[1:] != code[:-1]
    ends = np.ones(code.size, dtype=bool)
    ends[:-1] = starts[1:]
    first[code[starts]] = t[starts]
    last[code[ends]] = t[ends]
    return starts, first, last


def counter_rates(samples: SeriesSet, factor: float = 1.0) -> Rates:
    """r_i = (v_i - v_{i-1}) / (t_i - t_{i-1}), or v_i / (t_i - t_{i-1}) after a reset (v_i < v_{i-1})."""
    starts, first, last = spans(samples)
    if len(samples) == 0:
        empty = np.zeros(0)
        return Rates(samples.identities, samples.labels, np.zeros(0, dtype=np.int64), empty, empty, first, last)
    code, t, v = samples.code, samples.t, samples.v
    has_rate = ~starts
    dt = np.diff(t)
    dv = np.diff(v)
    current = v[1:]
    increase = np.where(current >= v[:-1], dv, current)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = increase / dt
    keep = has_rate[1:]
    return Rates(samples.identities, samples.labels, code[1:][keep], t[1:][keep], rate[keep] * factor, first, last)
