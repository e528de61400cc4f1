"""Kepler 0.10 energy counters to power (kepler-010.md §1, §2.1). Pure: merged samples in, watts out.

RAPL's raw reading (`total`) wraps at the zone's range; Kepler's `active` and `idle` counters are
running sums, unbroken by a wrap, that restart with the exporter. Per series (one `zone`, one
`path`), at each sample t_i after the first:

- total rises: (v_i - v_{i-1}) / (t_i - t_{i-1});
- total falls while active and idle rise over the same interval (a wrap): rate(active) + rate(idle);
- active or idle falls (an exporter restart; idle restarts from the raw reading): no rate at t_i,
  for total and active alike (not train.md §6.2's reset rule: what a restarted counter counted
  since is unknown here);
- active: its own rate, none where it or idle falls.

A zone's power is the sum over its `path` series with train.md §6.3's span rule (no value where a
series spanning t has no rate at t); zones are never added to each other (they overlap). The
strict rates and the span sum are what the VM part's targets (per `vm_id` and zone) reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .rates import spans
from .series import Labels, SeriesSet


@dataclass
class Intervals:
    """Consecutive samples of each identity of a SeriesSet: one row per sample but the identity's first.

    `rate` is NaN where the counter fell (`fell`): a strict counter has no rate there.
    """

    identities: List[str]
    labels: List[Labels]
    code: np.ndarray
    t: np.ndarray
    prev_t: np.ndarray
    delta: np.ndarray
    first: np.ndarray  # per identity: first and last sample time (its span)
    last: np.ndarray

    @property
    def fell(self) -> np.ndarray:
        return self.delta < 0

    @property
    def rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.fell, np.nan, self.delta / (self.t - self.prev_t))


def intervals(samples: SeriesSet) -> Intervals:
    """The intervals of a merged SeriesSet (sorted by identity, then time)."""
    starts, first, last = spans(samples)
    code, t, v = samples.code, samples.t, samples.v
    if code.size == 0:
        empty, codes = np.zeros(0), np.zeros(0, dtype=np.int64)
        return Intervals(samples.identities, samples.labels, codes, empty, empty, empty, first, last)
    keep = ~starts[1:]
    return Intervals(
        samples.identities,
        samples.labels,
        code[1:][keep],
        t[1:][keep],
        t[:-1][keep],
        np.diff(v)[keep],
        first,
        last,
    )


def strict_rates(samples: SeriesSet, factor: float = 1.0) -> Intervals:
    """Intervals of a running-sum counter (Kepler's active, idle, VM and process energy): no rate where it falls."""
    found = intervals(samples)
    if factor != 1.0:
        found.delta = found.delta * factor
    return found


def _lookup(other: Optional[Intervals], identity: str) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(t, prev_t, delta) of one identity of another counter, None when it has none."""
    if other is None or identity not in other.identities:
        return None
    rows = other.code == other.identities.index(identity)
    return other.t[rows], other.prev_t[rows], other.delta[rows]


def _matching(t: np.ndarray, prev_t: np.ndarray, other) -> Tuple[np.ndarray, np.ndarray]:
    """Per interval (t, prev_t): whether `other` has the same interval, and its delta there (NaN if not)."""
    if other is None or other[0].size == 0:
        return np.zeros(t.size, dtype=bool), np.full(t.size, np.nan)
    ot, oprev, odelta = other
    position = np.clip(np.searchsorted(ot, t), 0, ot.size - 1)
    same = (ot[position] == t) & (oprev[position] == prev_t)
    return same, np.where(same, odelta[position], np.nan)


def _restarts(*others) -> np.ndarray:
    """Times at which active or idle fell: an exporter restart."""
    times = [o[0][o[2] < 0] for o in others if o is not None]
    return np.unique(np.concatenate(times)) if times else np.zeros(0)


@dataclass
class CounterRates:
    """Per identity of the total counter: its rate (NaN: none) and the active counter's rate, by time."""

    identities: List[str]
    labels: List[Labels]
    total: Intervals  # `delta` replaced: a wrap's rate is rebuilt from active + idle
    total_rate: np.ndarray
    active: Optional[Intervals]
    active_rate: Optional[np.ndarray]


def zone_rates(total: SeriesSet, active: Optional[SeriesSet], idle: Optional[SeriesSet]) -> CounterRates:
    """The rates of the module docstring, per (zone, path) identity."""
    total_iv = intervals(total)
    active_iv = intervals(active) if active is not None else None
    idle_iv = intervals(idle) if idle is not None else None
    total_rate = np.full(total_iv.t.size, np.nan)
    active_rate = np.full(active_iv.t.size, np.nan) if active_iv is not None else None
    for code, identity in enumerate(total_iv.identities):
        rows = total_iv.code == code
        t, prev_t, delta = total_iv.t[rows], total_iv.prev_t[rows], total_iv.delta[rows]
        act, idl = _lookup(active_iv, identity), _lookup(idle_iv, identity)
        restarts = _restarts(act, idl)
        a_same, a_delta = _matching(t, prev_t, act)
        i_same, i_delta = _matching(t, prev_t, idl)
        wrap_ok = a_same & i_same & (a_delta >= 0) & (i_delta >= 0)
        rebuilt = np.where(delta >= 0, delta, np.where(wrap_ok, a_delta + i_delta, np.nan))
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = rebuilt / (t - prev_t)
        rate[np.isin(t, restarts)] = np.nan
        total_rate[rows] = rate
    if active_iv is not None and active_rate is not None:
        for code, identity in enumerate(active_iv.identities):
            rows = active_iv.code == code
            rate = active_iv.rate[rows]
            restarts = _restarts(_lookup(active_iv, identity), _lookup(idle_iv, identity))
            rate[np.isin(active_iv.t[rows], restarts)] = np.nan
            active_rate[rows] = rate
    return CounterRates(total_iv.identities, total_iv.labels, total_iv, total_rate, active_iv, active_rate)


def span_sum(found: Any, rate: np.ndarray, keep: np.ndarray, stamps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Sum of the kept identities' rates at each stamp, and where it is valid (train.md §6.3's span rule).

    `found`: Intervals or rates.Rates (per row `code`, `t`; per identity `first`, `last`). A stamp
    inside an identity's span (first to last sample) where that identity has no rate (its first
    sample, a gap, a restart) has no value.
    """
    total = np.zeros(stamps.size)
    bad = np.zeros(stamps.size, dtype=bool)
    covered = np.zeros(stamps.size, dtype=bool)
    for code in np.flatnonzero(keep):
        if not np.isfinite(found.first[code]):
            continue
        in_span = (stamps >= found.first[code]) & (stamps <= found.last[code])
        rows = (found.code == code) & np.isfinite(rate)
        position = np.searchsorted(stamps, found.t[rows])
        has_rate = np.zeros(stamps.size, dtype=bool)
        has_rate[position] = True
        np.add.at(total, position, rate[rows])
        covered |= in_span
        bad |= in_span & ~has_rate
    return total, covered & ~bad


@dataclass
class ZonePower:
    """Power per component (zone) of one input: AbsPower from the total counter, DynPower from active.

    `total` and `active` hold, per component, the watts at `t` and where they are valid.
    """

    components: Tuple[str, ...]
    t: np.ndarray
    total: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    active: Optional[Dict[str, Tuple[np.ndarray, np.ndarray]]] = None


def zone_power(
    rates: CounterRates, component_of: Dict[str, str], zone_label: str, components: Sequence[str]
) -> ZonePower:
    """Per component, the sum over its zone's `path` series of the total and active rates."""
    stamps = np.unique(rates.total.t) if rates.total.t.size else np.zeros(0)
    stamps = np.union1d(stamps, rates.total.first[np.isfinite(rates.total.first)])
    zones = [component_of.get(str(labels.get(zone_label, ""))) for labels in rates.labels]
    power = ZonePower(tuple(components), stamps)
    for component in components:
        keep = np.array([zone == component for zone in zones], dtype=bool)
        power.total[component] = span_sum(rates.total, rates.total_rate, keep, stamps)
    if rates.active is not None and rates.active_rate is not None:
        active_zones = [component_of.get(str(labels.get(zone_label, ""))) for labels in rates.active.labels]
        power.active = {}
        for component in components:
            keep = np.array([zone == component for zone in active_zones], dtype=bool)
            power.active[component] = span_sum(rates.active, rates.active_rate, keep, stamps)
    return power
