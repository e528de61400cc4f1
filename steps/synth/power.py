"""PowerModel: the public, known function from node-summed usage rates to node power per component,
and the meter that reads it: noisy power per interval as the millijoules the energy counters add."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..common.domain import ENERGY_SOURCES
from .config import SynthConfig

COMPONENTS = ("package", "core", "uncore", "dram", "platform")


@dataclass(frozen=True)
class PowerModel:
    """Node power in watts from node-summed usage rates (per second), per component.

    linear:      package = idle_package_w + cpu_w_per_ms * bpf_cpu_time_ms + page_cache_w_per_hit * bpf_page_cache_hit
    saturating:  package = idle_package_w + pmax_w * (1 - exp(-bpf_cpu_time_ms / k_ms))
                           + page_cache_w_per_hit * bpf_page_cache_hit
    both:        core = core_share * package; uncore = uncore_w (constant, all idle);
                 dram = idle_dram_w + dram_w_per_miss * cache_miss;
                 platform = package + dram + platform_extra_w.
    Idle power of a component is its value at zero usage (idle_power()).
    """

    kind: str = "linear"
    idle_package_w: float = 40.0
    cpu_w_per_ms: float = 0.01
    page_cache_w_per_hit: float = 1e-4
    pmax_w: float = 120.0
    k_ms: float = 4000.0
    core_share: float = 0.6
    uncore_w: float = 1.5
    idle_dram_w: float = 6.0
    dram_w_per_miss: float = 5e-8
    platform_extra_w: float = 50.0

    @property
    def components(self) -> tuple:
        return COMPONENTS

    def package(self, cpu_ms: np.ndarray, page_cache: np.ndarray) -> np.ndarray:
        cpu_ms = np.asarray(cpu_ms, dtype=float)
        if self.kind == "linear":
            cpu_part = self.cpu_w_per_ms * cpu_ms
        elif self.kind == "saturating":
            cpu_part = self.pmax_w * (1.0 - np.exp(-cpu_ms / self.k_ms))
        else:
            raise ValueError(f"unknown power kind {self.kind!r}")
        return self.idle_package_w + cpu_part + self.page_cache_w_per_hit * np.asarray(page_cache, dtype=float)

    def power(self, node_rates: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Clean (noise-free) power per component for node-summed rates keyed by feature name."""
        package = self.package(node_rates["bpf_cpu_time_ms"], node_rates["bpf_page_cache_hit"])
        dram = self.idle_dram_w + self.dram_w_per_miss * np.asarray(node_rates["cache_miss"], dtype=float)
        return {
            "package": package,
            "core": self.core_share * package,
            "uncore": np.full_like(package, self.uncore_w),
            "dram": dram,
            "platform": package + dram + self.platform_extra_w,
        }

    def idle_power(self) -> Dict[str, float]:
        """Power per component at zero usage: what Kepler would count under mode="idle"."""
        zero = {name: np.zeros(1) for name in ("bpf_cpu_time_ms", "bpf_page_cache_hit", "cache_miss")}
        return {component: float(values[0]) for component, values in self.power(zero).items()}


def default_model(kind: str, max_cpu_ms: float = 8000.0) -> PowerModel:
    """The model a SynthConfig uses; the saturating knee sits at a third of the expected peak CPU time."""
    if kind == "saturating":
        return PowerModel(kind="saturating", k_ms=max(max_cpu_ms / 3.0, 1.0))
    return PowerModel(kind=kind)


def _noise_scale(clean: Dict[str, np.ndarray], component: str) -> float:
    """Noise relative to `noise_w`: 1 for package and larger components, less for smaller ones.

    Meters resolve small domains finely: 1 W of noise on a 1.5 W uncore reading would make every
    percentage error meaningless, which no real RAPL reading does.
    """
    if "package" not in clean or component == "package":
        return 1.0
    reference = float(np.mean(clean["package"])) if clean["package"].size else 0.0
    if reference <= 0:
        return 1.0
    return min(1.0, float(np.mean(clean[component])) / reference)


def _noisy_split(clean: np.ndarray, idle: float, noise: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(idle part, dynamic part) of the noisy power, both >= 0, so every counter stays monotonic."""
    noisy = np.clip(clean + noise, 0.0, None)
    idle_part = np.minimum(idle, noisy)
    return idle_part, noisy - idle_part


def energy_readings(
    config: SynthConfig,
    components: Sequence[str],
    clean: Dict[str, np.ndarray],
    idle: Dict[str, float],
    dt: np.ndarray,
    noise_rng: np.random.Generator,
) -> Dict[Tuple[str, str, Optional[int]], np.ndarray]:
    """Millijoules per interval of each (component, mode, package or None): noisy power split into idle and dynamic."""
    unit_components = {c for s in config.sources if ENERGY_SOURCES[s].unit_label for c in ENERGY_SOURCES[s].components}
    shares = config.shares()
    energy_mj: Dict[Tuple[str, str, Optional[int]], np.ndarray] = {}
    for c in components:
        scale = _noise_scale(clean, c) * config.noise_w
        noise = noise_rng.normal(0.0, scale, dt.size) if scale > 0 else np.zeros(dt.size)
        idle_part, dynamic_part = _noisy_split(clean[c], idle[c], noise)
        for mode, part in (("idle", idle_part), ("dynamic", dynamic_part)):
            if c in unit_components:
                for p, share in enumerate(shares):
                    energy_mj[(c, mode, p)] = np.rint(part * share * dt * 1000.0).astype(np.int64)
            else:
                energy_mj[(c, mode, None)] = np.rint(part * dt * 1000.0).astype(np.int64)
    return energy_mj
