"""Per-container usage: integer counts per scrape interval for every Kepler 0.7 workload feature.

Rates are constant within an interval (t_{i-1}, t_i], so a counter's delta is exactly the count and
the true rate is count / dt. Features are correlated the way real hardware makes them correlated
(cycles follow CPU time, instructions follow cycles, cache misses follow instructions) but each
carries its own noise and a second, independent pattern, so no two are collinear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

FEATURES = (
    "bpf_cpu_time_ms",
    "bpf_page_cache_hit",
    "bpf_block_irq",
    "bpf_net_rx_irq",
    "bpf_net_tx_irq",
    "cache_miss",
    "cpu_cycles",
    "cpu_instructions",
)
CGROUP_CPU = "cgroupfs_cpu_usage_us"  # not a model feature; feeds query's validation summary
COUNTED = FEATURES + (CGROUP_CPU,)
PATTERNS = ("onoff", "ramp", "sine", "randomwalk")


@dataclass(frozen=True)
class ContainerSpec:
    """Identity of one generated container (label values of its series)."""

    index: int
    container_id: str
    pod_name: str
    container_name: str
    namespace: str
    background: bool
    pattern: str

    @property
    def id(self) -> str:
        """The identity string train uses (train.md §6.1): container_id/pod_name/container_name/namespace."""
        return "/".join((self.container_id, self.pod_name, self.container_name, self.namespace))


def level(pattern: str, tau: np.ndarray, rng: np.random.Generator, period: float) -> np.ndarray:
    """A load level in [0, 1] at interval midpoints `tau` (seconds), shaped by `pattern`."""
    phase = rng.uniform(0.0, period)
    x = (tau + phase) / period
    if pattern == "onoff":
        duty = rng.uniform(0.35, 0.65)
        return np.where(np.mod(x, 1.0) < duty, 1.0, 0.04)
    if pattern == "ramp":
        return np.mod(x, 1.0)
    if pattern == "sine":
        return 0.5 + 0.5 * np.sin(2.0 * np.pi * x)
    if pattern == "randomwalk":
        steps = rng.normal(0.0, 1.0, size=tau.shape) * np.sqrt(np.gradient(tau) / period if tau.size > 1 else 1.0)
        walk = rng.uniform(0.2, 0.8) + 0.6 * np.cumsum(steps)
        # Reflect into [0, 1] so the walk keeps moving instead of sticking to a bound.
        walk = np.abs(np.mod(walk + 1.0, 2.0) - 1.0)
        return walk
    if pattern == "flat":
        return np.ones_like(tau)
    raise ValueError(f"unknown usage pattern {pattern!r}")


def _jitter(rng: np.random.Generator, shape, scale: float) -> np.ndarray:
    return np.clip(1.0 + scale * rng.standard_normal(shape), 0.0, None)


def container_rates(spec: ContainerSpec, tau: np.ndarray, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Underlying (unrounded) rates per second for one container at interval midpoints `tau`."""
    n = tau.shape
    if spec.background:
        cores = rng.uniform(0.005, 0.03)
        load = np.clip(level("flat", tau, rng, 1.0) * _jitter(rng, n, 0.2), 0.0, None)
        io_level = 0.1 * _jitter(rng, n, 0.3)
        net_level = 0.2 * _jitter(rng, n, 0.3)
        miss_level = 0.5 * np.ones(n)
    else:
        period = rng.uniform(300.0, 1800.0)
        cores = rng.uniform(0.5, 3.0)
        load = level(spec.pattern, tau, rng, period)
        io_level = level(PATTERNS[(spec.index + 1) % len(PATTERNS)], tau, rng, rng.uniform(400.0, 2400.0))
        net_level = level(PATTERNS[(spec.index + 2) % len(PATTERNS)], tau, rng, rng.uniform(400.0, 2400.0))
        miss_level = level("sine", tau, rng, rng.uniform(600.0, 3000.0))
    cpu_ms = 1000.0 * cores * load * _jitter(rng, n, 0.05) + rng.uniform(0.5, 3.0)
    ghz = rng.uniform(2.0, 3.2)
    cycles = cpu_ms * ghz * 1e6 * _jitter(rng, n, 0.03)
    instructions = cycles * rng.uniform(0.6, 2.2) * _jitter(rng, n, 0.05)
    cache_miss = instructions * rng.uniform(1e-3, 1e-2) * (0.3 + miss_level) * _jitter(rng, n, 0.05)
    page_cache = rng.uniform(0.0, 2e4) * io_level * _jitter(rng, n, 0.1) + 0.5 * cpu_ms
    block_irq = rng.uniform(5.0, 60.0) * io_level
    net_rx = rng.uniform(20.0, 400.0) * net_level
    net_tx = net_rx * rng.uniform(0.5, 1.2) * _jitter(rng, n, 0.1)
    cgroup_us = cpu_ms * 1000.0 * _jitter(rng, n, 0.02)
    return {
        "bpf_cpu_time_ms": cpu_ms,
        "bpf_page_cache_hit": page_cache,
        "bpf_block_irq": block_irq,
        "bpf_net_rx_irq": net_rx,
        "bpf_net_tx_irq": net_tx,
        "cache_miss": cache_miss,
        "cpu_cycles": cycles,
        "cpu_instructions": instructions,
        CGROUP_CPU: cgroup_us,
    }


def usage_counts(specs: List[ContainerSpec], offsets: np.ndarray, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Integer counts per interval, feature -> int64 array (containers, intervals).

    `offsets` are the scrape offsets t_0..t_n in seconds; interval i (1-based) is (t_{i-1}, t_i].
    IRQ counts are Poisson draws (small numbers); the large counters are rounded rates * dt.
    """
    dt = np.diff(offsets)
    tau = offsets[:-1] + dt / 2.0
    counts = {name: np.zeros((len(specs), dt.size), dtype=np.int64) for name in COUNTED}
    for row, spec in enumerate(specs):
        rates = container_rates(spec, tau, rng)
        for name in COUNTED:
            expected = np.clip(rates[name], 0.0, None) * dt
            if name in ("bpf_block_irq", "bpf_net_rx_irq", "bpf_net_tx_irq"):
                counts[name][row] = rng.poisson(expected)
            else:
                counts[name][row] = np.rint(expected).astype(np.int64)
    return counts
