"""Build a trainer's estimator from its row of the trainer table (steps/common/domain.py TRAINERS).

The row names the estimator by reference (`module:name` and keyword arguments), so that export can
read the table without scikit-learn or xgboost; only train imports the estimator's module, here.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..common.domain import SEED, Trainer


def build_estimator(trainer: Trainer, seed: int) -> Any:
    """A fresh, unfitted estimator of `trainer`, its SEED arguments set to `seed`."""
    module, _, name = trainer.estimator.factory.partition(":")
    factory = getattr(importlib.import_module(module), name)
    return factory(**{key: seed if value == SEED else value for key, value in trainer.estimator.arguments})
