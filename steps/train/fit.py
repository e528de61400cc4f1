"""Fitting one (trainer, node type) of a prepared training set, and its errors: train.md §8 and §9.1/§9.2.

Pure: prepared data in (fit_data.py), a fitted model and its errors out. No file is read or
written here: a curve fit's shared results come in as a cache object (curvefit.CurveCache), and
the model files are written by the caller (model_files.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

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


def fit_node(
    data: FitInput, node: NodeData, trainer: Trainer, seed: int, cache: Optional[CurveCache] = None
) -> FittedModel:
    """Fit every component of one node type with a fresh estimator; raise on any failure.

    `cache`: curve-fit results other fits of the run made already (curve-fit trainers only).
    """
    if node.problem:
        raise ValueError(node.problem)
    poly = None
    estimators: Dict[str, Any] = {}
    errors: Errors = {"mae": {}, "mape": {}}
    for component in data.components:
        key = data.component_x[component]
        x_train, x_test = node.x_train[key], node.x_test[key]
        if trainer.polynomial:
            from sklearn.preprocessing import PolynomialFeatures

            if poly is None:
                poly = PolynomialFeatures(degree=2).fit(x_train)
            x_train, x_test = poly.transform(x_train), poly.transform(x_test)
        estimator = build_estimator(trainer, seed)
        if trainer.model_class == CURVEFIT:
            estimator.set_feature_index(data.group.main_index(component, data.features))
            estimator.fit(x_train, node.y_train[component], cache=cache)
        else:
            estimator.fit(x_train, node.y_train[component])
        record_errors(errors, component, node.y_test[component], estimator.predict(x_test))
        estimators[component] = estimator
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


def record_errors(errors: Errors, component: str, y_test: np.ndarray, predicted: Any) -> None:
    """Add a component's MAE and MAPE to `errors`; ValueError when the predictions are not finite."""
    mae, mape = component_errors(y_test, np.asarray(predicted, dtype=float).ravel())
    if not np.isfinite(mae):
        raise ValueError(f"{component} predictions are not finite")
    errors["mae"][component], errors["mape"][component] = mae, mape


def component_errors(y: np.ndarray, predicted: np.ndarray) -> Tuple[float, Any]:
    """MAE and MAPE of train.md §9.1: MAPE over y > 0 only, -1 (int) when there is none; 2 decimals."""
    y = np.asarray(y, dtype=float)
    absolute = np.abs(y - predicted)
    mae = round(float(absolute.mean()), 2) if len(y) else float("nan")
    positive = y > 0
    if not positive.any():
        return mae, -1
    return mae, round(float((absolute[positive] / y[positive]).mean() * 100), 2)


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
