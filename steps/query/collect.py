"""Which metrics to collect (query.md §6) and the concurrent, chunked range queries (query.md §7)."""

from __future__ import annotations

import concurrent.futures as futures
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..common import signals
from ..common.errors import StepError
from ..common.timefmt import format_window_time, from_epoch
from .chunks import Chunk, format_seconds
from .matrix import (
    Irregular,
    LabelKey,
    Labels,
    SeriesPart,
    SeriesStats,
    label_key,
    parse_matrix_fast,
    parts_from_result,
    values_after,
)
from .prom import PromClient, RequestFailed

NAMES_PATH = "/api/v1/label/__name__/values"
RANGE_PATH = "/api/v1/query_range"


@dataclass(frozen=True)
class Selection:
    """The metrics to query, and the third-party names asked for that Prometheus does not have."""

    metrics: Tuple[str, ...]
    missing_thirdparty: Tuple[str, ...]


def select_metrics(names: Iterable[str], prefix: str, thirdparty: Sequence[str]) -> Selection:
    """Names that start with `prefix`, plus the third-party names present (exact match); sorted."""
    available = set(names)
    chosen = {name for name in available if name.startswith(prefix)}
    missing = []
    for name in thirdparty:
        if name in available:
            chosen.add(name)
        elif name not in missing:
            missing.append(name)
    return Selection(tuple(sorted(chosen)), tuple(missing))


def selector_matcher(selector: Optional[str]) -> Optional[str]:
    """`--selector` as a series matcher `{...}`; braces given by the user are accepted too."""
    if not selector:
        return None
    text = selector.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return "{" + text + "}" if text else None


def expression(metric: str, selector: Optional[str]) -> str:
    """The bare metric name, or `<name>{<selector>}`: raw samples, no functions applied."""
    matcher = selector_matcher(selector)
    return metric + matcher if matcher else metric


def discover(client: PromClient, start: int, end: int, selector: Optional[str]) -> List[str]:
    """Metric names with data in [start, end] (and matching the selector)."""
    params: List[Tuple[str, str]] = [("start", str(start)), ("end", str(end))]
    matcher = selector_matcher(selector)
    if matcher:
        params.append(("match[]", matcher))
    data = client.get(NAMES_PATH, params, "the list of metric names")
    if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
        raise StepError(f"the answer of {client.address.display}{NAMES_PATH} is not a list of metric names")
    return data


def chunk_label(chunk: Chunk) -> str:
    """`<start> to <end>` of a chunk, for messages."""
    return f"{format_window_time(from_epoch(float(chunk.start)))} to {format_window_time(from_epoch(float(chunk.end)))}"


def fetch_chunk(
    client: PromClient, metric: str, chunk: Chunk, step: Fraction, selector: Optional[str]
) -> List[SeriesPart]:
    """One range request, turned into series parts."""
    what = f"{metric} from {chunk_label(chunk)}"
    params = {
        "query": expression(metric, selector),
        "start": format_seconds(chunk.start),
        "end": format_seconds(chunk.end),
        "step": format_seconds(step),
    }
    body = client.get_body(RANGE_PATH, params, what)
    try:
        return parse_matrix_fast(body)
    except Irregular:
        pass
    data = client.decode(body, RANGE_PATH, what)
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise RequestFailed(f"the answer of {client.address.display}{RANGE_PATH} for {what} lacks data.result")
    if data.get("resultType") not in (None, "matrix"):
        raise RequestFailed(f"the answer for {what} is a {data.get('resultType')}, not a matrix")
    try:
        return parts_from_result(data["result"])
    except (ValueError, TypeError, IndexError) as failure:
        raise RequestFailed(f"the answer for {what} is malformed: {failure}") from None


@dataclass
class MergedSeries:
    """One series of one metric over the whole window."""

    labels: Labels
    fragments: List[bytes] = field(default_factory=list)
    stats: SeriesStats = field(default_factory=SeriesStats)
    last: Optional[float] = None

    def append(self, part: SeriesPart) -> None:
        if self.last is not None and part.first <= self.last:
            trimmed = values_after(part, self.last)
            if trimmed is None:
                return
            part = trimmed
        self.fragments.append(part.fragment)
        self.stats.add(part.stats)
        self.last = part.last


def merge_parts(chunk_parts: Sequence[List[SeriesPart]]) -> List[MergedSeries]:
    """Join one metric's chunks (given in time order) per full label set; series sorted by labels."""
    merged: Dict[LabelKey, MergedSeries] = {}
    for parts in chunk_parts:
        for part in parts:
            key = label_key(part.labels)
            series = merged.get(key)
            if series is None:
                series = merged[key] = MergedSeries(part.labels)
            series.append(part)
    return [merged[key] for key in sorted(merged)]


def _answer(future: futures.Future) -> object:
    """The request's answer; a stop asked for meanwhile is raised within a quarter second."""
    while True:
        try:
            return future.result(timeout=0.25)
        except futures.TimeoutError:
            signals.check()


def collect(
    client: PromClient,
    metrics: Sequence[str],
    chunks: Sequence[Chunk],
    step: Fraction,
    selector: Optional[str],
    concurrency: int,
    fetch: Callable[..., List[SeriesPart]] = fetch_chunk,
) -> Iterator[Tuple[str, List[MergedSeries]]]:
    """Yield (metric, merged series) in metric order while later requests are still running.

    At most `concurrency` requests are in flight; a metric is yielded once all its chunks are in,
    so memory holds a few metrics, not the whole window. A failed request cancels the rest.
    """
    pool = futures.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="query")
    tasks = [(metric, chunk) for metric in metrics for chunk in chunks]
    submitted: List[Optional[futures.Future]] = []
    # Requests run at most this far ahead of the writer: enough to keep every worker busy,
    # few enough that memory holds a handful of chunk answers.
    ahead = 2 * max(1, concurrency)

    def top_up(consumed: int) -> None:
        while len(submitted) < len(tasks) and len(submitted) < consumed + ahead:
            metric, chunk = tasks[len(submitted)]
            submitted.append(pool.submit(fetch, client, metric, chunk, step, selector))

    try:
        index = 0
        for metric in metrics:
            parts = []
            for _ in chunks:
                top_up(index)
                parts.append(_answer(submitted[index]))  # type: ignore[arg-type]
                submitted[index] = None  # the answer now lives in `parts` only
                index += 1
            merged = merge_parts(parts)
            del parts
            top_up(index)
            yield metric, merged
    except BaseException:
        cancel = getattr(client, "cancel", None)
        if cancel:
            cancel()  # requests still retrying give up instead of holding the exit
        raise
    finally:
        for future in submitted:
            if future is not None:
                future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
