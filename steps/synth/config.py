"""SynthConfig: every knob of the synthetic Kepler 0.7 data set, frozen so a config names one data set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Tuple

from ..common.domain import ENERGY_SOURCES

DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
POWER_KINDS = ("linear", "saturating")
DEFAULT_BACKGROUND = ("coredns", "kube-proxy")


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Offsets (`counter_resets`, `scrape_gaps`) are seconds after `start`.

    - Samples are scraped at `start + k*step_s` for k = 0..floor(duration_s/step_s), minus the
      scrapes with gap_offset <= offset < gap_offset + gap_length (the next sample covers the gap).
    - A counter reset at offset r restarts every counter (usage and energy) from 0 right after the
      first scrape at offset >= r: the next sample holds exactly what was counted in its interval,
      so the reset-aware rate rule of train.md §6.2 recovers the true rate. Keep resets at least
      two scrapes apart.
    - `container_lifetimes` limits benchmark container i to the scrapes with first_s <= offset <= last_s
      (its series start and end there; it uses no CPU and draws no power outside); others live throughout.
    - `noise_w` is the standard deviation (W) of the Gaussian noise on package power per interval and
      on components at least as large; smaller components get it scaled by their mean power
      relative to package.
    - Benchmark containers run in pods `<benchmark>-<i>` (container name `<benchmark>`, namespace
      `benchmark_namespace`); `background` adds one low-usage system container per name (kube-system).
    """

    containers: int = 6
    duration_s: float = 1800.0
    step_s: float = 15.0
    start: datetime = DEFAULT_START
    seed: int = 0
    power: str = "linear"
    noise_w: float = 0.0
    packages: int = 2
    sources: Tuple[str, ...] = ("rapl-sysfs", "acpi")
    counter_resets: Tuple[float, ...] = ()
    scrape_gaps: Tuple[Tuple[float, float], ...] = ()
    node_name: str = "synth-node-0"
    node_info: int = 1
    benchmark: str = "stressng"
    benchmark_namespace: str = "benchmark"
    background: Tuple[str, ...] = DEFAULT_BACKGROUND
    thirdparty: bool = False
    job: str = "kepler-exporter"
    package_shares: Tuple[float, ...] = field(default=())  # empty: a fixed uneven split (see shares())
    container_lifetimes: Tuple[Tuple[int, float, float], ...] = ()  # (benchmark index, first_s, last_s)

    def __post_init__(self) -> None:
        if self.containers < 0:
            raise ValueError(f"containers must be >= 0, got {self.containers}")
        if not self.step_s > 0 or not self.duration_s >= self.step_s:
            raise ValueError(f"need step_s > 0 and duration_s >= step_s, got {self.step_s}, {self.duration_s}")
        if self.power not in POWER_KINDS:
            raise ValueError(f"power must be one of {', '.join(POWER_KINDS)}, got {self.power!r}")
        if self.noise_w < 0:
            raise ValueError(f"noise_w must be >= 0, got {self.noise_w}")
        if self.packages < 1:
            raise ValueError(f"packages must be >= 1, got {self.packages}")
        unknown = [s for s in self.sources if s not in ENERGY_SOURCES]
        if unknown:
            raise ValueError(f"unknown energy source {unknown[0]!r}; choose from {', '.join(ENERGY_SOURCES)}")
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware datetime (UTC)")
        if self.package_shares and (
            len(self.package_shares) != self.packages or abs(sum(self.package_shares) - 1.0) > 1e-9
        ):
            raise ValueError("package_shares needs one share per package, summing to 1")
        # Normalise sequences so equal configs compare (and hash) equal.
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "counter_resets", tuple(float(r) for r in self.counter_resets))
        object.__setattr__(self, "scrape_gaps", tuple((float(o), float(n)) for o, n in self.scrape_gaps))
        object.__setattr__(self, "background", tuple(self.background))
        object.__setattr__(
            self, "container_lifetimes", tuple((int(i), float(a), float(b)) for i, a, b in self.container_lifetimes)
        )
        for index, first, last in self.container_lifetimes:
            if not 0 <= index < self.containers or last < first:
                raise ValueError(
                    f"bad container lifetime {(index, first, last)}: need 0 <= index < containers and first_s <= last_s"
                )

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    def shares(self) -> Tuple[float, ...]:
        """Fraction of each component's energy counted on each package (fixed, uneven on purpose)."""
        if self.package_shares:
            return tuple(self.package_shares)
        weights = [1.0 + 0.1 * (self.packages - 1 - p) for p in range(self.packages)]
        total = sum(weights)
        return tuple(w / total for w in weights)
