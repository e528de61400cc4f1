"""SeriesSet: emitted series over one array of sample times, built lazily, with both writers.

Several streams scraped at different times (a host and its guests, seconds apart) join into one set
over the union of their times; each series keeps only its own samples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .labels import label_sort_key
from .series import Series
from .writers import query_response, write_openmetrics, write_query_response


@dataclass(frozen=True)
class Recipe:
    """How to build one series: `build()` gives its int64 values at `samples` (indices; None = all)."""

    metric: str
    labels: Dict[str, str]
    kind: str
    scale: int
    build: Callable[[], np.ndarray]
    samples: Optional[np.ndarray] = None


def labels_of(metric: str, *parts: Dict[str, str]) -> Dict[str, str]:
    """A label set as Prometheus returns it: `__name__` and sorted keys; empty values dropped (Prometheus
    treats `l=""` as no label)."""
    merged = {"__name__": metric}
    for part in parts:
        merged.update({k: v for k, v in part.items() if v != ""})
    return dict(sorted(merged.items()))


class SeriesSet:
    """Series over `timestamps` (epoch s): the writers' EmittedData, plus query JSON and OpenMetrics output."""

    def __init__(self, timestamps: np.ndarray, recipes: List[Recipe]) -> None:
        self._timestamps = np.asarray(timestamps, dtype=float)
        self.recipes = recipes

    @property
    def timestamps(self) -> np.ndarray:
        """Epoch seconds of every sample of any series, ascending."""
        return self._timestamps

    @property
    def window(self) -> Tuple[datetime, datetime]:
        """(first, last) sample time as aware UTC datetimes."""
        t = self._timestamps
        return (datetime.fromtimestamp(t[0], tz=timezone.utc), datetime.fromtimestamp(t[-1], tz=timezone.utc))

    def metric_names(self) -> List[str]:
        """Every emitted metric, sorted."""
        return sorted({r.metric for r in self.recipes})

    def iter_series(self, metrics: Optional[Sequence[str]] = None, values: bool = True) -> Iterator[Series]:
        """Every series, metrics by name and series by label set; values built one series at a time."""
        wanted = set(metrics) if metrics is not None else None
        chosen = [r for r in self.recipes if wanted is None or r.metric in wanted]
        for r in sorted(chosen, key=lambda r: (r.metric, label_sort_key(r.labels))):
            built = r.build() if values else np.empty(0, dtype=np.int64)
            yield Series(r.metric, r.labels, r.kind, built, r.scale, r.samples)

    def query_response(self, metrics: Optional[Sequence[str]] = None) -> Dict[str, list]:
        """The query JSON as a dict (workspace.md §3.1: raw samples, metrics and series sorted)."""
        return query_response(self, metrics)

    def write_query_response(self, path, metrics: Optional[Sequence[str]] = None):
        """Stream the query JSON to `path` atomically."""
        return write_query_response(self, path, metrics)

    def write_openmetrics(self, path):
        """Stream OpenMetrics text for `promtool tsdb create-blocks-from openmetrics` to `path` atomically."""
        return write_openmetrics(self, path)


def union(*sets: SeriesSet) -> SeriesSet:
    """One set over the union of the sets' times; every series keeps exactly its own samples."""
    times = np.unique(np.concatenate([s.timestamps for s in sets]))
    recipes: List[Recipe] = []
    for s in sets:
        where = np.searchsorted(times, s.timestamps)
        for r in s.recipes:
            samples = where if r.samples is None else where[r.samples]
            recipes.append(replace(r, samples=None if samples.size == times.size else samples))
    return SeriesSet(times, recipes)
