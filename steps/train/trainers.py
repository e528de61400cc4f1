"""The ten trainers of train.md §3.4 in one table: estimator factory, model class, weight kind.

Hyper-parameters named by the spec are spelled here and nowhere else; every other one is the
library default of the pinned scikit-learn 1.5.x / xgboost 2.1.x. Estimators are built fresh
for every (node type, component) fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from ..common.domain import TRAINER_NAMES

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
    cost: int = 1  # relative fit cost, used to start the slowest jobs first

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
    return XGBRegressor(n_estimators=100, learning_rate=0.1, random_state=seed, n_jobs=threads)


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


TRAINERS: Dict[str, TrainerSpec] = {t.name: t for t in (
    TrainerSpec("PolynomialRegressionTrainer", SCIKIT, None, _polynomial, polynomial=True, cost=2),
    TrainerSpec("GradientBoostingRegressorTrainer", SCIKIT, None, _gradient_boosting, cost=20),
    TrainerSpec("KNeighborsRegressorTrainer", SCIKIT, None, _kneighbors, cost=3),
    TrainerSpec("LinearRegressionTrainer", SCIKIT, WEIGHT_LINEAR, _linear, cost=1),
    TrainerSpec("SVRRegressorTrainer", SCIKIT, None, _svr, cost=40),
    TrainerSpec("XgboostFitTrainer", XGBOOST, WEIGHT_XGBOOST, _xgboost, cost=8),
    TrainerSpec("SGDRegressorTrainer", SCIKIT, WEIGHT_LINEAR, _sgd, cost=2),
    TrainerSpec("LogarithmicRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _logarithmic, cost=3),
    TrainerSpec("LogisticRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _logistic, cost=4),
    TrainerSpec("ExponentialRegressionTrainer", CURVEFIT, WEIGHT_CURVEFIT, _exponential, cost=3),
)}

if tuple(TRAINERS) != TRAINER_NAMES:  # the domain list and this table must name the same ten, in order
    raise RuntimeError("trainer table and domain.TRAINER_NAMES disagree")


def trainer(name: str) -> TrainerSpec:
    return TRAINERS[name]
