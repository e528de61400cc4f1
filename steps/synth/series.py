"""One emitted series of the synthetic data set, and the exact text of its values and timestamps.

Kept apart from the generator so that the writers (writers.py) read series without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Protocol, Sequence

import numpy as np

COUNTER, GAUGE = "counter", "gauge"


@dataclass(frozen=True)
class Series:
    """One emitted series: `values[k] / scale` is its sample at `timestamps[k]` (shared per data set)."""

    metric: str
    labels: Dict[str, str]  # includes __name__
    kind: str  # "counter" or "gauge"
    values: np.ndarray  # int64
    scale: int = 1  # 1000 for joules (values are millijoules), 10 for the temperature gauge
    samples: Optional[np.ndarray] = None  # indices into the data set's timestamps; None = all

    def floats(self) -> np.ndarray:
        """Values as numbers (`values / scale`)."""
        return self.values / self.scale

    def strings(self) -> List[str]:
        """Values as Prometheus prints them (shortest round-trip decimal, no trailing `.0`)."""
        return format_scaled(self.values, self.scale)


def _fractions(scale: int) -> List[str]:
    digits = len(str(scale)) - 1
    return [""] + [f".{r:0{digits}d}".rstrip("0") for r in range(1, scale)]


_FRACTIONS = {10: _fractions(10), 1000: _fractions(1000)}


def format_scaled(values: np.ndarray, scale: int) -> List[str]:
    """Exact decimal text of values/scale, equal to Go's FormatFloat(v, 'f', -1).

    `scale` is 1 or a power of ten (each one's fraction table is built once). Values are non-negative
    integers (counts, millijoules, decidegrees), so the text is built from integer quotient and
    remainder; no binary float ever gets printed.
    """
    if scale == 1:
        return [str(v) for v in values.tolist()]
    fractions = _FRACTIONS.get(scale) or _FRACTIONS.setdefault(scale, _fractions(scale))
    quotients, remainders = np.divmod(values, scale)
    return [f"{q}{fractions[r]}" for q, r in zip(quotients.tolist(), remainders.tolist())]


def format_timestamp(t: float) -> str:
    """A timestamp as Prometheus prints it: an integer without `.0`, else the shortest float text."""
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def cumulate(counts: np.ndarray, offset: int, restarts: np.ndarray) -> np.ndarray:
    """Counter samples t_0..t_n from interval counts: start at `offset`, restart from 0 at each restart.

    `restarts` are sample indices s whose value is the first after a reset: value(s) = count of
    interval s (the reset happened right after the scrape at s-1).
    """
    cs = np.zeros(counts.shape[-1] + 1, dtype=np.int64)
    np.cumsum(counts, out=cs[1:])
    values = cs + offset
    if restarts.size:
        k = np.arange(cs.size)
        seg = np.searchsorted(restarts, k, side="right")  # number of restarts at or before k
        after = seg > 0
        base = cs[restarts[seg[after] - 1] - 1]
        values[after] = cs[after] - base
    return values


class EmittedData(Protocol):
    """What the writers need of a data set (SynthData): its sample times and its series."""

    @property
    def timestamps(self) -> np.ndarray:
        """Epoch seconds of every sample."""

    def metric_names(self) -> List[str]:
        """Every emitted metric, sorted."""

    def iter_series(self, metrics: Optional[Sequence[str]] = None, values: bool = True) -> Iterator[Series]:
        """Every emitted series in file order."""
