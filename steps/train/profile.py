"""Idle power profiles (train.md §7.5, workspace.md §3.6): per source, component and node type."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from ..common.domain import ENERGY_SOURCES
from .extract import InputData
from .power import power_layout, power_table

# component -> node type (string) -> {"min_watt", "max_watt", "#unit"}
Profile = Dict[str, Dict[str, Dict[str, Any]]]


def compute_profiles(
    idle: InputData, sources: Sequence[str], node_type: int, warn: Optional[Callable[[str], None]] = None
) -> Dict[str, Profile]:
    """Profiles of every requested source with power data in the idle input.

    p(t) = mean of the component's power columns at t (per-unit power); min/max over t; #unit = columns.
    """
    profiles: Dict[str, Profile] = {}
    for source in sources:
        if not idle.source_has_data(source):
            continue
        layout = power_layout(source, [idle])
        table = power_table(idle, layout, warn)
        if table.t.size == 0:
            continue
        profile: Profile = {}
        for component, columns in layout.power_columns.items():
            per_unit = np.mean(np.stack([table.columns[c] for c in columns]), axis=0)
            profile[component] = {
                str(node_type): {
                    "min_watt": float(per_unit.min()),
                    "max_watt": float(per_unit.max()),
                    "#unit": len(columns),
                }
            }
        profiles[source] = profile
    return profiles


def load(document: Optional[Mapping[str, Any]], source: str = "") -> Profile:
    """A profile file's content, checked and with numbers as floats (node-type keys as strings)."""
    profile: Profile = {}
    for component, per_type in (document or {}).items():
        if source and component not in ENERGY_SOURCES[source].components:
            continue
        if not isinstance(per_type, Mapping):
            raise ValueError(f"component {component!r} does not map to node types")
        profile[component] = {}
        for node_type, entry in per_type.items():
            profile[component][str(int(node_type))] = {
                "min_watt": float(entry["min_watt"]),
                "max_watt": float(entry["max_watt"]),
                "#unit": int(entry.get("#unit", 1)),
            }
    return profile


def merge(existing: Optional[Mapping[str, Any]], new: Profile) -> Profile:
    """An existing profile file updated with this run's node types (others kept)."""
    merged = load(existing) if existing else {}
    for component, per_type in new.items():
        merged.setdefault(component, {}).update(per_type)
    return {c: dict(sorted(t.items(), key=lambda item: int(item[0]))) for c, t in merged.items()}
