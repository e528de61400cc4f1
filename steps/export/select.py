"""Which trained models are published, and which one is best per node type (export.md §4, §5).

Pure functions over the rows read from the model metadata CSVs: no file access here. What exists
on disk (model zips, weight files) is passed in as sets of model keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import AbstractSet, Dict, Iterable, List, Mapping, Optional, Tuple

# (source, output type, feature group, model name): identifies one model of a pipeline.
ModelKey = Tuple[str, str, str, str]
# (node type, source, output type, feature group): one cell of the error reports.
BestKey = Tuple[int, str, str, str]

ERROR_KEYS = ("mae", "mape")


@dataclass(frozen=True)
class Thresholds:
    """The selection thresholds; defaults are kepler-model-server's constants."""

    mae: float = 10.0
    mape: float = 20.0
    hard: float = 100.0


@dataclass(frozen=True)
class ModelRow:
    """One row of a model metadata CSV: the numbers selection needs plus the row's text cells."""

    source: str
    output_type: str
    feature_group: str
    model_name: str
    trainer: str
    node_type: Optional[int]
    mae: float  # the errors the selection judges by (`--select-by`; see judged_by)
    mape: float
    cells: Mapping[str, str] = field(default_factory=dict, compare=False)
    # family (`split`, `cv`, `extrapolation`) -> (mae, mape) as read; NaN where the cell is empty
    families: Mapping[str, Tuple[float, float]] = field(default_factory=dict, compare=False)
    negligible: Tuple[str, ...] = ()  # components judged by MAE alone (their power never reaches the MAPE floor)

    @property
    def key(self) -> ModelKey:
        return (self.source, self.output_type, self.feature_group, self.model_name)

    @property
    def split(self) -> Tuple[float, float]:
        """The held-out split's (mae, mape): what kepler-model-db has always published."""
        return self.families.get("split", (self.mae, self.mape))

    def error(self, error_key: str) -> float:
        return self.mae if error_key == "mae" else self.mape


def judged_by(row: ModelRow, family: str) -> ModelRow:
    """The row with `mae`/`mape` set to the family's errors (NaN when it has none: it is not exported)."""
    mae, mape = row.families.get(family, row.split if family == "split" else (math.nan, math.nan))
    return replace(row, mae=mae, mape=mape)


def has_errors(row: ModelRow) -> bool:
    """Both selected errors are numbers (an empty cv cell: the model's folds failed)."""
    return not (math.isnan(row.mae) or math.isnan(row.mape))


def passes_thresholds(mae: float, mape: float, thresholds: Thresholds) -> bool:
    """Rule §4.1 steps 1-2: both errors under the hard cap, then the MAE test or the MAPE test.

    A `mape` of -1 (never tested against a positive power) fails the MAPE test.
    """
    if not (math.isfinite(mae) and math.isfinite(mape)):
        return False
    if mae > thresholds.hard or mape > thresholds.hard:
        return False
    return mae <= thresholds.mae or 0 <= mape <= thresholds.mape


@dataclass(frozen=True)
class TableSelection:
    """The outcome for one (source, output type): exported rows in CSV order and the rejects."""

    source: str
    output_type: str
    total: int
    exported: Tuple[ModelRow, ...]
    over_thresholds: int
    without_zip: Tuple[ModelRow, ...]
    without_node_type: Tuple[ModelRow, ...]
    without_errors: Tuple[ModelRow, ...] = ()  # no value of the selected family (cv: the model's folds failed)
    family: str = "split"

    def summary(self) -> str:
        missing = f"{len(self.without_errors)} without {self.family} error, " if self.without_errors else ""
        return (
            f"{self.source} {self.output_type}: {len(self.exported)} of {self.total} models exported "
            f"({self.over_thresholds} over thresholds, {missing}{len(self.without_zip)} without zip, "
            f"{len(self.without_node_type)} without node type)"
        )


def csv_order(rows: Iterable[ModelRow], error_key: str) -> List[ModelRow]:
    """Rows sorted as the metadata CSV is: feature group, ERROR_KEY, model name (workspace.md §3.11)."""
    return sorted(rows, key=lambda r: (r.feature_group, _sortable(r.error(error_key)), r.model_name))


def select_table(
    source: str,
    output_type: str,
    rows: Iterable[ModelRow],
    thresholds: Thresholds,
    zips: AbstractSet[ModelKey],
    node_types: AbstractSet[int],
    error_key: str,
    family: str = "split",
) -> TableSelection:
    """Apply rule §4.1 (thresholds, zip present, node type indexed) to the rows of one CSV.

    The rows' `mae`/`mape` are the `family`'s (judged_by); a row without them is counted apart (split:
    an unreadable error counts as over thresholds, as it always has).
    """
    rows = list(rows)
    exported, no_zip, no_type, no_errors = [], [], [], []
    over = 0
    for row in rows:
        if family != "split" and not has_errors(row):
            no_errors.append(row)
        elif not passes_thresholds(row.mae, row.mape, thresholds):
            over += 1
        elif row.key not in zips:
            no_zip.append(row)
        elif row.node_type is None or row.node_type not in node_types:
            no_type.append(row)
        else:
            exported.append(row)
    return TableSelection(
        source,
        output_type,
        len(rows),
        tuple(csv_order(exported, error_key)),
        over,
        tuple(no_zip),
        tuple(no_type),
        tuple(no_errors),
        family,
    )


def _sortable(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def _rank_error(value: float, name: str) -> float:
    # A mape of -1 means "not measured"; it must never make a model look best.
    if name == "mape" and value < 0:
        return math.inf
    return _sortable(value)


def best_models(
    rows: Iterable[ModelRow], error_key: str, eligible: Optional[AbstractSet[ModelKey]] = None
) -> Dict[BestKey, ModelRow]:
    """Best model per (node type, source, output type, feature group), §5.

    Lowest ERROR_KEY, ties broken by the other error, then by model name. With `eligible`
    (the models whose weight JSON was published) this is the local-estimator best.
    """
    other = "mape" if error_key == "mae" else "mae"
    best: Dict[BestKey, ModelRow] = {}
    ranks: Dict[BestKey, tuple] = {}
    for row in rows:
        if row.node_type is None or (eligible is not None and row.key not in eligible):
            continue
        slot = (row.node_type, row.source, row.output_type, row.feature_group)
        rank = (_rank_error(row.error(error_key), error_key), _rank_error(row.error(other), other), row.model_name)
        if slot not in ranks or rank < ranks[slot]:
            ranks[slot] = rank
            best[slot] = row
    return best
