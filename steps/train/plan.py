"""The run's jobs, built as training sets arrive from extraction (train.md §8.1, §10.1).

Jobs are keyed in set order, then trainer order, as if built at once, so results do not depend on
when a set arrived. A DynPower job whose model (or scores) may be derived from the AbsPower one
(derive.py) rides with the AbsPower job of its set and trainer; curve-fit jobs that make the same
fits ride one after another (`chain_shared_curve_fits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..common.domain import ABS_POWER, CURVEFIT, DYN_POWER, TRAINERS
from ..common.workspace import PipelineLayout
from .curve_memo import FOLDER as CURVE_MEMO
from .derive import may_ride
from .fit_data import FitData
from .jobs import Job
from .options import ScoreSettings
from .tables import TrainingSet


def machine_specs(index: Any) -> Dict[int, Optional[Dict[str, Any]]]:
    """Model metadata carries machine_spec when the entry has a processor and cores > 0."""
    specs: Dict[int, Optional[Dict[str, Any]]] = {}
    for node_type, entry in index.entries.items():
        attrs = dict(entry.attrs)
        known = bool(attrs.get("processor")) and float(attrs.get("cores") or 0) > 0
        specs[node_type] = attrs if known else None
    return specs


def pair_for_derivation(jobs: Sequence[Job], isolator: str, scored: bool = False) -> None:
    """Each DynPower job that may be derived (or, `scored`, whose scores may) rides with the AbsPower job
    of its set and trainer."""
    carriers = {
        (j.data.source, j.data.group.name, j.trainer.name): j
        for j in jobs
        if j.data.output_type == ABS_POWER and may_ride(j.trainer, isolator, scored)
    }
    for job in jobs:
        if job.data.output_type == DYN_POWER:
            carrier = carriers.get((job.data.source, job.data.group.name, job.trainer.name))
            if carrier is not None:
                carrier.carries, job.carried, job.from_carrier = job, True, True


def _curve_inputs(job: Job) -> Tuple[Any, ...]:
    """What a curve-fit job's fits read: its set's rows (source, output type, node types) and, per
    component, the main feature (the one column a curve sees)."""
    data, features = job.data, tuple(job.data.training_set.features)
    main = tuple(features[data.group.main_index(c, features)] if features else None for c in data.components)
    return (data.source, data.output_type, tuple(data.node_types), job.trainer.name, data.components, main)


def chain_shared_curve_fits(jobs: Sequence[Job]) -> None:
    """Curve-fit jobs whose fits are the same (feature groups sharing their main feature) run one after
    another in one process: the first makes the fits, the others read them (curve_memo.py). Run
    side by side, two workers missing the cache at once would both fit (measured: a third of one
    trainer's CPU on the 0.10 benchmark)."""
    tails: Dict[Tuple[Any, ...], Job] = {}
    for job in jobs:
        if job.carried or job.trainer.model_class != CURVEFIT:
            continue
        key = _curve_inputs(job)
        if key in tails:
            tail = tails[key]
            tail.carries, job.carried = job, True
        tails[key] = job.chain()[-1]


class JobPlan:
    """The jobs of a run, added set by set.

    The staging folder and the machine specs are taken at the first set: by then node types are
    resolved, and a run that fails before training creates nothing under MODEL_PATH.
    """

    def __init__(
        self,
        abs_trainers: Sequence[str],
        dyn_trainers: Sequence[str],
        isolator: str,
        seed: int,
        make_stage: Callable[[], Path],
        index: Any,
        in_workers: bool,
        scoring: Optional[ScoreSettings] = None,
        onnx: bool = False,
        max_fit_rows: int = 0,
    ) -> None:
        # make_stage: the folder of the run's staging area where the jobs write their models
        self.trainers = {ABS_POWER: list(abs_trainers), DYN_POWER: list(dyn_trainers)}
        self.isolator, self.seed, self.make_stage, self.index = isolator, seed, make_stage, index
        self.in_workers = in_workers  # a worker gets only the columns it fits on (FitData slim)
        self.scoring = scoring  # the scoring flags every job carries (scoring.py)
        self.onnx = onnx  # every model also as a checked ONNX graph (onnx_check.py)
        self.max_fit_rows = max_fit_rows  # a fit's rows at most (fit.py fit_rows)
        self.jobs: List[Job] = []
        self.stage_root: Optional[Path] = None
        self._specs: Dict[int, Optional[Dict[str, Any]]] = {}
        self._curve_jobs: List[Job] = []  # held back until every set is in (`finish`)

    def add(self, sets: Sequence[TrainingSet]) -> List[Job]:
        """The jobs of these sets (each set's trainers in order), paired for derivation; returned to be
        run now but for the curve-fit jobs, which wait for `finish` (later sets may share their fits)."""
        if sets and self.stage_root is None:
            self.stage_root = self.make_stage()
            self._specs = machine_specs(self.index)
        added: List[Job] = []
        for training_set in sets:
            data = FitData.of(training_set, self.seed, slim=self.in_workers, max_fit_rows=self.max_fit_rows)
            stage = PipelineLayout(self.stage_root).group_dir(data.source, data.output_type, data.group.name)
            for name in self.trainers[data.output_type]:
                job = Job(len(self.jobs) + len(added), data, TRAINERS[name], stage, self._specs)
                job.curve_cache = self.stage_root / CURVE_MEMO
                job.scoring = self.scoring
                job.onnx = self.onnx
                added.append(job)
        pair_for_derivation(added, self.isolator, self.scoring is not None and self.scoring.enabled)
        self.jobs.extend(added)
        self._curve_jobs.extend(j for j in added if j.trainer.model_class == CURVEFIT)
        return [j for j in added if j.trainer.model_class != CURVEFIT]

    def finish(self) -> List[Job]:
        """The curve-fit jobs held back by `add`, chained where they share their fits."""
        held, self._curve_jobs = self._curve_jobs, []
        chain_shared_curve_fits(held)
        return held
