"""Fit plots of the best models (one per source, output type, feature group and node type), drawn
from the out-of-fold predictions train keeps beside each model; what the README says about each.

A best model without usable predictions gets no plot and a reason instead, so the README can say
why (pipelines trained before cross-validation, or with `--cv-folds 0`, have none).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..common.domain import FEATURE_GROUPS
from ..common.names import check_name
from ..common.workspace import PipelineLayout
from .fit_data import SUFFIX, FitDataError, predictions_path, read_fit_data
from .fit_plots import FitPlotter
from .select import BestKey, ModelRow


@dataclass(frozen=True)
class FitEntry:
    """One best model's line in the README: its plot's file name, or why there is none."""

    source: str
    output_type: str
    feature_group: str
    node_type: int
    model_name: str
    plot: Optional[str] = None
    reason: Optional[str] = None


def plot_name(source: str, output_type: str, group: str, node_type: int) -> str:
    """`<source>_<ot>_<FG>_<n>_fit.png`, in the exported pipeline folder."""
    parts = (check_name(source, "energy source"), check_name(output_type, "output type"), check_name(group, "group"))
    return f"{'_'.join(parts)}_{int(node_type)}_fit.png"


def load_name(group: str) -> str:
    """The x label of the residual panel: the group's main feature, which train stores as `load`."""
    known = FEATURE_GROUPS.get(group)
    return f"load: {known.main_feature}" if known is not None and known.main_feature else "load"


def fit_plots(
    layout: PipelineLayout,
    best: Mapping[BestKey, ModelRow],
    components: Mapping[Tuple[str, str], Sequence[str]],
    order: Sequence[Tuple[str, str]],
    folds: Optional[int],
    check: Callable[[], None] = lambda: None,
) -> Tuple[Dict[str, bytes], List[FitEntry]]:
    """The PNG of each best model (file name -> bytes) and every best model's entry, in report order:
    tables as `order`, then feature group, then node type. `check` runs between plots (signals)."""
    plotter = FitPlotter()
    files: Dict[str, bytes] = {}
    entries: List[FitEntry] = []
    slots = sorted(best, key=lambda k: (order.index((k[1], k[2])) if (k[1], k[2]) in order else len(order), k[3], k[0]))
    for node_type, source, output_type, group in slots:
        row = best[(node_type, source, output_type, group)]
        path = predictions_path(layout, row.key)
        entry = FitEntry(source, output_type, group, node_type, row.model_name)
        try:
            data = read_fit_data(path, components[(source, output_type)])
        except FitDataError as failure:
            entries.append(replace(entry, reason=str(failure)))
            continue
        check()
        name = plot_name(source, output_type, group, node_type)
        how = f"{folds}-fold cross-validation" if folds else "cross-validation"
        title = f"{source} {output_type} {group}, node type {node_type}: {row.model_name}, out-of-fold ({how})"
        files[name] = plotter.plot(title, load_name(group), data)
        entries.append(replace(entry, plot=name))
    return files, entries


def all_missing(entries: Sequence[FitEntry]) -> bool:
    """No best model has predictions at all: the pipeline was not cross-validated (one README line)."""
    return bool(entries) and all(e.plot is None and e.reason and e.reason.endswith(" is missing") for e in entries)


MISSING_NOTE = (
    f"the pipeline has no out-of-fold predictions (`<model>{SUFFIX}`; trained before cross-validation "
    "or with --cv-folds 0)"
)
