"""Training jobs: one (source, output type, group, trainer) fitted on every node type, and its models written.

This is the shell around the pure fitting core (fit_data.py, fit.py, derive.py) for one job, in
whichever process runs it (train.md §10.1): it prepares the job's data through the process's
PreparedSets, hands the fits the run's curve-fit cache, writes each model into the job's staging
folder and records failures and timings. A failure fails only its (trainer, node type); a file
that cannot be written stops the run (`JobResult.fatal`). Jobs run in worker processes through
steps/common/pool.py (`run_jobs`), or in this process for --jobs 1.
"""

from __future__ import annotations

import functools
import resource
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..common.domain import CURVEFIT, Trainer
from ..common.errors import WriteFailure
from ..common.pool import ProcessPool, Task, TaskFailed, one_line, run_here
from .fit_data import FitData, NodeData, PreparedSets
from .options import ScoreSettings

# What a fit imports: loaded once by the fork server that single-threaded workers are forked from.
PRELOAD = (
    "numpy",
    "scipy.linalg",
    "scipy.optimize",
    "pandas",
    "joblib",
    "threadpoolctl",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.neighbors",
    "sklearn.preprocessing",
    "sklearn.svm",
    "xgboost",
    # ONNX conversion and its check (onnx_models.py, onnx_check.py); skipped by the fork server when absent
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
)


@dataclass
class WorkerContext:
    """What a process keeps for the jobs it runs: the sets it prepared, its thread limits."""

    prepared: PreparedSets = field(default_factory=PreparedSets)
    limits: Any = None  # threadpoolctl limits, kept alive for the process lifetime


def worker_context(threads: int) -> WorkerContext:
    """Set up a worker process: BLAS/OpenMP pools of the fitting libraries limited to `threads`."""
    import numpy  # noqa: F401 - the libraries a fit uses are imported here first
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401
    from threadpoolctl import threadpool_limits

    return WorkerContext(limits=threadpool_limits(limits=threads))


def start_pool(workers: int, threads: int) -> ProcessPool:
    """Worker processes for the run's jobs, started before the jobs exist (their imports overlap extraction)."""
    return ProcessPool(workers, functools.partial(worker_context, threads), threads, PRELOAD)


@dataclass
class Failure:
    """A model that could not be trained, with the summary's one-line reason."""

    what: str
    reason: str


@dataclass
class JobResult:
    """What one job produced: staged models, failures, timings; and the result of the job it carries."""

    key: int
    label: str
    models: List[Any] = field(default_factory=list)  # model_files.StagedModel
    failures: List[Failure] = field(default_factory=list)
    onnx_skipped: List[Failure] = field(default_factory=list)  # trained models whose .onnx was not written
    seconds: float = 0.0  # the job's own wall time in its process (fit + write)
    cpu_seconds: float = 0.0  # the job's own CPU time (independent of other load on the machine)
    fit_seconds: float = 0.0
    write_seconds: float = 0.0
    peak_rss_kib: int = 0  # peak memory of the process that ran the job, when it ended (benchmark)
    derived: int = 0  # models derived from the AbsPower job's instead of fitted (derive.py)
    carried: Optional["JobResult"] = None  # the result of `Job.carries`
    fatal: Optional[Tuple[str, str]] = None  # (path, reason): a file could not be written; the run stops

    def flattened(self) -> List["JobResult"]:
        """This result and the carried job's."""
        return [self] + (self.carried.flattened() if self.carried is not None else [])


# node type -> a fitted model and the data it was fitted on, kept for the carried job
Fitted = Dict[int, Tuple[Any, NodeData]]


@dataclass
class Job:
    """One (source, output type, group, trainer): trains every node type of `data`."""

    key: int
    data: FitData
    trainer: Trainer
    stage: Path  # staging copy of <source>/<ot>/<FG>/
    machine_specs: Dict[int, Optional[Dict[str, Any]]] = field(default_factory=dict)
    # The job run right after this one in the same process (plan.py links a chain of them): the
    # DynPower job of the same set and trainer, whose models (or scores) come from this job's
    # (`from_carrier`, derive.py), or a curve-fit job whose fits this one makes (curve_memo.py).
    # Such a job is `carried` and never runs on its own.
    carries: Optional["Job"] = None
    carried: bool = False
    from_carrier: bool = False
    curve_cache: Optional[Path] = None  # folder of the run's curve-fit results (curve_memo.py)
    onnx: bool = False  # write a checked `<name>.onnx` beside each model (onnx_check.py; train's --onnx)
    # The scoring flags (scoring.py); None: no scores and no files beside the model folders
    scoring: Optional[ScoreSettings] = None

    @property
    def label(self) -> str:
        """`<source>/<output type>/<group>/<trainer>`."""
        return f"{self.data.label}/{self.trainer.name}"

    @property
    def cost(self) -> float:
        """Relative run time of this job and those it carries, for starting the slowest first; a carried
        job adds little (its model derived, or its fits made already)."""
        rows = max(self.data.rows, 1)
        own = (self.trainer.cost * rows + self.trainer.quadratic * rows * rows) * len(self.data.components)
        return own + (0.1 * self.carries.cost if self.carries is not None else 0.0)

    def chain(self) -> List["Job"]:
        """This job and the jobs it carries, in the order they run."""
        return [self] + (self.carries.chain() if self.carries is not None else [])

    def what(self, node_type: int) -> str:
        """How the summary names one model of this job."""
        return f"{self.data.label}/{self.trainer.name}_{node_type}"

    def __call__(self, context: WorkerContext) -> JobResult:
        """Run this job, then the job it carries (a pool.Task's call)."""
        return execute(self, context)


def execute(job: Job, context: WorkerContext) -> JobResult:
    """Fit and write every node type of one job, then of the jobs it carries, in order; a failure fails
    only that node type, a file that cannot be written stops the chain."""
    head, fitted = _timed(job, context, {})
    result, current = head, job
    while current.carries is not None and result.fatal is None:
        follower = current.carries
        result.carried, fitted = _timed(follower, context, fitted if follower.from_carrier else {})
        result, current = result.carried, follower
    return head


def _timed(job: Job, context: WorkerContext, base: Fitted) -> Tuple[JobResult, Fitted]:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = JobResult(key=job.key, label=job.label)
    with warnings.catch_warnings():
        # Library warnings (SGD convergence, curve-fit covariance) are not failures and would flood stderr.
        warnings.simplefilter("ignore")
        fitted = _run_nodes(job, context, result, base)
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    result.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result, fitted


def _run_nodes(job: Job, context: WorkerContext, result: JobResult, base: Fitted) -> Fitted:
    """`base`: the carrying job's models, from which this job's may be derived instead of fitted."""
    from .curve_memo import FileCurveCache
    from .derive import fit_or_derive
    from .model_files import write_model

    fitted: Fitted = {}
    use_cache = job.curve_cache is not None and job.trainer.model_class == CURVEFIT
    cache = FileCurveCache(job.curve_cache) if use_cache else None
    try:
        data = context.prepared.get(job.data)
    except Exception as failure:  # noqa: BLE001 - the data of this job cannot be used: each node type fails
        result.failures.extend(Failure(job.what(n), one_line(failure)) for n in job.data.node_types)
        return fitted
    for node in data.nodes:
        try:
            fit_started = time.perf_counter()
            model, derived = fit_or_derive(
                data, node, job.trainer, job.data.seed, cache, base.get(node.node_type), job.scoring
            )
            result.derived += derived
            fitted[node.node_type] = (model, node)
            write_started = time.perf_counter()
            result.fit_seconds += write_started - fit_started
            spec = job.machine_specs.get(node.node_type)
            staged = write_model(job.stage, model, data.output_type, spec, job.data.training_set.metadata)
            if job.scoring is not None:
                staged = _write_scores(job, data, node, model, staged)
            if job.onnx:
                _write_onnx(job, data, node, model, result)
            result.write_seconds += time.perf_counter() - write_started
            result.models.append(staged)
        except (OSError, WriteFailure) as failure:  # the disk, not the model: fatal for the whole run
            failure = (
                failure
                if isinstance(failure, WriteFailure)
                else WriteFailure.of(failure, failure.filename or job.stage)
            )
            result.fatal = (str(failure.path), failure.reason)
            return fitted
        except Exception as failure:  # noqa: BLE001 - any error fails this model only (train.md §8.1)
            result.failures.append(Failure(job.what(node.node_type), one_line(failure)))
    return fitted


def _write_scores(job: Job, data: Any, node: NodeData, model: Any, staged: Any) -> Any:
    """The model's scores and out-of-fold predictions beside its folder (score_files.py)."""
    from .score_files import write_scores
    from .scoring import out_of_fold, score

    assert job.scoring is not None
    document = score(data, node, model.held_out, job.scoring.floor).document(job.scoring.enabled)
    return write_scores(job.stage, staged, document, out_of_fold(data, node, model.held_out))


def _write_onnx(job: Job, data: Any, node: NodeData, model: Any, result: JobResult) -> None:
    """The model's ONNX graph beside its folder when ONNX Runtime reproduces it; else a summary line."""
    from .onnx_check import raw_rows, write_onnx

    outcome = write_onnx(job.stage, model, raw_rows(model, node, data.component_x))
    if outcome.reason is not None:
        result.onnx_skipped.append(Failure(job.what(node.node_type), outcome.reason))


def failed(job: Job, reason: str) -> JobResult:
    """Every node type of the job, and of the job it carries, failed for one reason."""
    result = JobResult(
        key=job.key, label=job.label, failures=[Failure(job.what(n), reason) for n in job.data.node_types]
    )
    if job.carries is not None:
        result.carried = failed(job.carries, reason)
    return result


def unfold(results: List[JobResult]) -> List[JobResult]:
    """Every job's result, carried jobs' included, in job-key order."""
    return sorted((r for result in results for r in result.flattened()), key=lambda r: r.key)


def submit(pool: ProcessPool, jobs: List[Job]) -> None:
    """Queue jobs in a pool; carried jobs travel with the job carrying them."""
    pool.submit(Task(job.key, job, job.cost) for job in jobs if not job.carried)


def run_jobs(
    jobs: List[Job], pool: Optional[ProcessPool] = None, on_result: Optional[Callable[[JobResult], None]] = None
) -> List[JobResult]:
    """Every job's result (carried jobs' too) in job-key order: in `pool`, where `jobs` were submitted
    already, or without one in this process. `on_result` gets each carrying job's result as it comes."""
    by_key = {job.key: job for job in jobs}

    def as_result(item: Any) -> JobResult:  # a worker that died or a job that did not pickle
        return failed(by_key[item.key], item.reason) if isinstance(item, TaskFailed) else item

    def report(item: Any) -> None:
        if on_result is not None:
            on_result(as_result(item))

    if pool is None:
        items = run_here((Task(j.key, j, j.cost) for j in jobs if not j.carried), WorkerContext(), report)
    else:
        items = pool.results(report)
    return unfold([as_result(item) for item in items])
