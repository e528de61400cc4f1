"""The ten trainers of train.md §3.4 in one table: estimator factory, model class, weight kind.

Hyper-parameters named by the spec are spelled here and nowhere else; every other one is the
library default of the pinned scikit-learn 1.5.x / xgboost 2.1.x. Estimators are built fresh
for every (node type, component) fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from ..common.domain import TRAINER_NAMES
from .shift import shift_gradient_boosting, shift_kneighbors, shift_linear, shift_svr, shift_xgboost

SCIKIT, XGBOOST, CURVEFIT = "scikit", "xgboost", "curvefit"
# weight.json kinds (train.md §9.3)
WEIGHT_LINEAR, WEIGHT_CURVEFIT, WEIGHT_XGBOOST = "linear", "curvefit", "xgboost"


@dataclass(frozen=True)
class TrainerSpec:
    """One row of the trainer table."""

    name: str
    model_class: str  # scikit | xgboost | curvefit
    weight: Optional[str]  # linear | curvefit | xgboost | None
    build: Callable[[int, int], Any]  # (seed, threads) -> fresh estimator
    polynomial: bool = False  # PolynomialFeatures(degree=2) before the estimator (poly_scaler.pkl)
    # Relative CPU cost per row and component (measured, roughly 1e-5 s each), plus a per-row² term
    # for SVR, whose fit grows about quadratically; only used to start the slowest jobs first.
    cost: float = 1.0
    quadratic: float = 0.0
    # (fitted estimator, offset) -> a copy predicting `offset` less, when a fit commutes with shifting
    # the target (shift.py); the DynPower model is then derived from the AbsPower one (fit.derive_node).
    shift: Optional[Callable[[Any, float], Any]] = None

    @property
    def fe_files(self) -> Tuple[str, ...]:
        """The trainer's own transforms after the scaler (model metadata `fe_files`)."""
        return ("poly_scaler.pkl",) if self.polynomial else ()


def _polynomial(seed: int, threads: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _gradient_boosting(seed: int, threads: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=seed)


def _kneighbors(seed: int, threads: int) -> Any:
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=6)


def _linear(seed: int, threads: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression(positive=True)


def _svr(seed: int, threads: int) -> Any:
    from sklearn.svm import SVR

    return SVR(C=1.0, epsilon=0.2)


def _xgboost(seed: int, threads: int) -> Any:
    from xgboost import XGBRegressor

    # One thread, within the per-worker limit of train.md §10.1: the tables are small (thousands of
    # rows), and on a busy machine OpenMP threads spin-wait, measured 10-20x slower with 2 threads.
    # A fixed thread count also keeps the model bytes independent of --jobs.
    return XGBRegressor(n_estimators=100, learning_rate=0.1, random_state=seed, n_jobs=1)


def _sgd(seed: int, threads: int) -> Any:
    from sklearn.linear_model import SGDRegressor

    return SGDRegressor(max_iter=1000, random_state=seed)


def _curve(kind: str) -> Any:
    from .curvefit import CURVES, CurveFitModel

    return CurveFitModel.for_curve(CURVES[kind])


# Module-level builders (not closures) so a TrainerSpec pickles into worker processes.
def _logarithmic(seed: int, threads: int) -> Any:
    return _curve("LogarithmicRegressionTrainer")


def _logistic(seed: int, threads: int) -> Any:
    return _curve("LogisticRegressionTrainer")


def _exponential(seed: int, threads: int) -> Any:
    return _curve("ExponentialRegressionTrainer")


TRAINERS: Dict[str, TrainerSpec] = {
    t.name: t
    for t in (
        TrainerSpec(
            "PolynomialRegressionTrainer", SCIKIT, None, _polynomial, polynomial=True, cost=3, shift=shift_linear
        ),
        TrainerSpec(
            "GradientBoostingRegressorTrainer", SCIKIT, None, _gradient_boosting, cost=30, shift=shift_gradient_boosting
        ),
        TrainerSpec("KNeighborsRegressorTrainer", SCIKIT, None, _kneighbors, cost=1, shift=shift_kneighbors),
        TrainerSpec("LinearRegressionTrainer", SCIKIT, WEIGHT_LINEAR, _linear, cost=0.5, shift=shift_linear),
        TrainerSpec("SVRRegressorTrainer", SCIKIT, None, _svr, cost=1, quadratic=0.004, shift=shift_svr),
        TrainerSpec("XgboostFitTrainer", XGBOOST, WEIGHT_XGBOOST, _xgboost, cost=15, shift=shift_xgboost),
        TrainerSpec("SGDRegressorTrainer", SCIKIT, WEIGHT_LINEAR, _sgd, cost=4),
        TrainerSpec("LogarithmicRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _logarithmic, cost=6),
        TrainerSpec("LogisticRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _logistic, cost=15),
        TrainerSpec("ExponentialRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _exponential, cost=6),
    )
}

if tuple(TRAINERS) != TRAINER_NAMES:  # the domain list and this table must name the same ten, in order
    raise RuntimeError("trainer table and domain.TRAINER_NAMES disagree")


def trainer(name: str) -> TrainerSpec:
    return TRAINERS[name]
