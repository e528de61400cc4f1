"""Kepler 0.10's node energy counters from known zone power: the meter (noise, mJ per interval), the RAPL
raw totals that wrap, Kepler's active/idle running sums, and the per-process share of active energy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .config010 import Kepler010Config
from .zones import ZonePowerModel, noise_std, restart_counter, split_active, split_by_shares, zone_paths

PathKey = Tuple[str, str]  # (zone, path label)


@dataclass(eq=False)
class ZoneCounters:
    """Everything Kepler exports about node energy, per (zone, path); millijoules as int64.

    `energy`, `active`: per interval (n,); `total`, `active_values`, `idle_values`: samples (n+1,).
    """

    clean_w: Dict[str, np.ndarray]  # zone -> model power per interval (W)
    noise_w: Dict[str, float]  # zone -> std of the noise added (W)
    paths: Dict[str, List[str]]  # zone -> its path labels
    aggregated: Dict[str, bool]  # zone -> its total is Kepler's merge of the sockets
    ranges: Dict[PathKey, int]  # wrap range of the emitted total
    energy: Dict[PathKey, np.ndarray]
    active: Dict[PathKey, np.ndarray]
    total: Dict[PathKey, np.ndarray]
    active_values: Dict[PathKey, np.ndarray]
    idle_values: Dict[PathKey, np.ndarray]

    def zone_energy(self, zone: str, kind: str = "total") -> np.ndarray:
        """mJ per interval of a zone summed over its paths: "total", "active" or "idle"."""
        keys = [(zone, p) for p in self.paths[zone]]
        total = sum(self.energy[k] for k in keys)
        active = sum(self.active[k] for k in keys)
        return {"total": total, "active": active, "idle": total - active}[kind]


def _path_energy(energy: np.ndarray, shares, sockets: Optional[int]) -> np.ndarray:
    """One socket's share of a zone's energy (all of it for a merged path)."""
    return energy if sockets is None else split_by_shares(energy, shares)[sockets]


def meter(
    config: Kepler010Config,
    model: ZonePowerModel,
    cpu_ms: np.ndarray,
    ratio: np.ndarray,
    dt: np.ndarray,
    restarts: np.ndarray,
    rng: np.random.Generator,
) -> ZoneCounters:
    """Read the model at node CPU rates `cpu_ms` (n,) with noise; `ratio` (n+1,) is the emitted usage ratio."""
    clean = model.power(cpu_ms, config.zones)
    std = noise_std(clean, config.noise_w)
    shares = config.socket_shares()
    out = ZoneCounters(clean, std, {}, {}, {}, {}, {}, {}, {}, {})
    for zone in config.zones:
        noise = rng.normal(0.0, std[zone], dt.size) if std[zone] > 0 else np.zeros(dt.size)
        energy = np.rint(np.clip(clean[zone] + noise, 0.0, None) * dt * 1000.0).astype(np.int64)
        sockets = 1 if zone == "psys" else config.sockets
        hw0 = rng.integers(0, config.wrap_mj, sockets)
        hw = [
            (hw0[s] + _cumsum0(_path_energy(energy, shares, s) if sockets > 1 else energy)) % config.wrap_mj
            for s in range(sockets)
        ]
        out.paths[zone], out.aggregated[zone] = [], False
        for path, socket in zone_paths(zone, config.sockets, config.aggregate):
            key = (zone, path)
            part = energy if zone == "psys" or sockets == 1 else _path_energy(energy, shares, socket)
            if socket is None:  # Kepler's AggregatedZone: a running sum of the sockets, modulo their summed range
                out.ranges[key] = sockets * config.wrap_mj
                acc0 = int(rng.integers(0, out.ranges[key]))
                at_restart = sum(h[restarts] for h in hw)
                total = restart_counter(part, acc0, restarts, at_restart) % out.ranges[key]
                out.aggregated[zone] = True
            else:
                out.ranges[key] = config.wrap_mj
                total = hw[socket if sockets > 1 else 0]
            if part.size and part.max() >= out.ranges[key]:
                raise ValueError(f"zone {zone} counts {part.max()} mJ in one interval, more than its wrap range")
            active, idle = split_active(part, ratio[1:])
            first_active = np.rint(total[restarts] * ratio[restarts]).astype(np.int64)
            low, high = 4 * out.ranges[key], 40 * out.ranges[key]  # Kepler ran long before: restarts always fall
            out.paths[zone].append(path)
            out.energy[key], out.active[key], out.total[key] = part, active, total
            out.active_values[key] = restart_counter(active, int(rng.integers(low, high)), restarts, first_active)
            out.idle_values[key] = restart_counter(
                idle, int(rng.integers(low, high)), restarts, total[restarts] - first_active
            )
    return out


def _cumsum0(deltas: np.ndarray) -> np.ndarray:
    """Running sum at samples 0..n (0 at sample 0)."""
    out = np.zeros(deltas.size + 1, dtype=np.int64)
    np.cumsum(deltas, out=out[1:])
    return out


def process_energy(counters: ZoneCounters, zones, cpu_ticks: np.ndarray) -> Dict[str, np.ndarray]:
    """mJ per interval per process and zone (processes, n): the process's CPU-time share of the zone's
    active energy (Kepler's attribution; a VM's energy is its QEMU process's)."""
    node = cpu_ticks.sum(axis=0)
    share = np.divide(cpu_ticks, node, out=np.zeros(cpu_ticks.shape), where=node > 0)
    return {z: np.rint(counters.zone_energy(z, "active")[None, :] * share).astype(np.int64) for z in zones}
