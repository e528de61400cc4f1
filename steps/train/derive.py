"""When a DynPower model is derived from the AbsPower one instead of fitted, and how. Pure.

With the `min` and `none` isolators (train.md §7.1, §7.2) a DynPower table has the AbsPower
table's rows and features, and its power is the AbsPower power minus one constant per component
and node type (the idle minimum, or 0). For the trainers whose row of the trainer table names what
`absorbs_shift` (steps/common/domain.py), a fit commutes with such a shift of the target: the
intercept (linear models), SVR's bias, the initial constant (gradient boosting, whose trees fit
residuals that the shift does not change), the neighbours' mean (k-NN) or XGBoost's base score
absorbs it. So the DynPower model is the AbsPower model with its output lowered: what a fresh fit
gives, up to rounding, without fitting again.

Rounding is all that differs, but it can tip a choice: SVR stops at its solver tolerance (1e-3),
and gradient boosting may take the other of two splits whose gains are equal up to rounding (seen
for one test row in thirty on a small table). XGBoost (squared error) starts from the target's
mean and its trees fit the same gradients, but it keeps labels in float32: a shifted target rounds
differently, and where two splits' gains tie to that precision a fresh fit may grow another tree
(measured on the benchmark's data: predictions equal for most rows, up to 1.4 W apart for a few,
model MAE within 0.02 W). Its derived model is the exact shift of the AbsPower model.

Not derived: SGD (the shift changes its updates: measured up to 5 W apart on the benchmark's data)
and the curve fits (MINPACK's finite-difference steps scale with the offset parameter's size).

Scoring (scoring.py) follows the same proof: the folds and the extrapolation split are cut from
the same rows in the same time order, so each held-out fit of the DynPower model is the AbsPower
one's lowered by the same constants; the derived model's held-out predictions are the AbsPower
model's shifted (`HeldOut.shifted`), its MAE the AbsPower MAE and its MAPE recomputed on the
DynPower labels. `shift_offsets` therefore also checks every row in time order, not only the split.
The curve fits (`Trainer.scores_absorb_shift`) take the scores' half of it: each curve has a free
offset and a shift-equivariant initial guess, so a fold's least-squares optimum moves with the
target; only MINPACK's path differs, and on the benchmark's data a fresh fit's predictions were at
most 0.009 W from the shifted one's, its MAE within 6e-5 W (316 fits). So their DynPower model is
fitted afresh, as kepler-model-server fits it, and its six scoring fits are not repeated.

When: `may_ride` at planning time (the DynPower job then runs right after the AbsPower job of its
set and trainer, in the same process), and `shift_offsets` on the data, which checks that they
really are the shifted AbsPower data; otherwise the model is fitted and scored afresh (`fit_or_derive`).
"""

from __future__ import annotations

import json
import pickle
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

import numpy as np

from ..common.domain import BASE_SCORE, INITIAL_CONSTANT, INTERCEPT, NEIGHBOUR_MEAN, SVR_BIAS, Trainer
from .fit import FittedModel, fit_node, tested_model
from .fit_data import FitInput, NodeData
from .options import ScoreSettings
from .scoring import HeldOut, held_out

if TYPE_CHECKING:  # curvefit imports joblib: not before train's workers have started
    from .curvefit import CurveCache

# Isolators whose DynPower data are the AbsPower data with power lowered by a constant.
SHIFT_ISOLATORS = ("none", "min")
# How closely DynPower data must equal the shifted AbsPower data: the isolator's sums and
# subtractions round differently, nothing more.
SHIFT_RTOL = 1e-9


def may_derive(trainer: Trainer, isolator: str) -> bool:
    """Whether `trainer`'s DynPower models may be derived after `isolator` (the data decide at the end)."""
    return trainer.absorbs_shift is not None and isolator in SHIFT_ISOLATORS


def may_ride(trainer: Trainer, isolator: str, scored: bool) -> bool:
    """Whether `trainer`'s DynPower job should run right after its AbsPower job: its models may be
    derived, or (`scored`) its held-out predictions."""
    return may_derive(trainer, isolator) or (scored and trainer.scores_absorb_shift and isolator in SHIFT_ISOLATORS)


# -- how: a copy of the fitted estimator predicting `offset` less
def _copy(estimator: Any) -> Any:
    """A copy with the original's bytes: through pickle, not `copy.deepcopy`, whose copy of scikit-learn's
    tree node arrays leaves their struct padding uninitialised (a derived gradient boosting model's pickle
    then changed from run to run)."""
    return pickle.loads(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))


def _lower_intercept(estimator: Any, offset: float) -> Any:
    """LinearRegression (also the one after PolynomialFeatures)."""
    shifted = _copy(estimator)
    shifted.intercept_ = shifted.intercept_ - offset
    return shifted


def _lower_svr_bias(estimator: Any, offset: float) -> Any:
    """SVR: libsvm predicts with `_intercept_`; `intercept_` is its public copy."""
    shifted = _copy(estimator)
    shifted.intercept_ = shifted.intercept_ - offset
    shifted._intercept_ = shifted._intercept_ - offset
    return shifted


def _lower_initial_constant(estimator: Any, offset: float) -> Any:
    """GradientBoostingRegressor (squared error): the initial constant is the target's mean."""
    shifted = _copy(estimator)
    shifted.init_.constant_ = shifted.init_.constant_ - offset
    return shifted


def _lower_neighbour_targets(estimator: Any, offset: float) -> Any:
    """KNeighborsRegressor: a prediction is the mean of stored targets, so lower the stored targets."""
    shifted = _copy(estimator)
    shifted._y = shifted._y - offset
    return shifted


def _lower_base_score(estimator: Any, offset: float) -> Any:
    """XGBRegressor: the base score is the intercept every prediction starts from."""
    shifted = _copy(estimator)
    booster = shifted.get_booster()
    base = float(json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"])
    booster.set_param({"base_score": repr(base - offset)})
    return shifted


SHIFTS: Dict[str, Callable[[Any, float], Any]] = {
    INTERCEPT: _lower_intercept,
    SVR_BIAS: _lower_svr_bias,
    INITIAL_CONSTANT: _lower_initial_constant,
    NEIGHBOUR_MEAN: _lower_neighbour_targets,
    BASE_SCORE: _lower_base_score,
}


def shift_estimator(trainer: Trainer, estimator: Any, offset: float) -> Any:
    """A copy of `trainer`'s fitted estimator predicting `offset` less."""
    return SHIFTS[str(trainer.absorbs_shift)](estimator, offset)


# -- when, on the data
def _close(values: np.ndarray, reference: np.ndarray) -> bool:
    if values.shape != reference.shape:
        return False
    scale = max(1.0, float(np.abs(reference).max())) if reference.size else 1.0
    return bool(np.allclose(values, reference, rtol=SHIFT_RTOL, atol=SHIFT_RTOL * scale))


def _offsets(base_node: NodeData, data: FitInput, node: NodeData) -> Optional[Dict[str, float]]:
    """Per component, the constant that `node`'s power is `base_node`'s lowered by; None when not so."""
    for key in node.x_train:
        if not (_close(node.x_train[key], base_node.x_train[key]) and _close(node.x_test[key], base_node.x_test[key])):
            return None
    for key in node.x_all:
        if key not in base_node.x_all or not _close(node.x_all[key], base_node.x_all[key]):
            return None
    if (node.timestamp is None) != (base_node.timestamp is None) or (
        node.timestamp is not None and not np.array_equal(node.timestamp, base_node.timestamp)
    ):
        return None
    offsets: Dict[str, float] = {}
    for component in data.components:
        base_train, base_test = base_node.y_train[component], base_node.y_test[component]
        train, test = node.y_train[component], node.y_test[component]
        offset = float(min(base_train.min(), base_test.min()) - min(train.min(), test.min()))
        if not (_close(train, base_train - offset) and _close(test, base_test - offset)):
            return None
        if component in node.y_all and not _close(node.y_all[component], base_node.y_all[component] - offset):
            return None
        offsets[component] = offset
    return offsets


def shift_offsets(base: FittedModel, base_node: NodeData, data: FitInput, node: NodeData) -> Optional[Dict[str, float]]:
    """Per component, the constant that `node`'s power is `base_node`'s lowered by, when `node`'s data are
    `base_node`'s so shifted: the same rows, split and scaled features. None when that does not hold
    (isolators that drop containers or scale power, other node types or features)."""
    if (
        node.problem
        or base_node.problem
        or base.node_type != node.node_type
        or base.features != data.features
        or base.components != data.components
        or set(node.x_train) != set(base_node.x_train)
    ):
        return None
    return _offsets(base_node, data, node)


def derive_node(
    base: FittedModel, base_node: NodeData, data: FitInput, node: NodeData, floor: float = 0.0
) -> Optional[FittedModel]:
    """The DynPower model of `node` as the AbsPower model `base` of the same trainer, output lowered.

    Equal to a fresh fit up to rounding when `shift_offsets` finds the shift. None when it does not,
    or the trainer's fit absorbs no shift; the caller then fits afresh.
    """
    trainer = base.trainer
    offsets = shift_offsets(base, base_node, data, node) if trainer.absorbs_shift is not None else None
    if offsets is None:
        return None
    estimators = {c: shift_estimator(trainer, base.estimators[c], offsets[c]) for c in data.components}
    model = tested_model(data, node, trainer, base.poly, estimators, floor)
    model.held_out = base.held_out.shifted(offsets) if base.held_out is not None else None
    return model


def fit_or_derive(
    data: FitInput,
    node: NodeData,
    trainer: Trainer,
    seed: int,
    cache: Optional[CurveCache] = None,
    base: Optional[Tuple[FittedModel, NodeData]] = None,
    settings: Optional[ScoreSettings] = None,
) -> Tuple[FittedModel, bool]:
    """The model of one node type and whether it was derived: from `base` (the AbsPower model of the
    same trainer and node type, and its data) where `derive_node` allows, else fitted. With
    `settings`, the model carries its held-out predictions (scoring.py): a derived model the base
    model's, shifted (when the base was scored); a fitted curve fit's likewise when its data are the
    base's shifted (`Trainer.scores_absorb_shift`), fold failures included; any other model its own."""
    floor = settings.floor if settings is not None else 0.0
    model = derive_node(base[0], base[1], data, node, floor) if base is not None else None
    derived = model is not None
    if model is None:
        model = fit_node(data, node, trainer, seed, cache, floor)
    if settings is not None and model.held_out is None:
        model.held_out = _shifted_held_out(trainer, data, node, base) or held_out(
            data, node, trainer, seed, settings, cache
        )
    return model, derived


def _shifted_held_out(
    trainer: Trainer, data: FitInput, node: NodeData, base: Optional[Tuple[FittedModel, NodeData]]
) -> Optional[HeldOut]:
    """A curve fit's held-out predictions as its scored AbsPower model's, shifted; None when not so."""
    if base is None or not trainer.scores_absorb_shift or base[0].held_out is None:
        return None
    offsets = shift_offsets(base[0], base[1], data, node)
    return base[0].held_out.shifted(offsets) if offsets is not None else None
