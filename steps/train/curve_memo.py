"""Curve-fit results shared by the worker processes of one run, as files (curvefit.CurveCache).

The first process to fit a (curve, x, y) stores the outcome in the run's staging folder, written
to a temporary name and renamed; later fits, in any process, read it. Two processes that miss at
once both fit and store the same bits, so which one wins does not matter.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .curvefit import CurveOutcome

FOLDER = ".curve-fits"  # in the staging root, discarded with it


class FileCurveCache:
    """A curvefit.CurveCache in `folder`: one pickled CurveOutcome per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def get(self, key: str) -> Optional[CurveOutcome]:
        """The stored outcome, or None when there is none yet (or only a partial one)."""
        try:
            with open(self.folder / key, "rb") as handle:
                outcome = pickle.load(handle)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return None
        return outcome

    def put(self, key: str, outcome: CurveOutcome) -> None:
        """Store atomically: a reader sees the whole outcome or none. OSError (a full disk) is the caller's."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=".partial-", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(outcome, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, self.folder / key)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
