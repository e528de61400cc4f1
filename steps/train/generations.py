"""What the metric generation of a run's inputs decides (kepler-010.md): one generation per run,
the isolators it has, and the keys its models' metadata.json carry. Pure checks: StepError (exit 1)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

from ..common.domain import CPU_TIME_FEATURE, MODEL_GENERATIONS, FeatureGroup
from ..common.errors import StepError
from ..common.kepler_metrics import GENERATIONS
from .extract import InputData


def check_one_generation(generations: Mapping[str, str]) -> None:
    """Kepler >= 0.10 inputs are never combined with 0.6/0.7 ones (kepler-010.md preamble): exit 1."""
    newer = sorted(name for name, g in generations.items() if GENERATIONS[g].zone_energy is not None)
    older = sorted(name for name in generations if name not in newer)
    if newer and older:
        raise StepError(
            f"inputs {', '.join(newer)} hold Kepler >= 0.10 metrics and {', '.join(older)} Kepler "
            f"{'/'.join(sorted({generations[n] for n in older}))} metrics; one run (and one pipeline) takes "
            "one generation: train them into separate pipelines"
        )


def check_isolator(isolator: str, generation: str) -> None:
    """The isolators a generation has (`active` needs Kepler's active counter: 0.10 on): else exit 1."""
    allowed = MODEL_GENERATIONS[generation].isolators
    if isolator not in allowed:
        raise StepError(
            f"--isolator {isolator} needs Kepler >= 0.10 inputs (its active energy counter); for Kepler "
            f"{generation} inputs choose one of {', '.join(allowed)}"
        )


def model_metadata_keys(data: Sequence[InputData]) -> Dict[str, Any]:
    """The keys 0.10 models add to their metadata.json: the generation and where CPU time came from.

    Inputs that measure CPU time differently (processes, containers) are never mixed: exit 1.
    """
    generation = data[0].generation
    if not MODEL_GENERATIONS[generation].recorded:
        return {}
    sources = {d.name: d.cpu_time_source for d in data if d.cpu_time_source}
    if len(set(sources.values())) > 1:
        described = ", ".join(f"{name} ({source})" for name, source in sources.items())
        raise StepError(
            f"the inputs take CPU time from different metrics: {described}; process and container CPU time "
            "are never combined: train them into separate pipelines"
        )
    keys: Dict[str, Any] = {"kepler_generation": generation}
    if sources:
        keys["cpu_time_source"] = next(iter(sources.values()))
    return keys


def group_metadata(keys: Mapping[str, Any], group: FeatureGroup) -> Dict[str, Any]:
    """`cpu_time_source` only for models that read CPU time."""
    return {k: v for k, v in keys.items() if k != "cpu_time_source" or CPU_TIME_FEATURE in group.features}
