"""What extraction hands to training: one table per (energy source, feature group, output type).

The extraction side (extract.py, isolate.py, node_types.py) builds these; the training side
(fit_data.py, fit.py, jobs.py) consumes them. Column layout follows workspace.md §3.12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from ..common.domain import FeatureGroup

if TYPE_CHECKING:  # pandas is imported by whoever builds a table; train's main process starts workers first
    import numpy as np
    import pandas as pd


@dataclass
class PowerTable:
    """Node power of one input and source (train.md §6.3): timestamps (ascending), one array per power column."""

    t: np.ndarray
    columns: Dict[str, np.ndarray]
    dropped_zero: int = 0


@dataclass
class TrainingSet:
    """Rows of one (source, group, output type), all inputs and node types together.

    `table` columns: `timestamp`, the feature columns in `features` order, the power columns in
    component order, `node_type` (int), then the ratio columns (`packge_ratio_<unit>`); DynPower
    tables also carry `id` (= "all containers"). Written as-is to the preprocessed CSV.
    """

    source: str
    group: FeatureGroup
    output_type: str  # "AbsPower" or "DynPower"
    table: pd.DataFrame
    features: Tuple[str, ...]  # the group's features as columns (accelerator columns renamed)
    power_columns: Dict[str, List[str]]  # component -> its power column(s), one per package unit or one
    ratio_columns: List[str] = field(default_factory=list)  # per unit, aligned with power_columns lists
    # Keys every model of the set adds to its metadata.json after the errors (0.10: kepler_generation, ...)
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def node_types(self) -> List[int]:
        return sorted(int(n) for n in self.table["node_type"].unique())

    @property
    def components(self) -> Tuple[str, ...]:
        """The components of this set, in power-column order (0.10: the zones present)."""
        return tuple(self.power_columns)


@dataclass
class Skip:
    """Something that could not be trained, with the reason printed in the summary."""

    what: str  # e.g. "acpi", "rapl-sysfs/DynPower/BPFOnly", "group Full"
    reason: str
