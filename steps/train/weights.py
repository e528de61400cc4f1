"""weight.json for Kepler's local estimator (train.md §9.3, shapes in workspace.md §3.14). Pure."""

from __future__ import annotations

import base64
from typing import Any, Callable, Dict, Optional

import numpy as np

from ..common.domain import WEIGHT_CURVEFIT, WEIGHT_LINEAR, WEIGHT_XGBOOST
from .curvefit import parameters
from .fit import FittedModel

WeightDocument = Dict[str, Dict[str, Any]]


def _scales(model: FittedModel) -> list:
    return [float(s) for s in np.asarray(model.scaler.scale_, dtype=float)]


def linear_weights(model: FittedModel) -> Optional[WeightDocument]:
    """Bias_Weight + Σ weight·x/scale; None unless every component has one coefficient per feature."""
    scales = _scales(model)
    document: WeightDocument = {}
    for component in model.components:
        estimator = model.estimators[component]
        coef = np.asarray(getattr(estimator, "coef_", []), dtype=float)
        intercept = np.asarray(getattr(estimator, "intercept_", []), dtype=float)
        if coef.ndim != 1 or coef.shape[0] != len(model.features) or intercept.size != 1:
            return None
        document[component] = {
            "All_Weights": {
                "Bias_Weight": float(intercept.reshape(-1)[0]),
                "Categorical_Variables": {},
                "Numerical_Variables": {
                    feature: {"scale": scales[i], "weight": float(coef[i])} for i, feature in enumerate(model.features)
                },
            }
        }
    return document


def curvefit_weights(model: FittedModel) -> WeightDocument:
    """CurveFit_Weights: the fitted parameters, with the scale of every feature."""
    scales = _scales(model)
    return {
        component: {
            "All_Weights": {
                "Categorical_Variables": {},
                "Numerical_Variables": {feature: {"scale": scales[i]} for i, feature in enumerate(model.features)},
                "CurveFit_Weights": list(parameters(model.estimators[component])),
            }
        }
        for component in model.components
    }


def xgboost_weights(model: FittedModel, model_json: Dict[str, bytes]) -> WeightDocument:
    """`model_json`: component -> the native JSON model text as saved (`<component>.json`)."""
    scales = _scales(model)
    return {
        component: {
            "All_Weights": {
                "Categorical_Variables": {},
                "Numerical_Variables": {feature: {"scale": scales[i]} for i, feature in enumerate(model.features)},
                "XGboost_Weights": base64.b64encode(model_json[component]).decode("ascii"),
            }
        }
        for component in model.components
    }


def weight_document(model: FittedModel, model_json: Optional[Dict[str, bytes]] = None) -> Optional[WeightDocument]:
    """The weight JSON of this model's trainer kind, or None when the trainer has none."""
    kinds: Dict[Optional[str], Callable[[], Optional[WeightDocument]]] = {
        WEIGHT_LINEAR: lambda: linear_weights(model),
        WEIGHT_CURVEFIT: lambda: curvefit_weights(model),
        WEIGHT_XGBOOST: lambda: xgboost_weights(model, model_json or {}),
    }
    build = kinds.get(model.trainer.weight)
    return build() if build else None
