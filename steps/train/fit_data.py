"""A training set on its way to the fits: as a job carries it (FitData) and prepared (FitInput). Pure.

The data of a training set is prepared once (`prepare`: rows per node type, MaxAbsScaler, scaled
X, seeded split; train.md §8.1; and all rows in time order for scoring.py) and shared by its
trainers, so scaling and splitting are not repeated per trainer. A job carries the set
unprepared, holding only the columns `prepare` reads, and the process that runs it prepares it
there through a `PreparedSets` it keeps for its jobs: the jobs of one set that reach a worker
share the work, and the main process, busy extracting the next groups, never imports
scikit-learn.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..common.domain import ENERGY_SOURCES, FEATURE_GROUPS, FeatureGroup
from .tables import TrainingSet

MIN_ROWS = 10
TIMESTAMP = "timestamp"
TEST_SIZE = 0.1
RAW, UNITS = "raw", "units"  # which X a component uses: X_raw, or Σ_u X_raw × ratio_u


def _group_of(training_set: TrainingSet) -> FeatureGroup:
    group = training_set.group
    return group if isinstance(group, FeatureGroup) else FEATURE_GROUPS[str(group)]


def _components(training_set: TrainingSet) -> Tuple[str, ...]:
    """The set's components: those of its power columns, else the source's."""
    return tuple(training_set.power_columns) or ENERGY_SOURCES[training_set.source].components


def _power_columns(training_set: TrainingSet, component: str) -> List[str]:
    return training_set.power_columns.get(component) or [f"{component}_power"]


@dataclass
class FitData:
    """One training set as a job carries it: the table and the seed of its split and estimators.

    `key` identifies the set to a PreparedSets; it is unique to this object and its copies in
    other processes.
    """

    training_set: TrainingSet
    seed: int
    node_types: List[int]
    max_fit_rows: int = 0  # a fit's rows at most (fit.py fit_rows); 0: every row
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, training_set: TrainingSet, seed: int, slim: bool = True, max_fit_rows: int = 0) -> "FitData":
        """`slim`: keep only the columns `prepare` reads, so that a job pickles small."""
        if slim:
            components = _components(training_set)
            power = [c for component in components for c in _power_columns(training_set, component)]
            needed = ["node_type", TIMESTAMP] + list(training_set.features) + list(training_set.ratio_columns) + power
            present = [c for c in dict.fromkeys(needed) if c in training_set.table.columns]
            training_set = replace(training_set, table=training_set.table[present])
        return cls(training_set=training_set, seed=seed, node_types=training_set.node_types, max_fit_rows=max_fit_rows)

    @property
    def source(self) -> str:
        """The energy source."""
        return self.training_set.source

    @property
    def output_type(self) -> str:
        """AbsPower or DynPower."""
        return self.training_set.output_type

    @property
    def group(self) -> FeatureGroup:
        """The feature group."""
        return _group_of(self.training_set)

    @property
    def components(self) -> Tuple[str, ...]:
        """The set's components, in order (the source's; 0.10: the zones present)."""
        return _components(self.training_set)

    @property
    def rows(self) -> int:
        """Rows of every node type together."""
        return len(self.training_set.table)

    @property
    def label(self) -> str:
        """`<source>/<output type>/<group>`, as the summary names the set."""
        return f"{self.source}/{self.output_type}/{self.group.name}"


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
    # Every row in time order (stable by timestamp; table order without one), for scoring.py's folds
    timestamp: Optional[np.ndarray] = None  # float seconds, or the row number without a timestamp column
    x_all: Dict[str, np.ndarray] = field(default_factory=dict)  # RAW/UNITS -> scaled X
    y_all: Dict[str, np.ndarray] = field(default_factory=dict)  # component -> y
    load: Optional[np.ndarray] = None  # the first component's main feature, raw (unscaled)


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
    max_fit_rows: int = 0  # a fit's rows at most (fit.py fit_rows); 0: every row


def prepare(training_set: TrainingSet, seed: int, max_fit_rows: int = 0) -> FitInput:
    """Rows per node type, scaler on X_raw, X per component, and the seeded split (train.md §8.1)."""
    table = training_set.table
    components = _components(training_set)
    ratios = list(training_set.ratio_columns)
    component_x = {c: UNITS if ratios and len(training_set.power_columns.get(c, [])) >= 1 else RAW for c in components}
    group = _group_of(training_set)
    main = group.main_index(components[0], tuple(training_set.features)) if components else 0
    nodes = [
        _prepare_node(training_set, table[table["node_type"] == node_type], node_type, component_x, seed, main)
        for node_type in training_set.node_types
    ]
    return FitInput(
        source=training_set.source,
        output_type=training_set.output_type,
        group=group,
        features=tuple(training_set.features),
        components=components,
        component_x=component_x,
        nodes=nodes,
        rows=len(table),
        max_fit_rows=max_fit_rows,
    )


def _prepare_node(
    training_set: TrainingSet, rows: Any, node_type: int, component_x: Dict[str, str], seed: int, main: int
) -> NodeData:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MaxAbsScaler

    node = NodeData(node_type=node_type, rows=len(rows))
    if len(rows) < MIN_ROWS:
        node.problem = f"only {len(rows)} rows"
        return node
    try:
        x_raw = rows[list(training_set.features)].to_numpy(dtype=float)
        node.scaler = MaxAbsScaler().fit(x_raw)
        xs: Dict[str, np.ndarray] = {RAW: node.scaler.transform(x_raw)}
        if UNITS in component_x.values():
            weighted = sum(x_raw * rows[[r]].to_numpy(dtype=float) for r in training_set.ratio_columns)
            xs[UNITS] = node.scaler.transform(weighted)
        # The same rows for every component: the split depends only on the row count and seed.
        train_idx, test_idx = train_test_split(
            np.arange(len(rows)), test_size=TEST_SIZE, shuffle=True, random_state=seed
        )
        for key, x in xs.items():
            node.x_train[key], node.x_test[key] = x[train_idx], x[test_idx]
        stamps = (
            rows[TIMESTAMP].to_numpy(dtype=float) if TIMESTAMP in rows.columns else np.arange(len(rows), dtype=float)
        )
        order = np.argsort(stamps, kind="stable")
        node.timestamp, node.load = stamps[order], x_raw[order, main]
        node.x_all = {key: x[order] for key, x in xs.items()}
        for component in component_x:
            y = rows[_power_columns(training_set, component)].to_numpy(dtype=float).sum(axis=1)
            node.y_train[component], node.y_test[component] = y[train_idx], y[test_idx]
            node.y_all[component] = y[order]
        if not all(np.isfinite(x).all() for x in xs.values()):
            node.problem = "features contain non-finite values"
        elif not all(np.isfinite(y).all() for ys in (node.y_train, node.y_test) for y in ys.values()):
            node.problem = "power values are not finite"
    except (KeyError, ValueError) as failure:
        node.problem = f"cannot prepare the data: {failure}"
    return node


class PreparedSets:
    """Prepared data by FitData key, for the jobs one process runs: a set is prepared once there.

    At most `keep` sets are held, the least recently used dropped first; a run has fewer, usually,
    and the bound matters to long-lived processes.
    """

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._prepared: "OrderedDict[str, FitInput]" = OrderedDict()

    def get(self, data: FitData) -> FitInput:
        """The prepared form of `data`, prepared now unless this process did it before."""
        prepared = self._prepared.get(data.key)
        if prepared is None:
            prepared = self._prepared[data.key] = prepare(data.training_set, data.seed, data.max_fit_rows)
            while len(self._prepared) > self.keep:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(data.key)
        return prepared
