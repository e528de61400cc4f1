"""From query responses to training sets: steps 3-6 of train.md §2 as pure functions (no file IO).

`stream_training_sets` yields the sets of one (source, group) at a time, so the caller can start
fitting them while the next groups are extracted; `prepare_training_sets` collects the whole stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ..common.domain import (
    ABS_POWER,
    ACTIVE_ISOLATOR,
    DYN_POWER,
    ENERGY_SOURCES,
    FeatureGroup,
    feature_groups,
)
from ..common.kepler_metrics import GENERATIONS
from .assemble import ID_COLUMN, INPUT_COLUMN, assemble_input, concat, smooth
from .extract import DEFAULT_VM_JOB_NAME, InputData, background_container_names
from .features import GroupChoice, choose_groups, counter_features, group_columns, has_gauges
from .generations import check_isolator, check_one_generation, group_metadata, model_metadata_keys
from .inputs import extract_input
from .isolate import (
    AbsModelPredictor,
    Columns,
    TrainerChoice,
    isolate_min,
    isolate_none,
    isolate_profile,
    isolate_trainer,
)
from .node_types import NodeInfo, NodeInfoConflict
from .power import PowerLayout, PowerTable, active_power_table, power_layout, power_table
from .profile import Profile, compute_profiles
from .tables import Skip, TrainingSet
from .vm_extract import extract_inputs

QueryResponse = Mapping[str, list]
NodeTypes = Union[Mapping[str, int], Callable[[Mapping[str, NodeInfo]], Mapping[str, int]]]
Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class PrepareInfo:
    """What the run learnt while preparing, for the summary and the pipeline files."""

    generations: Dict[str, str] = field(default_factory=dict)  # input -> generation id
    node_types: Dict[str, int] = field(default_factory=dict)  # input (and idle input) -> node type
    groups: GroupChoice = None  # type: ignore[assignment]
    profiles: Dict[str, Profile] = field(default_factory=dict)  # source -> profile (idle input given)
    background: List[str] = field(default_factory=list)  # idle input's container names
    trainer_choices: Dict[Tuple[str, str], List[TrainerChoice]] = field(default_factory=dict)  # (source, group)
    kepler_versions: List[str] = field(default_factory=list)  # kepler_build_info versions of the inputs (0.10)
    vm_lines: List[str] = field(default_factory=list)  # VM models: the pairing's summary (vm_pairing.py)


def _energy_metric_name(source: str, generation: str, vm: bool) -> str:
    component = ENERGY_SOURCES[source].components[0]
    return GENERATIONS[generation].energy_metric(component, vm=vm)


def prepare_training_sets(
    inputs: Sequence[Tuple[str, QueryResponse]],
    sources: Sequence[str],
    node_types: NodeTypes,
    **options: Any,
) -> Tuple[List[TrainingSet], List[Skip], PrepareInfo]:
    """Extract, choose groups, resolve node types, compute idle profiles, assemble and isolate.

    - `inputs`: (name, parsed query JSON) in `--input` order.
    - `node_types`: a mapping input name -> node type, or a callable given {input name: node-info
      value from the data, None, or a NodeInfoConflict} (the idle input included) returning that
      mapping; the callable is where the caller applies train.md §5 (see
      node_types.resolve_node_types, which raises a conflict unless a machine spec decides).
    - `profile_input`: the `--profile` idle input; its profiles land in `info.profiles` (the caller
      writes them) and the `profile` isolator uses them.
    - `abs_models`: AbsPower models of `--abs-pipeline-name` for the `trainer` isolator.
    - the other `options` (extractor, isolator, thirdparty, vm, generation, hints, vm_job_name, warn,
      progress) are those of `stream_training_sets`.
    Returns one AbsPower and one DynPower TrainingSet per (source, valid group), sources in the
    given order and groups in group order; whatever is not produced is a Skip. Raises StepError for
    the fatal cases of train.md §12 (generation, mixed nodes, no valid group; node info through the
    callable).
    """
    info = PrepareInfo()
    sets: List[TrainingSet] = []
    skips: List[Skip] = []
    for made, skipped in stream_training_sets(inputs, sources, node_types, info, **options):
        sets.extend(made)
        skips.extend(skipped)
    return sets, skips, info


def stream_training_sets(
    inputs: Sequence[Tuple[str, QueryResponse]],
    sources: Sequence[str],
    node_types: NodeTypes,
    info: PrepareInfo,
    extractor: str = "default",
    isolator: str = "min",
    thirdparty: Sequence[str] = (),
    vm: bool = False,
    generation: str = "auto",
    profile_input: Optional[Tuple[str, QueryResponse]] = None,
    abs_models: Optional[Sequence[AbsModelPredictor]] = None,
    target_hints: Sequence[str] = (),
    bg_hints: Sequence[str] = (),
    vm_job_name: str = DEFAULT_VM_JOB_NAME,
    warn: Optional[Log] = None,
    progress: Optional[Log] = None,
    vm_mode: Any = None,
) -> Iterator[Tuple[List[TrainingSet], List[Skip]]]:
    """`prepare_training_sets` one (source, group) at a time: yields (sets, skips) in the same order.

    Everything that concerns all groups (extraction of every input, group choice, node types, idle
    profiles) is done before the first yield and recorded in `info`; a source without power data
    yields its skip alone. Isolation needs every input's rows of a group, which one step has, so
    each DynPower set is final when yielded. The caller may fit yielded sets while later groups
    are extracted.
    """
    warn = warn or _quiet
    progress = progress or _quiet
    data = extract_inputs(inputs, sources, generation, thirdparty, vm, vm_job_name, warn, vm_mode, info)
    info.generations.update((d.name, d.generation) for d in data)
    check_one_generation(info.generations)
    check_isolator(isolator, data[0].generation)
    info.kepler_versions = sorted({v for d in data for v in d.kepler_versions})
    idle = _idle(profile_input, sources, generation, vm, vm_job_name, info, warn)
    metadata = model_metadata_keys(data)
    _groups_and_node_types(info, data, idle, thirdparty, node_types, sources, warn)

    for source in sources:
        if source == "trained_power_model":
            warn("trained_power_model series are Kepler's own estimates, not measurements")
        layout = power_layout(source, data)
        powers = [power_table(d, layout, warn) if d.source_has_data(source) else None for d in data]
        if not any(p is not None and p.t.size for p in powers):
            yield [], [_no_power(source, data, vm)]
            continue
        actives = _active_powers(data, layout, powers) if isolator == ACTIVE_ISOLATOR else None
        for group in info.groups.valid:
            tables = _assemble_group(group, data, powers, layout, info.node_types, extractor, actives)
            progress(f"{group.name} extraction done.")
            made, skipped = _group_sets(
                source, group, tables, layout, isolator, info, abs_models or (), target_hints, bg_hints, progress
            )
            for training_set in made:
                training_set.metadata = group_metadata(metadata, group)
            yield made, skipped


def _groups_and_node_types(
    info: PrepareInfo,
    data: Sequence[InputData],
    idle: Optional[InputData],
    thirdparty: Sequence[str],
    node_types: NodeTypes,
    sources: Sequence[str],
    warn: Log,
) -> None:
    """The valid groups (of the inputs' generation), the node types, the idle profiles: into `info`."""
    info.groups = choose_groups(feature_groups(tuple(thirdparty), data[0].generation), data)
    for line in info.groups.dropped_lines():
        warn(line)
    info.node_types = _node_types(node_types, data, idle, warn)
    if idle is not None:
        info.profiles = compute_profiles(idle, sources, info.node_types.get(idle.name, 0), warn)


def _idle(
    profile_input: Optional[Tuple[str, QueryResponse]],
    sources: Sequence[str],
    generation: str,
    vm: bool,
    vm_job_name: str,
    info: PrepareInfo,
    warn: Log,
) -> Optional[InputData]:
    """The `--profile` idle input extracted, its background container names in `info`; of the inputs' generation."""
    if profile_input is None:
        return None
    name, response = profile_input
    idle = extract_input(name, response, sources, generation, (), vm, vm_job_name, warn)
    info.background = background_container_names(response, idle.generation, name, vm_job_name)
    check_one_generation({**info.generations, idle.name: idle.generation})
    return idle


def _active_powers(
    data: Sequence[InputData], layout: PowerLayout, powers: Sequence[Optional[PowerTable]]
) -> List[Optional[PowerTable]]:
    """Per input, the active power at its AbsPower power rows (isolator `active`); None without it."""
    return [active_power_table(d, layout, p) if p is not None and p.t.size else None for d, p in zip(data, powers)]


def _node_types(
    node_types: NodeTypes, data: Sequence[InputData], idle: Optional[InputData], warn: Log
) -> Dict[str, int]:
    """Node type per input (the idle input included): the caller's mapping, or what its callable decides."""
    observed: Dict[str, Any] = {d.name: d.spec if d.spec is not None else d.node_info for d in data}
    if idle is not None:
        observed.setdefault(idle.name, idle.spec if idle.spec is not None else idle.node_info)
    if callable(node_types):
        return dict(node_types(observed))
    # the caller chose the node types, as a machine spec does: conflicts in the data are only reported
    for value in observed.values():
        if isinstance(value, NodeInfoConflict):
            warn(value.overridden("the node types given"))
    return dict(node_types)


def _no_power(source: str, data: Sequence[InputData], vm: bool) -> Skip:
    """The skip of a source without power data in any input."""
    names = ", ".join(d.name for d in data)
    metric = _energy_metric_name(source, data[0].generation, vm)
    zones = GENERATIONS[data[0].generation].zone_energy
    if zones is not None:
        if source != zones.source:
            return Skip(source, f"Kepler {data[0].generation} measures {zones.source} only (the zones of {metric})")
        return Skip(source, f"no {metric} series of a RAPL zone in {names}")
    return Skip(
        source, f"no {metric} series with source {source} in {names}" if not vm else f"no {metric} series in {names}"
    )


@dataclass
class _GroupTables:
    """One group's tables over all inputs: AbsPower rows and (without gauges) container-level rows."""

    columns: List[str]
    dynamic: bool  # no gauge features: container-level rows and DynPower sets
    abs_table: Any  # pandas DataFrame
    containers: Any  # pandas DataFrame, empty when not dynamic
    node: List[str] = field(default_factory=list)  # node-value columns (kept, never summed, by squeeze)
    active: Any = None  # container-level rows with the active power (isolator `active`), else None


def _assemble_group(
    group: FeatureGroup,
    data: Sequence[InputData],
    powers: Sequence[Optional[PowerTable]],
    layout: PowerLayout,
    node_types: Mapping[str, int],
    extractor: str,
    actives: Optional[Sequence[Optional[PowerTable]]] = None,
) -> _GroupTables:
    """Assemble (and with the `smooth` extractor, smooth) every input's tables of the group, then concatenate.

    `actives`: per input, the active power (isolator `active`), whose container-level rows are
    assembled the same way.
    """
    columns = group_columns(group, data)
    dynamic = not has_gauges(group, data)
    smoothed = [c for c in columns if c not in _non_workload(group, data)] + layout.flat_power_columns
    abs_tables, container_tables, active_tables = [], [], []
    for position, (input_data, power) in enumerate(zip(data, powers)):
        if power is None or power.t.size == 0:
            continue
        node_type = int(node_types.get(input_data.name, 0))
        abs_table, container_table = assemble_input(
            input_data, position, group, columns, layout, power, node_type, dynamic
        )
        active = actives[position] if actives is not None and dynamic else None
        active_table = (
            assemble_input(input_data, position, group, columns, layout, active, node_type, True)[1]
            if active is not None and active.t.size
            else None
        )
        if extractor == "smooth":
            abs_table = smooth(abs_table, smoothed, by=())
            if container_table is not None:
                container_table = smooth(container_table, smoothed, by=(ID_COLUMN,))
            if active_table is not None:
                active_table = smooth(active_table, smoothed, by=(ID_COLUMN,))
        abs_tables.append(abs_table)
        container_tables.append(container_table)
        active_tables.append(active_table)
    node = [c for c in columns if any(c in d.node_values for d in data)]
    active_rows = concat(active_tables) if actives is not None else None
    return _GroupTables(columns, dynamic, concat(abs_tables), concat(container_tables), node, active_rows)


def _group_sets(
    source: str,
    group: FeatureGroup,
    tables: _GroupTables,
    layout: PowerLayout,
    isolator: str,
    info: PrepareInfo,
    abs_models: Sequence[AbsModelPredictor],
    target_hints: Sequence[str],
    bg_hints: Sequence[str],
    progress: Log,
) -> Tuple[List[TrainingSet], List[Skip]]:
    """The AbsPower set of the group and, after isolation, its DynPower set; skips for what is not produced."""
    columns = tuple(tables.columns)
    sets: List[TrainingSet] = []
    skips: List[Skip] = []
    label = f"{source}/{{}}/{group.name}"
    if tables.abs_table.empty:
        skips.append(Skip(label.format(ABS_POWER), "no timestamp has both power and feature values"))
    else:
        sets.append(
            TrainingSet(source, group, ABS_POWER, tables.abs_table, columns, layout.power_columns, layout.ratio_columns)
        )
    if not tables.dynamic:
        skips.append(Skip(label.format(DYN_POWER), "groups with gauge features have no DynPower models"))
        return sets, skips
    containers = tables.active if isolator == ACTIVE_ISOLATOR else tables.containers
    if containers is None or containers.empty:
        reason = "no container rows" if isolator != ACTIVE_ISOLATOR else "no row with Kepler's active energy"
        skips.append(Skip(label.format(DYN_POWER), reason))
        return sets, skips
    cols = Columns(tables.columns, layout.power_columns, layout.ratio_columns, tables.node)
    dyn, reasons = _isolate(source, group, containers, cols, isolator, info, abs_models, target_hints, bg_hints)
    skips.extend(Skip(label.format(DYN_POWER), reason) for reason in reasons)
    progress(f"{group.name} isolation done.")
    if dyn.empty:
        if isolator not in ("profile", "trainer"):
            skips.append(Skip(label.format(DYN_POWER), "no rows after isolation"))
        return sets, skips
    dyn = dyn.drop(columns=[INPUT_COLUMN]).reset_index(drop=True)
    sets.append(TrainingSet(source, group, DYN_POWER, dyn, columns, layout.power_columns, layout.ratio_columns))
    return sets, skips


def _isolate(
    source: str,
    group: FeatureGroup,
    containers: Any,
    cols: Columns,
    isolator: str,
    info: PrepareInfo,
    abs_models: Sequence[AbsModelPredictor],
    target_hints: Sequence[str],
    bg_hints: Sequence[str],
) -> Tuple[Any, List[str]]:
    """The DynPower table of the isolator (train.md §7), and the reasons of node types it leaves out.

    `active`: the container-level rows carry Kepler's active power already; squeeze only.
    """
    if isolator in ("none", ACTIVE_ISOLATOR):
        return isolate_none(containers, cols), []
    if isolator == "profile":
        dyn, missing = isolate_profile(containers, cols, info.profiles.get(source, {}), info.background)
        return dyn, [f"no idle profile of {source} for node type(s) {', '.join(map(str, missing))}"] if missing else []
    if isolator == "trainer":
        dyn, choices = isolate_trainer(containers, cols, source, abs_models, target_hints, bg_hints)
        info.trainer_choices[(source, group.name)] = choices
        lacking = [c.node_type for c in choices if c.model is None]
        if not lacking:
            return dyn, []
        return dyn, [
            f"no AbsPower model of {source} with the features of "
            f"{group.name} for node type(s) {', '.join(map(str, lacking))} in the abs pipeline"
        ]
    return isolate_min(containers, cols), []


def _non_workload(group: FeatureGroup, data: Sequence[InputData]) -> List[str]:
    """Columns smoothing leaves alone: gauges and system features."""
    counters = {f for d in data for f in counter_features(group, d)}
    return [c for c in group_columns(group, data) if c not in counters]
