"""node_exporter's OS counters beside Kepler's metrics (kepler-010.md §3): --os-selector, --os-server.

The exact names of the OS table (steps/common/kepler_metrics.py) are read from the OS server with
their own selector, and their range queries run beside Kepler's; the two streams are merged by
metric name, so the query JSON keeps its metrics sorted (workspace.md §3.1).
"""

from __future__ import annotations

import contextlib
import heapq
from fractions import Fraction
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from ..common.kepler_metrics import os_metric_names
from .chunks import Chunk
from .collect import MergedSeries, collect, discover
from .prom import PromClient

Stream = Iterator[Tuple[str, List[MergedSeries]]]
Part = Tuple[PromClient, Sequence[str], Optional[str]]  # client, metrics, selector


def select_os_metrics(
    client: PromClient,
    start: int,
    end: int,
    selector: str,
    taken: Sequence[str],
    warn: Callable[[str], None],
) -> Tuple[str, ...]:
    """The OS table's metrics with data for `selector` on the OS server (those Kepler's query takes
    already excepted); a warning names the missing ones."""
    names = set(discover(client, start, end, selector))
    wanted = os_metric_names()
    found = tuple(m for m in wanted if m in names and m not in taken)
    missing = [m for m in wanted if m not in names and m not in taken]
    where = f"{client.address.display} with --os-selector {selector}"
    if missing and len(missing) == len(wanted):
        warn(f"no node_exporter metric has data on {where}: the OS counters are not collected")
    elif missing:
        warn(f"node_exporter metric(s) {', '.join(missing)} have no data on {where}; their os_ features are missing")
    return found


@contextlib.contextmanager
def merged_collect(
    parts: Sequence[Part], chunks: Sequence[Chunk], step: Fraction, concurrency: int
) -> Iterator[Stream]:
    """One stream of (metric, series) in metric order over several (client, metrics, selector) parts,
    each part's requests running as `collect` runs them; every part's workers end with the block."""
    streams = [collect(client, metrics, chunks, step, selector, concurrency) for client, metrics, selector in parts]
    try:
        yield heapq.merge(*streams, key=lambda item: item[0])
    finally:
        for stream in streams:
            stream.close()
