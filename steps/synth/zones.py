"""ZonePowerModel: the public, known function from node CPU time to power per RAPL zone (Kepler 0.10),
and the meter that turns it into Kepler's counters: wrapping raw totals, active and idle running sums."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

_IDLE_W = (("package", 40.0), ("core", 12.0), ("uncore", 4.0), ("dram", 6.0), ("psys", 95.0))
_SHARE = (("package", 1.0), ("core", 0.8), ("uncore", 0.06), ("dram", 0.12), ("psys", 1.3))
SYSFS = "/sys/class/powercap/intel-rapl:"
_SUBZONE = {"core": 0, "uncore": 1, "dram": 2}


@dataclass(frozen=True)
class ZonePowerModel:
    """Node power in watts per zone from x = the node's CPU time rate (ms of CPU per second).

    dyn(x) = cpu_w_per_ms * x                     (linear)
    dyn(x) = pmax_w * (1 - exp(-x / k_ms))        (saturating)
    P_z(x) = idle_w[z] + share[z] * dyn(x)        for every zone z (package share 1; core, uncore and
                                                  dram fractions of package's dynamic power; psys more)
    """

    kind: str = "linear"
    cpu_w_per_ms: float = 0.01
    pmax_w: float = 200.0
    k_ms: float = 8000.0
    idle_w: Tuple[Tuple[str, float], ...] = _IDLE_W
    share: Tuple[Tuple[str, float], ...] = _SHARE

    def dynamic(self, cpu_ms: np.ndarray) -> np.ndarray:
        """dyn(x) in watts."""
        x = np.asarray(cpu_ms, dtype=float)
        if self.kind == "linear":
            return self.cpu_w_per_ms * x
        if self.kind == "saturating":
            return self.pmax_w * (1.0 - np.exp(-x / self.k_ms))
        raise ValueError(f"unknown power kind {self.kind!r}")

    def power(self, cpu_ms: np.ndarray, zones: Sequence[str]) -> Dict[str, np.ndarray]:
        """Clean power per zone (W) at node CPU time rates `cpu_ms`."""
        dyn = self.dynamic(cpu_ms)
        idle, share = dict(self.idle_w), dict(self.share)
        return {z: idle[z] + share[z] * dyn for z in zones}

    def idle_power(self, zones: Sequence[str]) -> Dict[str, float]:
        """Power per zone at zero CPU time."""
        return {z: dict(self.idle_w)[z] for z in zones}

    def slope(self, zone: str) -> float:
        """W per (ms/s) of a linear model's zone; the slope at x = 0 of a saturating one."""
        per_ms = self.cpu_w_per_ms if self.kind == "linear" else self.pmax_w / self.k_ms
        return dict(self.share)[zone] * per_ms

    def describe(self, zone: str, feature: str = "bpf_cpu_time_ms") -> str:
        """The zone's function as text, e.g. `40 + 0.01 x bpf_cpu_time_ms`."""
        idle, share = dict(self.idle_w)[zone], dict(self.share)[zone]
        if self.kind == "linear":
            return f"{idle:g} + {share * self.cpu_w_per_ms:.6g} x {feature}"
        return f"{idle:g} + {share * self.pmax_w:.6g} x (1 - exp(-{feature} / {self.k_ms:.6g}))"


def default_zone_model(kind: str, max_cpu_ms: float) -> ZonePowerModel:
    """The model a config uses: the saturating knee sits at a third of the peak node CPU time."""
    if kind == "saturating":
        return ZonePowerModel(kind="saturating", k_ms=round(max(max_cpu_ms / 3.0, 1.0), 1))
    return ZonePowerModel(kind=kind)


def noise_std(clean: Dict[str, np.ndarray], noise_w: float) -> Dict[str, float]:
    """Noise std per zone: `noise_w` for package and psys, scaled by mean power relative to package otherwise.

    Meters resolve small domains finely: 1 W of noise on a 4 W uncore would swamp it, which no RAPL does.
    """
    reference = float(np.mean(clean["package"])) if "package" in clean and clean["package"].size else 0.0
    out = {}
    for zone, watts in clean.items():
        ratio = 1.0 if zone in ("package", "psys") or reference <= 0 else min(1.0, float(np.mean(watts)) / reference)
        out[zone] = noise_w * ratio
    return out


def zone_paths(zone: str, sockets: int, aggregate: bool) -> List[Tuple[str, Optional[int]]]:
    """(path label, socket or None for a merged series) of a zone's series, as Kepler 0.10 names them."""
    if zone == "psys":
        return [(f"{SYSFS}{sockets}", 0)]
    if sockets > 1 and aggregate:
        return [(f"aggregated-{zone}", None)]

    def path(s: int) -> str:
        return f"{SYSFS}{s}" if zone == "package" else f"{SYSFS}{s}/intel-rapl:{s}:{_SUBZONE[zone]}"

    return [(path(s), s) for s in range(sockets)]


def split_by_shares(energy: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """Integer energy per interval split over sockets (rows), floor plus remainder on the last: sums exactly."""
    parts = np.floor(np.outer(shares[:-1], energy)).astype(np.int64) if len(shares) > 1 else np.empty((0, energy.size))
    last = energy - parts.sum(axis=0)
    return np.vstack([parts, last[None, :]]).astype(np.int64)


def restart_counter(deltas: np.ndarray, start: int, restarts: np.ndarray, restart_values: np.ndarray) -> np.ndarray:
    """A running sum at samples 0..n: `start` at 0, plus each interval's delta; at a restart sample r it
    is `restart_values[j]` (the interval ending at r is lost, as on an exporter's first read)."""
    cs = np.zeros(deltas.size + 1, dtype=np.int64)
    np.cumsum(deltas, out=cs[1:])
    values = cs + np.int64(start)
    if restarts.size:
        k = np.arange(cs.size)
        seg = np.searchsorted(restarts, k, side="right")
        after = seg > 0
        r = restarts[seg[after] - 1]
        values[after] = np.asarray(restart_values, dtype=np.int64)[seg[after] - 1] + cs[after] - cs[r]
    return values


def split_active(energy: np.ndarray, ratio: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(active, idle) millijoules per interval: active = energy x usage ratio (Kepler's node.go), idle the rest."""
    active = np.rint(energy * ratio).astype(np.int64)
    return active, energy - active
