"""Commit a train run into MODEL_PATH/<pipeline> (train.md §10.2). Called only when >= 1 model trained.

The new pipeline is built beside the old one, in the run's staging folder: a copy of the old
folder, where the models of every (source, node type) that got a new model are replaced, the
preprocessed tables written, the model metadata CSVs rebuilt from the model metadata.json files,
the pipeline files written, empty folders removed and <pipeline>.zip made. The folder and the zip
then replace the old ones as one unit (steps/common/publish.py): a reader, or a run stopped at
any moment, sees the whole old pipeline or the whole new one.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import pandas as pd

from ..common.atomic import atomic_path, remove_empty_dirs, write_bytes, write_csv, write_json
from ..common.domain import (
    ABS_POWER,
    CV_COLUMNS,
    ENERGY_SOURCES,
    NEGLIGIBLE,
    OUTPUT_TYPES,
    PRE_010_GENERATION,
    model_metadata_columns,
    ordered_components,
    split_model_name,
)
from ..common.errors import StepError, WriteFailure
from ..common.publish import Staging
from ..common.signals import checkpoint
from ..common.timefmt import format_plain
from ..common.workspace import PipelineLayout, read_json
from .model_files import StagedModel
from .render import table_csv
from .score_files import read_scores
from .tables import TrainingSet

ZIP_LEVEL = 1  # the pipeline zip is a transport copy: fast deflate, most of the size gain


@dataclass
class NewModel:
    """A model this run trained, with where it goes in the pipeline."""

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
    # More files of the pipeline folder, by their final path (the idle profiles when DATAPATH is MODEL_PATH).
    extra_files: Dict[Path, bytes] = field(default_factory=dict)
    # Kepler 0.10 on (kepler-010.md §5): the generation and the Kepler versions the metadata records;
    # None for 0.6/0.7 pipelines, whose metadata.json stays as it was.
    kepler_generation: Optional[str] = None
    kepler_versions: List[str] = field(default_factory=list)


def existing_metadata(layout: PipelineLayout) -> Optional[Dict[str, Any]]:
    """The pipeline's metadata.json, None when the pipeline is new."""
    if not layout.metadata.exists():
        return None
    document = read_json(layout.metadata, "pipeline metadata")
    if not isinstance(document, dict):
        raise StepError(f"pipeline metadata {layout.metadata} is not a JSON object")
    return document


def check_compatible(
    layout: PipelineLayout, extractor: str, isolator: str, metric_type: str, generation: Optional[str] = None
) -> None:
    """An existing pipeline keeps its extractor, isolator and metric type (train.md §10.2 item 1), and
    its metric generation (kepler-010.md §5: `generation` is what this run records, None before 0.10)."""
    document = existing_metadata(layout)
    if document is None:
        return
    have_generation = document.get("kepler_generation")
    if have_generation != generation:
        have = have_generation or f"{PRE_010_GENERATION} (no kepler_generation)"
        raise StepError(
            f"pipeline {layout.name} at {layout.root} holds models of Kepler {have} data, this run's inputs "
            f"are Kepler {generation or PRE_010_GENERATION} data; a pipeline holds one generation: train into "
            "another pipeline (--pipeline-name)"
        )
    for key, wanted in (("extractor", extractor), ("isolator", isolator), ("metric_type", metric_type)):
        have = document.get(key)
        if have is not None and have != wanted:
            raise StepError(
                f"pipeline {layout.name} at {layout.root} was trained with {key} {have!r}, this run "
                f"uses {wanted!r}; train into another pipeline (--pipeline-name) or use {key} {have!r}"
            )


def _model_entries(layout: PipelineLayout, source: str) -> Iterable[Tuple[Path, int]]:
    """Every model folder and zip of a source, with its node type."""
    source_dir = layout.source_dir(source)
    if not source_dir.is_dir():
        return
    for group_dir in sorted(p for p in source_dir.glob("*/*") if p.is_dir()):
        for entry in sorted(group_dir.iterdir()):
            # A model's files beside its folder: `<name>.zip`, `.scores.json`, `.cv.npz`, ... (model names have no dot)
            name = entry.name.split(".", 1)[0] if entry.is_file() else entry.name
            if entry.name.startswith("."):
                continue
            try:
                _, node_type = split_model_name(name)
            except ValueError:
                continue
            yield entry, node_type


def _beside(staged: StagedModel) -> List[Path]:
    """The files the job wrote beside a model's folder and zip (`<name>.scores.json`, `<name>.cv.npz`, ...)."""
    group = staged.folder.parent
    if not group.is_dir():
        return []
    prefix = f"{staged.name}."
    return sorted(p for p in group.iterdir() if p.name.startswith(prefix) and p != staged.zip and p.is_file())


def replace_models(layout: PipelineLayout, models: Sequence[NewModel]) -> None:
    """Remove every earlier model of each (source, node type) that has a new one, then move the new in
    (the files beside its folder too)."""
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
        for path in _beside(model.staged):
            os.replace(path, folder.parent / path.name)
        os.replace(model.staged.zip, archive)
        os.replace(model.staged.folder, folder)


Rendered = List[Tuple[Path, bytes]]  # (target file, its bytes)


def render_preprocessed(layout: PipelineLayout, sets: Sequence[TrainingSet], extractor: str, isolator: str) -> Rendered:
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


def metadata_components(source: str, documents: Sequence[Dict[str, Any]]) -> Tuple[str, ...]:
    """The components of the models' errors (`<c>_mae`), in order; the source's when none is named.

    Kepler 0.10 pipelines have the zones of their machines, which may differ between node types: a
    model without a zone gets an empty cell, never a zero (kepler-010.md §6).
    """
    keys = (key for document in documents for key in document if key.endswith("_mae"))
    named = ordered_components(key[: -len("_mae")] for key in keys)
    return named or ENERGY_SOURCES[source].components


def metadata_rows(layout: PipelineLayout, source: str, output_type: str) -> List[Dict[str, Any]]:
    """One row per model metadata.json of this source and output type, with its feature group, then
    the columns of its scores file (score_files.py): CV_COLUMNS when any model has them, NEGLIGIBLE."""
    base = layout.output_dir(source, output_type)
    if not base.is_dir():
        return []
    found = []
    for path in sorted(base.glob("*/*/metadata.json")):
        document = read_json(path, "model metadata")
        if isinstance(document, dict):
            found.append((path, document))
    components = metadata_components(source, [document for _, document in found])
    columns = [c for c in model_metadata_columns(source, components) if c != "feature_group"]
    scores = [read_scores(path.parent.parent, path.parent.name) for path, _ in found]
    scored = [c for c in CV_COLUMNS if any(c in cells for cells in scores)]
    rows = []
    for (path, document), cells in zip(found, scores):
        row = {column: document.get(column) for column in columns}
        row["feature_group"] = path.parent.parent.name
        row.update({column: cells.get(column) for column in scored + [NEGLIGIBLE]})
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
    """Every model metadata CSV again from the model folders (a CSV with no row is removed)."""
    for source in ENERGY_SOURCES:
        for output_type in OUTPUT_TYPES:
            target = layout.model_metadata_csv(source, output_type)
            rows = metadata_rows(layout, source, output_type)
            if rows:
                write_csv(target, metadata_frame(rows, error_key))
            elif target.exists():
                target.unlink()


def merged_trainers(earlier: Any, new: Sequence[str]) -> List[str]:
    """The trainers of earlier runs, then this run's new ones, each once."""
    names: List[str] = []
    for name in list(earlier if isinstance(earlier, list) else []) + list(new):
        if name not in names:
            names.append(str(name))
    return names


def pipeline_metadata(
    name: str, settings: RunSettings, earlier: Optional[Dict[str, Any]], now: datetime
) -> Dict[str, Any]:
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
        **_generation_keys(settings, earlier),
        "init_time": earlier.get("init_time") or stamp,
        "last_update_time": stamp,
    }


def _generation_keys(settings: RunSettings, earlier: Dict[str, Any]) -> Dict[str, Any]:
    """`kepler_generation` and `kepler_version` (the build versions of every run, each once) for 0.10 on."""
    if settings.kepler_generation is None:
        return {}
    before = [v for v in str(earlier.get("kepler_version") or "").split(",") if v]
    return {
        "kepler_generation": settings.kepler_generation,
        "kepler_version": ",".join(merged_trainers(before, settings.kepler_versions)),
    }


def zip_pipeline(root: Path, target: Path) -> None:
    """<MODEL_PATH>/<pipeline>.zip: every file of the pipeline folder, paths relative to it, sorted.

    Model zips are compressed already: they are stored instead of deflated twice.
    """
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for name, path in files:
            stored = path.suffix == ".zip"
            archive.write(
                path, name, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED, None if stored else ZIP_LEVEL
            )


def clone_pipeline(source: Path, target: Path) -> None:
    """A copy of the existing pipeline folder to build the new one in: files are hard links (no file
    is ever changed in place, only replaced by rename), copies where the filesystem has no links.
    Hidden leftovers (temporary files of older versions) are not carried over."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(
            source,
            target,
            symlinks=True,
            copy_function=link_or_copy,
            ignore=lambda _folder, names: [n for n in names if n.startswith(".")],
        )
    else:
        target.mkdir()


def commit(
    layout: PipelineLayout,
    pipeline_zip: Path,
    models: Sequence[NewModel],
    sets: Sequence[TrainingSet],
    settings: RunSettings,
    now: datetime,
    staging: Staging,
    preprocessed: Optional[Rendered] = None,
) -> None:
    """Steps 2-7 of train.md §10.2, on a copy of the pipeline in `staging`; then the folder and its zip
    replace the old ones as one unit (publish.Staging.commit). `preprocessed`: the tables of `sets`
    already rendered. A write error raises WriteFailure naming the final path; the pipeline is then
    unchanged."""
    if not models:
        raise StepError("nothing to commit: no model was trained")
    earlier = existing_metadata(layout)
    new = PipelineLayout(staging.path(layout.name))
    staged_zip = staging.path(pipeline_zip.name)
    try:
        clone_pipeline(layout.root, new.root)
        checkpoint("train.cloned")
        replace_models(new, models)
        checkpoint("train.models")
        rendered = (
            preprocessed
            if preprocessed is not None
            else render_preprocessed(layout, sets, settings.extractor, settings.isolator)
        )
        for target, data in list(rendered) + list(settings.extra_files.items()):
            write_bytes(new.root / Path(target).relative_to(layout.root), data)
        rebuild_metadata_csvs(new, settings.error_key)
        checkpoint("train.tables")
        write_json(new.metadata, pipeline_metadata(layout.name, settings, earlier, now))
        write_json(new.train_arguments, settings.train_arguments)
        write_json(new.node_type_index, settings.node_type_index)
        remove_empty_dirs(new.root)
        zip_pipeline(new.root, staged_zip)
    except WriteFailure as failure:
        raise failure.relocated(staging.public(Path(str(failure.path)))) from None
    except OSError as failure:
        raise WriteFailure.of(failure).relocated(staging.public(Path(failure.filename or new.root))) from None
    staging.commit([(new.root, layout.root), (staged_zip, pipeline_zip)])
