"""The load phase of train (train.md §2 steps 2-3): the inputs, their metric generation and with it the
run's pipeline, an interrupted commit finished, the machine spec, the trainer isolator's models,
the node-type index.

The defaults of --pipeline-name and --isolator depend on the inputs' generation (kepler-010.md §5),
so the pipeline is known only once the inputs are read (`Run.resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

from ..common import signals
from ..common.console import Console
from ..common.domain import MODEL_GENERATIONS
from ..common.errors import StepError
from ..common.machine_spec import Spec
from ..common.publish import Staging, recover
from ..common.workspace import PipelineLayout, Workspace, read_json, read_machine_spec, read_query_response
from .options import TrainOptions
from .vm_map import check_vm_generation, read_vm_mode


@dataclass
class Loaded:
    """What the load phase read."""

    inputs: List[Tuple[str, Any]]  # (name, query response)
    profile_input: Optional[Tuple[str, Any]]
    spec: Optional[Spec]
    abs_models: Optional[List[Any]]  # the trainer isolator's AbsPower models
    index: Any  # node_types.NodeTypeIndex, updated by extraction
    vm_mode: Any = None  # vm_map.VmMode: VM models of Kepler >= 0.10 (--vm-map)


@dataclass
class Run:
    """The run's options and pipeline. The defaults of --pipeline-name and --isolator depend on the
    inputs' metric generation (kepler-010.md §5), so the pipeline is known once they are read."""

    options: TrainOptions
    layout: Optional[PipelineLayout] = None
    staging: Optional[Staging] = None
    generation: str = ""

    @property
    def name(self) -> str:
        """The pipeline's name, for messages."""
        return self.layout.name if self.layout is not None else (self.options.pipeline or "the pipeline")

    def resolve(self, generation: str, workspace: Workspace) -> None:
        """Fill in the generation's defaults; from here on the pipeline's name travels in its layout."""
        self.generation = generation
        self.options = self.options.resolved(generation)
        self.layout = workspace.pipeline(str(self.options.pipeline))
        self.staging = Staging(workspace.model_path, f"{self.layout.name}.train")

    @property
    def pipeline(self) -> PipelineLayout:
        """The pipeline's layout (after `resolve`)."""
        if self.layout is None:
            raise StepError("internal error: the pipeline is used before the inputs were read")
        return self.layout

    @property
    def stage(self) -> Staging:
        """The run's staging folder (after `resolve`)."""
        if self.staging is None:
            raise StepError("internal error: the staging folder is used before the inputs were read")
        return self.staging

    def discard(self) -> None:
        """Remove the run's staging folder (idempotent)."""
        if self.staging is not None:
            self.staging.discard()


def load(run: Run, workspace: Workspace, console: Console) -> Loaded:
    """Read the inputs and resolve the run's pipeline by their generation; finish an interrupted commit;
    read the machine spec and the pipeline's node types."""
    from . import commit as committing
    from .abs_models import read_abs_models
    from .node_types import NodeTypeIndex
    from .query_columns import parse_query_response

    def read(name: str) -> Any:
        signals.check()
        return read_query_response(workspace.query_response(name), parse_query_response)

    options = run.options
    inputs = [(name, read(name)) for name in options.inputs]
    profile_input = (options.profile, read(options.profile)) if options.profile else None
    run.resolve(inputs_generation(options, inputs + ([profile_input] if profile_input else [])), workspace)
    options, layout = run.options, run.pipeline
    for line in recover(workspace.model_path, f"{layout.name}.train"):
        console.info(f"{layout.name} pipeline: {line}")
    spec = machine_spec(options, workspace, console)
    abs_layout = workspace.pipeline(options.abs_pipeline) if options.abs_pipeline else None
    if abs_layout is not None and not abs_layout.root.is_dir():
        raise StepError(f"--abs-pipeline-name pipeline {abs_layout.name} not found at {abs_layout.root}")
    committing.check_compatible(
        layout, options.extractor, options.isolator, options.metric_type, recorded_generation(run.generation)
    )
    abs_models = read_abs_models(abs_layout, options.sources) if abs_layout is not None else None
    index = NodeTypeIndex.load(
        read_json(layout.node_type_index, "node type index") if layout.node_type_index.exists() else None
    )
    vm_mode = read_vm_mode(options.vm_map, options.vm_target, workspace)
    return Loaded(inputs, profile_input, spec, abs_models, index, vm_mode)


def inputs_generation(options: TrainOptions, inputs: List[Tuple[str, Any]]) -> str:
    """The one metric generation of the inputs (kepler-metrics.md §4); mixed or unsupported: exit 1."""
    from .extract import resolve_generation
    from .generations import check_isolator, check_one_generation

    found = {name: resolve_generation(name, response, options.generation).id for name, response in inputs}
    check_one_generation(found)
    generation = found[options.inputs[0]]
    if options.isolator is not None:
        check_isolator(options.isolator, generation)
    check_vm_generation(options.vm, options.vm_map, generation)
    return generation


def recorded_generation(generation: str) -> Optional[str]:
    """The generation the pipeline's metadata.json records: 0.10 on; None before (files unchanged)."""
    return generation if MODEL_GENERATIONS[generation].recorded else None


def machine_spec(options: TrainOptions, workspace: Workspace, console: Console) -> Optional[Spec]:
    """The spec of --machine-spec, else of machine_spec/<id>.json; None: node types from the data."""
    if options.machine_spec:
        return read_machine_spec(Path(options.machine_spec))
    if options.machine_id:
        for candidate in workspace.machine_spec_candidates(options.machine_id):
            if candidate.is_file():
                return read_machine_spec(candidate)
        console.warn(
            f"no machine spec for --id {options.machine_id} (looked for "
            f"{', '.join(str(p) for p in workspace.machine_spec_candidates(options.machine_id))}); "
            "node types come from the data"
        )
    return None
