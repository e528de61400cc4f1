"""Fitting one (trainer, node type) of a prepared training set, and its errors: train.md §8 and §9.1/§9.2.

Pure: prepared data in (fit_data.py), a fitted model and its errors out. No file is read or
written here: a curve fit's shared results come in as a cache object (curvefit.CurveCache), and
the model files are written by the caller (model_files.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Set, Tuple

import numpy as np

from ..common.domain import CURVEFIT, Trainer, model_name
from .fit_data import FitInput, NodeData
from .trainers import build_estimator

if TYPE_CHECKING:  # curvefit imports joblib: not before train's workers have started
    from .curvefit import CurveCache

Errors = Dict[str, Dict[str, float]]  # "mae"/"mape" -> component -> value


@dataclass
class FittedModel:
    """One trained (trainer, node type): estimators per component, transforms, errors."""

    trainer: Trainer
    node_type: int
    features: Tuple[str, ...]
    components: Tuple[str, ...]
    scaler: Any
    poly: Any
    estimators: Dict[str, Any]
    errors: Errors
    # Held-out predictions of the CV folds and the extrapolation split (scoring.py), None when not scored;
    # kept so that a derived DynPower model's are its AbsPower model's, shifted (derive.py).
    held_out: Any = None

    @property
    def name(self) -> str:
        """`<trainer>_<node type>`."""
        return model_name(self.trainer.name, self.node_type)

    @property
    def mae(self) -> float:
        """The largest component MAE (train.md §9.2)."""
        return max(self.errors["mae"].values())

    @property
    def mape(self) -> float:
        """The largest component MAPE (-1 only when every component's is -1)."""
        return max(self.errors["mape"].values())


def fit_estimators(
    data: FitInput,
    trainer: Trainer,
    seed: int,
    xs: Dict[str, np.ndarray],
    ys: Dict[str, np.ndarray],
    cache: Optional[CurveCache] = None,
    components: Optional[Tuple[str, ...]] = None,
) -> Tuple[Any, Dict[str, Any]]:
    """A fresh estimator per component fitted on (xs[its X], ys[component]), and the polynomial transform.

    `xs`: scaled X by RAW/UNITS; Polynomial: `PolynomialFeatures(degree=2)` fitted on the first
    component's X and used for all (train.md §8.1). `components`: a subset (default all).
    """
    poly = None
    estimators: Dict[str, Any] = {}
    rows = fit_rows(len(next(iter(ys.values()))), data.max_fit_rows, seed) if ys else None
    if rows is not None:
        xs, ys = {k: v[rows] for k, v in xs.items()}, {k: v[rows] for k, v in ys.items()}
    for component in components or data.components:
        x = xs[data.component_x[component]]
        if trainer.polynomial:
            from sklearn.preprocessing import PolynomialFeatures

            if poly is None:
                poly = PolynomialFeatures(degree=2).fit(x)
            x = poly.transform(x)
        estimator = build_estimator(trainer, seed)
        if trainer.model_class == CURVEFIT:
            estimator.set_feature_index(data.group.main_index(component, data.features))
            estimator.fit(x, ys[component], cache=cache)
        else:
            _fit_checked_once(trainer, estimator, x, ys[component])
        estimators[component] = estimator
    return poly, estimators


_CHECKED: Set[str] = set()  # trainers whose hyper-parameters this process has validated


def _fit_checked_once(trainer: Trainer, estimator: Any, x: np.ndarray, y: np.ndarray) -> None:
    """`estimator.fit`, scikit-learn's hyper-parameter validation only on the trainer's first fit in this
    process. Why: the table's parameters never change, and gradient boosting validates a fresh tree at
    each of its 100 stages: a tenth of its fit on benchmark-sized tables, seven fits per model when
    scored. Skipping it changes no result (scikit-learn's `skip_parameter_validation`)."""
    from sklearn import config_context

    with config_context(skip_parameter_validation=trainer.name in _CHECKED):
        estimator.fit(x, y)
    _CHECKED.add(trainer.name)


def fit_rows(rows: int, most: int, seed: int) -> Optional[np.ndarray]:
    """The rows (in order) a fit of `rows` rows takes: a seeded sample of `most` when there are more, else
    None (all). Why: a boosted-tree fit grows with its rows, and the 72,000 rows of 50 VMs over 6 h made
    one GradientBoosting job take 46 s; 20,000 rows of one machine fix a handful of features as well,
    and the errors are still measured on every held-out row. Derivation (derive.py) and the curve-fit
    cache hold: the sample depends only on the row count and the seed, as the split does."""
    if not most or rows <= most:
        return None
    return np.sort(np.random.default_rng(seed).choice(rows, most, replace=False))


def predict(data: FitInput, poly: Any, estimators: Dict[str, Any], xs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Each estimator's predictions on its component's X (after `poly` when there is one), as floats."""
    predicted: Dict[str, np.ndarray] = {}
    for component, estimator in estimators.items():
        x = xs[data.component_x[component]]
        x = poly.transform(x) if poly is not None else x
        predicted[component] = np.asarray(estimator.predict(x), dtype=float).ravel()
    return predicted


def fit_node(
    data: FitInput,
    node: NodeData,
    trainer: Trainer,
    seed: int,
    cache: Optional[CurveCache] = None,
    floor: float = 0.0,
) -> FittedModel:
    """Fit every component of one node type with a fresh estimator; raise on any failure.

    `cache`: curve-fit results other fits of the run made already (curve-fit trainers only).
    `floor`: labels below it (watts) enter no MAPE.
    """
    if node.problem:
        raise ValueError(node.problem)
    poly, estimators = fit_estimators(data, trainer, seed, node.x_train, node.y_train, cache)
    return tested_model(data, node, trainer, poly, estimators, floor)


def tested_model(
    data: FitInput, node: NodeData, trainer: Trainer, poly: Any, estimators: Dict[str, Any], floor: float = 0.0
) -> FittedModel:
    """The model of fitted (or derived) `estimators`, with their errors on the node's test part (§9.1)."""
    predicted = predict(data, poly, estimators, node.x_test)
    errors: Errors = {"mae": {}, "mape": {}}
    for component in data.components:
        record_errors(errors, component, node.y_test[component], predicted[component], floor)
    return FittedModel(
        trainer=trainer,
        node_type=node.node_type,
        features=data.features,
        components=data.components,
        scaler=node.scaler,
        poly=poly,
        estimators=estimators,
        errors=errors,
    )


def record_errors(errors: Errors, component: str, y_test: np.ndarray, predicted: Any, floor: float = 0.0) -> None:
    """Add a component's MAE and MAPE to `errors`; ValueError when the predictions are not finite."""
    mae, mape = component_errors(y_test, np.asarray(predicted, dtype=float).ravel(), floor)
    if not np.isfinite(mae):
        raise ValueError(f"{component} predictions are not finite")
    errors["mae"][component], errors["mape"][component] = mae, mape


def mape_rows(y: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """The rows a MAPE averages over: label > 0 (train.md §9.1) and not below `floor` watts."""
    y = np.asarray(y, dtype=float)
    return (y > 0) & (y >= floor)


def component_errors(y: np.ndarray, predicted: np.ndarray, floor: float = 0.0) -> Tuple[float, Any]:
    """MAE and MAPE of train.md §9.1: MAPE over y > 0 and y >= `floor` only, -1 (int) when there is
    none; 2 decimals."""
    y = np.asarray(y, dtype=float)
    absolute = np.abs(y - predicted)
    mae = round(float(absolute.mean()), 2) if len(y) else float("nan")
    counted = mape_rows(y, floor)
    if not counted.any():
        return mae, -1
    return mae, round(float((absolute[counted] / y[counted]).mean() * 100), 2)


def model_metadata(
    model: FittedModel,
    output_type: str,
    machine_spec: Optional[Dict[str, Any]],
    extra: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Model `metadata.json` in workspace.md §3.13 key order; `extra` keys (0.10's `kepler_generation`,
    `cpu_time_source`) after the errors."""
    name = model.name
    document: Dict[str, Any] = {
        "model_name": name,
        "trainer": model.trainer.name,
        "model_class": model.trainer.model_class,
        "model_file": f"{name}.json",
        "features": list(model.features),
        "fe_files": list(model.trainer.fe_files),
        "output_type": output_type,
        "mae": model.mae,
        "mape": model.mape,
        "node_type": model.node_type,
    }
    if machine_spec is not None:
        document["machine_spec"] = dict(machine_spec)
    for component in model.components:
        document[f"{component}_mae"] = model.errors["mae"][component]
    for component in model.components:
        document[f"{component}_mape"] = model.errors["mape"][component]
    document.update(extra or {})
    return document
