"""AbsPower and container-level tables of one input and group (train.md §6.5), and smoothing (§6.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.domain import FeatureGroup
from .extract import InputData
from .features import ContainerRows, container_rows, counter_features, is_system, system_values
from .power import PowerLayout, PowerTable

INPUT_COLUMN = "_input"  # position of the input, kept on container-level tables until isolation
ID_COLUMN = "id"
ALL_CONTAINERS = "all containers"
NODE_ROW = "node"  # the one container-level row per timestamp of a group of node values only (OSCounters)
SMOOTH_WINDOW = 30


def _timestamps(t: np.ndarray) -> np.ndarray:
    """Integer epoch seconds when every timestamp is whole (as published), else floats."""
    if t.size and np.all(t == np.round(t)):
        return t.astype(np.int64)
    return t


def _normalise(ratios: Dict[str, np.ndarray], rows: int) -> Dict[str, np.ndarray]:
    """Each row sums to 1; a row without any ratio gets 1 / number of units."""
    if not ratios:
        return ratios
    total = np.zeros(rows)
    for values in ratios.values():
        total += values
    share = 1.0 / len(ratios)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {c: np.where(total > 0, v / np.where(total > 0, total, 1), share) for c, v in ratios.items()}


def _ratio_matrix(data: InputData, layout: PowerLayout):
    """Per-package ratio samples as (container id, unit, t, value); None without the metric."""
    if layout.units is None or data.ratio is None or not len(data.ratio):
        return None
    ratio = data.ratio
    splits = [identity.rpartition("/") for identity in ratio.identities]
    ids = np.array([s[0] for s in splits], dtype=object)
    units = np.array([s[2] for s in splits], dtype=object)
    return ids[ratio.code], units[ratio.code], ratio.t, ratio.v


def node_ratios(data: InputData, layout: PowerLayout, stamps: np.ndarray) -> Dict[str, np.ndarray]:
    """Ratio columns per timestamp: 1 / #units, or the metric summed over containers, normalised."""
    units = layout.ratio_units
    matrix = _ratio_matrix(data, layout)
    if matrix is None:
        return {f"packge_ratio_{u}": np.full(stamps.size, 1.0 / len(units)) for u in units}
    _, unit_of, t, v = matrix
    ratios = {}
    for unit, column in zip(units, layout.ratio_columns):
        rows = (unit_of == unit) & np.isin(t, stamps)
        position = np.searchsorted(stamps, t[rows])
        ratios[column] = np.bincount(position, weights=v[rows], minlength=stamps.size)
    return _normalise(ratios, stamps.size)


def container_ratios(
    data: InputData, layout: PowerLayout, ids: Sequence[str], code: np.ndarray, t: np.ndarray
) -> Dict[str, np.ndarray]:
    """Ratio columns per container row: that container's per-package values, normalised per row."""
    units = layout.ratio_units
    matrix = _ratio_matrix(data, layout)
    if matrix is None:
        return {f"packge_ratio_{u}": np.full(t.size, 1.0 / len(units)) for u in units}
    id_of, unit_of, rt, rv = matrix
    frame = pd.DataFrame({"id": np.asarray(ids, dtype=object)[code], "t": t})
    ratios = {}
    for unit, column in zip(units, layout.ratio_columns):
        rows = unit_of == unit
        lookup = pd.Series(rv[rows], index=pd.MultiIndex.from_arrays([id_of[rows], rt[rows]]))
        lookup = lookup[~lookup.index.duplicated(keep="last")]
        joined = lookup.reindex(pd.MultiIndex.from_arrays([frame["id"].to_numpy(), frame["t"].to_numpy()]))
        ratios[column] = np.nan_to_num(joined.to_numpy(dtype=float), nan=0.0)
    return _normalise(ratios, t.size)


@dataclass
class _Alignment:
    """Where container rows and power samples land in the AbsPower table of one input."""

    stamps: np.ndarray  # the table's timestamps: power samples with feature values
    slot: np.ndarray  # per container row: its position in stamps (valid where in_table)
    in_table: np.ndarray  # per container row: its timestamp is in stamps
    power_at: np.ndarray  # per stamp: its position in the power table


def _align(
    power: PowerTable,
    feature_times: Optional[List[np.ndarray]],
    row_times: np.ndarray,
    node_times: Sequence[np.ndarray] = (),
) -> _Alignment:
    """The table's timestamps (power samples at which some feature has a value and every node value
    has one; `feature_times` None: a group of node values only) and the row positions in it."""
    if feature_times is None:
        stamps = power.t
    else:
        with_features = np.unique(np.concatenate(feature_times)) if feature_times else np.zeros(0)
        stamps = power.t[np.isin(power.t, with_features)]
    for times in node_times:  # a node value is never invented: no row where one is missing
        stamps = stamps[np.isin(stamps, times)]
    slot = np.searchsorted(stamps, row_times)
    in_table = (
        (slot < stamps.size) & (stamps[np.clip(slot, 0, max(stamps.size - 1, 0))] == row_times)
        if stamps.size
        else np.zeros(row_times.size, dtype=bool)
    )
    return _Alignment(stamps, slot, in_table, np.searchsorted(power.t, stamps))


def assemble_input(
    data: InputData,
    position: int,
    group: FeatureGroup,
    columns: Sequence[str],
    layout: PowerLayout,
    power: PowerTable,
    node_type: int,
    container_level: bool,
) -> Tuple[pd.DataFrame, Optional[pd.DataFrame]]:
    """The AbsPower table and (for groups without gauges) the container-level table of one input."""
    counters = counter_features(group, data)
    rows = container_rows(data, counters)
    feature_times: Optional[List[np.ndarray]] = [rows.t]
    gauge_columns: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    for feature in group.features:
        for column, gauge in data.gauges.get(feature, {}).items():
            gauge_columns[column] = (gauge.t, gauge.v)
            feature_times.append(gauge.t)
    nodes = {f: data.node_values[f] for f in group.features if f in data.node_values}
    node_only = bool(nodes) and not counters and not gauge_columns
    at = _align(power, None if node_only else feature_times, rows.t, [g.t for g in nodes.values()])
    if node_only:  # one container-level row per timestamp: the node's
        rows = ContainerRows([NODE_ROW], np.zeros(at.stamps.size, dtype=np.int64), at.stamps, {})
        at.slot, at.in_table = np.arange(at.stamps.size), np.ones(at.stamps.size, dtype=bool)
    stamps, slot, in_table = at.stamps, at.slot, at.in_table

    abs_columns: Dict[str, np.ndarray] = {"timestamp": _timestamps(stamps)}
    for column in columns:
        if column in rows.values:
            abs_columns[column] = np.bincount(
                slot[in_table], weights=rows.values[column][in_table], minlength=stamps.size
            )
        elif column in gauge_columns:
            gt, gv = gauge_columns[column]
            values = np.zeros(stamps.size)
            hit = np.isin(stamps, gt)
            values[hit] = gv[np.searchsorted(gt, stamps[hit])]
            abs_columns[column] = values
        elif column in nodes:  # every stamp has the node value (_align)
            abs_columns[column] = nodes[column].v[np.searchsorted(nodes[column].t, stamps)]
        elif is_system(column):
            abs_columns[column] = system_values(data, column, stamps)
        else:
            abs_columns[column] = np.zeros(stamps.size)  # e.g. an accelerator type absent from this input
    for column in layout.flat_power_columns:
        abs_columns[column] = power.columns[column][at.power_at]
    abs_columns["node_type"] = np.full(stamps.size, node_type, dtype=np.int64)
    abs_columns.update(node_ratios(data, layout, stamps))
    abs_table = pd.DataFrame(abs_columns)
    if not container_level:
        return abs_table, None
    node_columns = {c: abs_columns[c] for c in nodes}
    return abs_table, _container_table(data, position, columns, layout, power, node_type, rows, at, node_columns)


def _container_table(
    data: InputData,
    position: int,
    columns: Sequence[str],
    layout: PowerLayout,
    power: PowerTable,
    node_type: int,
    rows: ContainerRows,
    at: _Alignment,
    node_columns: Optional[Dict[str, np.ndarray]] = None,
) -> pd.DataFrame:
    """One row per (container, timestamp of the AbsPower table): the container's features, the node's
    power and node values (`node_columns`: per AbsPower row)."""
    code, t = rows.code[at.in_table], rows.t[at.in_table]
    row_slot = at.slot[at.in_table]
    ratios = container_ratios(data, layout, rows.ids, code, t)
    table: Dict[str, np.ndarray] = {
        INPUT_COLUMN: np.full(t.size, position, dtype=np.int64),
        "timestamp": _timestamps(t),
    }
    table.update(ratios)
    node_columns = node_columns or {}
    for column in columns:
        if column in node_columns:
            table[column] = node_columns[column][row_slot]
        else:
            table[column] = rows.values[column][at.in_table] if column in rows.values else np.zeros(t.size)
    for column in layout.flat_power_columns:
        table[column] = power.columns[column][at.power_at][row_slot]
    table["node_type"] = np.full(t.size, node_type, dtype=np.int64)
    table[ID_COLUMN] = np.asarray(rows.ids, dtype=object)[code] if rows.ids else np.zeros(0, dtype=object)
    return pd.DataFrame(table)


def smooth(table: pd.DataFrame, columns: Sequence[str], by: Sequence[str], window: int = SMOOTH_WINDOW) -> pd.DataFrame:
    """Rolling mean of `columns` over `window` consecutive rows within each `by` group; partial windows dropped."""
    if table.empty:
        return table
    columns = list(columns)
    if by:
        rolled = table.groupby(list(by), sort=False)[columns].rolling(window, min_periods=window).mean()
        rolled.index = rolled.index.get_level_values(-1)
    else:
        rolled = table[columns].rolling(window, min_periods=window).mean()
    out = table.copy()
    out[columns] = rolled[columns].reindex(out.index)
    complete = out[columns].notna().all(axis=1) if columns else pd.Series(True, index=out.index)
    return out[complete].reset_index(drop=True)


def concat(tables: List[pd.DataFrame]) -> pd.DataFrame:
    """The tables (None ones skipped) one after another, re-indexed; an empty frame when there are none."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return pd.DataFrame()
    return pd.concat(tables, ignore_index=True)
