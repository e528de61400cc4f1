"""The resolved flags of `kepler-model train` (train.md §1) and the record of them a pipeline keeps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional

from ..common.domain import MODEL_GENERATIONS
from ..common.workspace import Workspace

DEFAULT_CV_FOLDS = 5
DEFAULT_EXTRAPOLATION_TOP = 0.2
DEFAULT_MAPE_FLOOR = 0.5  # watts
# Rows a fit sees at most: a seeded sample of larger sets (fit.py `fit_rows`); 0: every row
DEFAULT_MAX_FIT_ROWS = 20000


@dataclass(frozen=True)
class ScoreSettings:
    """The scoring flags as every job carries them (steps/train/scoring.py).

    `folds` 0: no cross-validation and no extrapolation error (today's metadata columns and no
    out-of-fold predictions). `floor`: labels below it (watts) enter no MAPE.
    """

    folds: int = DEFAULT_CV_FOLDS
    top: float = DEFAULT_EXTRAPOLATION_TOP
    floor: float = DEFAULT_MAPE_FLOOR
    threads: int = 1  # a model's scoring fits run on this many threads (the machine's CPUs)

    @property
    def enabled(self) -> bool:
        """Whether CV and extrapolation errors are computed."""
        return self.folds > 0


@dataclass
class TrainOptions:
    """The resolved flags of train.md §1 (usage checks already passed)."""

    data_path_flag: Optional[str]
    inputs: List[str]
    pipeline: Optional[str]  # None: the default of the inputs' generation (`resolved`)
    machine_id: Optional[str]
    machine_spec: Optional[str]
    sources: List[str]
    extractor: str
    isolator: Optional[str]  # None: the default of the inputs' generation
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
    vm_map: Optional[str] = None  # VM models of Kepler >= 0.10 (kepler-010.md §4): the map's workspace name
    vm_target: Optional[str] = None  # with vm_map: vm or process (vm_map.VM_TARGETS)
    cv_folds: int = DEFAULT_CV_FOLDS
    extrapolation_top: float = DEFAULT_EXTRAPOLATION_TOP
    mape_floor: float = DEFAULT_MAPE_FLOOR
    onnx: bool = True  # each model also as a checked `<model>.onnx` (steps/train/onnx_check.py)
    max_fit_rows: int = DEFAULT_MAX_FIT_ROWS

    @property
    def scoring(self) -> ScoreSettings:
        """The scoring flags the jobs carry; with workers, a large table's scoring fits may use every CPU
        (scoring.py `_each`); `--jobs 1` keeps to one fit at a time."""
        threads = max(1, self.cpus) if self.jobs > 1 else 1
        return ScoreSettings(self.cv_folds, self.extrapolation_top, self.mape_floor, threads)

    @property
    def metric_type(self) -> str:
        return "vm_metrics" if self.vm else "bm_metrics"

    def resolved(self, generation: str) -> "TrainOptions":
        """These options with the defaults of the inputs' generation: std_v0.10 and `active` for 0.10."""
        defaults = MODEL_GENERATIONS[generation]
        return replace(
            self,
            pipeline=self.pipeline or defaults.default_pipeline,
            isolator=self.isolator or defaults.default_isolator,
            abs_trainers=[] if self.vm_map else self.abs_trainers,  # VM models: DynPower only (kepler-010.md §4)
        )


def train_arguments(options: TrainOptions, workspace: Workspace, generations: Dict[str, str]) -> Dict[str, Any]:
    """train_arguments.json (workspace.md §3.9): flag order, defaults filled in, lists as comma strings."""
    joined = lambda items: ",".join(items) if items else None  # noqa: E731
    detected = sorted(set(generations.values()))
    arguments = {
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
        "cv_folds": options.cv_folds,
        "extrapolation_top": options.extrapolation_top,
        "mape_floor": options.mape_floor,
        "max_fit_rows": options.max_fit_rows,
        "onnx": options.onnx,
    }
    if options.vm_map:  # VM models only: the file of a node-model run keeps the keys of workspace.md §3.9
        arguments.update(vm_map=options.vm_map, vm_target=options.vm_target)
    return arguments
