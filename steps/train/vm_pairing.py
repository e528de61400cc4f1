"""VM mode's pairing and alignment (kepler-010.md §4): host targets per VM joined to the guest's features.

Pure: plain tables in, tables and counts out, whatever extraction produced them. Each stream is a
DataFrame with a `timestamp` column and value columns, its rates already taken (rates per stream
first): a target table per (input, vm_id) with one power column per zone, a feature table per
(input, guest identity). A run can hold several hosts (inputs) and several VMs per host.

Pairing, per input: a guest's feature table pairs with the target table of its vm_id in the same
input (one query holds a host and its guests). Over the whole run every key of the map must have
guest series in some input and every mapped vm_id host series in some input (else StepError,
exit 1, naming them). Guest series and host VMs the map does not name are ignored and counted.

Alignment, per pair: step = median gap of the target's timestamps; each target row at t takes the
guest row nearest in time, the earlier of two equally near, when it lies strictly within half a
step (an exact time match always pairs, so a one-row target keeps its row only on one). A guest
row exactly half a step away is as near to the next target row as to this one: it pairs with
neither. Rows with a non-finite value are no candidates. Target rows without a guest row are
dropped and counted; so are guest rows no target row took. A guest row may serve two target rows
only where target rows are less than a step apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.errors import StepError
from ..common.names import shown
from .vm_map import VmMap

TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class VmInput:
    """One input's two streams: target tables by vm_id (host) and feature tables by guest identity."""

    name: str
    targets: Mapping[str, pd.DataFrame]
    guests: Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Alignment:
    """Which guest row each kept target row took (positions in the tables given), and what was dropped."""

    target_rows: np.ndarray
    guest_rows: np.ndarray
    step: float
    dropped_targets: int
    unused_guest_rows: int


@dataclass(frozen=True)
class VmPair:
    """One VM of one input: `table` is `timestamp` (the target's), the guest's `features`, the `powers` (per zone)."""

    input: str
    guest: str
    vm_id: str
    table: pd.DataFrame
    features: Tuple[str, ...]
    powers: Tuple[str, ...]
    step: float
    dropped_targets: int
    unused_guest_rows: int


@dataclass(frozen=True)
class Unpaired:
    """A mapped guest's rows or a mapped VM's target rows in an input that lacks the other stream."""

    input: str
    guest: str
    vm_id: str
    target_rows: int
    guest_rows: int

    @property
    def missing(self) -> str:
        """The stream the input lacks: `guest` when it has the target rows, else `host`."""
        return "host" if self.guest_rows else "guest"


@dataclass(frozen=True)
class VmPairing:
    """Every pair of the run, the streams without a partner, and the series the map does not name."""

    pairs: Tuple[VmPair, ...]
    unpaired: Tuple[Unpaired, ...]
    ignored_guests: Tuple[Tuple[str, str], ...]  # (input, guest identity) with series, not in the map
    unmapped_vms: Tuple[Tuple[str, str], ...]  # (input, vm_id) with host series, not in the map

    @property
    def dropped_targets(self) -> int:
        """Target rows dropped: no guest row within half a step, or no guest series in their input."""
        return sum(p.dropped_targets for p in self.pairs) + sum(u.target_rows for u in self.unpaired)

    @property
    def unused_guest_rows(self) -> int:
        """Guest rows dropped: no target row took them, or no target series in their input."""
        return sum(p.unused_guest_rows for p in self.pairs) + sum(u.guest_rows for u in self.unpaired)


def median_step(t: np.ndarray) -> float:
    """The median gap of ascending timestamps; 0 with fewer than two."""
    return float(np.median(np.diff(t))) if t.size >= 2 else 0.0


def align_times(
    target_t: np.ndarray,
    guest_t: np.ndarray,
    target_ok: np.ndarray | None = None,
    guest_ok: np.ndarray | None = None,
) -> Alignment:
    """The alignment of the module docstring on ascending timestamps; `*_ok` mark usable rows (default all)."""
    target_t, guest_t = np.asarray(target_t, dtype=float), np.asarray(guest_t, dtype=float)
    for name, t in (("target", target_t), ("guest", guest_t)):
        if t.size > 1 and not np.all(np.diff(t) > 0):
            raise ValueError(f"{name} timestamps must be strictly ascending")
    target_ok = np.ones(target_t.size, dtype=bool) if target_ok is None else np.asarray(target_ok, dtype=bool)
    guest_ok = np.ones(guest_t.size, dtype=bool) if guest_ok is None else np.asarray(guest_ok, dtype=bool)
    step = median_step(target_t)
    candidates = np.flatnonzero(guest_ok)
    times = guest_t[candidates]
    chosen = np.full(target_t.size, -1, dtype=np.int64)
    if times.size:
        after = np.searchsorted(times, target_t, side="left")  # first candidate at or after t
        before = after - 1
        d_after = np.where(after < times.size, times[np.minimum(after, times.size - 1)] - target_t, np.inf)
        d_before = np.where(before >= 0, target_t - times[np.maximum(before, 0)], np.inf)
        take_before = d_before <= d_after  # a tie goes to the earlier row
        nearest = np.where(take_before, before, after)
        distance = np.where(take_before, d_before, d_after)
        within = (distance < step / 2) | (distance == 0)
        chosen = np.where(within & target_ok, candidates[np.clip(nearest, 0, times.size - 1)], -1)
    kept = np.flatnonzero(chosen >= 0)
    used = np.unique(chosen[kept])
    return Alignment(kept, chosen[kept], step, int(target_t.size - kept.size), int(guest_t.size - used.size))


def _finite_rows(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if not len(columns):
        return np.ones(len(table), dtype=bool)
    values = table[list(columns)].to_numpy(dtype=float)
    return np.isfinite(values).all(axis=1)


def _value_columns(table: pd.DataFrame, what: str) -> List[str]:
    if TIMESTAMP not in table.columns:
        raise ValueError(f"{what} table has no {TIMESTAMP!r} column")
    return [c for c in table.columns if c != TIMESTAMP]


def align(target: pd.DataFrame, guest: pd.DataFrame) -> Tuple[pd.DataFrame, Alignment]:
    """One pair's joined table (`timestamp` of the target, guest features, target power) and its alignment."""
    powers, features = _value_columns(target, "target"), _value_columns(guest, "guest")
    clash = sorted(set(powers) & set(features))
    if clash:
        raise ValueError(f"guest feature and target power columns share names: {clash}")
    target = target.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    guest = guest.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    found = align_times(
        target[TIMESTAMP].to_numpy(dtype=float),
        guest[TIMESTAMP].to_numpy(dtype=float),
        _finite_rows(target, powers),
        _finite_rows(guest, features),
    )
    table = pd.concat(
        [
            target[[TIMESTAMP]].iloc[found.target_rows].reset_index(drop=True),
            guest[features].iloc[found.guest_rows].reset_index(drop=True),
            target[powers].iloc[found.target_rows].reset_index(drop=True),
        ],
        axis=1,
    )
    return table, found


def _has_rows(tables: Mapping[str, pd.DataFrame], key: str) -> bool:
    return key in tables and len(tables[key]) > 0


def check_coverage(vm_map: VmMap, inputs: Sequence[VmInput]) -> None:
    """Every guest of the map has series in some input, every mapped vm_id host series: else exit 1."""
    names = ", ".join(i.name for i in inputs) or "(none)"
    silent = [g for g in vm_map.guests if not any(_has_rows(i.guests, g) for i in inputs)]
    if silent:
        listed = ", ".join(shown(g) for g in silent)
        raise StepError(
            f"vm map {vm_map.source}: guest(s) {listed} have no series in input(s) {names} "
            "(a guest is its node_exporter instance or its Kepler node_name)"
        )
    absent = [(g, v) for g, v in vm_map.pairs if not any(_has_rows(i.targets, v) for i in inputs)]
    if absent:
        listed = ", ".join(f"{shown(v)} (guest {shown(g)})" for g, v in absent)
        raise StepError(f"vm map {vm_map.source}: vm_id(s) {listed} absent from the host data of input(s) {names}")


def check_same_zones(pairs: Sequence[VmPair]) -> None:
    """All VMs of a run have the same zones (power columns), none zero-filled (kepler-010.md §2.1): else exit 1."""
    zones: Dict[Tuple[str, ...], List[str]] = {}
    for pair in pairs:
        zones.setdefault(pair.powers, []).append(f"input {pair.input} vm_id {shown(pair.vm_id)}")
    if len(zones) > 1:
        described = "; ".join(f"{', '.join(where)}: {', '.join(cols) or 'none'}" for cols, where in zones.items())
        raise StepError(f"the VMs' host series have different zones ({described}); train one zone set per pipeline")


def _pair_input(vm_map: VmMap, data: VmInput) -> Tuple[List[VmPair], List[Unpaired]]:
    pairs: List[VmPair] = []
    unpaired: List[Unpaired] = []
    for guest, vm_id in vm_map.pairs:
        target, features = data.targets.get(vm_id), data.guests.get(guest)
        if target is None and features is None:
            continue
        if target is None or features is None or not len(target) or not len(features):
            rows = (len(target) if target is not None else 0, len(features) if features is not None else 0)
            unpaired.append(Unpaired(data.name, guest, vm_id, *rows))
            continue
        table, found = align(target, features)
        columns = (tuple(_value_columns(features, "guest")), tuple(_value_columns(target, "target")))
        pairs.append(
            VmPair(data.name, guest, vm_id, table, *columns, found.step, found.dropped_targets, found.unused_guest_rows)
        )
    return pairs, unpaired


def pair_vms(vm_map: VmMap, inputs: Sequence[VmInput]) -> VmPairing:
    """Pair and align every mapped VM of every input (module docstring); StepError (exit 1) on a coverage gap."""
    check_coverage(vm_map, inputs)
    pairs: List[VmPair] = []
    unpaired: List[Unpaired] = []
    for data in inputs:
        found, missing = _pair_input(vm_map, data)
        pairs += found
        unpaired += missing
    check_same_zones(pairs)
    ignored = tuple((i.name, g) for i in inputs for g in sorted(i.guests) if vm_map.vm_of(g) is None)
    unmapped = tuple((i.name, v) for i in inputs for v in sorted(i.targets) if vm_map.guest_of(v) is None)
    return VmPairing(tuple(pairs), tuple(unpaired), ignored, unmapped)


def _listed(items: Sequence[Tuple[str, str]]) -> str:
    return ", ".join(f"{name}: {shown(value)}" for name, value in items)


def summary_lines(pairing: VmPairing) -> List[str]:
    """The pairing's lines for the printed summary (train.md §11): one per pair, the drops, the ignored series."""
    lines = [
        f"VM {shown(p.vm_id)} <- guest {shown(p.guest)} (input {p.input}): {len(p.table)} rows, step {p.step:g} s, "
        f"{p.dropped_targets} target rows and {p.unused_guest_rows} guest rows dropped"
        for p in pairing.pairs
    ]
    lines += [
        f"VM {shown(u.vm_id)} <- guest {shown(u.guest)} (input {u.input}): no {u.missing} series in this input, "
        f"{u.target_rows} target rows and {u.guest_rows} guest rows dropped"
        for u in pairing.unpaired
    ]
    lines.append(
        f"VM alignment: {pairing.dropped_targets} target rows without a guest row within half a step and "
        f"{pairing.unused_guest_rows} unused guest rows dropped"
    )
    if pairing.ignored_guests:
        lines.append(
            f"guest series not in the vm map, ignored ({len(pairing.ignored_guests)}): "
            + _listed(pairing.ignored_guests)
        )
    if pairing.unmapped_vms:
        lines.append(
            f"host VMs not in the vm map, ignored ({len(pairing.unmapped_vms)}): " + _listed(pairing.unmapped_vms)
        )
    return lines
