"""The power table of one input and energy source (train.md §6.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.domain import ENERGY_SOURCES
from ..common.errors import StepError
from .extract import InputData
from .rates import counter_rates
from .series import SeriesSet
from .tables import PowerTable

PLAIN_UNIT = "package"  # the single unit of `<c>_power` columns (published as packge_ratio_package)
ZERO_ROWS_WARNING_SHARE = 0.2


def power_column(component: str, unit: Optional[str]) -> str:
    """`<c>_power`, or `package_<u>_<c>_power` for one package unit."""
    return f"{component}_power" if unit is None else f"package_{unit}_{component}_power"


def ratio_column(unit: str) -> str:
    """The usage-ratio column of one package unit."""
    return f"packge_ratio_{unit}"  # spelling as published (workspace.md §3.12)


@dataclass
class PowerLayout:
    """Power and ratio columns of one source, the same for every input of a run."""

    source: str
    units: Optional[List[str]]  # package units of per-package columns; None for `<c>_power` columns
    components: Optional[Tuple[str, ...]] = None  # 0.10: the zones present; None: the source's components

    @property
    def power_columns(self) -> Dict[str, List[str]]:
        components = self.components if self.components is not None else ENERGY_SOURCES[self.source].components
        if self.units is None:
            return {c: [power_column(c, None)] for c in components}
        return {c: [power_column(c, u) for u in self.units] for c in components}

    @property
    def flat_power_columns(self) -> List[str]:
        return [column for columns in self.power_columns.values() for column in columns]

    @property
    def ratio_units(self) -> List[str]:
        if ENERGY_SOURCES[self.source].unit_label is None:
            return []
        return list(self.units) if self.units is not None else [PLAIN_UNIT]

    @property
    def ratio_columns(self) -> List[str]:
        return [ratio_column(u) for u in self.ratio_units]


def _unit_sort_key(unit: str):
    return (0, int(unit), unit) if unit.isdigit() else (1, 0, unit)


def same_zones(inputs: Sequence[InputData]) -> Tuple[str, ...]:
    """The zones (as components) every 0.10 input with zone data has; inputs that differ stop train
    (kepler-010.md §2.1: no zone is zero-filled)."""
    found = {d.name: d.components for d in inputs if d.zones is not None and d.components}
    kinds = sorted(set(found.values()))
    if len(kinds) > 1:
        described = "; ".join(
            f"{', '.join(n for n, c in found.items() if c == kind)}: {', '.join(kind)}" for kind in kinds
        )
        raise StepError(
            f"the inputs have different RAPL zones ({described}); every input of a run needs the same zones: "
            "train each set of machines into its own run"
        )
    return kinds[0] if kinds else ()


def power_layout(source: str, inputs: Sequence[InputData]) -> PowerLayout:
    """Per-package columns only when every input with data for the source has the ratio metric.

    0.10 inputs: `<c>_power` columns of the zones present (the same in every input).
    """
    with_data = [d for d in inputs if d.source_has_data(source)]
    if any(d.zones is not None for d in with_data):
        return PowerLayout(source, None, same_zones(with_data))
    if ENERGY_SOURCES[source].unit_label is None or not with_data or any(d.ratio is None for d in with_data):
        return PowerLayout(source, None)
    units = set()
    for data in with_data:
        for samples in data.energy[source].values():
            units.update(str(l.get("package", "")) for l in samples.labels)
    return PowerLayout(source, sorted(units, key=_unit_sort_key))


def _column(samples: SeriesSet, keep: np.ndarray, stamps: np.ndarray):
    """Sum of rates over the identities; invalid where an identity spanning t has no rate at t."""
    total = np.zeros(stamps.size)
    covered = np.zeros(stamps.size, dtype=bool)
    bad = np.zeros(stamps.size, dtype=bool)
    rates = counter_rates(samples.select_identities(keep))
    for code in range(len(rates.identities)):
        if not np.isfinite(rates.first[code]):
            continue
        in_span = (stamps >= rates.first[code]) & (stamps <= rates.last[code])
        rows = rates.code == code
        position = np.searchsorted(stamps, rates.t[rows])
        has_rate = np.zeros(stamps.size, dtype=bool)
        has_rate[position] = True
        np.add.at(total, position, rates.r[rows])
        covered |= in_span
        bad |= in_span & ~has_rate
    return total, covered & ~bad


def power_table(data: InputData, layout: PowerLayout, warn: Optional[Callable[[str], None]] = None) -> PowerTable:
    """Power per timestamp where every power column has a value and their sum is not 0."""
    if data.zones is not None:
        return _zone_table(data, layout, warn)
    per_component = data.energy.get(layout.source, {})
    if not any(len(s) for s in per_component.values()):
        return PowerTable(np.zeros(0), {c: np.zeros(0) for c in layout.flat_power_columns})
    stamps = np.unique(np.concatenate([s.t for s in per_component.values()]))
    values: Dict[str, np.ndarray] = {}
    valid = np.ones(stamps.size, dtype=bool)
    for component, columns in layout.power_columns.items():
        samples = per_component.get(component)
        units = layout.units if layout.units is not None else [None]
        for unit, column in zip(units, columns):
            if samples is None or len(samples) == 0:
                values[column] = np.zeros(stamps.size)  # component not measured: 0 W, never limiting
                continue
            if unit is None:
                keep = np.ones(len(samples.identities), dtype=bool)
            else:
                keep = np.array([str(l.get("package", "")) == unit for l in samples.labels], dtype=bool)
                if not keep.any():
                    values[column] = np.zeros(stamps.size)
                    continue
            total, ok = _column(samples, keep, stamps)
            values[column] = total
            valid &= ok
    return _nonzero_rows(data.name, layout.source, stamps, values, valid, warn)


def _nonzero_rows(
    name: str,
    source: str,
    stamps: np.ndarray,
    values: Dict[str, np.ndarray],
    valid: np.ndarray,
    warn: Optional[Callable[[str], None]],
) -> PowerTable:
    """The valid rows whose power columns do not sum to 0 (a repeated sample), with a warning when many are."""
    total_power = np.zeros(stamps.size)
    for column in values.values():
        total_power += column
    nonzero = total_power != 0
    dropped = int((valid & ~nonzero).sum())
    kept = int(valid.sum())
    if warn and kept and dropped > ZERO_ROWS_WARNING_SHARE * kept:
        warn(
            f"input {name}: {dropped} of {kept} {source} power rows are 0 (repeated samples) and "
            "were dropped; re-run query with a step at least as long as the scrape interval"
        )
    rows = valid & nonzero
    return PowerTable(stamps[rows], {c: v[rows] for c, v in values.items()}, dropped)


def _zone_columns(layout: PowerLayout, per_component) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Power columns of the layout's zones and where all of them have a value."""
    values: Dict[str, np.ndarray] = {}
    valid = None
    for component, columns in layout.power_columns.items():
        watts, ok = per_component[component]
        values[columns[0]] = watts
        valid = ok if valid is None else valid & ok
    return values, valid if valid is not None else np.zeros(0, dtype=bool)


def _zone_table(data: InputData, layout: PowerLayout, warn: Optional[Callable[[str], None]]) -> PowerTable:
    """0.10 AbsPower: the zones' total power (zones.py), rows as train.md §6.3 keeps them."""
    zones = data.zones
    values, valid = _zone_columns(layout, zones.total)
    return _nonzero_rows(data.name, layout.source, zones.t, values, valid, warn)


def active_power_table(data: InputData, layout: PowerLayout, total: PowerTable) -> Optional[PowerTable]:
    """0.10 DynPower of the `active` isolator: the zones' active power at the rows of the AbsPower power
    table where every zone's active power has a value; None without the active counter."""
    zones = data.zones
    if zones is None or zones.active is None:
        return None
    values, valid = _zone_columns(layout, zones.active)
    rows = valid & np.isin(zones.t, total.t)
    return PowerTable(zones.t[rows], {c: v[rows] for c, v in values.items()})
