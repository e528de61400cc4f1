"""Training sets with a known power function, built directly (no extraction involved)."""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from steps.common.domain import ENERGY_SOURCES, FEATURE_GROUPS
from steps.train.tables import TrainingSet

# Known truth of the linear data: power = BIAS + Σ COEF[f] * feature (per component, scaled by FACTOR).
LINEAR_COEF = {"bpf_cpu_time_ms": 0.02, "bpf_page_cache_hit": 0.5}
LINEAR_BIAS = 40.0
COMPONENT_FACTOR = {"package": 1.0, "core": 0.6, "uncore": 0.0, "dram": 0.2, "platform": 1.5}


def feature_frame(rows: int, features: Sequence[str], rng: np.random.Generator) -> pd.DataFrame:
    scales = {"bpf_cpu_time_ms": 2000.0, "bpf_page_cache_hit": 50.0}
    return pd.DataFrame({f: rng.uniform(0, scales.get(f, 1000.0), rows) for f in features})


def training_set(
    power: Callable[[pd.DataFrame], np.ndarray],
    rows: int = 300,
    source: str = "rapl-sysfs",
    group: str = "BPFOnly",
    output_type: str = "AbsPower",
    noise: float = 0.0,
    seed: int = 1,
    node_types: Sequence[int] = (0,),
    factors: Optional[Dict[str, float]] = None,
    dram: Optional[Callable[[pd.DataFrame], np.ndarray]] = None,
) -> TrainingSet:
    """A table in the layout of steps/train/tables.py: features, power per component, node_type, ratio."""
    rng = np.random.default_rng(seed)
    fg = FEATURE_GROUPS[group]
    components = ENERGY_SOURCES[source].components
    frames = []
    for node_type in node_types:
        frame = feature_frame(rows, fg.features, rng)
        frame.insert(0, "timestamp", np.arange(rows) * 15 + 1_700_000_000)
        base = power(frame)
        for component in components:
            factor = (factors or COMPONENT_FACTOR)[component]
            value = dram(frame) if dram is not None and component == "dram" else base * factor
            frame[f"{component}_power"] = value + (rng.normal(0, noise, rows) if factor and noise else 0.0)
        frame["node_type"] = node_type
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    ratio = []
    if ENERGY_SOURCES[source].unit_label:
        table["packge_ratio_package"] = 1.0
        ratio = ["packge_ratio_package"]
    if output_type == "DynPower":
        table["id"] = "all containers"
    return TrainingSet(
        source=source,
        group=fg,
        output_type=output_type,
        table=table,
        features=fg.features,
        power_columns={c: [f"{c}_power"] for c in components},
        ratio_columns=ratio,
    )


def linear_power(frame: pd.DataFrame) -> np.ndarray:
    return LINEAR_BIAS + sum(frame[f].to_numpy() * c for f, c in LINEAR_COEF.items())


def saturating_power(frame: pd.DataFrame) -> np.ndarray:
    """Power that flattens with CPU time (a logistic-like curve of the main feature)."""
    x = frame["bpf_cpu_time_ms"].to_numpy() / 2000.0
    return 30.0 + 60.0 * (1 - np.exp(-4 * x))


def sigmoid_power(frame: pd.DataFrame) -> np.ndarray:
    """A logistic curve of the main feature (the shape LogisticRegressionTrainer fits)."""
    x = frame["bpf_cpu_time_ms"].to_numpy() / 2000.0
    return 30.0 + 60.0 / (1 + np.exp(-8 * (x - 0.5)))


def dram_sigmoid(frame: pd.DataFrame) -> np.ndarray:
    """dram power as a logistic curve of its own main feature (bpf_page_cache_hit in BPF groups)."""
    x = frame["bpf_page_cache_hit"].to_numpy() / 50.0
    return 5.0 + 10.0 / (1 + np.exp(-8 * (x - 0.5)))
