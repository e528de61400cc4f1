"""A model's scores and out-of-fold predictions, as files beside its folder (scoring.py's results).

`<name>.scores.json` holds the values of the metadata CSV columns after `feature_group`
(domain.CV_COLUMNS, domain.NEGLIGIBLE): they are not in the model's metadata.json, whose every key
kepler-model-server passes to its model class, and the model zip stays as it was. commit.py
reads them back when it rebuilds the CSVs, so a pipeline keeps the scores of models trained by
earlier runs. `<name>.cv.npz` holds the out-of-fold predictions export plots (scoring.out_of_fold).
Both are written by rename into the job's staging folder, like the model folder.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from ..common.atomic import atomic_path, write_json
from ..common.domain import CV_COLUMNS, NEGLIGIBLE

SCORES_SUFFIX = ".scores.json"
CV_SUFFIX = ".cv.npz"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest


def write_scores(
    group_stage: Path, staged: Any, document: Dict[str, Any], arrays: Optional[Dict[str, np.ndarray]]
) -> Any:
    """Write `<name>.scores.json` (and `<name>.cv.npz` when there are `arrays`) beside the staged model;
    the staged model (model_files.StagedModel) with the scores added to its summary row."""
    write_json(group_stage / f"{staged.name}{SCORES_SUFFIX}", document)
    if arrays is not None:
        with atomic_path(group_stage / f"{staged.name}{CV_SUFFIX}") as tmp:
            save_npz(tmp, arrays)
    # The summary's row (run.py) is the model's metadata; metadata.json itself is written already.
    return replace(staged, metadata={**staged.metadata, **document})


def save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """What `np.savez` writes (a zip of `<name>.npy`, read by `np.load`), with a fixed member date: the
    same arrays give the same bytes whenever and in whichever process they are written (train.md §10.1)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE)
            with archive.open(member, "w", force_zip64=True) as stream:
                np.lib.format.write_array(stream, np.asanyarray(array), allow_pickle=False)


def read_scores(group_dir: Path, name: str) -> Dict[str, Any]:
    """The metadata CSV cells of a model's scores file: CV_COLUMNS present in it, `negligible` as
    Python list text; {} when the model has none (trained before scoring, or unreadable)."""
    try:
        document = json.loads((group_dir / f"{name}{SCORES_SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    cells = {column: document[column] for column in CV_COLUMNS if column in document}
    if isinstance(document.get(NEGLIGIBLE), list):
        cells[NEGLIGIBLE] = str([str(c) for c in document[NEGLIGIBLE]])
    return cells
