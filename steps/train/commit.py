"""Commit a train run into MODEL_PATH/<pipeline> (train.md §10.2). Called only when >= 1 model trained.

Order: replace the models of every (source, node type) that got a new model, write the
preprocessed tables, rebuild the model metadata CSVs from the model metadata.json files, write
the pipeline files, remove empty folders, rebuild <pipeline>.zip. Every file lands by rename.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import pandas as pd

from ..common.atomic import atomic_path, remove_empty_dirs, write_bytes, write_csv, write_json
from ..common.domain import ABS_POWER, ENERGY_SOURCES, OUTPUT_TYPES, model_metadata_columns, split_model_name
from ..common.errors import StepError
from ..common.timefmt import format_plain
from ..common.zipwrite import members_of, write_zip
from ..common.workspace import PipelineLayout, read_json
from .model_files import StagedModel
from .render import table_csv
from .tables import TrainingSet

ZIP_LEVEL = 1  # the pipeline zip is a transport copy: fast deflate, most of the size gain


@dataclass
class NewModel:
    source: str
    output_type: str
    group: str
    staged: StagedModel


@dataclass
class RunSettings:
    """What the pipeline files record about this run."""

    extractor: str
    isolator: str
    metric_type: str  # bm_metrics | vm_metrics
    abs_trainers: List[str]
    dyn_trainers: List[str]
    train_arguments: Dict[str, Any]
    node_type_index: Dict[str, Any]
    error_key: str = "mae"
    extra_files: Dict[Path, Any] = field(default_factory=dict)


def existing_metadata(layout: PipelineLayout) -> Optional[Dict[str, Any]]:
    if not layout.metadata.exists():
        return None
    document = read_json(layout.metadata, "pipeline metadata")
    if not isinstance(document, dict):
        raise StepError(f"pipeline metadata {layout.metadata} is not a JSON object")
    return document


def check_compatible(layout: PipelineLayout, extractor: str, isolator: str, metric_type: str) -> None:
    """An existing pipeline keeps its extractor, isolator and metric type (train.md §10.2 item 1)."""
    document = existing_metadata(layout)
    if document is None:
        return
    for key, wanted in (("extractor", extractor), ("isolator", isolator), ("metric_type", metric_type)):
        have = document.get(key)
        if have is not None and have != wanted:
            raise StepError(f"pipeline {layout.name} at {layout.root} was trained with {key} {have!r}, this run "
                            f"uses {wanted!r}; train into another pipeline (--pipeline-name) or use {key} {have!r}")


def _model_entries(layout: PipelineLayout, source: str) -> Iterable[Tuple[Path, int]]:
    """Every model folder and zip of a source, with its node type."""
    source_dir = layout.source_dir(source)
    if not source_dir.is_dir():
        return
    for group_dir in sorted(p for p in source_dir.glob("*/*") if p.is_dir()):
        for entry in sorted(group_dir.iterdir()):
            name = entry.name[:-4] if entry.name.endswith(".zip") and entry.is_file() else entry.name
            if entry.name.startswith("."):
                continue
            try:
                _, node_type = split_model_name(name)
            except ValueError:
                continue
            yield entry, node_type


def replace_models(layout: PipelineLayout, models: Sequence[NewModel]) -> None:
    """Remove every earlier model of each (source, node type) that has a new one, then move the new in."""
    renewed: Set[Tuple[str, int]] = {(m.source, m.staged.node_type) for m in models}
    for source in sorted({s for s, _ in renewed}):
        for entry, node_type in list(_model_entries(layout, source)):
            if (source, node_type) in renewed:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    for model in models:
        folder = layout.model_dir(model.source, model.output_type, model.group, model.staged.name)
        archive = layout.model_zip(model.source, model.output_type, model.group, model.staged.name)
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(model.staged.zip, archive)
        os.replace(model.staged.folder, folder)


Rendered = List[Tuple[Path, bytes]]  # (target file, its bytes)


def render_preprocessed(layout: PipelineLayout, sets: Sequence[TrainingSet], extractor: str,
                        isolator: str) -> Rendered:
    """The tables as trained on (workspace.md §3.12): AbsPower indexed by timestamp, DynPower by row.

    Rendering is most of the cost; train does it while the workers fit, and writes at commit time.
    """
    rendered: Rendered = []
    for training_set in sets:
        group = training_set.group.name
        if training_set.output_type == ABS_POWER:
            target = layout.preprocessed_abs(extractor, training_set.source, group)
            text = table_csv(training_set.table, index=False)
        else:
            target = layout.preprocessed_dyn(extractor, isolator, training_set.source, group)
            text = table_csv(training_set.table, index=True)  # the row number, as reset_index().to_csv()
        rendered.append((target, text.encode("utf-8")))
    return rendered


def write_preprocessed(layout: PipelineLayout, sets: Sequence[TrainingSet], extractor: str, isolator: str,
                       rendered: Optional[Rendered] = None) -> None:
    """Write the preprocessed tables (rendered now unless given)."""
    for target, data in rendered if rendered is not None else render_preprocessed(layout, sets, extractor, isolator):
        write_bytes(target, data)


def metadata_rows(layout: PipelineLayout, source: str, output_type: str) -> List[Dict[str, Any]]:
    """One row per model metadata.json of this source and output type, with its feature group."""
    columns = [c for c in model_metadata_columns(source) if c != "feature_group"]
    rows = []
    base = layout.output_dir(source, output_type)
    if not base.is_dir():
        return rows
    for path in sorted(base.glob("*/*/metadata.json")):
        document = read_json(path, "model metadata")
        if not isinstance(document, dict):
            continue
        row = {column: document.get(column) for column in columns}
        row["feature_group"] = path.parent.parent.name
        rows.append(row)
    return rows


def _sort_value(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def metadata_frame(rows: List[Dict[str, Any]], error_key: str) -> pd.DataFrame:
    """Rows sorted by feature group, error key, model name; values kept as written (-1 stays an int)."""
    ordered = sorted(rows, key=lambda r: (str(r["feature_group"]), _sort_value(r.get(error_key)), str(r["model_name"])))
    frame = pd.DataFrame(ordered, dtype=object)
    return frame.reset_index(drop=True)


def rebuild_metadata_csvs(layout: PipelineLayout, error_key: str) -> None:
    for source in ENERGY_SOURCES:
        for output_type in OUTPUT_TYPES:
            target = layout.model_metadata_csv(source, output_type)
            rows = metadata_rows(layout, source, output_type)
            if rows:
                write_csv(target, metadata_frame(rows, error_key))
            elif target.exists():
                target.unlink()


def merged_trainers(earlier: Any, new: Sequence[str]) -> List[str]:
    names: List[str] = []
    for name in list(earlier if isinstance(earlier, list) else []) + list(new):
        if name not in names:
            names.append(str(name))
    return names


def pipeline_metadata(name: str, settings: RunSettings, earlier: Optional[Dict[str, Any]], now: datetime) -> Dict[str, Any]:
    """Pipeline metadata.json in workspace.md §3.8 key order; init_time survives re-runs."""
    earlier = earlier or {}
    stamp = format_plain(now)
    return {
        "name": name,
        "isolator": settings.isolator,
        "extractor": settings.extractor,
        "abs_trainers": merged_trainers(earlier.get("abs_trainers"), settings.abs_trainers),
        "dyn_trainers": merged_trainers(earlier.get("dyn_trainers"), settings.dyn_trainers),
        "metric_type": settings.metric_type,
        "init_time": earlier.get("init_time") or stamp,
        "last_update_time": stamp,
    }


def zip_pipeline(root: Path, target: Path, threads: int = 1) -> None:
    """<MODEL_PATH>/<pipeline>.zip: every file of the pipeline folder, paths relative to it, sorted.

    Model zips are compressed already: they are stored instead of deflated twice.
    """
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        write_zip(handle, members_of(root), ZIP_LEVEL, threads)


def commit(layout: PipelineLayout, pipeline_zip: Path, models: Sequence[NewModel], sets: Sequence[TrainingSet],
           settings: RunSettings, now: datetime, preprocessed: Optional[Rendered] = None, threads: int = 1) -> None:
    """Steps 2-7 of train.md §10.2; `preprocessed`: the tables of `sets` already rendered; `threads`
    compress the pipeline zip."""
    if not models:
        raise StepError("nothing to commit: no model was trained")
    earlier = existing_metadata(layout)
    try:
        replace_models(layout, models)
    except OSError as failure:
        raise StepError(f"cannot write models into {layout.root}: {failure.strerror or failure}") from failure
    write_preprocessed(layout, sets, settings.extractor, settings.isolator, preprocessed)
    rebuild_metadata_csvs(layout, settings.error_key)
    write_json(layout.metadata, pipeline_metadata(layout.name, settings, earlier, now))
    write_json(layout.train_arguments, settings.train_arguments)
    write_json(layout.node_type_index, settings.node_type_index)
    remove_empty_dirs(layout.root)
    zip_pipeline(layout.root, pipeline_zip, threads)


def staging_root(model_path: Path, pipeline: str) -> Path:
    """A hidden folder beside the pipeline (same filesystem) where workers stage model folders."""
    try:
        model_path.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{pipeline}.train-", dir=model_path))
    except OSError as failure:
        raise StepError(f"cannot write {model_path}: {failure.strerror or failure}") from failure
