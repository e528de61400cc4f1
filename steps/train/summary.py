"""The printed output of train.md §11: a box per (source, group), a table per source, failures and total.

Pure text builders; the caller prints. The text is for people, not a stable interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..common.domain import ABS_POWER, DYN_POWER
from ..common.workspace import PipelineLayout
from .options import TrainOptions
from .tables import Skip

SetKey = Tuple[str, str, str]  # (source, output type, group)

BOX_WIDTH_LIMIT = 200
TITLES = {ABS_POWER: "Absolute Power Modeling:", DYN_POWER: "Dynamic Power Modeling:"}


@dataclass
class GroupOutcome:
    """What one (source, group, output type) produced."""

    rows: int
    trainers: List[str]
    output: str
    min_mae: Dict[int, float] = field(default_factory=dict)  # node type -> best mae


def _wrap(line: str, width: int) -> List[str]:
    return [line[i : i + width] for i in range(0, len(line), width)] or [""]


def box(
    pipeline: str,
    source: str,
    group: str,
    extractor: str,
    isolator: str,
    metric_type: str,
    outcomes: Dict[str, Optional[GroupOutcome]],
) -> str:
    """The `#` box printed after each (source, group); lines over 200 characters wrap, nothing is cut."""
    lines = [
        f"Pipeline {pipeline} has finished for modeling {source} power by {group} feature",
        f"    Extractor: {extractor}",
        f"    Isolator: {isolator}",
    ]
    for output_type in (ABS_POWER, DYN_POWER):
        outcome = outcomes.get(output_type)
        lines.append(TITLES[output_type])
        if outcome is None:
            lines.append("    not trained (see the skipped list)")
            continue
        lines += [
            f"    Input data size: {outcome.rows}",
            f"    Model Trainers: {', '.join(outcome.trainers)}",
            f"    Metric Type: {metric_type}",
            f"    Output: {outcome.output}",
        ]
        for node_type, mae in sorted(outcome.min_mae.items()):
            lines.append(f"    NodeType {node_type} Min mae: {mae}")
        if not outcome.min_mae:
            lines.append("    no model trained")
    wrapped = [part for line in lines for part in _wrap(line, BOX_WIDTH_LIMIT)]
    width = max(len(line) for line in wrapped) + 4
    border = "#" * width
    body = [f"# {line.ljust(width - 4)} #" for line in wrapped]
    return "\n".join([border, *body, border])


def _table(rows: Sequence[Dict[str, Any]]) -> List[str]:
    headers = ("feature_group", "model_name", "mae", "mape")
    headers += tuple(h for h in ("cv_mae", "extrapolation_mae") if any(h in r for r in rows))  # when scored
    cells = [["-" if r.get(h) is None else str(r[h]) for h in headers] for r in rows]  # -: not available
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    fmt = lambda values: "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()  # noqa: E731
    return [fmt(headers)] + [fmt(c) for c in cells]


def source_summary(source: str, results: Dict[str, List[Dict[str, Any]]]) -> str:
    """Per output type, every model of this run with its errors, sorted by mae."""
    lines = [f"=========== Train {source} Summary ============"]
    for output_type in (ABS_POWER, DYN_POWER):
        lines.append(f"{output_type} pipeline results:")
        rows = sorted(
            results.get(output_type, []), key=lambda r: (float(r["mae"]), r["feature_group"], r["model_name"])
        )
        lines += _table(rows) if rows else ["(none)"]
    return "\n".join(lines)


def _grouped(failures: Sequence[Any]) -> List[tuple]:
    """Failures of every trainer of one table and node type with one reason (e.g. too few rows) as one line."""
    buckets: Dict[tuple, List[str]] = {}
    for failure in failures:
        table, _, model = failure.what.rpartition("/")
        trainer, _, node_type = model.rpartition("_")
        buckets.setdefault((table, node_type, failure.reason), []).append(failure.what)
    lines = []
    for (table, node_type, reason), members in buckets.items():
        if len(members) > 1:
            lines.append((f"{table}/*_{node_type} ({len(members)} trainers)", reason))
        else:
            lines.append((members[0], reason))
    return lines


def final_lines(failures: Sequence[Any], skips: Sequence[Skip], trained: int, destination: str) -> List[str]:
    """Every failure and skip on one line each, then the total."""
    lines: List[str] = []
    if failures:
        lines.append(f"Failed ({len(failures)}):")
        lines += [f"  {what}: {reason}" for what, reason in _grouped(failures)]
    if skips:
        lines.append(f"Skipped ({len(skips)}):")
        lines += [f"  {s.what}: {s.reason}" for s in skips]
    failed = f" ({len(failures)} failed)" if failures else ""
    noun = "model" if trained == 1 else "models"
    lines.append(f"trained {trained} {noun}{failed} into {destination}")
    return lines


def negligible_lines(models: Mapping[SetKey, Sequence[Dict[str, Any]]], floor: float) -> List[str]:
    """Per (source, output type, group), once, the components no model of it could judge by MAPE:
    none of their labels reach the MAPE floor (README, "Errors users can trust")."""
    lines: List[str] = []
    for (source, output_type, group), rows in models.items():
        named = dict.fromkeys(c for row in rows for c in row.get("negligible") or ())
        if named:
            lines.append(f"  {source}/{output_type}/{group}: {', '.join(named)}")
    if not lines:
        return []
    return [f"Negligible components (no label reaches the MAPE floor of {floor:g} W; MAPE -1, judged by MAE):"] + lines


def run_summary(
    options: TrainOptions,
    layout: PipelineLayout,
    sizes: Mapping[SetKey, int],
    models: Mapping[SetKey, Sequence[Dict[str, Any]]],
    failures: Sequence[Any],
    skips: Sequence[Skip],
    trained: int,
    onnx_skipped: Sequence[Any] = (),
) -> List[str]:
    """Everything train prints after the fits, in order, one text block each.

    `sizes`: rows of each training set, in extraction order; `models`: the metadata (with
    `feature_group`) of each set's new models.
    """
    blocks: List[str] = []
    for source in options.sources:
        for group in dict.fromkeys(g for s, _, g in sizes if s == source):
            outcomes: Dict[str, Optional[GroupOutcome]] = {}
            for output_type in (ABS_POWER, DYN_POWER):
                key = (source, output_type, group)
                outcomes[output_type] = _outcome(options, layout, key, sizes, models) if key in sizes else None
            blocks.append(
                box(layout.name, source, group, options.extractor, options.isolator, options.metric_type, outcomes)
            )
        per_type = {
            ot: [r for (s, o, _), rows in models.items() if s == source and o == ot for r in rows]
            for ot in (ABS_POWER, DYN_POWER)
        }
        if any(per_type.values()):
            blocks.append(source_summary(source, per_type))
    negligible = negligible_lines(models, options.mape_floor)
    if negligible:
        blocks.append("\n".join(negligible))
    if onnx_skipped:
        blocks.append("\n".join(onnx_lines(onnx_skipped)))
    return blocks + final_lines(failures, skips, trained, str(layout.root))


def onnx_lines(skipped: Sequence[Any]) -> List[str]:
    """Trained models without their `.onnx` (the model itself is kept), one line each with the reason."""
    return [f"ONNX not written ({len(skipped)}):"] + [f"  {s.what}: onnx not written: {s.reason}" for s in skipped]


def _outcome(
    options: TrainOptions,
    layout: PipelineLayout,
    key: SetKey,
    sizes: Mapping[SetKey, int],
    models: Mapping[SetKey, Sequence[Dict[str, Any]]],
) -> GroupOutcome:
    source, output_type, group = key
    trainers = options.abs_trainers if output_type == ABS_POWER else options.dyn_trainers
    outcome = GroupOutcome(
        rows=sizes[key], trainers=list(trainers), output=str(layout.group_dir(source, output_type, group))
    )
    for row in models.get(key, []):
        node_type = int(row["node_type"])
        outcome.min_mae[node_type] = min(outcome.min_mae.get(node_type, float("inf")), row["mae"])
    return outcome
