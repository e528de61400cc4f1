"""DynPower isolators (train.md §7): squeeze, none, min, profile and trainer, over container-level tables.

Every function takes the container-level table of all inputs (assemble.py columns, `_input` included)
and returns the node-level DynPower table (still carrying `_input`; prepare.py drops it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.domain import ENERGY_SOURCES, GROUP_ORDER
from .assemble import ALL_CONTAINERS, ID_COLUMN, INPUT_COLUMN
from .extract import container_name_of

KEYS = [INPUT_COLUMN, "timestamp"]
CORRELATION_THRESHOLD = 0.7


@dataclass
class Columns:
    """The column roles of one (source, group) table."""

    features: Sequence[str]
    power: Mapping[str, Sequence[str]]  # component -> power columns
    ratios: Sequence[str]
    node: Sequence[str] = ()  # features that are node values (0.10 usage ratio, OS counters): kept, never summed

    @property
    def flat_power(self) -> List[str]:
        return [c for cols in self.power.values() for c in cols]

    @property
    def summed(self) -> List[str]:
        """The features summed over containers: all but node values."""
        return [f for f in self.features if f not in self.node]

    def dyn_order(self) -> List[str]:
        """DynPower column order of workspace.md §3.12 (after `_input`)."""
        return [INPUT_COLUMN, "timestamp", *self.ratios, *self.features, *self.flat_power, "node_type", ID_COLUMN]


def squeeze(table: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """One row per (input, timestamp): features and ratios summed (ratios renormalised), node power kept."""
    if table.empty:
        return pd.DataFrame(columns=cols.dyn_order())
    grouped = table.groupby(KEYS, sort=True)
    summed = grouped[cols.summed + list(cols.ratios)].sum()
    kept = grouped[cols.flat_power + ["node_type"] + list(cols.node)].first()
    out = pd.concat([summed, kept], axis=1).reset_index()
    if cols.ratios:
        total = out[list(cols.ratios)].sum(axis=1).to_numpy()
        for column in cols.ratios:
            out[column] = np.where(
                total > 0, out[column].to_numpy() / np.where(total > 0, total, 1), 1.0 / len(cols.ratios)
            )
    out["node_type"] = out["node_type"].astype(np.int64)
    out[ID_COLUMN] = ALL_CONTAINERS
    return out[cols.dyn_order()]


def _container_names(table: pd.DataFrame) -> pd.Series:
    """Container name per row, computed once per distinct id."""
    ids = table[ID_COLUMN]
    return ids.map({identity: container_name_of(identity) for identity in ids.unique()})


def isolate_none(table: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """Squeeze only: DynPower is the node power as measured."""
    return squeeze(table, cols)


def isolate_min(table: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """Squeeze, then subtract each power column's minimum over all rows of the same node type."""
    out = squeeze(table, cols)
    if out.empty:
        return out
    power = cols.flat_power
    out[power] = out[power] - out.groupby("node_type")[power].transform("min")
    return out


def isolate_profile(
    table: pd.DataFrame,
    cols: Columns,
    profile: Mapping[str, Mapping[str, Mapping[str, float]]],
    background: Sequence[str],
) -> Tuple[pd.DataFrame, List[int]]:
    """Drop background containers, squeeze, subtract the idle profile's mean power, clip at 0.

    Returns the table and the node types that had no profile (their rows are left out).
    """
    names = _container_names(table) if not table.empty else pd.Series(dtype=object)
    out = squeeze(table[~names.isin(set(background))] if not table.empty else table, cols)
    missing: List[int] = []
    if out.empty:
        return out, missing
    keep = np.ones(len(out), dtype=bool)
    for node_type in sorted(out["node_type"].unique()):
        rows = (out["node_type"] == node_type).to_numpy()
        key = str(int(node_type))
        if not all(key in profile.get(component, {}) for component in cols.power):
            missing.append(int(node_type))
            keep &= ~rows
            continue
        for component, columns in cols.power.items():
            entry = profile[component][key]
            per_unit = (float(entry["min_watt"]) + float(entry["max_watt"])) / 2
            # A `<c>_power` column holds every unit; a per-package column holds one.
            background_watts = per_unit * (float(entry.get("#unit", 1)) if len(columns) == 1 else 1.0)
            for column in columns:
                values = out.loc[rows, column].to_numpy() - background_watts
                out.loc[rows, column] = np.clip(values, 0, None)
    return out[keep].reset_index(drop=True), missing


class AbsModelPredictor(Protocol):
    """An AbsPower model of an existing pipeline, as the trainer isolator needs it (train.md §7.4).

    `predict` takes raw (unscaled) feature values, one column per entry of `features` in that order,
    and returns the predicted node power per component (all units together).
    """

    source: str
    group: str  # feature group name
    name: str  # model name, e.g. SGDRegressorTrainer_0
    features: Sequence[str]
    mae: float
    node_type: int

    def predict(self, X_raw: np.ndarray) -> Mapping[str, np.ndarray]: ...


def is_background(container: str, target_hints: Sequence[str], bg_hints: Sequence[str]) -> bool:
    """Hint rules of §7.4 step 1 (substring matches on the container name)."""
    background = False
    if target_hints:
        background = not any(hint in container for hint in target_hints)
    if bg_hints:
        background = background or any(hint in container for hint in bg_hints)
    return background


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    value = float(np.corrcoef(x, y)[0, 1])
    return value if np.isfinite(value) else 0.0


def _better(candidate: Tuple[float, float], best: Optional[Tuple[float, float]]) -> bool:
    """Choice rule of §7.4 step 4 on (rho, mae)."""
    if best is None:
        return True
    rho, mae = candidate
    best_rho, best_mae = best
    if rho >= CORRELATION_THRESHOLD and (mae < best_mae or (mae == best_mae and rho > best_rho)):
        return True
    return best_rho < CORRELATION_THRESHOLD and rho >= best_rho and mae < best_mae


def _model_order(model: AbsModelPredictor) -> Tuple[int, str]:
    group = GROUP_ORDER.index(model.group) if model.group in GROUP_ORDER else len(GROUP_ORDER)
    return group, model.name


@dataclass
class TrainerChoice:
    """The AbsPower model the trainer isolator chose for one node type, and its correlation."""

    node_type: int
    model: Optional[str]  # "<group>/<model name>" of the chosen model, None when no candidate
    rho: float = 0.0


@dataclass
class _NodeSums:
    """One node type's rows per (input, timestamp): node power per component, background and foreground sums."""

    index: pd.MultiIndex
    power: Dict[str, np.ndarray]
    background: pd.DataFrame
    foreground: pd.DataFrame


def _node_sums(part: pd.DataFrame, part_bg: np.ndarray, cols: Columns, components: Sequence[str]) -> _NodeSums:
    """The sums of `_NodeSums` for one node type's rows (`part_bg`: background rows).

    A node value is no container's: background and foreground both see the node's value.
    """
    universe = part.groupby(KEYS, sort=True)[cols.flat_power + list(cols.node)].first()
    features = list(cols.features)
    sums = _NodeSums(
        universe.index,
        {c: universe[list(cols.power[c])].sum(axis=1).to_numpy() for c in components},
        part[part_bg].groupby(KEYS, sort=True)[features].sum().reindex(universe.index, fill_value=0.0),
        part[~part_bg].groupby(KEYS, sort=True)[features].sum().reindex(universe.index, fill_value=0.0),
    )
    for feature in cols.node:
        sums.background[feature] = sums.foreground[feature] = universe[feature].to_numpy()
    return sums


def _best_model(
    candidates: Sequence[AbsModelPredictor], sums: _NodeSums, components: Sequence[str]
) -> Optional[Tuple[AbsModelPredictor, Dict[str, np.ndarray], float]]:
    """§7.4 steps 2-4: the candidate whose dynamic power best follows the foreground features.

    Returns (model, dynamic power per component, rho), or None without candidates.
    """
    best = None
    best_key: Optional[Tuple[float, float]] = None
    for model in candidates:
        X = sums.background[list(model.features)].to_numpy(dtype=float)
        predicted = model.predict(X)
        dynamic = {}
        for component in components:
            bg = np.clip(np.asarray(predicted.get(component, np.zeros(len(X))), dtype=float), 0, None)
            dynamic[component] = np.maximum(0.0, sums.power[component] - bg)
        rho = max(
            (_pearson(sums.foreground[f].to_numpy(dtype=float), dynamic[components[0]]) for f in model.features),
            default=0.0,
        )
        key = (rho, float(model.mae))
        if _better(key, best_key):
            best, best_key = (model, dynamic, rho), key
    return best


def _scale_power(
    squeezed: pd.DataFrame, sums: _NodeSums, dynamic: Dict[str, np.ndarray], cols: Columns, components: Sequence[str]
) -> pd.DataFrame:
    """Each power column scaled by dynamic / node power of its component at the row's (input, timestamp)."""
    position = sums.index.get_indexer(pd.MultiIndex.from_frame(squeezed[KEYS]))
    for component in components:
        total = sums.power[component][position]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(total > 0, dynamic[component][position] / np.where(total > 0, total, 1), 0.0)
        for column in cols.power[component]:
            squeezed[column] = squeezed[column].to_numpy(dtype=float) * factor
    return squeezed


def isolate_trainer(
    table: pd.DataFrame,
    cols: Columns,
    source: str,
    models: Sequence[AbsModelPredictor],
    target_hints: Sequence[str] = (),
    bg_hints: Sequence[str] = (),
) -> Tuple[pd.DataFrame, List[TrainerChoice]]:
    """Subtract the background power predicted by the best AbsPower model per node type (§7.4)."""
    if table.empty:
        return squeeze(table, cols), []
    components = list(cols.power) or list(ENERGY_SOURCES[source].components)
    names = _container_names(table)
    flags = {n: is_background(n, target_hints, bg_hints) for n in names.unique()}
    background = names.map(flags).to_numpy(dtype=bool)
    results, choices = [], []
    available = set(table.columns)
    for node_type in sorted(int(n) for n in table["node_type"].unique()):
        rows = (table["node_type"] == node_type).to_numpy()
        part, part_bg = table[rows], background[rows]
        sums = _node_sums(part, part_bg, cols, components)
        candidates = sorted(
            (
                m
                for m in models
                if m.source == source and int(m.node_type) == node_type and all(f in available for f in m.features)
            ),
            key=_model_order,
        )
        best = _best_model(candidates, sums, components)
        if best is None:
            choices.append(TrainerChoice(node_type, None))
            continue
        model, dynamic, rho = best
        choices.append(TrainerChoice(node_type, f"{model.group}/{model.name}", rho))
        squeezed = squeeze(part[~part_bg], cols)
        if not squeezed.empty:
            results.append(_scale_power(squeezed, sums, dynamic, cols, components))
    out = pd.concat(results, ignore_index=True) if results else pd.DataFrame(columns=cols.dyn_order())
    if not out.empty:
        out = out.sort_values(KEYS, kind="stable").reset_index(drop=True)
    return out, choices
