"""Lower a fitted estimator's output by a constant: DynPower models from AbsPower ones.

With the `min` and `none` isolators a DynPower table has the AbsPower table's rows and features,
and its power is the AbsPower power minus one constant per component and node type (the idle
minimum, or 0). For the estimators below a fit commutes with such a shift of the target: the
intercept (linear models, SVR's bias), the initial constant (gradient boosting, whose trees fit
residuals that the shift does not change) or the neighbours' mean (k-NN) absorbs it. So the
DynPower model is the AbsPower model with its output lowered: what a fresh fit gives, up to
rounding, without fitting again. Rounding is all that differs, but it can tip a choice: SVR stops
at its solver tolerance (1e-3), and gradient boosting may take the other of two splits whose gains
are equal up to rounding (seen for one test row in thirty on a small table). `fit.derive_node` checks that
the data really are the shifted AbsPower data and otherwise leaves the fit to `fit.fit_node`.

XGBoost (squared error) starts from the target's mean too and its trees fit the same gradients, but
it keeps labels in float32: a shifted target rounds differently, and where two splits' gains tie to
that precision the fresh fit may grow another tree (measured on the benchmark's data: predictions
equal for most rows, up to 1.4 W apart for a few, model MAE within 0.02 W). Its derived model is the
exact shift of the AbsPower model, base score lowered.

Not here: SGD (the shift changes its updates) and the curve fits (MINPACK's finite-difference
steps scale with the offset parameter's size).
"""

from __future__ import annotations

import copy
import json
from typing import Any


def shift_linear(estimator: Any, offset: float) -> Any:
    """LinearRegression (also the one after PolynomialFeatures): the intercept absorbs the shift."""
    shifted = copy.deepcopy(estimator)
    shifted.intercept_ = shifted.intercept_ - offset
    return shifted


def shift_svr(estimator: Any, offset: float) -> Any:
    """SVR: the bias absorbs the shift (libsvm predicts with `_intercept_`; `intercept_` is its public copy)."""
    shifted = copy.deepcopy(estimator)
    shifted.intercept_ = shifted.intercept_ - offset
    shifted._intercept_ = shifted._intercept_ - offset
    return shifted


def shift_gradient_boosting(estimator: Any, offset: float) -> Any:
    """GradientBoostingRegressor (squared error): the initial constant, the target's mean, absorbs it."""
    shifted = copy.deepcopy(estimator)
    shifted.init_.constant_ = shifted.init_.constant_ - offset
    return shifted


def shift_kneighbors(estimator: Any, offset: float) -> Any:
    """KNeighborsRegressor: a prediction is the mean of stored targets, so shift the stored targets."""
    shifted = copy.deepcopy(estimator)
    shifted._y = shifted._y - offset
    return shifted


def shift_xgboost(estimator: Any, offset: float) -> Any:
    """XGBRegressor: lower the base score (the intercept every prediction starts from)."""
    shifted = copy.deepcopy(estimator)
    booster = shifted.get_booster()
    base = float(json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"])
    booster.set_param({"base_score": repr(base - offset)})
    return shifted
