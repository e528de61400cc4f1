"""The train step's order of work (train.md §2) as named phases: load, extract, fit, commit, summarise.

Extraction is steps/train/prepare.py (pure); fitting is jobs.py, in worker processes
(steps/common/pool.py) or in this process; the pipeline folder is only touched by commit.py, after
every job has ended and only when a model was trained. With worker processes, the jobs of each
(source, group) are submitted as soon as its sets are extracted, so fitting overlaps the rest of
the extraction. Each phase is timed for the benchmark: load, extraction (until the last set is
submitted), fitting (waiting for the remaining jobs) and writing.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..common import signals
from ..common.atomic import dumps_json, write_bytes
from ..common.console import Console
from ..common.errors import StepError, WriteFailure
from ..common.pool import ProcessPool, threads_per_worker
from ..common.publish import Staging
from ..common.signals import Interrupted, mark_outcome
from ..common.timefmt import utc_now
from ..common.workspace import PipelineLayout, Workspace, read_json
from .jobs import Failure, Job, JobResult, run_jobs, start_pool, submit
from .load import Loaded, Run, load, recorded_generation
from .options import TrainOptions, train_arguments
from .plan import JobPlan
from .summary import run_summary
from .tables import Skip, TrainingSet
from .vm_map import dyn_only


@dataclass
class TrainReport:
    """What a run did: exit status, models trained, failures and skips, every job's result, phase times."""

    exit_code: int
    trained: int = 0
    failures: List[Failure] = field(default_factory=list)
    skips: List[Skip] = field(default_factory=list)
    onnx_skipped: List[Failure] = field(default_factory=list)  # trained models without their .onnx
    results: List[JobResult] = field(default_factory=list)
    phases: Dict[str, float] = field(default_factory=dict)  # seconds per phase

    @property
    def fit_floor_work(self) -> float:
        """Sum of the jobs' own CPU times (divide by --jobs for the fit floor)."""
        return sum(r.cpu_seconds for r in self.results)


class _Phases:
    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


@dataclass
class _Extracted:
    """What the extraction phase produced: the training sets, the skipped ones, the jobs."""

    sets: List[TrainingSet]
    skips: List[Skip]
    info: Any  # prepare.PrepareInfo
    plan: JobPlan


def train(
    options: TrainOptions, workspace: Workspace, console: Console, clock: Callable[[], datetime] = utc_now
) -> TrainReport:
    """Run the whole step; raise StepError for the fatal cases, return the report otherwise.

    The pipeline is changed only by the commit at the end, as one unit: a failure, a write error
    or a signal before it leaves the pipeline as it was.
    """
    run = Run(options)
    try:
        return _train(workspace, console, clock, run)
    except Interrupted as stop:
        mark_outcome(stop, f"{run.name} unchanged")
        raise
    except WriteFailure as failure:
        raise StepError(f"{failure}; {run.name} unchanged") from None
    finally:
        run.discard()


def _train(workspace: Workspace, console: Console, clock: Callable[[], datetime], run: Run) -> TrainReport:
    """The phases in order; the pool's workers are reaped whatever happens."""
    options = run.options
    if not workspace.data_path.is_dir():
        raise StepError(f"data path {workspace.data_path} does not exist (set --data-path or DATAPATH)")
    phases = _Phases()
    # Start the workers first: their library imports overlap loading and extraction.
    pool = start_pool(options.jobs, threads_per_worker(options.cpus, options.jobs)) if options.jobs > 1 else None
    try:
        # Imported only now (pandas, NumPy: most of a second) so that the workers start sooner.
        from . import abs_models, node_types, prepare  # noqa: F401 - for the phases below
        from . import commit as committing

        with phases.timed("load"):
            loaded = load(run, workspace, console)
        options, layout, staging = run.options, run.pipeline, run.stage
        with phases.timed("extraction"):
            extracted = _extract(options, loaded, layout, staging, pool, console)
        jobs = extracted.plan.jobs
        preprocessed = None
        if pool is not None and jobs:
            with phases.timed("writing"):  # while the workers fit; written at commit
                preprocessed = committing.render_preprocessed(
                    layout, extracted.sets, options.extractor, options.isolator
                )
        with phases.timed("fitting"):
            results = _fit(jobs, pool, layout, staging, console)
        new_models = [
            committing.NewModel(job.data.source, job.data.output_type, job.data.group.name, model)
            for job, result in zip(jobs, results)
            for model in result.models
        ]
        if new_models:
            with phases.timed("writing"):
                _commit(options, workspace, layout, loaded, extracted, new_models, staging, preprocessed, clock())
        report = TrainReport(
            exit_code=0 if new_models else 1,
            trained=len(new_models),
            failures=[f for r in results for f in r.failures],
            onnx_skipped=[f for r in results for f in r.onnx_skipped],
            skips=list(extracted.skips),
            results=results,
            phases=dict(phases.seconds),
        )
        for line in extracted.info.vm_lines:  # VM models: pairs, alignment drops, series the map ignores
            console.info(f"{layout.name} pipeline: {line}")
        _print_summary(console, options, layout, extracted.sets, jobs, report)
        if not new_models:
            raise StepError(
                f"no model was trained (failures and skips listed above); nothing was written to {layout.root}"
            )
        return report
    finally:
        if pool is not None:
            pool.close()


def _extract(
    options: TrainOptions,
    loaded: Loaded,
    layout: PipelineLayout,
    staging: Staging,
    pool: Optional[ProcessPool],
    console: Console,
) -> _Extracted:
    """Training sets per (source, group), their jobs planned and, with workers, submitted as they come
    (curve-fit jobs once every set is in: plan.py)."""
    from .node_types import resolve_node_types
    from .prepare import PrepareInfo, stream_training_sets

    def node_types(observed: Dict[str, Optional[int]]) -> Dict[str, int]:
        return resolve_node_types(loaded.index, observed, layout.name, loaded.spec, options.machine_id, console.warn)

    plan = JobPlan(
        options.abs_trainers,
        options.dyn_trainers,
        options.isolator,
        options.seed,
        lambda: _make_stage(staging, layout),
        loaded.index,
        in_workers=pool is not None,
        scoring=options.scoring,
        onnx=options.onnx,
        max_fit_rows=options.max_fit_rows,
    )
    extracted = _Extracted([], [], PrepareInfo(), plan)
    for made, skipped in stream_training_sets(
        loaded.inputs,
        options.sources,
        node_types,
        extracted.info,
        extractor=options.extractor,
        isolator=options.isolator,
        thirdparty=options.thirdparty,
        vm=options.vm,
        generation=options.generation,
        profile_input=loaded.profile_input,
        abs_models=loaded.abs_models,
        target_hints=options.target_hints,
        bg_hints=options.bg_hints,
        vm_job_name=options.vm_job_name,
        vm_mode=loaded.vm_mode,
        warn=console.warn,
        progress=lambda message: console.info(f"{layout.name} pipeline: {message}"),
    ):
        signals.check()
        made, skipped = dyn_only(made, skipped, options.vm_map)
        extracted.sets.extend(made)
        extracted.skips.extend(skipped)
        added = plan.add(made)
        if pool is not None and added:
            submit(pool, added)
    held = plan.finish()
    if pool is not None and held:
        submit(pool, held)
    return extracted


def _make_stage(staging: Staging, layout: PipelineLayout) -> Path:
    """The folder where the jobs write their models: part of the pipeline once committed."""
    folder = staging.path("models")
    staging.aliases["models"] = layout.name
    try:
        folder.mkdir()
    except OSError as failure:
        raise WriteFailure.of(failure, staging.parent) from None
    return folder


def _fit(
    jobs: List[Job], pool: Optional[ProcessPool], layout: PipelineLayout, staging: Staging, console: Console
) -> List[JobResult]:
    """Wait for every job (or run them here, without workers); a job that could not write stops the run."""
    console.info(f"{layout.name} pipeline: Waiting for {len(jobs)} trainers to complete...")
    progress = console.progress(len(jobs), f"{layout.name} pipeline: training") if jobs else None

    def on_result(result: JobResult) -> None:
        for part in result.flattened():  # a full disk, a read-only or failing filesystem
            if part.fatal is not None:
                path, reason = part.fatal
                raise WriteFailure(staging.public(Path(path)), reason)
        if progress is not None:
            progress.advance(len(result.flattened()))

    return run_jobs(jobs, pool, on_result)


def _commit(
    options: TrainOptions,
    workspace: Workspace,
    layout: PipelineLayout,
    loaded: Loaded,
    extracted: _Extracted,
    new_models: List[Any],
    staging: Staging,
    preprocessed: Optional[List[Tuple[Path, bytes]]],
    now: datetime,
) -> None:
    """The new models, tables and pipeline files into the pipeline as one unit (commit.py); the idle
    profiles with it, or beside it when DATAPATH is apart from MODEL_PATH."""
    from . import commit as committing

    profiles = _profile_files(workspace, layout, extracted.info.profiles)
    inside = {path: data for path, data in profiles.items() if layout.root in path.parents}
    settings = committing.RunSettings(
        extractor=options.extractor,
        isolator=options.isolator,
        metric_type=options.metric_type,
        abs_trainers=options.abs_trainers,
        dyn_trainers=options.dyn_trainers,
        train_arguments=train_arguments(options, workspace, extracted.info.generations),
        node_type_index=loaded.index.to_dict(),
        error_key=options.error_key,
        extra_files=inside,
        kepler_generation=recorded_generation(extracted.info.generations[options.inputs[0]]),
        kepler_versions=list(extracted.info.kepler_versions),
    )
    pipeline_zip = workspace.pipeline_zip(layout.name)
    committing.commit(layout, pipeline_zip, new_models, extracted.sets, settings, now, staging, preprocessed)
    for path, data in profiles.items():
        if path not in inside:
            write_bytes(path, data)


def _profile_files(workspace: Workspace, layout: PipelineLayout, profiles: Dict[str, Any]) -> Dict[Path, bytes]:
    """The merged idle profiles to write with the run, by final path."""
    from .profile import merge as merge_profile

    files: Dict[Path, bytes] = {}
    for source, profile in profiles.items():
        target = workspace.profile(layout.name, source)
        existing = read_json(target, "idle profile") if target.exists() else None
        files[target] = dumps_json(merge_profile(existing, profile)).encode("utf-8")
    return files


def _print_summary(
    console: Console,
    options: TrainOptions,
    layout: PipelineLayout,
    sets: List[TrainingSet],
    jobs: List[Job],
    report: TrainReport,
) -> None:
    models: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = defaultdict(list)
    for job, result in zip(jobs, report.results):
        for model in result.models:
            models[(job.data.source, job.data.output_type, job.data.group.name)].append(
                dict(model.metadata, feature_group=job.data.group.name)
            )
    sizes = {(s.source, s.output_type, s.group.name): len(s.table) for s in sets}
    for block in run_summary(
        options, layout, sizes, models, report.failures, report.skips, report.trained, report.onnx_skipped
    ):
        console.info(block)
