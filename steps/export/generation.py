"""What the metric generation a pipeline was trained from changes in its export (kepler-010.md §5). Pure.

A pipeline's metadata.json names its generation (`kepler_generation`, 0.10 on; absent before).
Models of Kepler >= 0.10 data go into their own version folder (`v0.10`), never `v0.7`, and that
folder takes no other generation. Their reports name the generation and the RAPL zones, which are
the components of the model tables' `<c>_mae` columns (the zones present on the machines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Tuple

from ..common.domain import COMPONENT_ORDER, ENERGY_SOURCES, MODEL_GENERATIONS, PRE_010_GENERATION, ModelGeneration
from ..common.errors import StepError
from ..common.kepler_metrics import GENERATIONS
from .select import ModelRow


@dataclass(frozen=True)
class PipelineGeneration:
    """The generation of an exported pipeline and the Kepler versions it was trained from."""

    model: ModelGeneration
    kepler_versions: str = ""

    @property
    def id(self) -> str:
        """`0.7`, `0.10`..."""
        return self.model.id


def pipeline_generation(metadata: Mapping[str, object], where: str) -> PipelineGeneration:
    """The generation a pipeline's metadata.json records; one export does not know: exit 1."""
    value = metadata.get("kepler_generation")
    generation = str(value) if value is not None else PRE_010_GENERATION
    model = MODEL_GENERATIONS.get(generation)
    if model is None or (value is not None and not model.recorded):
        raise StepError(f"pipeline metadata {where} names an unknown kepler_generation {value!r}")
    return PipelineGeneration(model, str(metadata.get("kepler_version") or ""))


def target_version(generation: PipelineGeneration, version: str, given: bool, pipeline: str) -> str:
    """The version folder to export into: the generation's own for 0.10 on (a different --version: exit 1);
    otherwise `version`, which may not be a folder of another generation."""
    own = generation.model.version_folder
    if generation.model.recorded:
        if given and version != own:
            raise StepError(
                f"pipeline {pipeline} holds models of Kepler {generation.id} data, which are exported to "
                f"{own}, not {version}; leave out --version (MODEL_DB_VERSION)"
            )
        return own
    reserved = {g.version_folder: g.id for g in MODEL_GENERATIONS.values() if g.recorded}
    if version in reserved:
        raise StepError(
            f"{version} holds only models of Kepler {reserved[version]} data; pipeline {pipeline} holds models of "
            f"Kepler {generation.id} data: export it to {own}"
        )
    return version


def table_components(source: str, columns: Iterable[str]) -> Tuple[str, ...]:
    """The components of a model table, in order: those with a `<c>_mae` column, else the source's."""
    present = set(columns)
    found = tuple(c for c in COMPONENT_ORDER if f"{c}_mae" in present)
    return found or ENERGY_SOURCES[source].components


def measured_components(rows: Sequence[ModelRow], components: Sequence[str]) -> Tuple[str, ...]:
    """The components the rows have errors for (a model of a machine without a zone has an empty cell)."""
    return tuple(c for c in components if any(row.cells.get(f"{c}_mae", "") not in ("", None) for row in rows))


def generation_line(generation: PipelineGeneration, components: Sequence[str]) -> Optional[str]:
    """`Kepler generation 0.10 (Kepler v0.10.2); RAPL zones: package, core, dram`; None before 0.10."""
    if not generation.model.recorded:
        return None
    zones = GENERATIONS[generation.id].zone_energy
    names = [zones.zone_of(c) if zones is not None else c for c in components]
    versions = f" (Kepler {generation.kepler_versions.replace(',', ', ')})" if generation.kepler_versions else ""
    return f"Kepler generation {generation.id}{versions}; RAPL zones: {', '.join(names) or 'none'}"
