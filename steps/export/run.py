"""The export step: read the pipeline, select, build reports and plots, publish (export.md).

IO happens here and in pipeline_reader/write; selection, texts and plots are pure functions.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..common import signals
from ..common.atomic import dumps_json
from ..common.console import Console
from ..common.domain import OUTPUT_TYPES, TRAINERS
from ..common.errors import StepError
from ..common.publish import recover
from ..common.signals import Interrupted, mark_outcome
from ..common.timefmt import Clock, format_plain, utc_now
from ..common.workspace import ModelDatabase, PipelineLayout, read_window
from . import markdown, plots, run_summary
from .families import Selection, choose, negligible_components
from .fit_report import MISSING_NOTE, FitEntry, all_missing, fit_plots
from .generation import generation_line, measured_components, table_components, target_version
from .pipeline_reader import TrainedPipeline, existing_zips, node_attributes, parse_weight, read_pipeline, read_weight
from .select import BestKey, ModelKey, ModelRow, TableSelection, best_models, judged_by, select_table
from .settings import ExportSettings
from .summary_files import write_run_summary
from .write import ExportContent, Publication, check_ownership, publish

PUBLISH_KEYS = ("publisher", "collect_time", "export_time")
# Paths inside the exported pipeline folder, relative to it.
RELATIVE = PipelineLayout(Path())


@dataclass(frozen=True)
class ExportResult:
    """What export wrote: the published pipeline folder, how many models, the selections, the files."""

    target: Path
    exported: int
    selections: Tuple[TableSelection, ...]
    written: Tuple[Path, ...]
    summary: Tuple[Path, ...] = ()  # the run summary in the workspace: report (Markdown), metrics (JSON)
    selection: Optional[Selection] = None  # the errors models were judged by (`--select-by`, after any fallback)


def collect_time(settings: ExportSettings) -> str:
    """`--collect-date` verbatim, else the benchmark window's start in UTC (export.md §3)."""
    if settings.collect_date is not None:
        return settings.collect_date
    start, _ = read_window(settings.workspace.window(str(settings.benchmark)))
    return format_plain(start)


def publish_metadata(metadata: Mapping[str, Any], publisher: str, collected: str, exported: str) -> Dict[str, Any]:
    """The pipeline's metadata with publisher, collect_time, export_time appended in that order."""
    document = {k: v for k, v in metadata.items() if k not in PUBLISH_KEYS}
    document.update(publisher=publisher, collect_time=collected, export_time=exported)
    return document


def csv_text(columns: Sequence[str], rows: Sequence[ModelRow]) -> bytes:
    """The exported rows as pandas writes a frame: leading unnamed index 0..n-1, cells as read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([""] + list(columns))
    for number, row in enumerate(rows):
        writer.writerow([str(number)] + [row.cells.get(c, "") for c in columns])
    return buffer.getvalue().encode("utf-8")


def _load_weights(
    pipeline: TrainedPipeline, exported: Sequence[ModelRow], console: Console
) -> Dict[ModelKey, Tuple[bytes, Dict[str, Any]]]:
    """The weight JSON of every exported model whose trainer's is published (the trainer table's row)."""
    weights: Dict[ModelKey, Tuple[bytes, Dict[str, Any]]] = {}
    for row in exported:
        trainer = TRAINERS.get(row.trainer)
        if trainer is None or not trainer.published:
            continue
        data = read_weight(pipeline.layout, row.key)
        document = parse_weight(data) if data is not None else None
        where = pipeline.layout.model_dir(*row.key)
        if data is None:
            console.warn(f"weight.json not found in {where} or its zip; the model is exported without weights")
        elif document is None:
            console.warn(f"weight.json of {where} is not a JSON object; the model is exported without weights")
        else:
            weights[row.key] = (data, document)
    return weights


def _report_lines(
    best: Mapping[BestKey, ModelRow], node_type: int, target: PipelineLayout, settings: ExportSettings, extension: str
) -> Dict[Tuple[str, str], List[markdown.ReportLine]]:
    """The error report's lines of one node type, with the URL of each model in the published `target`."""
    lines: Dict[Tuple[str, str], List[markdown.ReportLine]] = {}
    for (n, source, output_type, group), row in best.items():
        if n != node_type:
            continue
        url = markdown.model_url(
            settings.base_url,
            settings.database.version,
            target.name,
            source,
            output_type,
            group,
            row.model_name,
            extension,
        )
        lines.setdefault((source, output_type), []).append(
            markdown.ReportLine(group, row.model_name, row.mae, row.mape, url, *row.split)
        )
    return lines


def _power_curves(
    selection: TableSelection,
    local: Mapping[BestKey, ModelRow],
    node_types: Sequence[int],
    weights: Mapping[ModelKey, Tuple[bytes, Dict[str, Any]]],
    console: Console,
    component: str,
    group: str,
) -> Optional[bytes]:
    """The power curve of the local-best `group` models (the generation's CPU-time group), first component."""
    curves = []
    for n in node_types:
        row = local.get((n, selection.source, selection.output_type, group))
        if row is None:
            continue
        document = weights[row.key][1]
        try:
            plots.predict_curve(document, component, row.trainer)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as failure:
            console.warn(f"weight.json of {'/'.join(row.key)} cannot be evaluated ({failure!r}); no power curve")
            continue
        curves.append((n, row.model_name, row.trainer, document))
    if not curves:
        return None
    return plots.power_curve_plot(selection.source, selection.output_type, component, curves, group)


def build_content(
    pipeline: TrainedPipeline,
    settings: ExportSettings,
    selections: Sequence[TableSelection],
    weights: Mapping[ModelKey, Tuple[bytes, Dict[str, Any]]],
    collected: str,
    exported_at: str,
    console: Console,
    report_lines: Optional[Dict[int, Dict[Tuple[str, str], List[markdown.ReportLine]]]] = None,
    selected_by: Optional[Selection] = None,
) -> ExportContent:
    """Every file of the exported pipeline folder; `report_lines`, when given, receives the sidecar error
    report's lines of each node type (the run summary's numbers). `selected_by`: the errors the rows'
    mae/mape are (`--select-by`), named in the reports; None: the split's."""
    content = ExportContent()
    exported = [row for s in selections for row in s.exported]
    local = best_models(exported, settings.error_key, eligible=set(weights))
    node_types = sorted({row.node_type for row in exported if row.node_type is not None})
    content.files[RELATIVE.metadata] = dumps_json(
        publish_metadata(pipeline.metadata, settings.publisher, collected, exported_at)
    ).encode("utf-8")
    content.files[RELATIVE.node_type_index] = dumps_json(
        {str(n): entry for n, entry in pipeline.node_type_index.items()}
    ).encode("utf-8")
    plot_names: Dict[Tuple[str, str], Tuple[str, Optional[str]]] = {}
    for selection in selections:
        signals.check()  # between tables: each draws plots, the longest work of export
        if selection.exported:
            plot_names[(selection.source, selection.output_type)] = _table_files(
                content, pipeline, selection, local, node_types, weights, console
            )
    sidecar = best_models(exported, settings.error_key)  # the models the error reports list and plot
    fits = _fit_plots(content, pipeline, selections, sidecar)
    lines = _reports(
        content, pipeline, settings, selections, plot_names, node_types, local, sidecar, exported, selected_by, fits
    )
    if report_lines is not None:
        report_lines.update(lines)
    return content


def _fit_plots(
    content: ExportContent,
    pipeline: TrainedPipeline,
    selections: Sequence[TableSelection],
    sidecar: Mapping[BestKey, ModelRow],
) -> List[FitEntry]:
    """Fit plots of the sidecar-best models (by the selected errors) from train's out-of-fold predictions."""
    components = {(t.source, t.output_type): table_components(t.source, t.columns) for t in pipeline.tables}
    files, entries = fit_plots(
        pipeline.layout,
        sidecar,
        components,
        [(s.source, s.output_type) for s in selections],
        pipeline.cv_folds,
        signals.check,
    )
    for name, data in files.items():
        content.files[RELATIVE.root / name] = data
    return entries


def _table_files(
    content: ExportContent,
    pipeline: TrainedPipeline,
    selection: TableSelection,
    local: Mapping[BestKey, ModelRow],
    node_types: Sequence[int],
    weights: Mapping[ModelKey, Tuple[bytes, Dict[str, Any]]],
    console: Console,
) -> Tuple[str, Optional[str]]:
    """One model table's CSV, plots, model zips and weights; the names of its plots (no curve: None)."""
    source, output_type = selection.source, selection.output_type
    columns = next(t.columns for t in pipeline.tables if (t.source, t.output_type) == (source, output_type))
    components = table_components(source, columns)
    content.files[RELATIVE.model_metadata_csv(source, output_type)] = csv_text(columns, selection.exported)
    plot_path = RELATIVE.metadata_plot(source, output_type)
    content.files[plot_path] = plots.metadata_plot(source, output_type, components, selection.exported)
    curve_name = None
    group = pipeline.generation.model.curve_group
    curve = _power_curves(selection, local, node_types, weights, console, components[0], group)
    if curve is not None:
        curve_path = RELATIVE.power_curve_plot(source, output_type)
        content.files[curve_path] = curve
        curve_name = curve_path.name
    for row in selection.exported:
        content.copies[RELATIVE.model_zip(*row.key)] = pipeline.layout.model_zip(*row.key)
        onnx = pipeline.layout.model_onnx(*row.key)
        if onnx.is_file():  # written by train when ONNX Runtime reproduced the model (--onnx)
            content.copies[RELATIVE.model_onnx(*row.key)] = onnx
        if row.key in weights:
            content.files[RELATIVE.weight_json(*row.key)] = weights[row.key][0]
    return plot_path.name, curve_name


def _reports(
    content: ExportContent,
    pipeline: TrainedPipeline,
    settings: ExportSettings,
    selections: Sequence[TableSelection],
    plot_names: Mapping[Tuple[str, str], Tuple[str, Optional[str]]],
    node_types: Sequence[int],
    local: Mapping[BestKey, ModelRow],
    sidecar: Mapping[BestKey, ModelRow],
    exported: Sequence[ModelRow],
    selected_by: Optional[Selection] = None,
    fits: Sequence[FitEntry] = (),
) -> Dict[int, Dict[Tuple[str, str], List[markdown.ReportLine]]]:
    """The pipeline README and an error report per node type (best models for the sidecar and the local estimator);
    the sidecar report's lines by node type."""
    target = settings.database.pipeline(pipeline.name)
    order = [(s.source, s.output_type) for s in selections]
    by_output_type = [p for p in sorted(order, key=lambda pair: list(OUTPUT_TYPES).index(pair[1])) if p in plot_names]
    lines = [
        markdown.NodeTypeLine(
            n, node_attributes(pipeline.node_type_index[n]), len(pipeline.node_type_index[n].get("members") or [])
        )
        for n in node_types
    ]
    generation = pipeline.generation
    content.files[RELATIVE.readme] = markdown.pipeline_readme(
        pipeline.name,
        settings.thresholds.mae,
        settings.thresholds.mape,
        lines,
        [plot_names[p][0] for p in by_output_type],
        [(s, ot, plot_names[(s, ot)][1]) for s, ot in by_output_type if plot_names[(s, ot)][1] is not None],
        **({"build": generation.model.version_folder} if generation.model.recorded else {}),
        generation=generation_line(generation, _zones(pipeline, exported)),
        selected_by=selected_by.readme_line() if selected_by is not None else None,
        sections=[
            markdown.negligible_section(negligible_components(exported)),
            markdown.fit_section(fits, MISSING_NOTE if all_missing(fits) else None),
            markdown.onnx_section([p.as_posix() for p in content.paths() if p.suffix == ".onnx"]),
        ],
    ).encode("utf-8")
    family_note = selected_by.describe() if selected_by is not None and selected_by.used != "split" else None
    sidecar_lines = {}
    for n in node_types:
        sidecar_lines[n] = _report_lines(sidecar, n, target, settings, "zip")
        content.files[RELATIVE.error_report(n)] = markdown.error_report(
            n,
            node_attributes(pipeline.node_type_index[n]),
            _report_lines(local, n, target, settings, "json"),
            sidecar_lines[n],
            generation_line(generation, _zones(pipeline, [r for r in exported if r.node_type == n])),
            family_note,
        ).encode("utf-8")
    return sidecar_lines


def _zones(pipeline: TrainedPipeline, rows: Sequence[ModelRow]) -> Tuple[str, ...]:
    """The components the exported rows have errors for, in order (0.10: the zones of their machines)."""
    components: List[str] = []
    for table in pipeline.tables:
        for component in measured_components(
            [r for r in rows if (r.source, r.output_type) == (table.source, table.output_type)],
            table_components(table.source, table.columns),
        ):
            if component not in components:
                components.append(component)
    return tuple(components)


def _doc_page(
    pipeline: TrainedPipeline, settings: ExportSettings, console: Console, selected_by: Optional[Selection] = None
) -> str:
    """The model database's page of the pipeline, with the time windows of the --input workloads."""
    workloads = []
    for item in settings.inputs:
        name = markdown.workload_name(item)
        window = settings.workspace.window(name)
        text = None
        try:
            text = window.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            console.warn(f"time-window file {window} of --input {item!r} not found; its <details> block is left out")
        workloads.append((name, text))
    metadata = pipeline.metadata
    return markdown.pipeline_page(
        pipeline.name,
        str(metadata.get("extractor", "")),
        str(metadata.get("isolator", "")),
        markdown.unique(metadata.get("abs_trainers") or []),
        markdown.unique(metadata.get("dyn_trainers") or []),
        workloads,
        selected_by.sentence() if selected_by is not None else None,
    )


def _selection(pipeline: TrainedPipeline, settings: ExportSettings, console: Console) -> Selection:
    """The errors to judge by: `--select-by`'s, or the split's (one warning) when a table lacks them."""
    selection = choose(settings.select_by, [t.columns for t in pipeline.tables], settings.error_key, pipeline.cv_folds)
    if selection.fell_back:
        console.warn(selection.warning())
    return selection


def _select(
    pipeline: TrainedPipeline, settings: ExportSettings, console: Console, selected_by: Optional[Selection] = None
) -> Tuple[TableSelection, ...]:
    """Rule §4.1 on every model table, each outcome and reject said; StepError when nothing passes.
    The rows are judged by `selected_by`'s errors (None: the split's)."""
    zips = existing_zips(pipeline)
    indexed = set(pipeline.node_type_index)
    family = selected_by.used if selected_by is not None else "split"
    selections = tuple(
        select_table(
            t.source,
            t.output_type,
            [judged_by(row, family) for row in t.rows],
            settings.thresholds,
            zips,
            indexed,
            settings.error_key,
            family,
        )
        for t in pipeline.tables
    )
    for selection in selections:
        console.info(selection.summary())
        for row in selection.without_zip:
            console.warn(f"model zip not found: {pipeline.layout.model_zip(*row.key)}")
        for row in selection.without_node_type:
            console.warn(
                f"{'/'.join(row.key)}: node type {row.node_type} has no entry in "
                f"{pipeline.layout.node_type_index}; not exported"
            )
    if not any(s.exported for s in selections):
        t = settings.thresholds
        raise StepError(
            f"no model of {pipeline.name} passes the selection (MAE <= {markdown.shortest(t.mae)} W "
            f"or MAPE <= {markdown.shortest(t.mape)}%, both <= {markdown.shortest(t.hard)}, zip and "
            "node type present); nothing was written"
        )
    return selections


def export(settings: ExportSettings, console: Console, clock: Clock = utc_now) -> ExportResult:
    """Run the whole step; StepError (exit 1) when nothing can be exported or written.

    The version folder is the pipeline generation's (kepler-010.md §5: v0.10 for Kepler >= 0.10 data).
    """
    source = settings.workspace.pipeline(settings.pipeline)  # from here on, the name travels in the layouts
    for line in recover(settings.workspace.model_path, f"{source.name}.train"):
        console.info(line)  # a train run stopped mid-commit: finish it before reading the pipeline
    pipeline = read_pipeline(source)
    version = target_version(pipeline.generation, settings.database.version, settings.version_given, pipeline.name)
    settings = replace(settings, database=ModelDatabase(settings.database.root, version))
    try:
        return _export(settings, pipeline, console, clock)
    except Interrupted as stop:
        mark_outcome(stop, f"{settings.database.pipeline(pipeline.name).root} unchanged")
        raise


def _export(settings: ExportSettings, pipeline: TrainedPipeline, console: Console, clock: Clock) -> ExportResult:
    """Select, build and publish the pipeline into `settings.database`."""
    target = settings.database.pipeline(pipeline.name)
    collected = collect_time(settings)
    owner = (pipeline.metadata.get("name"), pipeline.metadata.get("init_time"))
    check_ownership(target.root, *owner)  # fail early; publish checks again
    selected_by = _selection(pipeline, settings, console)
    selections = _select(pipeline, settings, console, selected_by)
    exported = [row for s in selections for row in s.exported]
    weights = _load_weights(pipeline, exported, console)
    lines: Dict[int, Dict[Tuple[str, str], List[markdown.ReportLine]]] = {}
    content = build_content(
        pipeline, settings, selections, weights, collected, format_plain(clock()), console, lines, selected_by
    )
    row = markdown.version_row(
        pipeline.name,
        collected,
        str(pipeline.metadata.get("last_update_time", "")),
        settings.publisher,
        selected_by.version_note(),
    )
    publication = Publication(
        update_version_readme=lambda old: markdown.upsert_version_row(old, settings.database.version, target.name, row),
        doc_page=lambda: _doc_page(pipeline, settings, console, selected_by),
        make_zip=settings.make_zip,
    )
    signals.check()
    written = publish(settings.database, target.name, owner, content, publication)
    console.info(f"wrote {len(content.paths())} files in {target.root}")
    for path in written[1:]:
        console.info(f"wrote {path}")
    summary = run_summary.RunSummary(
        pipeline.name, str(target.root), settings.thresholds, _errors_label(selected_by), selections, lines
    )
    files = write_run_summary(settings.workspace.data_path, summary)
    console.info(f"run summary: {', '.join(str(path) for path in files)}")
    console.info(f"exported {len(exported)} models of {pipeline.name} to {target.root}")
    return ExportResult(target.root, len(exported), selections, tuple(written), files, selection=selected_by)


def _errors_label(selected_by: Selection) -> str:
    """Which errors the report's MAE and MAPE are (`--select-by`, after any fallback to the split's)."""
    return selected_by.describe()
