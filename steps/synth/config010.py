"""Kepler010Config: every knob of the synthetic Kepler 0.10 data set (bare-metal node or VM host with guests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple

from .config import DEFAULT_START, POWER_KINDS
from .names010 import ZONES

DEFAULT_ZONES = ("package", "core", "uncore", "dram")
RAPL_RANGE_J = 262143.328850  # a common max_energy_range_uj of a package zone, in joules
DEFAULT_SYSTEM_PROCESSES = ("kubelet", "containerd", "systemd-journal")
DEFAULT_HOST_PROCESSES = ("libvirtd", "systemd-journal")


@dataclass(frozen=True)
class Kepler010Config:
    """What to generate. Offsets are seconds after `start`; host scrapes at `start + k*step_s`.

    - Node mode (`vms=0`): `containers` (default 6) benchmark containers of `processes_per_container`
      processes each, plus one regular (non-container) process per `system_processes` name.
    - VM mode (`vms>0`): a host running one QEMU process per VM, plus `system_processes` (default
      libvirtd and journald) and `containers` (default 0) containers, and, for each guest, node_exporter
      series scraped at host scrape + `guest_offset_s` (|offset| < step_s/2). `guest_missing` lists
      (vm index, host offset) pairs whose guest sample is not there.
    - Zones are any of package, core, uncore, dram, psys. With `sockets` > 1 and `aggregate`, each
      zone but psys is one series with path `aggregated-<zone>` (Kepler's merge); without, one
      series per socket with its sysfs path. RAPL totals wrap at `wrap_j` per socket zone
      (`sockets * wrap_j` when aggregated); active and idle never wrap.
    - `exporter_restarts`: Kepler restarts right after the first scrape at offset >= r: at the next
      sample active/idle restart from the split of the raw reading, process and VM energy from 0
      (an aggregated total from the sockets' raw readings); CPU seconds come from /proc and go on.
    - `noise_w` is the standard deviation (W) of Gaussian noise on package power per interval; other
      zones get it scaled by their mean power relative to package (psys: not scaled down).
    - `cpus` logical CPUs of the host (0: the smallest multiple of 4*sockets that keeps the node
      under 80 % busy); `container_metric` adds the unreleased kepler_container_cpu_seconds_total.
    """

    containers: Optional[int] = None  # None: 6 in node mode, 0 in VM mode
    processes_per_container: int = 2
    system_processes: Optional[Tuple[str, ...]] = None  # None: the mode's default
    vms: int = 0
    vcpus: int = 2
    duration_s: float = 1800.0
    step_s: float = 15.0
    start: datetime = DEFAULT_START
    seed: int = 0
    power: str = "linear"
    noise_w: float = 0.0
    zones: Tuple[str, ...] = DEFAULT_ZONES
    sockets: int = 1
    aggregate: bool = True
    wrap_j: float = RAPL_RANGE_J
    cpus: int = 0
    container_metric: bool = False
    process_energy: bool = True
    exporter_restarts: Tuple[float, ...] = ()
    guest_offset_s: float = 4.0
    guest_missing: Tuple[Tuple[int, float], ...] = ()
    qemu_cpu_factor: float = 1.03
    qemu_overhead_ms: float = 15.0
    node_name: str = "synth-node-0"
    benchmark: str = "stressng"
    kepler_version: str = "v0.10.2"

    def __post_init__(self) -> None:
        if self.containers is None:
            object.__setattr__(self, "containers", 0 if self.vms else 6)
        if self.system_processes is None:
            object.__setattr__(
                self, "system_processes", DEFAULT_HOST_PROCESSES if self.vms else DEFAULT_SYSTEM_PROCESSES
            )
        _check_counts(self)
        if not self.step_s > 0 or not self.duration_s >= self.step_s:
            raise ValueError(f"need step_s > 0 and duration_s >= step_s, got {self.step_s}, {self.duration_s}")
        if self.power not in POWER_KINDS:
            raise ValueError(f"power must be one of {', '.join(POWER_KINDS)}, got {self.power!r}")
        if self.noise_w < 0:
            raise ValueError(f"noise_w must be >= 0, got {self.noise_w}")
        if not self.zones or any(z not in ZONES for z in self.zones) or len(set(self.zones)) != len(self.zones):
            raise ValueError(f"zones must be distinct names among {', '.join(ZONES)}, got {self.zones!r}")
        if not self.wrap_j > 0:
            raise ValueError(f"wrap_j must be > 0, got {self.wrap_j}")
        if self.cpus and self.cpus % (2 * self.sockets):
            raise ValueError(f"cpus must be a multiple of 2 * sockets (two threads per core), got {self.cpus}")
        if not abs(self.guest_offset_s) < self.step_s / 2:
            raise ValueError(f"guest_offset_s must be within half a step, got {self.guest_offset_s}")
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware datetime (UTC)")
        # Normalise sequences so equal configs compare (and hash) equal; zones in Kepler's order.
        object.__setattr__(self, "zones", tuple(z for z in ZONES if z in self.zones))
        object.__setattr__(self, "system_processes", tuple(self.system_processes))
        object.__setattr__(self, "exporter_restarts", tuple(float(r) for r in self.exporter_restarts))
        object.__setattr__(self, "guest_missing", tuple((int(v), float(o)) for v, o in self.guest_missing))
        for vm, offset in self.guest_missing:
            if not 0 <= vm < self.vms or not 0 <= offset <= self.duration_s:
                raise ValueError(f"bad guest_missing {(vm, offset)}: need 0 <= vm < vms and 0 <= offset <= duration_s")

    @property
    def start_epoch(self) -> float:
        """`start` as epoch seconds."""
        return self.start.timestamp()

    @property
    def wrap_mj(self) -> int:
        """The RAPL range of one socket's zone in millijoules (the unit of the emitted counters)."""
        return int(round(self.wrap_j * 1000.0))

    def socket_shares(self) -> Tuple[float, ...]:
        """Fraction of a zone's energy counted on each socket (fixed, uneven on purpose)."""
        weights = [1.0 + 0.1 * (self.sockets - 1 - s) for s in range(self.sockets)]
        return tuple(w / sum(weights) for w in weights)


def _check_counts(config: Kepler010Config) -> None:
    """Counts that must be non-negative or positive."""
    for name, least in (("containers", 0), ("vms", 0), ("processes_per_container", 1), ("vcpus", 1), ("sockets", 1)):
        if getattr(config, name) < least:
            raise ValueError(f"{name} must be >= {least}, got {getattr(config, name)}")
    if config.cpus < 0:
        raise ValueError(f"cpus must be >= 0, got {config.cpus}")
    if config.containers + config.vms + len(config.system_processes) == 0:
        raise ValueError("nothing runs on the node: give containers, vms or system_processes")
