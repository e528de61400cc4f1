"""Read a trained pipeline folder (MODEL_PATH/<pipeline>) for export, ours or kepler-model-server's.

Model metadata CSV cells are kept as text, so exported CSVs repeat them byte for byte; only the
columns selection needs are parsed into numbers. The cells that become paths (`model_name`,
`feature_group`: `<source>/<ot>/<FG>/<model>.zip`) must be plain names, so a hostile CSV cannot
make export read or write outside the pipeline and the `-o` folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ..common.domain import OUTPUT_TYPES, SOURCE_ORDER, model_metadata_columns
from ..common.errors import StepError
from ..common.machine_spec import ATTRIBUTES
from ..common.names import check_name
from ..common.workspace import PipelineLayout, read_json
from .families import COLUMNS, EXTRA_COLUMNS, NEGLIGIBLE_COLUMN, folds_of, parse_negligible
from .generation import PipelineGeneration, pipeline_generation, table_components
from .select import ModelKey, ModelRow

REQUIRED_COLUMNS = ("model_name", "mae", "mape", "feature_group")
PATH_COLUMNS = ("feature_group", "model_name")  # joined into the model's zip and weight paths
WEIGHT_FILE = "weight.json"


@dataclass(frozen=True)
class ModelTable:
    """The rows of one `<source>_<ot>_model_metadata.csv`; `columns` are the canonical ones present."""

    source: str
    output_type: str
    columns: Tuple[str, ...]
    rows: Tuple[ModelRow, ...]


@dataclass(frozen=True)
class TrainedPipeline:
    """A trained pipeline as export reads it; its name is its layout's."""

    layout: PipelineLayout
    metadata: Dict[str, Any]
    node_type_index: Dict[int, Dict[str, Any]]  # entries as stored, numeric key order
    tables: Tuple[ModelTable, ...]  # source order of §4.1, AbsPower before DynPower
    generation: PipelineGeneration  # the metric generation its metadata.json records (kepler-010.md §5)
    cv_folds: Optional[int] = None  # train_arguments.json's `cv_folds`, for the reports

    @property
    def name(self) -> str:
        """The pipeline's name (its folder's)."""
        return self.layout.name


def read_pipeline(layout: PipelineLayout) -> TrainedPipeline:
    """Metadata, node-type index and every metadata CSV; StepError naming the file otherwise."""
    if not layout.root.is_dir():
        raise StepError(f"pipeline {layout.root} does not exist (check --pipeline-name and MODEL_PATH)")
    metadata = read_json(layout.metadata, "pipeline metadata")
    if not isinstance(metadata, dict):
        raise StepError(f"pipeline metadata {layout.metadata} is invalid: expected a JSON object")
    generation = pipeline_generation(metadata, str(layout.metadata))
    index = parse_node_type_index(read_json(layout.node_type_index, "node-type index"), str(layout.node_type_index))
    tables = []
    for source in SOURCE_ORDER:
        for output_type in OUTPUT_TYPES:
            path = layout.model_metadata_csv(source, output_type)
            if path.is_file():
                tables.append(parse_model_table(_read_text(path), source, output_type, str(path)))
    if not tables:
        raise StepError(
            f"pipeline {layout.root} has no model metadata CSV (<source>_<AbsPower|DynPower>"
            "_model_metadata.csv); was it trained?"
        )
    return TrainedPipeline(layout, metadata, index, tuple(tables), generation, _cv_folds(layout))


def _cv_folds(layout: PipelineLayout) -> Optional[int]:
    """The folds train cross-validated with; None when train_arguments.json does not say (it is optional)."""
    try:
        return folds_of(json.loads(layout.train_arguments.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _read_text(path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        raise StepError(f"model metadata {path} cannot be read: {failure}") from None


def parse_node_type_index(document: Any, where: str) -> Dict[int, Dict[str, Any]]:
    """`{"<n>": {"attrs": {...}, "members": [...]}}` keyed by int, sorted numerically."""
    if not isinstance(document, dict):
        raise StepError(f"node-type index {where} is invalid: expected a JSON object")
    index: Dict[int, Dict[str, Any]] = {}
    for key, entry in document.items():
        if not str(key).isdigit():
            raise StepError(f"node-type index {where} is invalid: key {key!r} is not a node type number")
        if not isinstance(entry, dict) or not isinstance(entry.get("attrs", {}), dict):
            raise StepError(f"node-type index {where} is invalid: entry {key!r} has no 'attrs' object")
        index[int(key)] = entry
    return dict(sorted(index.items()))


def node_attributes(entry: Mapping[str, Any]) -> Dict[str, Any]:
    """The five attributes of an index entry as stored; `NodeAttribute.CORES` style keys accepted."""
    found: Dict[str, Any] = {}
    for key, value in (entry.get("attrs") or {}).items():
        name = str(key).split(".", 1)[1] if str(key).startswith("NodeAttribute.") else str(key)
        if name.lower() in ATTRIBUTES:
            found[name.lower()] = value
    return {name: found.get(name) for name in ATTRIBUTES}


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _node_type(cell: Optional[str], model_name: str) -> Optional[int]:
    if cell not in (None, ""):
        try:
            number = float(cell)  # kepler-model-server CSVs may hold "0.0"
            if number.is_integer() and number >= 0:
                return int(number)
        except ValueError:
            pass
        return None
    suffix = model_name.rpartition("_")[2]
    return int(suffix) if suffix.isdigit() else None


def parse_model_table(text: str, source: str, output_type: str, where: str) -> ModelTable:
    """Parse a model metadata CSV as text cells; unknown columns dropped, trainer/node type derived."""
    try:
        records = list(csv.reader(io.StringIO(text)))
    except csv.Error as failure:
        raise StepError(f"model metadata {where} is not a valid CSV: {failure}") from None
    if not records:
        raise StepError(f"model metadata {where} is empty (no header)")
    header = records[0]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise StepError(f"model metadata {where} lacks the column(s) {', '.join(missing)}")
    derived = {"trainer", "node_type", "output_type", "model_file"}
    components = table_components(source, header)  # 0.10: the zones, `platform` (psys) included
    columns = tuple(c for c in model_metadata_columns(source, components) if c in header or c in derived)
    columns += tuple(c for c in EXTRA_COLUMNS if c in header and c not in columns)  # train's evaluation, kept
    rows: List[ModelRow] = []
    for number, record in enumerate(records[1:], start=2):
        if not record:
            continue
        if len(record) != len(header):
            raise StepError(
                f"model metadata {where} line {number} has {len(record)} cells, the header has {len(header)}"
            )
        raw = dict(zip(header, record))
        for column in PATH_COLUMNS:
            check_name(raw[column], f"model metadata {where} line {number}: {column}")
        name = raw["model_name"]
        cells = {c: raw[c] for c in columns if c in raw}
        cells.setdefault("trainer", name.rpartition("_")[0] or name)
        cells.setdefault("output_type", output_type)
        cells.setdefault("model_file", f"{name}.json")
        node_type = _node_type(raw.get("node_type"), name)
        cells.setdefault("node_type", "" if node_type is None else str(node_type))
        rows.append(
            ModelRow(
                source=source,
                output_type=output_type,
                feature_group=raw["feature_group"],
                model_name=name,
                trainer=cells["trainer"],
                node_type=node_type,
                mae=_float(raw["mae"]),
                mape=_float(raw["mape"]),
                cells={c: cells[c] for c in columns},
                families={
                    family: (_float(raw[mae]), _float(raw[mape]))
                    for family, (mae, mape) in COLUMNS.items()
                    if mae in raw and mape in raw
                },
                negligible=parse_negligible(raw.get(NEGLIGIBLE_COLUMN)),
            )
        )
    return ModelTable(source, output_type, columns, tuple(rows))


def existing_zips(pipeline: TrainedPipeline) -> FrozenSet[ModelKey]:
    """Keys of the models whose zip exists in the pipeline folder."""
    layout = pipeline.layout
    return frozenset(row.key for table in pipeline.tables for row in table.rows if layout.model_zip(*row.key).is_file())


def read_weight(layout: PipelineLayout, key: ModelKey) -> Optional[bytes]:
    """The model's weight.json bytes: from its folder, else from inside its zip; None when absent."""
    path = layout.model_weight_file(*key)
    if path.is_file():
        try:
            return path.read_bytes()
        except OSError as failure:
            raise StepError(f"cannot read {path}: {failure.strerror or failure}") from None
    archive = layout.model_zip(*key)
    try:
        with zipfile.ZipFile(archive) as opened:
            if WEIGHT_FILE in opened.namelist():
                return opened.read(WEIGHT_FILE)
    except (OSError, zipfile.BadZipFile) as failure:
        raise StepError(f"model zip {archive} cannot be read: {failure}") from None
    return None


def parse_weight(data: bytes) -> Optional[Dict[str, Any]]:
    """The weight JSON document, or None when it is not a JSON object."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None
