"""The run summary of an export: a Markdown report and a metrics JSON, for the pipeline's run page. Pure.

Built from what the export already computed (the error reports' `ReportLine`s and the table
selections): no error is recomputed here. run.py writes both into the workspace and the step CLI
copies them to the orchestrator's paths (steps/common/run_outputs.py):

- the report is Markdown (KFP renders a system.Markdown artifact; Argo shows it as an output
  parameter). Not HTML: the numbers are tables, and the plots stay in the published folder, named
  there, because a KFP Markdown view cannot show images by relative path;
- the metrics are KFP's metrics file, `{"metrics": [{"name", "numberValue", "format"}]}`: finite
  numbers under unique names matching KFP's metric name pattern.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

from ..common.domain import OUTPUT_TYPES
from ..common.names import check_name
from .markdown import ReportLine, shortest, table
from .select import TableSelection, Thresholds

# KFP's metric names: lower-case letters, digits and '-', starting with a letter, at most 64 long.
METRIC_NAME = re.compile(r"[a-z]([-a-z0-9]{0,62}[a-z0-9])?")
METRIC_FORMAT = "RAW"
EXPORTED_MODELS_METRIC = "exported-models"

# (source, output type) -> the best model of each feature group (one node type)
TableLines = Mapping[Tuple[str, str], Sequence[ReportLine]]


@dataclass(frozen=True)
class RunSummary:
    """What one export did: where it published, by which rule, what passed, and the best models per node type."""

    pipeline: str
    published: str  # the published pipeline folder
    thresholds: Thresholds
    errors: str  # which errors the MAE/MAPE are, e.g. "cross-validated error"
    selections: Sequence[TableSelection]
    lines: Mapping[int, TableLines]  # node type -> the sidecar error report's lines

    @property
    def exported(self) -> int:
        return sum(len(s.exported) for s in self.selections)

    @property
    def trained(self) -> int:
        return sum(s.total for s in self.selections)


def summary_files(data_path: Path, pipeline: str) -> Tuple[Path, Path]:
    """`<DATAPATH>/<pipeline>_export_report.md` and `<pipeline>_export_metrics.json`: workspace files beside
    the query's `<output>_validate_result.*`, never inside a pipeline folder (train carries those over)."""
    name = check_name(pipeline, "pipeline name")
    return data_path / f"{name}_export_report.md", data_path / f"{name}_export_metrics.json"


def best_errors(lines: Mapping[int, TableLines]) -> Dict[Tuple[str, str, str], Tuple[float, float]]:
    """(source, output type, feature group) -> the lowest MAE and the lowest measured MAPE over the node types.

    A MAPE below 0 (never measured) or a non-finite error is left out: NaN when none is left."""
    best: Dict[Tuple[str, str, str], Tuple[float, float]] = {}
    for by_table in lines.values():
        for (source, output_type), found in by_table.items():
            for line in found:
                key = (source, output_type, line.feature_group)
                mae, mape = best.get(key, (math.nan, math.nan))
                best[key] = (_lower(mae, line.mae), _lower(mape, line.mape))
    return dict(sorted(best.items(), key=lambda item: _order(item[0])))


def _lower(current: float, candidate: float) -> float:
    if not math.isfinite(candidate) or candidate < 0:
        return current
    return candidate if math.isnan(current) or candidate < current else current


def _order(key: Tuple[str, str, str]) -> tuple:
    source, output_type, group = key
    rank = list(OUTPUT_TYPES).index(output_type) if output_type in OUTPUT_TYPES else len(OUTPUT_TYPES)
    return (source, rank, output_type, group)


def metric_name(parts: Sequence[str], taken: Sequence[str] = ()) -> str:
    """`rapl-sysfs-abspower-bpfonly-mae`: the parts lower-cased, other characters as '-'. A name too long
    for KFP, or equal to one `taken`, ends in a short hash of the parts instead, so names stay unique."""
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", "-".join(parts).lower())).strip("-")
    if not base or not base[0].isalpha():
        base = "m-" + base
    if METRIC_NAME.fullmatch(base) and base not in taken:
        return base
    digest = hashlib.sha1("\0".join(parts).encode("utf-8")).hexdigest()
    for size in range(6, len(digest) + 1):
        name = f"{base[: 63 - size].rstrip('-')}-{digest[:size]}"
        if name not in taken:
            return name
    raise ValueError(f"no unique metric name for {parts!r}")  # pragma: no cover - 2^160 names


def metrics_document(summary: RunSummary) -> dict:
    """KFP's metrics file: best MAE and MAPE per (source, output type, feature group), then the models exported."""
    metrics: List[dict] = []
    names: List[str] = []

    def add(parts: Sequence[str], value: float) -> None:
        if not math.isfinite(value):
            return  # KFP takes numbers only: an error never measured has no metric
        names.append(metric_name(parts, names))
        metrics.append({"name": names[-1], "numberValue": float(value), "format": METRIC_FORMAT})

    for (source, output_type, group), (mae, mape) in best_errors(summary.lines).items():
        add((source, output_type, group, "mae"), mae)
        add((source, output_type, group, "mape"), mape)
    add((EXPORTED_MODELS_METRIC,), summary.exported)
    return {"metrics": metrics}


def report_markdown(summary: RunSummary) -> str:
    """The run page's report: counts, the selection rule, then the best models of each node type."""
    t = summary.thresholds
    blocks = [
        f"# Export of {summary.pipeline}",
        f"{summary.exported} of {summary.trained} trained models exported to `{summary.published}`.",
        (
            f"Selection ({summary.errors}): a model is exported when MAE <= {shortest(t.mae)} W or "
            f"MAPE <= {shortest(t.mape)} %, both <= {shortest(t.hard)}, and its model zip and node type "
            "are present."
        ),
        "## Models per table",
        table(
            ["source", "output type", "trained", "exported", "over thresholds", "without zip", "without node type"],
            [_count_row(s) for s in summary.selections],
        ),
    ]
    for node_type, by_table in sorted(summary.lines.items()):
        blocks.append(f"## Best models of node type {node_type}")
        rows = [
            [source, output_type, line.feature_group, line.model_name, f"{line.mae:.2f}", f"{line.mape:.1f}"]
            for (source, output_type), found in sorted(by_table.items(), key=lambda item: _order((*item[0], "")))
            for line in sorted(found, key=lambda line: line.feature_group)
        ]
        blocks.append(
            table(["source", "output type", "feature group", "model", "MAE (W)", "MAPE (%)"], rows)
            if rows
            else "No model exported."
        )
    blocks.append(
        f"Plots and the error reports of every node type: `README.md` and `error_report/` in `{summary.published}`."
    )
    return "\n\n".join(blocks) + "\n"


def _count_row(selection: TableSelection) -> List[str]:
    counts = (
        selection.total,
        len(selection.exported),
        selection.over_thresholds,
        len(selection.without_zip),
        len(selection.without_node_type),
    )
    return [selection.source, selection.output_type] + [str(n) for n in counts]
