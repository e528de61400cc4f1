"""The run's jobs, built as training sets arrive from extraction (train.md §8.1, §10.1).

Jobs are keyed in set order, then trainer order, as if built at once, so results do not depend on
when a set arrived. A DynPower job whose model may be derived from the AbsPower one (derive.py)
rides with the AbsPower job of its set and trainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..common.domain import ABS_POWER, DYN_POWER, TRAINERS
from ..common.workspace import PipelineLayout
from .curve_memo import FOLDER as CURVE_MEMO
from .derive import may_derive
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


def pair_for_derivation(jobs: Sequence[Job], isolator: str) -> None:
    """Each DynPower job that may be derived rides with the AbsPower job of its set and trainer."""
    carriers = {
        (j.data.source, j.data.group.name, j.trainer.name): j
        for j in jobs
        if j.data.output_type == ABS_POWER and may_derive(j.trainer, isolator)
    }
    for job in jobs:
        if job.data.output_type == DYN_POWER:
            carrier = carriers.get((job.data.source, job.data.group.name, job.trainer.name))
            if carrier is not None:
                carrier.carries, job.carried = job, True


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

    def add(self, sets: Sequence[TrainingSet]) -> List[Job]:
        """The jobs of these sets (each set's trainers in order), paired for derivation."""
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
        pair_for_derivation(added, self.isolator)
        self.jobs.extend(added)
        return added
