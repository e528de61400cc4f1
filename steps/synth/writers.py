"""Serialisations of a SynthData: the query JSON (workspace.md §3.1) and OpenMetrics text for promtool.

Both stream one series at a time so a day of 50 containers never sits in memory as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

from ..common.atomic import atomic_path
from .series import COUNTER, EmittedData, format_timestamp

_CHUNK = 1 << 20


def _epochs(data: EmittedData) -> list:
    """JSON numbers for the timestamps: int when whole (as Prometheus prints them)."""
    return [int(t) if float(t).is_integer() else float(t) for t in data.timestamps]


def query_response(data: EmittedData, metrics: Optional[Sequence[str]] = None) -> Dict[str, list]:
    """The dict a query step would write for this data (raw samples, every metric, sorted)."""
    epochs = _epochs(data)
    result: Dict[str, list] = {name: [] for name in (metrics or [])}
    for series in data.iter_series(metrics):
        times = epochs if series.samples is None else [epochs[k] for k in series.samples]
        values = [[t, v] for t, v in zip(times, series.strings())]
        result.setdefault(series.metric, []).append({"metric": dict(series.labels), "values": values})
    return {name: result[name] for name in sorted(result)}


def iter_query_json(data: EmittedData, metrics: Optional[Sequence[str]] = None) -> Iterator[str]:
    """Text pieces whose concatenation equals json.dumps(query_response(data, metrics))."""
    stamps = [format_timestamp(t) for t in data.timestamps]
    names = sorted(set(metrics) if metrics is not None else data.metric_names())
    yield "{"
    for m_index, name in enumerate(names):
        yield ("" if m_index == 0 else ", ") + json.dumps(name) + ": ["
        for s_index, series in enumerate(data.iter_series([name])):
            times = stamps if series.samples is None else [stamps[k] for k in series.samples]
            body = ", ".join(f'[{t}, "{v}"]' for t, v in zip(times, series.strings()))
            yield (
                ("" if s_index == 0 else ", ")
                + '{"metric": '
                + json.dumps(series.labels)
                + ', "values": ['
                + body
                + "]}"
            )
        yield "]"
    yield "}"


def write_query_response(data: EmittedData, path, metrics: Optional[Sequence[str]] = None) -> Path:
    """Stream the query JSON to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", buffering=_CHUNK) as out:
        for piece in iter_query_json(data, metrics):
            out.write(piece)
    return Path(path)


def _family(metric: str, kind: str) -> str:
    """OpenMetrics family name: a counter's samples end in `_total`, its family does not."""
    return metric[: -len("_total")] if kind == COUNTER and metric.endswith("_total") else metric


def _label_text(labels: Dict[str, str]) -> str:
    """OpenMetrics label text without `__name__`, values escaped."""
    parts = []
    for key, value in labels.items():
        if key == "__name__":
            continue
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{escaped}"')
    return ",".join(parts)


def iter_openmetrics(data: EmittedData) -> Iterator[str]:
    """OpenMetrics text: one `# TYPE` line per family, samples in time order per series, `# EOF`."""
    stamps = [format_timestamp(t) for t in data.timestamps]
    family = None
    for series in data.iter_series():
        name = _family(series.metric, series.kind)
        if name != family:
            family = name
            yield f"# TYPE {name} {series.kind}\n"
        prefix = f"{series.metric}{{{_label_text(series.labels)}}} "
        # str.join copies the long label prefix in C; much faster than one f-string per sample.
        times = stamps if series.samples is None else [stamps[k] for k in series.samples]
        yield prefix + prefix.join([f"{v} {t}\n" for v, t in zip(series.strings(), times)])
    yield "# EOF\n"


def openmetrics_text(data: EmittedData) -> str:
    """The whole OpenMetrics text (small data sets and tests)."""
    return "".join(iter_openmetrics(data))


def write_openmetrics(data: EmittedData, path) -> Path:
    """Stream the OpenMetrics text to `path` atomically (input of `promtool tsdb create-blocks-from`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", buffering=_CHUNK) as out:
        for piece in iter_openmetrics(data):
            out.write(piece)
    return Path(path)


def sample_count(data: EmittedData) -> int:
    """Number of samples written, to check promtool ingested them all."""
    return sum(data.timestamps.size if s.samples is None else s.samples.size for s in data.iter_series(values=False))
