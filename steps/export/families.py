"""Which errors of a trained pipeline export judges models by (`--select-by`). Pure.

Train writes three families of errors per model: the held-out test split's (`mae`, `mape`, what
kepler-model-server wrote and kepler-model-db published), cross-validated ones (`cv_mae`, `cv_mape`:
out-of-fold, so they do not depend on one lucky split) and extrapolation ones (`extrapolation_mae`,
`extrapolation_mape`). The chosen family fills thresholds and "best model"; pipelines without its
columns (trained before cross-validation, or with `--cv-folds 0`) fall back to the split errors.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..common.domain import CV_COLUMNS, NEGLIGIBLE, OUTPUT_TYPES
from .select import ModelRow

SPLIT, CV, EXTRAPOLATION = "split", "cv", "extrapolation"
FAMILIES = (SPLIT, CV, EXTRAPOLATION)
DEFAULT_FAMILY = CV
NEGLIGIBLE_COLUMN = NEGLIGIBLE

# family -> (mae column, mape column)
COLUMNS = {
    SPLIT: ("mae", "mape"),
    CV: ("cv_mae", "cv_mape"),
    EXTRAPOLATION: ("extrapolation_mae", "extrapolation_mape"),
}
# Columns train appends after `feature_group`; exported CSVs keep those present, in this order.
EXTRA_COLUMNS = CV_COLUMNS + (NEGLIGIBLE,)

NAMES = {
    SPLIT: "train/test split error",
    CV: "cross-validated error",
    EXTRAPOLATION: "extrapolation error",
}
SHORT = {SPLIT: "split", CV: "cross-validated", EXTRAPOLATION: "extrapolation"}


@dataclass(frozen=True)
class Selection:
    """The family asked for, the one used (they differ after a fallback) and the folds of cross-validation."""

    requested: str
    used: str
    error_key: str = "mae"
    folds: Optional[int] = None

    @property
    def fell_back(self) -> bool:
        return self.requested != self.used

    @property
    def columns(self) -> Tuple[str, str]:
        return COLUMNS[self.used]

    def describe(self) -> str:
        """`cross-validated error (5 folds)`: the family as the reports name it."""
        name = NAMES[self.used]
        if self.used == CV and self.folds:
            name += f" ({self.folds} folds)"
        return name

    def sentence(self) -> str:
        """How models were chosen, for the pipeline page and (after `Selected by: `) the README."""
        fallback = ""
        if self.fell_back:
            fallback = (
                f", as this pipeline has no {NAMES[self.requested]} (--select-by {self.requested}; trained "
                "before cross-validation or with --cv-folds 0)"
            )
        return f"{self.describe()}{fallback}; best model: lowest {self.error_key.upper()}"

    def readme_line(self) -> str:
        """The pipeline README's line on how models were chosen."""
        return f"Selected by: {self.sentence()}"

    def version_note(self) -> Optional[str]:
        """What the version table's `models` cell adds after its link; None for the split errors (the
        cell stays as kepler-model-db has always had it)."""
        if self.used == SPLIT:
            return None
        return f"selected by {self.describe()}"

    def warning(self) -> str:
        """The one stderr line of a fallback."""
        first, second = COLUMNS[self.requested]
        return (
            f"--select-by {self.requested}: the model metadata CSVs have no {first}/{second} columns "
            "(trained before cross-validation or with --cv-folds 0); selecting by the split errors (mae, mape)"
        )


def parse_family(value: str, where: str) -> str:
    """`split`, `cv` or `extrapolation` (any case); ValueError with a one-line message otherwise."""
    family = str(value).strip().lower()
    if family not in FAMILIES:
        raise ValueError(f"{where} must be one of {', '.join(FAMILIES)}, not {value!r}")
    return family


def choose(requested: str, headers: Iterable[Sequence[str]], error_key: str, folds: Optional[int]) -> Selection:
    """The family to use: `requested` when every model table has its columns, else the split errors.

    One family for the whole pipeline, so that every report compares like with like.
    """
    wanted = COLUMNS[requested]
    complete = all(all(c in header for c in wanted) for header in headers)
    return Selection(requested, requested if complete else SPLIT, error_key, folds)


def parse_negligible(text: Optional[str]) -> Tuple[str, ...]:
    """`"['core']"` (train writes a Python list) -> ("core",); anything else -> ()."""
    if not text or not text.strip() or len(text) > 4096:  # a component list is short; never evaluate more
        return ()
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str) and v)


def folds_of(train_arguments: object) -> Optional[int]:
    """`cv_folds` of a pipeline's train_arguments.json when it is a positive whole number."""
    if not isinstance(train_arguments, dict):
        return None
    value = train_arguments.get("cv_folds")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def negligible_components(rows: Iterable[ModelRow]) -> Dict[Tuple[str, str], Dict[str, Tuple[str, ...]]]:
    """(source, feature group) -> component -> the output types in which an exported model of that group
    found the component negligible; sources in row order, groups sorted, output types in their order."""
    found: Dict[Tuple[str, str], Dict[str, List[str]]] = {}
    for row in rows:
        for component in row.negligible:
            types = found.setdefault((row.source, row.feature_group), {}).setdefault(component, [])
            if row.output_type not in types:
                types.append(row.output_type)
    sources = list(dict.fromkeys(source for source, _ in found))
    return {
        key: {c: tuple(t for t in OUTPUT_TYPES if t in types) for c, types in found[key].items()}
        for key in sorted(found, key=lambda k: (sources.index(k[0]), k[1]))
    }
