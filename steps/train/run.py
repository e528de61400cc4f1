"""The train step's order of work (train.md §2): check files, extract, fit in parallel, commit, summarise.

Extraction is steps/train/prepare.py (pure); fitting is fit.py via runner.py; the pipeline
folder is only touched by commit.py, after every job has ended and only when a model was trained.
With worker processes, the jobs of each (source, group) are submitted as soon as its sets are
extracted, so fitting overlaps the rest of the extraction. Each phase is timed for the benchmark:
load, extraction (until the last set is submitted), fitting (waiting for the remaining jobs) and
writing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..common import signals
from ..common.atomic import dumps_json, write_bytes
from ..common.console import Console
from ..common.domain import ABS_POWER, DYN_POWER
from ..common.errors import StepError, WriteFailure
from ..common.machine_spec import Spec
from ..common.publish import Staging, recover
from ..common.signals import Interrupted, mark_outcome
from ..common.timefmt import utc_now
from ..common.workspace import PipelineLayout, Workspace, read_json, read_machine_spec, read_query_response
from .fit import FitRequest, prepare
from .runner import Failure, Job, JobResult, WorkerPool, run_jobs, threads_per_worker
from .summary import GroupOutcome, box, final_lines, source_summary
from .tables import Skip, TrainingSet
from .trainers import TRAINERS


@dataclass
class TrainOptions:
    """The resolved flags of train.md §1 (usage checks already passed)."""

    data_path_flag: Optional[str]
    inputs: List[str]
    pipeline: str
    machine_id: Optional[str]
    machine_spec: Optional[str]
    sources: List[str]
    extractor: str
    isolator: str
    profile: Optional[str]
    target_hints: List[str]
    bg_hints: List[str]
    abs_pipeline: Optional[str]
    abs_trainers: List[str]
    dyn_trainers: List[str]
    thirdparty: List[str]
    vm: bool
    seed: int
    jobs: int
    generation: str = "auto"
    error_key: str = "mae"
    vm_job_name: str = "vm"
    cpus: int = 1

    @property
    def metric_type(self) -> str:
        return "vm_metrics" if self.vm else "bm_metrics"


@dataclass
class TrainReport:
    exit_code: int
    trained: int = 0
    failures: List[Failure] = field(default_factory=list)
    skips: List[Skip] = field(default_factory=list)
    results: List[JobResult] = field(default_factory=list)
    phases: Dict[str, float] = field(default_factory=dict)  # seconds per phase

    @property
    def fit_floor_work(self) -> float:
        """Sum of the jobs' own CPU times (divide by --jobs for the fit floor)."""
        return sum(r.cpu_seconds for r in self.results)


class _Phases:
    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)

    def timed(self, name: str) -> "_Timer":
        return _Timer(self.seconds, name)


class _Timer:
    def __init__(self, store: Dict[str, float], name: str) -> None:
        self.store, self.name = store, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.store[self.name] += time.perf_counter() - self.started


def _machine_spec(options: TrainOptions, workspace: Workspace, console: Console) -> Optional[Spec]:
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


def _load_inputs(
    options: TrainOptions, workspace: Workspace
) -> Tuple[List[Tuple[str, Any]], Optional[Tuple[str, Any]]]:
    from .query_columns import parse_query_response

    def read(name: str) -> Any:
        signals.check()
        return read_query_response(workspace.query_response(name), parse_query_response)

    inputs = [(name, read(name)) for name in options.inputs]
    profile = (options.profile, read(options.profile)) if options.profile else None
    return inputs, profile


def _machine_specs(index: Any) -> Dict[int, Optional[Dict[str, Any]]]:
    """Model metadata carries machine_spec when the entry has a processor and cores > 0."""
    specs: Dict[int, Optional[Dict[str, Any]]] = {}
    for node_type, entry in index.entries.items():
        attrs = dict(entry.attrs)
        known = bool(attrs.get("processor")) and float(attrs.get("cores") or 0) > 0
        specs[node_type] = attrs if known else None
    return specs


def train_arguments(options: TrainOptions, workspace: Workspace, generations: Dict[str, str]) -> Dict[str, Any]:
    """train_arguments.json (workspace.md §3.9): flag order, defaults filled in, lists as comma strings."""
    joined = lambda items: ",".join(items) if items else None  # noqa: E731
    detected = sorted(set(generations.values()))
    return {
        "command": "train",
        "data_path": str(workspace.data_path),
        "input": ",".join(options.inputs),
        "pipeline_name": options.pipeline,
        "id": options.machine_id,
        "machine_spec": options.machine_spec,
        "energy_source": ",".join(options.sources),
        "extractor": options.extractor,
        "isolator": options.isolator,
        "profile": options.profile,
        "target_hints": joined(options.target_hints),
        "bg_hints": joined(options.bg_hints),
        "abs_pipeline_name": options.abs_pipeline,
        "abs_trainers": ",".join(options.abs_trainers),
        "dyn_trainers": ",".join(options.dyn_trainers),
        "thirdparty_metrics": joined(options.thirdparty),
        "vm_train": options.vm,
        "metric_generation": ",".join(detected) if detected else options.generation,
        "seed": options.seed,
        "jobs": options.jobs,
    }


class _JobBuilder:
    """Jobs built as training sets arrive, keyed in set order then trainer order (as if built at once).

    The staging folder and the machine specs are taken at the first set: by then node types are
    resolved, and a run that fails before training creates nothing under MODEL_PATH.
    """

    def __init__(self, options: TrainOptions, make_stage: Callable[[], Path], index: Any, in_workers: bool) -> None:
        # make_stage: the folder of the run's staging area where workers write their models
        self.options, self.make_stage, self.index, self.in_workers = options, make_stage, index, in_workers
        self.jobs: List[Job] = []
        self.stage_root: Optional[Path] = None
        self._specs: Dict[int, Optional[Dict[str, Any]]] = {}

    def add(self, sets: List[TrainingSet]) -> List[Job]:
        if sets and self.stage_root is None:
            self.stage_root = self.make_stage()
            self._specs = _machine_specs(self.index)
        added: List[Job] = []
        for training_set in sets:
            # Workers prepare (scale, split) the data themselves: see fit.FitRequest.
            data = (
                FitRequest.of(training_set, self.options.seed)
                if self.in_workers
                else prepare(training_set, self.options.seed)
            )
            names = self.options.abs_trainers if training_set.output_type == ABS_POWER else self.options.dyn_trainers
            group_stage = PipelineLayout(self.stage_root).group_dir(
                training_set.source, training_set.output_type, data.group.name
            )
            for name in names:
                added.append(
                    Job(
                        key=len(self.jobs) + len(added),
                        data=data,
                        trainer=TRAINERS[name],
                        seed=self.options.seed,
                        stage=group_stage,
                        machine_specs=self._specs,
                        curve_memo=self.stage_root / CURVE_MEMO,
                    )
                )
        if self.options.isolator in SHIFT_ISOLATORS:
            _pair_for_derivation(added)
        self.jobs.extend(added)
        return added


CURVE_MEMO = ".curve-fits"  # in the staging root: curve-fit results shared by the workers (curvefit.CurveMemo)

# Isolators whose DynPower data are the AbsPower data with power lowered by a constant (train.md §7.1,
# §7.2), so that a DynPower model may be derived from the AbsPower one (fit.derive_node).
SHIFT_ISOLATORS = ("none", "min")


def _pair_for_derivation(jobs: List[Job]) -> None:
    """Each DynPower job whose trainer can shift rides with the AbsPower job of its set and trainer."""
    carriers = {
        (j.data.source, j.data.group.name, j.trainer.name): j
        for j in jobs
        if j.data.output_type == ABS_POWER and j.trainer.shift is not None
    }
    for job in jobs:
        if job.data.output_type == DYN_POWER:
            carrier = carriers.get((job.data.source, job.data.group.name, job.trainer.name))
            if carrier is not None:
                carrier.carries, job.carried = job, True


def train(
    options: TrainOptions, workspace: Workspace, console: Console, clock: Callable[[], datetime] = utc_now
) -> TrainReport:
    """Run the whole step; raise StepError for the fatal cases, return the report otherwise.

    The pipeline is changed only by the commit at the end, as one unit: a failure, a write error
    or a signal before it leaves the pipeline as it was.
    """
    staging = Staging(workspace.model_path, f"{options.pipeline}.train")
    try:
        return _train(options, workspace, console, clock, staging)
    except Interrupted as stop:
        mark_outcome(
            stop,
            f"{options.pipeline} was written before it stopped"
            if staging.committed
            else f"{options.pipeline} unchanged",
        )
        raise
    except WriteFailure as failure:
        raise StepError(f"{failure}; {options.pipeline} unchanged") from None
    finally:
        staging.discard()


def _make_stage(staging: Staging, pipeline: str) -> Path:
    """The folder where workers write their models: part of the pipeline once committed."""
    folder = staging.path("models")
    staging.aliases["models"] = pipeline
    try:
        folder.mkdir()
    except OSError as failure:
        raise WriteFailure.of(failure, staging.parent) from None
    return folder


def _check_written(result: JobResult, staging: Staging) -> None:
    """A job that could not write (full disk, read-only or failing filesystem) stops the run."""
    for part in result.flattened():
        if part.fatal is not None:
            path, reason = part.fatal
            raise WriteFailure(staging.public(Path(path)), reason)


def _profile_files(
    options: TrainOptions, workspace: Workspace, layout: PipelineLayout, profiles: Dict[str, Any]
) -> Dict[Path, bytes]:
    """The merged idle profiles to write with the run, by final path."""
    from .profile import merge as merge_profile

    files: Dict[Path, bytes] = {}
    for source, profile in profiles.items():
        target = workspace.profile(options.pipeline, source)
        existing = read_json(target, "idle profile") if target.exists() else None
        files[target] = dumps_json(merge_profile(existing, profile)).encode("utf-8")
    return files


def _train(
    options: TrainOptions, workspace: Workspace, console: Console, clock: Callable[[], datetime], staging: Staging
) -> TrainReport:
    phases = _Phases()
    prefix = f"{options.pipeline} pipeline: "
    if not workspace.data_path.is_dir():
        raise StepError(f"data path {workspace.data_path} does not exist (set --data-path or DATAPATH)")
    layout = workspace.pipeline(options.pipeline)
    pool: Optional[WorkerPool] = None
    builder: Optional[_JobBuilder] = None
    try:
        if options.jobs > 1:
            # Start the workers first: their library imports overlap loading and extraction.
            pool = WorkerPool(options.jobs, threads_per_worker(options.cpus, options.jobs))
        # Imported only now (pandas, NumPy: most of a second) so that the workers start sooner.
        from . import commit as committing
        from .abs_models import read_abs_models
        from .node_types import NodeTypeIndex, resolve_node_types
        from .prepare import PrepareInfo, stream_training_sets

        with phases.timed("load"):
            for line in recover(workspace.model_path, f"{options.pipeline}.train"):
                console.info(prefix + line)
            inputs, profile_input = _load_inputs(options, workspace)
            spec = _machine_spec(options, workspace, console)
            abs_models = None
            if options.abs_pipeline:
                abs_layout = workspace.pipeline(options.abs_pipeline)
                if not abs_layout.root.is_dir():
                    raise StepError(
                        f"--abs-pipeline-name pipeline {options.abs_pipeline} not found at {abs_layout.root}"
                    )
            committing.check_compatible(layout, options.extractor, options.isolator, options.metric_type)
            if options.abs_pipeline:
                abs_models = read_abs_models(workspace.pipeline(options.abs_pipeline), options.sources)
            index = NodeTypeIndex.load(
                read_json(layout.node_type_index, "node type index") if layout.node_type_index.exists() else None
            )

        with phases.timed("extraction"):

            def node_types(observed: Dict[str, Optional[int]]) -> Dict[str, int]:
                return resolve_node_types(index, observed, options.pipeline, spec, options.machine_id, console.warn)

            info = PrepareInfo()
            sets: List[TrainingSet] = []
            skips: List[Skip] = []
            builder = _JobBuilder(
                options, lambda: _make_stage(staging, options.pipeline), index, in_workers=pool is not None
            )
            for made, skipped in stream_training_sets(
                inputs,
                options.sources,
                node_types,
                info,
                extractor=options.extractor,
                isolator=options.isolator,
                thirdparty=options.thirdparty,
                vm=options.vm,
                generation=options.generation,
                profile_input=profile_input,
                abs_models=abs_models,
                target_hints=options.target_hints,
                bg_hints=options.bg_hints,
                vm_job_name=options.vm_job_name,
                warn=console.warn,
                progress=lambda message: console.info(prefix + message),
            ):
                signals.check()
                sets.extend(made)
                skips.extend(skipped)
                added = builder.add(made)
                if pool is not None and added:
                    pool.submit(added)
        jobs = builder.jobs

        preprocessed = None
        if pool is not None and jobs:
            with phases.timed("writing"):  # while the workers fit; written at commit
                preprocessed = committing.render_preprocessed(layout, sets, options.extractor, options.isolator)
        with phases.timed("fitting"):
            console.info(prefix + f"Waiting for {len(jobs)} trainers to complete...")
            progress = console.progress(len(jobs), prefix + "training") if jobs else None

            def on_result(result: JobResult) -> None:
                _check_written(result, staging)
                if progress is not None:
                    progress.advance(len(result.flattened()))

            results = pool.results(on_result) if pool is not None else run_jobs(jobs, 1, options.cpus, on_result)
        if pool is not None:
            pool.stop()  # the workers exit while the main process commits; `close` below reaps them

        failures = [f for r in results for f in r.failures]
        new_models = [
            committing.NewModel(j.data.source, j.data.output_type, j.data.group.name, m)
            for j, r in zip(jobs, results)
            for m in r.models
        ]
        report = TrainReport(
            exit_code=0 if new_models else 1,
            trained=len(new_models),
            failures=failures,
            skips=list(skips),
            results=results,
        )
        if new_models:
            with phases.timed("writing"):
                profiles = _profile_files(options, workspace, layout, info.profiles)
                inside = {path: data for path, data in profiles.items() if layout.root in path.parents}
                settings = committing.RunSettings(
                    extractor=options.extractor,
                    isolator=options.isolator,
                    metric_type=options.metric_type,
                    abs_trainers=options.abs_trainers,
                    dyn_trainers=options.dyn_trainers,
                    train_arguments=train_arguments(options, workspace, info.generations),
                    node_type_index=index.to_dict(),
                    error_key=options.error_key,
                    extra_files=inside,
                )
                committing.commit(
                    layout,
                    workspace.pipeline_zip(options.pipeline),
                    new_models,
                    sets,
                    settings,
                    clock(),
                    staging,
                    preprocessed,
                )
                for path, data in profiles.items():
                    if path not in inside:  # DATAPATH apart from MODEL_PATH: beside the pipeline, not in it
                        write_bytes(path, data)
        _print_summary(console, options, layout, sets, jobs, results, report)
        report.phases = dict(phases.seconds)
        if not new_models:
            raise StepError(
                f"no model was trained (failures and skips listed above); nothing was written to {layout.root}"
            )
        return report
    finally:
        if pool is not None:
            pool.close()


def _print_summary(
    console: Console,
    options: TrainOptions,
    layout: PipelineLayout,
    sets: List[TrainingSet],
    jobs: List[Job],
    results: List[JobResult],
    report: TrainReport,
) -> None:
    by_set: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = defaultdict(list)
    for job, result in zip(jobs, results):
        for model in result.models:
            row = dict(model.metadata)
            row["feature_group"] = job.data.group.name
            by_set[(job.data.source, job.data.output_type, job.data.group.name)].append(row)
    sizes = {(s.source, s.output_type, s.group.name): len(s.table) for s in sets}
    for source in options.sources:
        groups = list(dict.fromkeys(s.group.name for s in sets if s.source == source))
        for group in groups:
            outcomes: Dict[str, Optional[GroupOutcome]] = {}
            for output_type in (ABS_POWER, DYN_POWER):
                key = (source, output_type, group)
                if key not in sizes:
                    outcomes[output_type] = None
                    continue
                trainers = options.abs_trainers if output_type == ABS_POWER else options.dyn_trainers
                outcome = GroupOutcome(
                    rows=sizes[key], trainers=list(trainers), output=str(layout.group_dir(source, output_type, group))
                )
                for row in by_set.get(key, []):
                    node_type = int(row["node_type"])
                    outcome.min_mae[node_type] = min(outcome.min_mae.get(node_type, float("inf")), row["mae"])
                outcomes[output_type] = outcome
            console.info(
                box(options.pipeline, source, group, options.extractor, options.isolator, options.metric_type, outcomes)
            )
        per_type = {
            ot: [r for (s, o, _), rows in by_set.items() if s == source and o == ot for r in rows]
            for ot in (ABS_POWER, DYN_POWER)
        }
        if any(per_type.values()):
            console.info(source_summary(source, per_type))
    for line in final_lines(report.failures, report.skips, report.trained, str(layout.root)):
        console.info(line)
