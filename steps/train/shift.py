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

Not here: XGBoost (its labels and gradients are float32, so a shifted target rounds differently
and grows other trees), SGD (the shift changes its updates) and the curve fits (MINPACK's
finite-difference steps scale with the offset parameter's size).
"""

from __future__ import annotations

import copy
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
