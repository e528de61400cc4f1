"""Errors users can trust: time-block cross-validation and the extrapolation error of one model. Pure.

The published `mae`/`mape` come from one seeded random 10% split (train.md §8.1): neighbouring
samples of a time series land on both sides, so the split flatters models that memorise
(k-NN, boosted trees). Here, per node type:

- **Cross-validation over contiguous time blocks** (`fold_plan`): the rows in time order cut into
  k blocks (np.array_split); each block is predicted by a fresh estimator (same trainer, seed,
  scaler; Polynomial: PolynomialFeatures refitted on the fold's training X) fitted on the others.
  Per fold the model's MAE/MAPE is the largest component's (train.md §9.2); `cv_mae` is the mean
  over folds, `cv_mae_std` the population std.
- **Extrapolation** (`extrapolation_rows`): per component, fitted on the rows whose main feature
  (FeatureGroup.main_index) is at or below its (1 - top) quantile, tested on the rows above.
- **MAPE floor**: labels below `floor` watts enter no MAPE; a component none of whose labels reach
  it is `negligible` and its MAPE is -1 (train.md §9.1's "no row").

Failure: a fold or extrapolation fit that raises (or predicts non-finite values) leaves that
model's CV (or extrapolation) columns empty; the model itself stands. MAPE aggregates skip folds
whose MAPE is -1 (no row above the floor); -1 when every fold's is.

The fits of a derived DynPower model (derive.py) are not repeated: its held-out predictions are
the AbsPower model's lowered by the component's constant (`HeldOut.shifted`), scored on the
DynPower labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..common.domain import CURVEFIT, CV_COLUMNS, NEGLIGIBLE, Trainer
from .fit import fit_estimators, mape_rows, predict
from .fit_data import FitInput, NodeData
from .options import ScoreSettings

if TYPE_CHECKING:  # curvefit imports joblib: not before train's workers have started
    from .curvefit import CurveCache

Split = Tuple[np.ndarray, np.ndarray]  # (held-out row indices, predictions there)


@dataclass
class HeldOut:
    """A model's predictions on rows its fits did not see: what its scores are computed from."""

    folds: List[np.ndarray]  # held-out row indices (time order) per fold
    cv: Optional[Dict[str, np.ndarray]]  # component -> out-of-fold prediction per row; None: CV failed
    extrapolation: Optional[Dict[str, Split]]  # component -> held-out rows and predictions; None: failed

    def shifted(self, offsets: Dict[str, float]) -> "HeldOut":
        """The predictions of the models lowered by `offsets` (a derived DynPower model's, derive.py)."""
        cv = None if self.cv is None else {c: p - offsets[c] for c, p in self.cv.items()}
        extrapolation = (
            None
            if self.extrapolation is None
            else {c: (rows, p - offsets[c]) for c, (rows, p) in self.extrapolation.items()}
        )
        return HeldOut(folds=self.folds, cv=cv, extrapolation=extrapolation)


@dataclass(frozen=True)
class Scores:
    """The scores of one model; None: not available (the fits failed, or scoring is off)."""

    cv_mae: Optional[float] = None
    cv_mae_std: Optional[float] = None
    cv_mape: Optional[float] = None
    cv_mape_std: Optional[float] = None
    extrapolation_mae: Optional[float] = None
    extrapolation_mape: Optional[float] = None
    negligible: Tuple[str, ...] = ()

    def document(self, enabled: bool) -> Dict[str, Any]:
        """The model's values of the metadata CSV columns after `feature_group`: CV_COLUMNS (only when
        `enabled`; None where not available), then `negligible` as a list."""
        values: Dict[str, Any] = {name: getattr(self, name) for name in CV_COLUMNS} if enabled else {}
        values[NEGLIGIBLE] = list(self.negligible)
        return values


# -- plans
def fold_plan(rows: int, folds: int) -> List[np.ndarray]:
    """The held-out rows of each fold: `folds` contiguous blocks of rows 0..rows-1 (time order),
    together every row once. ValueError when a block would be empty."""
    if folds < 2 or rows < folds:
        raise ValueError(f"{folds} folds need at least {max(folds, 2)} rows, have {rows}")
    return np.array_split(np.arange(rows), folds)


def extrapolation_rows(x_main: np.ndarray, top: float) -> np.ndarray:
    """Mask of the rows held out for extrapolation: main feature above its (1 - top) quantile.
    ValueError when there is none (the top values tie with the quantile)."""
    held = x_main > np.quantile(x_main, 1.0 - top)
    if not held.any():
        raise ValueError("no row lies above the extrapolation quantile")
    return held


# -- fits
def _take(values: Dict[str, np.ndarray], rows: np.ndarray) -> Dict[str, np.ndarray]:
    return {key: value[rows] for key, value in values.items()}


def _row_count(node: NodeData) -> int:
    """The rows of the node type in time order (none without them)."""
    return len(node.timestamp) if node.timestamp is not None else 0


def _finite(predicted: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    for component, values in predicted.items():
        if not np.isfinite(values).all():
            raise ValueError(f"{component} predictions are not finite")
    return predicted


# Tables from this many rows have their scoring fits run on threads (`_each`); below it a fit is mostly
# Python holding the GIL (measured on 1,440-row tables: no gain, some loss).
THREADED_ROWS = 5000


def _each(call: Callable[[Any], Any], items: List[Any], trainer: Trainer, threads: int, rows: int) -> List[Any]:
    """`call` on every item, in order; on `threads` threads for tables of THREADED_ROWS rows or more (not
    the curve fits: MINPACK's callback is not reentrant). Why: such fits release the GIL while they grow
    trees or solve, so a model's folds fill a core its worker's neighbour left idle: on a VM host's
    72,000 rows one gradient-boosting job was the run's critical path (94 -> 76 s)."""
    if threads <= 1 or rows < THREADED_ROWS or trainer.model_class == CURVEFIT or len(items) < 2:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(call, items))


def cross_validate(
    data: FitInput,
    node: NodeData,
    trainer: Trainer,
    seed: int,
    folds: List[np.ndarray],
    cache: Optional[CurveCache],
    threads: int = 1,
) -> Dict[str, np.ndarray]:
    """Out-of-fold predictions per component: each block predicted by estimators fitted on the others."""
    rows = _row_count(node)

    def fold(held: np.ndarray) -> Dict[str, np.ndarray]:
        train = np.setdiff1d(np.arange(rows), held, assume_unique=True)
        poly, estimators = fit_estimators(
            data, trainer, seed, _take(node.x_all, train), _take(node.y_all, train), cache
        )
        return _finite(predict(data, poly, estimators, _take(node.x_all, held)))

    predicted = {component: np.full(rows, np.nan) for component in data.components}
    for held, values in zip(folds, _each(fold, folds, trainer, threads, rows)):
        for component, column in values.items():
            predicted[component][held] = column
    return predicted


def extrapolate(
    data: FitInput,
    node: NodeData,
    trainer: Trainer,
    seed: int,
    top: float,
    cache: Optional[CurveCache],
    threads: int = 1,
) -> Dict[str, Split]:
    """Per component: the rows above its main feature's quantile and their predictions by an
    estimator fitted on the rows at or below it."""

    def split(component: str) -> Split:
        x = node.x_all[data.component_x[component]]
        held = extrapolation_rows(x[:, data.group.main_index(component, data.features)], top)
        train, test = np.flatnonzero(~held), np.flatnonzero(held)
        xs, ys = _take(node.x_all, train), _take(node.y_all, train)
        poly, estimators = fit_estimators(data, trainer, seed, xs, ys, cache, components=(component,))
        return test, _finite(predict(data, poly, estimators, _take(node.x_all, test)))[component]

    rows = _row_count(node)
    return dict(zip(data.components, _each(split, list(data.components), trainer, threads, rows)))


def held_out(
    data: FitInput,
    node: NodeData,
    trainer: Trainer,
    seed: int,
    settings: ScoreSettings,
    cache: Optional[CurveCache] = None,
) -> Optional[HeldOut]:
    """The CV and extrapolation predictions of one model; None when scoring is off. A part whose
    fits fail is None (its columns stay empty), the other part is kept."""
    if not settings.enabled or node.problem or node.timestamp is None:
        return None
    cv: Optional[Dict[str, np.ndarray]] = None
    folds: List[np.ndarray] = []
    try:
        folds = fold_plan(len(node.timestamp), settings.folds)
        cv = cross_validate(data, node, trainer, seed, folds, cache, settings.threads)
    except Exception:  # noqa: BLE001 - a failed fold empties the CV columns, never fails the model
        cv = None
    try:
        extrapolation: Optional[Dict[str, Split]] = extrapolate(
            data, node, trainer, seed, settings.top, cache, settings.threads
        )
    except Exception:  # noqa: BLE001 - likewise for the extrapolation columns
        extrapolation = None
    return HeldOut(folds=folds, cv=cv, extrapolation=extrapolation)


# -- scores
def negligible(data: FitInput, node: NodeData, floor: float) -> Tuple[str, ...]:
    """Components none of whose labels (every row of the node type) reach the MAPE floor."""
    return tuple(c for c in data.components if c in node.y_all and not mape_rows(node.y_all[c], floor).any())


def _mae(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(y - predicted).mean())


def _mape(y: np.ndarray, predicted: np.ndarray, floor: float) -> float:
    """Unrounded MAPE over the rows at or above the floor; -1 when there is none."""
    counted = mape_rows(y, floor)
    if not counted.any():
        return -1.0
    return float((np.abs(y[counted] - predicted[counted]) / y[counted]).mean() * 100)


def _rounded(value: float) -> float:
    return round(float(value), 2)


def _mean_std(values: List[float]) -> Tuple[float, float]:
    return _rounded(np.mean(values)), _rounded(np.std(values))


def _cv_scores(node: NodeData, held: HeldOut, floor: float) -> Dict[str, Any]:
    assert held.cv is not None
    maes, mapes = [], []
    for rows in held.folds:
        maes.append(max(_mae(node.y_all[c][rows], p[rows]) for c, p in held.cv.items()))
        mapes.append(max(_mape(node.y_all[c][rows], p[rows], floor) for c, p in held.cv.items()))
    counted = [m for m in mapes if m != -1.0]
    cv_mae, cv_mae_std = _mean_std(maes)
    cv_mape, cv_mape_std = _mean_std(counted) if counted else (-1, -1)
    return {"cv_mae": cv_mae, "cv_mae_std": cv_mae_std, "cv_mape": cv_mape, "cv_mape_std": cv_mape_std}


def _extrapolation_scores(node: NodeData, held: HeldOut, floor: float) -> Dict[str, Any]:
    assert held.extrapolation is not None
    maes = [_mae(node.y_all[c][rows], p) for c, (rows, p) in held.extrapolation.items()]
    mapes = [_mape(node.y_all[c][rows], p, floor) for c, (rows, p) in held.extrapolation.items()]
    mape = max(mapes)
    return {"extrapolation_mae": _rounded(max(maes)), "extrapolation_mape": -1 if mape == -1.0 else _rounded(mape)}


def score(data: FitInput, node: NodeData, held: Optional[HeldOut], floor: float) -> Scores:
    """The scores of one model from its held-out predictions (None: only `negligible`)."""
    found: Dict[str, Any] = {}
    if held is not None and held.cv is not None:
        found.update(_cv_scores(node, held, floor))
    if held is not None and held.extrapolation is not None:
        found.update(_extrapolation_scores(node, held, floor))
    return Scores(negligible=negligible(data, node, floor), **found)


def out_of_fold(data: FitInput, node: NodeData, held: Optional[HeldOut]) -> Optional[Dict[str, np.ndarray]]:
    """The arrays of `<Trainer>_<n>.cv.npz` (export's plots): `timestamp`, `load` (the first
    component's main feature, raw), per component `measured_<c>` and `predicted_<c>` (out of fold),
    rows in time order; None when there are no out-of-fold predictions."""
    if held is None or held.cv is None or node.timestamp is None or node.load is None:
        return None
    arrays: Dict[str, np.ndarray] = {
        "timestamp": np.asarray(node.timestamp, dtype=np.float64),
        "load": np.asarray(node.load, dtype=np.float64),
    }
    for component in data.components:
        arrays[f"measured_{component}"] = np.asarray(node.y_all[component], dtype=np.float64)
        arrays[f"predicted_{component}"] = np.asarray(held.cv[component], dtype=np.float64)
    return arrays
