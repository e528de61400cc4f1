"""The workspace contract: every file and folder the steps exchange, and their validating readers.

Paths come only from here (`ws.query_response(name)`, `ws.pipeline(name).model_zip(...)`), so the
layout of workspace.md §2 lives in one place. Every name a path method joins is checked to be a
plain name (steps/common/names.py), so no value from a flag, a file or a server reaches outside the
folder it is meant for: the CLI checks flags first (exit 2), this is the last line (exit 1).
Readers fail with a StepError naming the file and the problem.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import VERSION_FOLDER
from .config import DEFAULT_DATA_PATH, Environment, resolve
from .errors import StepError
from .machine_spec import Spec, spec_from_document
from .names import check_name
from .timefmt import PLAIN_FORMAT, WINDOW_FORMAT, format_window_time


def plain_name(name: str) -> str:
    """Workspace names are given with or without `.json`."""
    return name[:-5] if name.endswith(".json") else name


def _json_name(name: str, what: str) -> str:
    """A workspace name without `.json`, checked to be one path component."""
    return check_name(plain_name(name), what)


@dataclass(frozen=True)
class Workspace:
    """The shared workspace folder (DATAPATH) and the root of trained pipelines (MODEL_PATH)."""

    data_path: Path
    model_path: Path

    @classmethod
    def from_settings(cls, data_path_flag: Optional[str], env: Environment) -> "Workspace":
        data = resolve(data_path_flag, env, "DATAPATH", default=DEFAULT_DATA_PATH)
        model = env.get("MODEL_PATH") or data
        return cls(Path(data), Path(model))  # type: ignore[arg-type]

    # -- workspace files (workspace.md §2.1)
    def query_response(self, name: str) -> Path:
        return self.data_path / f"{_json_name(name, 'query JSON name')}.json"

    def window(self, name: str) -> Path:
        return self.data_path / f"{_json_name(name, 'time-window name')}.json"

    def validation_table(self, output: str) -> Path:
        return self.data_path / f"{_json_name(output, 'query output name')}_validate_result.csv"

    def query_csv_dir(self, output: str) -> Path:
        return self.data_path / f"{_json_name(output, 'query output name')}_csv"

    def query_csv(self, output: str, metric: str) -> Path:
        return self.query_csv_dir(output) / query_csv_name(metric)

    def vm_map(self, name: str) -> Path:
        """The --vm-map file of VM models: guest identity -> vm_id (kepler-010.md §4)."""
        return self.data_path / f"{_json_name(name, 'vm map name')}.json"

    def machine_spec(self, machine_id: str) -> Path:
        return self.data_path / "machine_spec" / f"{check_name(machine_id, 'machine id')}.json"

    def machine_spec_candidates(self, machine_id: str) -> List[Path]:
        """Where readers look: machine_spec/<id>.json, then <id>.json at the root (seed.md)."""
        return [self.machine_spec(machine_id), self.data_path / f"{machine_id}.json"]

    def profile(self, pipeline: str, source: str) -> Path:
        return (
            self.data_path
            / check_name(pipeline, "pipeline name")
            / "profile"
            / f"{check_name(source, 'energy source')}.json"
        )

    # -- trained pipelines (workspace.md §2.2)
    def pipeline(self, name: str) -> "PipelineLayout":
        return PipelineLayout(self.model_path / check_name(name, "pipeline name"))

    def pipeline_zip(self, name: str) -> Path:
        return self.model_path / f"{check_name(name, 'pipeline name')}.zip"


def query_csv_name(metric: str) -> str:
    """`<metric>.csv` of `<output>_csv/` (query --to-csv): the metric name must be one path component."""
    return f"{check_name(metric, 'metric name')}.csv"


@dataclass(frozen=True)
class PipelineLayout:
    """One pipeline folder, as train writes it and as export publishes it (workspace.md §2.2/§2.3)."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def metadata(self) -> Path:
        return self.root / "metadata.json"

    @property
    def train_arguments(self) -> Path:
        return self.root / "train_arguments.json"

    @property
    def node_type_index(self) -> Path:
        return self.root / "node_type_index.json"

    @property
    def readme(self) -> Path:
        return self.root / "README.md"

    def model_metadata_csv(self, source: str, output_type: str) -> Path:
        return self.root / f"{_table(source, output_type)}_model_metadata.csv"

    def metadata_plot(self, source: str, output_type: str) -> Path:
        return self.root / f"{_table(source, output_type)}_model_metadata.png"

    def power_curve_plot(self, source: str, output_type: str) -> Path:
        return self.root / f"{_table(source, output_type)}_power_curve.png"

    @property
    def preprocessed_dir(self) -> Path:
        return self.root / "preprocessed_data"

    def preprocessed_abs(self, extractor: str, source: str, group: str) -> Path:
        parts = _parts((extractor, "extractor"), (source, "energy source"), (group, "feature group"))
        return self.preprocessed_dir / f"preprocess_abs_{parts}.csv"

    def preprocessed_dyn(self, extractor: str, isolator: str, source: str, group: str) -> Path:
        parts = _parts(
            (extractor, "extractor"), (isolator, "isolator"), (source, "energy source"), (group, "feature group")
        )
        return self.preprocessed_dir / f"preprocess_dyn_{parts}.csv"

    def source_dir(self, source: str) -> Path:
        return self.root / check_name(source, "energy source")

    def output_dir(self, source: str, output_type: str) -> Path:
        return self.source_dir(source) / check_name(output_type, "output type")

    def group_dir(self, source: str, output_type: str, group: str) -> Path:
        return self.output_dir(source, output_type) / check_name(group, "feature group")

    def model_dir(self, source: str, output_type: str, group: str, model_name: str) -> Path:
        return self.group_dir(source, output_type, group) / check_name(model_name, "model name")

    def model_zip(self, source: str, output_type: str, group: str, model_name: str) -> Path:
        return self.group_dir(source, output_type, group) / f"{check_name(model_name, 'model name')}.zip"

    def model_onnx(self, source: str, output_type: str, group: str, model_name: str) -> Path:
        """`<model>.onnx` beside the model zip: the model as one ONNX graph (steps/train/onnx_models.py)."""
        return self.group_dir(source, output_type, group) / f"{check_name(model_name, 'model name')}.onnx"

    def model_weight_file(self, source: str, output_type: str, group: str, model_name: str) -> Path:
        """`weight.json` inside the model folder (trained pipeline, workspace.md §3.13)."""
        return self.model_dir(source, output_type, group, model_name) / "weight.json"

    def weight_json(self, source: str, output_type: str, group: str, model_name: str) -> Path:
        """The published weight file next to the model zip (model database only)."""
        return self.group_dir(source, output_type, group) / f"{check_name(model_name, 'model name')}.json"

    def error_report(self, node_type: int) -> Path:
        return self.root / "error_report" / f"node_type_{int(node_type)}.md"


def _parts(*named: Tuple[str, str]) -> str:
    """`a_b_c` of several checked names (value, what), for the file names that join them."""
    return "_".join(check_name(value, what) for value, what in named)


def _table(source: str, output_type: str) -> str:
    """`<source>_<output type>`, the stem of a model table and its plots."""
    return _parts((source, "energy source"), (output_type, "output type"))


@dataclass(frozen=True)
class ModelDatabase:
    """A kepler-model-db `models/` folder (export -o), layout of workspace.md §2.3."""

    root: Path
    version: str = VERSION_FOLDER

    @property
    def version_dir(self) -> Path:
        return self.root / check_name(self.version, "model-db version")

    @property
    def version_readme(self) -> Path:
        return self.version_dir / "README.md"

    def doc_page(self, pipeline: str) -> Path:
        return self.version_dir / ".doc" / f"{check_name(pipeline, 'pipeline name')}.md"

    def pipeline(self, name: str) -> PipelineLayout:
        return PipelineLayout(self.version_dir / check_name(name, "pipeline name"))

    def pipeline_zip(self, name: str) -> Path:
        return self.version_dir / f"{check_name(name, 'pipeline name')}.zip"


# ---------------------------------------------------------------- readers


def read_json(path: Path, what: str, parse: Callable[[bytes], Any] = json.loads) -> Any:
    """Parse a JSON file or fail naming the file and what it should have been."""
    try:
        with open(path, "rb") as handle:
            return parse(handle.read())
    except FileNotFoundError:
        raise StepError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise StepError(f"{what} {path} is a folder, not a file") from None
    except PermissionError:
        raise StepError(f"{what} {path} is not readable (permission denied)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as failure:
        raise StepError(f"{what} {path} is not valid JSON: {failure}") from None
    except OSError as failure:
        raise StepError(f"{what} {path} cannot be read: {failure.strerror or failure}") from None


QueryResponse = Dict[str, List[Dict[str, Any]]]


@dataclass(frozen=True, eq=False)
class SampleColumns:
    """A series' `values` as train reads them (steps/train/query_columns.py): times and values as float64 arrays."""

    t: Any  # numpy arrays (numpy is not imported here: the query image has none)
    v: Any

    def __len__(self) -> int:
        return len(self.t)


def series_order_key(labels: Mapping[str, str]) -> Tuple[Tuple[str, str], ...]:
    """A series' complete label set, ordered: its identity, and the order of series within a metric
    of the query JSON (§3.1) for every writer of that file."""
    return tuple(sorted(labels.items()))


def validate_query_response(document: Any, path: Path) -> QueryResponse:
    """Check the shape of workspace.md §3.1: {metric: [{"metric": {labels}, "values": [[t, v]...]}]}."""
    if not isinstance(document, dict):
        raise StepError(f"{path} is not a query response: expected an object of metric name to series list")
    for metric, series_list in document.items():
        if not isinstance(series_list, list):
            raise StepError(f"{path} is not a query response: {metric!r} does not map to a list of series")
        for position, series in enumerate(series_list):
            if (
                not isinstance(series, dict)
                or not isinstance(series.get("metric"), dict)
                or not isinstance(series.get("values"), (list, SampleColumns))
            ):
                raise StepError(
                    f"{path} is not a query response: series {position} of {metric!r} "
                    "lacks a 'metric' object or a 'values' list"
                )
            for sample in series["values"][:1] if isinstance(series["values"], list) else ():
                if not isinstance(sample, (list, tuple)) or len(sample) != 2:
                    raise StepError(
                        f"{path} is not a query response: series {position} of {metric!r} "
                        "has a value that is not a [time, value] pair"
                    )
    return document


def read_query_response(path: Path, parse: Callable[[bytes], Any] = json.loads) -> QueryResponse:
    """The query JSON, checked; `parse` may give samples as `SampleColumns` (steps/train/query_columns.py)."""
    return validate_query_response(read_json(path, "query response", parse), path)


Window = Tuple[datetime, datetime]


def _parse_pushed_time(text: str) -> datetime:
    """`2023-02-24 03:36:49.554647945 +0000 UTC m=+...`: first 19 chars, then the offset if any."""
    moment = datetime.strptime(text[:19], PLAIN_FORMAT)
    rest = text[19:].split()
    offset = timedelta(0)
    if rest and rest[0].startswith(".") and len(rest) > 1:
        rest = rest[1:]
    elif rest and rest[0].startswith("."):
        rest = []
    if rest and len(rest[0]) == 5 and rest[0][0] in "+-" and rest[0][1:].isdigit():
        sign = 1 if rest[0][0] == "+" else -1
        offset = sign * timedelta(hours=int(rest[0][1:3]), minutes=int(rest[0][3:5]))
    return (moment - offset).replace(tzinfo=timezone.utc)


def window_from_document(document: Any) -> Window:
    """Both window forms of workspace.md §3.2; ValueError describing the problem otherwise."""
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object")
    if "metadata" in document:
        start_text = document["metadata"].get("creationTimestamp") if isinstance(document["metadata"], dict) else None
        if not start_text:
            raise ValueError("CPE Benchmark without metadata.creationTimestamp")
        start = datetime.strptime(start_text, WINDOW_FORMAT).replace(tzinfo=timezone.utc)
        pushed = []
        for result in (document.get("status") or {}).get("results") or []:
            for repetition in result.get("repetitions") or []:
                if repetition.get("pushedTime"):
                    pushed.append(_parse_pushed_time(str(repetition["pushedTime"])))
        if not pushed:
            raise ValueError("CPE Benchmark without any status.results[*].repetitions[*].pushedTime")
        end = max(pushed)
    else:
        if "startTimeUTC" not in document or "endTimeUTC" not in document:
            raise ValueError("expected startTimeUTC and endTimeUTC")
        start = datetime.strptime(str(document["startTimeUTC"]), WINDOW_FORMAT).replace(tzinfo=timezone.utc)
        end = datetime.strptime(str(document["endTimeUTC"]), WINDOW_FORMAT).replace(tzinfo=timezone.utc)
    if end <= start:
        raise ValueError(f"its end {format_window_time(end)} is not after its start {format_window_time(start)}")
    return start, end


def read_window(path: Path) -> Window:
    """A time-window file (either form of workspace.md §3.2), or a StepError naming it."""
    document = read_json(path, "time-window file")
    try:
        return window_from_document(document)
    except (ValueError, TypeError, AttributeError) as failure:
        raise StepError(f"time-window file {path} is invalid: {failure}") from None


def window_document(start: datetime, end: datetime) -> Dict[str, str]:
    """The `<benchmark>.json` document query writes."""
    return {"startTimeUTC": format_window_time(start), "endTimeUTC": format_window_time(end)}


def read_machine_spec(path: Path) -> Spec:
    """A machine spec file, checked, or a StepError naming it."""
    document = read_json(path, "machine spec")
    try:
        return spec_from_document(document)
    except ValueError as failure:
        raise StepError(f"machine spec {path} is invalid: {failure}") from None


def finite_float(text: Any) -> float:
    """A sample value as a float (Prometheus sends strings, "NaN" and "+Inf" included)."""
    value = float(text)
    return value if math.isfinite(value) else math.nan
