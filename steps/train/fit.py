"""Fitting one job (source, output type, group, trainer) on every node type: train.md §8 and §9.1/§9.2.

Pure: tables in, fitted models and errors out. The data of a training set is prepared once
(`prepare`: rows per node type, MaxAbsScaler, scaled X, seeded split) and shared by its ten
trainers, so scaling and splitting are not repeated per trainer. A `FitRequest` carries a set to a
worker process, which prepares it there (once per process), so that the main process, busy
extracting the next groups, never imports scikit-learn.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..common.domain import ENERGY_SOURCES, FEATURE_GROUPS, FeatureGroup, model_name
from .tables import TrainingSet
from .trainers import CURVEFIT, TrainerSpec

MIN_ROWS = 10
TEST_SIZE = 0.1
RAW, UNITS = "raw", "units"  # which X a component uses: X_raw, or Σ_u X_raw × ratio_u


@dataclass
class NodeData:
    """The rows of one node type, scaled and split once for all trainers."""

    node_type: int
    rows: int
    problem: Optional[str] = None  # why no model of this node type can be trained
    scaler: Any = None
    x_train: Dict[str, np.ndarray] = field(default_factory=dict)  # RAW/UNITS -> scaled training X
    x_test: Dict[str, np.ndarray] = field(default_factory=dict)
    y_train: Dict[str, np.ndarray] = field(default_factory=dict)  # component -> y
    y_test: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class FitInput:
    """One training set ready for fitting: what every trainer of it needs."""

    source: str
    output_type: str
    group: FeatureGroup
    features: Tuple[str, ...]
    components: Tuple[str, ...]
    component_x: Dict[str, str]  # component -> RAW or UNITS
    nodes: List[NodeData]
    rows: int

    @property
    def label(self) -> str:
        return f"{self.source}/{self.output_type}/{self.group.name}"

    @property
    def node_types(self) -> List[int]:
        return [node.node_type for node in self.nodes]

    def resolve(self) -> "FitInput":
        """The prepared data (this object; see FitRequest.resolve)."""
        return self


_REQUEST_IDS = itertools.count()
_PREPARED: "OrderedDict[str, FitInput]" = OrderedDict()  # per process: request id -> prepared data
_PREPARED_KEEP = 64  # more than a run's sets, usually; the bound matters to long-lived processes


@dataclass
class FitRequest:
    """A training set to be prepared where it is fitted; the same header attributes as FitInput.

    The table holds only the columns `prepare` reads, so a job pickles small. `resolve` prepares it
    at most once per process: the ten jobs of a set that reach one worker share the work.
    """

    id: str
    training_set: TrainingSet
    seed: int
    source: str
    output_type: str
    group: FeatureGroup
    features: Tuple[str, ...]
    components: Tuple[str, ...]
    rows: int
    node_types: List[int]

    @classmethod
    def of(cls, training_set: TrainingSet, seed: int) -> "FitRequest":
        components = ENERGY_SOURCES[training_set.source].components
        power = [
            c for component in components for c in training_set.power_columns.get(component) or [f"{component}_power"]
        ]
        needed = ["node_type"] + list(training_set.features) + list(training_set.ratio_columns) + power
        present = [c for c in dict.fromkeys(needed) if c in training_set.table.columns]
        slim = replace(training_set, table=training_set.table[present])
        return cls(
            id=f"{os.getpid()}-{next(_REQUEST_IDS)}",
            training_set=slim,
            seed=seed,
            source=training_set.source,
            output_type=training_set.output_type,
            group=_group_of(training_set),
            features=tuple(training_set.features),
            components=components,
            rows=len(training_set.table),
            node_types=training_set.node_types,
        )

    @property
    def label(self) -> str:
        return f"{self.source}/{self.output_type}/{self.group.name}"

    def resolve(self) -> FitInput:
        prepared = _PREPARED.get(self.id)
        if prepared is None:
            prepared = _PREPARED[self.id] = prepare(self.training_set, self.seed)
            while len(_PREPARED) > _PREPARED_KEEP:
                _PREPARED.popitem(last=False)
        return prepared


def prepare(training_set: TrainingSet, seed: int) -> FitInput:
    """Rows per node type, scaler on X_raw, X per component, and the seeded split (train.md §8.1)."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MaxAbsScaler

    table = training_set.table
    features = tuple(training_set.features)
    components = ENERGY_SOURCES[training_set.source].components
    ratios = list(training_set.ratio_columns)
    component_x = {c: UNITS if ratios and len(training_set.power_columns.get(c, [])) >= 1 else RAW for c in components}
    nodes: List[NodeData] = []
    for node_type in training_set.node_types:
        rows = table[table["node_type"] == node_type]
        node = NodeData(node_type=node_type, rows=len(rows))
        nodes.append(node)
        if len(rows) < MIN_ROWS:
            node.problem = f"only {len(rows)} rows"
            continue
        try:
            x_raw = rows[list(features)].to_numpy(dtype=float)
            node.scaler = MaxAbsScaler().fit(x_raw)
            xs: Dict[str, np.ndarray] = {RAW: node.scaler.transform(x_raw)}
            if UNITS in component_x.values():
                weighted = sum(x_raw * rows[[r]].to_numpy(dtype=float) for r in ratios)
                xs[UNITS] = node.scaler.transform(weighted)
            # The same rows for every component: the split depends only on the row count and seed.
            train_idx, test_idx = train_test_split(
                np.arange(len(rows)), test_size=TEST_SIZE, shuffle=True, random_state=seed
            )
            for key, x in xs.items():
                node.x_train[key], node.x_test[key] = x[train_idx], x[test_idx]
            for component in components:
                columns = training_set.power_columns.get(component) or [f"{component}_power"]
                y = rows[list(columns)].to_numpy(dtype=float).sum(axis=1)
                node.y_train[component], node.y_test[component] = y[train_idx], y[test_idx]
            if not all(np.isfinite(x).all() for x in xs.values()):
                node.problem = "features contain non-finite values"
            elif not all(np.isfinite(y).all() for y in node.y_train.values()) or not all(
                np.isfinite(y).all() for y in node.y_test.values()
            ):
                node.problem = "power values are not finite"
        except (KeyError, ValueError) as failure:
            node.problem = f"cannot prepare the data: {failure}"
    return FitInput(
        source=training_set.source,
        output_type=training_set.output_type,
        group=_group_of(training_set),
        features=features,
        components=components,
        component_x=component_x,
        nodes=nodes,
        rows=len(table),
    )


def _group_of(training_set: TrainingSet) -> FeatureGroup:
    group = training_set.group
    return group if isinstance(group, FeatureGroup) else FEATURE_GROUPS[str(group)]


@dataclass
class FittedModel:
    """One trained (trainer, node type): estimators per component, transforms, errors."""

    trainer: TrainerSpec
    node_type: int
    features: Tuple[str, ...]
    components: Tuple[str, ...]
    scaler: Any
    poly: Any
    estimators: Dict[str, Any]
    errors: Dict[str, Dict[str, float]]  # "mae"/"mape" -> component -> value

    @property
    def name(self) -> str:
        return model_name(self.trainer.name, self.node_type)

    @property
    def mae(self) -> float:
        return max(self.errors["mae"].values())

    @property
    def mape(self) -> float:
        return max(self.errors["mape"].values())


def fit_node(
    data: FitInput, node: NodeData, trainer: TrainerSpec, seed: int, threads: int = 1, memo: Any = None
) -> FittedModel:
    """Fit every component of one node type with a fresh estimator; raise on any failure.

    `memo`: a curvefit.CurveMemo shared by the run's processes, for curve fits other groups repeat.
    """
    if node.problem:
        raise ValueError(node.problem)
    poly = None
    estimators: Dict[str, Any] = {}
    errors: Dict[str, Dict[str, float]] = {"mae": {}, "mape": {}}
    for component in data.components:
        key = data.component_x[component]
        x_train, x_test = node.x_train[key], node.x_test[key]
        if trainer.polynomial:
            from sklearn.preprocessing import PolynomialFeatures

            if poly is None:
                poly = PolynomialFeatures(degree=2).fit(x_train)
            x_train, x_test = poly.transform(x_train), poly.transform(x_test)
        estimator = trainer.build(seed, threads)
        if trainer.model_class == CURVEFIT:
            estimator.set_feature_index(data.group.main_index(component, data.features))
            estimator.fit(x_train, node.y_train[component], memo=memo)
        else:
            estimator.fit(x_train, node.y_train[component])
        _record_errors(errors, component, node.y_test[component], estimator.predict(x_test))
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


# How closely DynPower data must equal the AbsPower data shifted by a constant for `derive_node`:
# the isolator's sums and subtractions round differently, nothing more.
SHIFT_RTOL = 1e-9


def derive_node(base: FittedModel, base_node: NodeData, data: FitInput, node: NodeData) -> Optional[FittedModel]:
    """The DynPower model of `node` as the AbsPower model `base` of the same trainer, output lowered.

    Equal to a fresh fit up to rounding (shift.py) when `node`'s data are `base_node`'s with every
    component's power lowered by one constant: the same rows, split and scaled features. Returns
    None when that does not hold (isolators that drop containers or scale power, other node
    types) or the trainer cannot shift; the caller then fits afresh.
    """
    trainer = base.trainer
    if (
        trainer.shift is None
        or node.problem
        or base_node.problem
        or base.node_type != node.node_type
        or base.features != data.features
        or base.components != data.components
        or set(node.x_train) != set(base_node.x_train)
    ):
        return None
    for key in node.x_train:
        if not (_close(node.x_train[key], base_node.x_train[key]) and _close(node.x_test[key], base_node.x_test[key])):
            return None
    offsets: Dict[str, float] = {}
    for component in data.components:
        base_train, base_test = base_node.y_train[component], base_node.y_test[component]
        train, test = node.y_train[component], node.y_test[component]
        offset = float(min(base_train.min(), base_test.min()) - min(train.min(), test.min()))
        if not (_close(train, base_train - offset) and _close(test, base_test - offset)):
            return None
        offsets[component] = offset
    errors: Dict[str, Dict[str, float]] = {"mae": {}, "mape": {}}
    estimators: Dict[str, Any] = {}
    for component in data.components:
        estimator = trainer.shift(base.estimators[component], offsets[component])
        x_test = node.x_test[data.component_x[component]]
        _record_errors(
            errors,
            component,
            node.y_test[component],
            estimator.predict(base.poly.transform(x_test) if base.poly is not None else x_test),
        )
        estimators[component] = estimator
    return FittedModel(
        trainer=trainer,
        node_type=node.node_type,
        features=data.features,
        components=data.components,
        scaler=node.scaler,
        poly=base.poly,
        estimators=estimators,
        errors=errors,
    )


def _close(values: np.ndarray, reference: np.ndarray) -> bool:
    if values.shape != reference.shape:
        return False
    scale = max(1.0, float(np.abs(reference).max())) if reference.size else 1.0
    return bool(np.allclose(values, reference, rtol=SHIFT_RTOL, atol=SHIFT_RTOL * scale))


def _record_errors(errors: Dict[str, Dict[str, float]], component: str, y_test: np.ndarray, predicted: Any) -> None:
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


def model_metadata(model: FittedModel, output_type: str, machine_spec: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Model `metadata.json` in workspace.md §3.13 key order."""
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
    return document
