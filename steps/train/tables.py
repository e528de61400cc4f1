"""What extraction hands to training: one table per (energy source, feature group, output type).

The extraction side (extract.py, isolate.py, node_types.py) builds these; the training side
(fit_data.py, fit.py, jobs.py) consumes them. Column layout follows workspace.md §3.12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Tuple

from ..common.domain import FeatureGroup

if TYPE_CHECKING:  # pandas is imported by whoever builds a table; train's main process starts workers first
    import pandas as pd


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

    @property
    def node_types(self) -> List[int]:
        return sorted(int(n) for n in self.table["node_type"].unique())


@dataclass
class Skip:
    """Something that could not be trained, with the reason printed in the summary."""

    what: str  # e.g. "acpi", "rapl-sysfs/DynPower/BPFOnly", "group Full"
    reason: str
