"""The three curve fits of train.md §8.2, the cache of their results, and their kepler-model-server pickles.

Pure but for `dump`/`load`: a fit reads and writes no file; results other fits of the run made
come in as a `CurveCache` (train keeps one in files, steps/train/curve_memo.py).

kepler-model-server's sidecar unpickles `<component>.pkl` of a curve-fit model, so the pickle's
global references must be its names (workspace.md §3.13): the class
`kepler_model.train.trainer.curvefit.CurveFitModel` and the module-level functions
`kepler_model.train.trainer.<Trainer>.main.<func>` / `.p0_func`. We emit those names with a
pickler that knows the mapping (kepler-model-server is never imported) and map them back to
our own objects when reading such pickles.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np
from joblib.numpy_pickle import NumpyPickler, NumpyUnpickler

from ..common.domain import CURVEFIT, TRAINERS

MAXFEV = 30000


# -- fit functions (parameter order = CurveFit_Weights order)
def log_func(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """y = a·ln(b·x + 1) + c."""
    return a * np.log(b * x + 1) + c


def logi_func(x: np.ndarray, A: float, x0: float, k: float, off: float) -> np.ndarray:  # noqa: N803
    """y = A / (1 + e^(−k·(x − x0))) + off."""
    return A / (1 + np.exp(-k * (x - x0))) + off


def expo_func(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """y = a·e^(b·x) + c."""
    return a * np.exp(b * x) + c


# -- initial guesses (train.md §8.2)
def log_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    """a = max(y) − min(y), b = 1, c = min(y)."""
    return [float(y.max() - y.min()), 1.0, float(y.min())]


def logi_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    """A = max(y) − min(y), x0 = 0.5, k = ⌊A / std(y)⌋ (1 when std(y) = 0), off = min(y)."""
    amplitude = float(y.max() - y.min())
    spread = float(np.std(y))  # population std
    # A constant target has std 0: the reference computed 0/0 here and lost the whole model.
    k = 1.0 if spread == 0 else float(math.floor(amplitude / spread))
    return [amplitude, 0.5, k, float(y.min())]


def expo_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    """a = ⌊(max(y) − min(y)) / e⌋, b = 1, c = min(y) − a."""
    a = float(math.floor(float(y.max() - y.min()) / math.e))
    return [a, 1.0, float(y.min()) - a]


@dataclass(frozen=True)
class Curve:
    """A fit function and its initial guess, named as in kepler-model-server's trainer modules."""

    name: str  # the fit function's name there: log_func, logi_func, expo_func
    func: Callable[..., np.ndarray]
    p0: Callable[[np.ndarray, np.ndarray], List[float]]


# By the name the trainer table's curve-fit rows give (steps/common/domain.py TRAINERS, `curve`).
CURVES: Dict[str, Curve] = {
    c.name: c
    for c in (
        Curve("log_func", log_func, log_p0),
        Curve("logi_func", logi_func, logi_p0),
        Curve("expo_func", expo_func, expo_p0),
    )
}

CLASS_MODULE = "kepler_model.train.trainer.curvefit"


class CurveFitFailure(Exception):
    """The fit did not produce usable parameters; the message is the summary's one-line reason."""


def fit_curve(
    func: Callable[..., np.ndarray],
    p0_func: Callable[[np.ndarray, np.ndarray], List[float]],
    x: np.ndarray,
    y: np.ndarray,
) -> Tuple[np.ndarray, np.ndarray]:
    """popt and pcov of train.md §8.2; CurveFitFailure when the fit gives no usable parameters."""
    from scipy.optimize import curve_fit

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            popt, pcov = curve_fit(func, x, y, p0=p0_func(x, y), maxfev=MAXFEV)
        except RuntimeError as failure:
            if "maxfev" in str(failure) or "Optimal parameters not found" in str(failure):
                raise CurveFitFailure(f"curve fit did not converge within maxfev={MAXFEV}") from None
            raise CurveFitFailure(f"curve fit failed: {failure}") from None
        except (ValueError, FloatingPointError, ZeroDivisionError) as failure:
            raise CurveFitFailure(f"curve fit failed: {failure}") from None
    if not np.all(np.isfinite(popt)):
        raise CurveFitFailure("fitted parameters are not finite")
    return np.asarray(popt, dtype=float), np.asarray(pcov, dtype=float)


# -- results shared between fits
@dataclass(frozen=True)
class CurveOutcome:
    """A curve fit's result as a cache keeps it: parameters and covariance, or why the fit failed."""

    popt: Optional[np.ndarray] = None
    pcov: Optional[np.ndarray] = None
    failure: Optional[str] = None


class CurveCache(Protocol):
    """Curve-fit results by content (`curve_key`), handed to the fit by whoever runs it.

    A curve fit sees one column and the target, and feature groups share their main feature (the
    counter groups `cpu_instructions`, the BPF groups `bpf_cpu_time_ms`), so most groups repeat
    another group's fits exactly. A result is the same bits whether fitted or read, so models do
    not depend on which fit came first. train shares one between its worker processes
    (steps/train/curve_memo.py).

    The scoring fits (steps/train/scoring.py) use the same cache: a CV fold or the extrapolation
    split cuts the same rows (time order, the main feature's quantile) out of every group of a
    node type, so a fold's (x, y) of one group is that fold's of the groups sharing its main
    feature, and the key, being the content, is the fold's rows.
    """

    def get(self, key: str) -> Optional[CurveOutcome]:
        """The outcome stored under `key`, or None."""

    def put(self, key: str, outcome: CurveOutcome) -> None:
        """Store an outcome (the same key always gets the same outcome)."""


def curve_key(func: Callable[..., np.ndarray], x: np.ndarray, y: np.ndarray) -> str:
    """What a fit's outcome depends on: the curve, the fit settings, x and y."""
    digest = hashlib.sha256(func.__name__.encode() + b"|%d|%d|" % (x.size, MAXFEV))
    digest.update(np.ascontiguousarray(x, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=float).tobytes())
    return digest.hexdigest()


def fit_cached(
    func: Callable[..., np.ndarray],
    p0_func: Callable[[np.ndarray, np.ndarray], List[float]],
    x: np.ndarray,
    y: np.ndarray,
    cache: Optional[CurveCache],
) -> Tuple[np.ndarray, np.ndarray]:
    """`fit_curve`, or its outcome from `cache` when this very fit was made before (a failure too)."""
    if cache is None:
        return fit_curve(func, p0_func, x, y)
    key = curve_key(func, x, y)
    outcome = cache.get(key)
    if outcome is None:
        try:
            outcome = CurveOutcome(*fit_curve(func, p0_func, x, y))
        except CurveFitFailure as failure:
            outcome = CurveOutcome(failure=str(failure))
        cache.put(key, outcome)
    if outcome.failure is not None:
        raise CurveFitFailure(outcome.failure)
    return outcome.popt, outcome.pcov


class CurveFitModel:
    """One fitted curve on one column of the scaled features (state as kepler-model-server keeps it)."""

    def __init__(
        self, fit_func: Callable[..., np.ndarray], p0_func: Callable | None = None, feature_index: int | None = None
    ) -> None:
        # Attribute set and order are the pickled state kepler-model-server expects.
        self.fit_func = fit_func
        self.popt: np.ndarray | None = None
        self.pcov: np.ndarray | None = None
        self.feature_index = feature_index
        self.p0_func = p0_func

    def set_feature_index(self, index: int) -> None:
        """The column of X the curve reads (the group's main feature for the component)."""
        self.feature_index = int(index)

    def _column(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.asarray(X, dtype=float)[:, self.feature_index].ravel()

    def fit(self, X: Any, y: Any, cache: Optional[CurveCache] = None) -> "CurveFitModel":  # noqa: N803
        """Fit on the feature column; `cache` (not part of the model) may hold this very fit already."""
        x = self._column(X)
        self.popt, self.pcov = fit_cached(self.fit_func, self.p0_func, x, np.asarray(y, dtype=float).ravel(), cache)
        return self

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """The curve at the feature column (zeros before fitting)."""
        if self.popt is None:
            return np.zeros(len(X))
        with np.errstate(all="ignore"):
            return np.asarray(self.fit_func(self._column(X), *self.popt), dtype=float)


def curve_model(curve: str) -> CurveFitModel:
    """An unfitted model of the named curve (the estimator of a curve-fit row of the trainer table)."""
    return CurveFitModel(CURVES[curve].func, CURVES[curve].p0)


# -- pickling under kepler-model-server's names
def _global_names() -> Dict[Any, Tuple[str, str]]:
    """Our curve-fit objects -> (module, name) in kepler-model-server, whose trainer module holds its curve."""
    names: Dict[Any, Tuple[str, str]] = {CurveFitModel: (CLASS_MODULE, "CurveFitModel")}
    for trainer in TRAINERS.values():
        if trainer.model_class == CURVEFIT:
            curve = CURVES[dict(trainer.estimator.arguments)["curve"]]
            module = f"kepler_model.train.trainer.{trainer.name}.main"
            names[curve.func] = (module, curve.name)
            names[curve.p0] = (module, "p0_func")
    return names


GLOBAL_NAMES = _global_names()
LOCAL_OBJECTS: Dict[Tuple[str, str], Any] = {name: obj for obj, name in GLOBAL_NAMES.items()}


class KeplerModelPickler(NumpyPickler):
    """joblib's pickler, writing our curve-fit objects under kepler-model-server's global names.

    Also used for every other model pickle: plain dtypes are replaced by numpy's canonical
    instances, so the bytes do not depend on whether an array crossed a process boundary (an
    unpickled dtype is a copy, which changes the pickle memo and hence the file).
    """

    def save(self, obj: Any, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if isinstance(obj, np.dtype) and obj.fields is None and obj.subdtype is None and obj.metadata is None:
            canonical = np.dtype(obj.str)
            if canonical == obj:
                obj = canonical
        super().save(obj, *args, **kwargs)

    def save_global(self, obj: Any, name: str | None = None) -> None:  # type: ignore[override]
        try:
            target = GLOBAL_NAMES.get(obj)
        except TypeError:  # unhashable
            target = None
        if target is None:
            super().save_global(obj, name)
            return
        module, qualname = target
        # GLOBAL works for every protocol and is what the standard pickler writes for old ones.
        self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + qualname.encode("utf-8") + b"\n")
        self.memoize(obj)

    # The pure-Python pickler dispatches functions straight to the base class's save_global.
    dispatch = dict(NumpyPickler.dispatch)
    dispatch[types.FunctionType] = save_global


class KeplerModelUnpickler(NumpyUnpickler):
    """joblib's unpickler, resolving kepler-model-server's curve-fit names to our objects."""

    def find_class(self, module: str, name: str) -> Any:  # type: ignore[override]
        local = LOCAL_OBJECTS.get((module, name))
        if local is not None:
            return local
        if module.startswith("kepler_model."):
            raise pickle.UnpicklingError(f"unknown kepler-model-server object {module}.{name}")
        return super().find_class(module, name)


def dump(obj: Any, path: Path) -> None:
    """joblib-compatible pickle of any model object (curve-fit objects under kepler-model-server names)."""
    with open(path, "wb") as handle:
        KeplerModelPickler(handle).dump(obj)


def load(path: Path) -> Any:
    """Read a model pickle written by us or by kepler-model-server (uncompressed joblib)."""
    with open(path, "rb") as handle:
        return KeplerModelUnpickler(str(path), handle, True).load()


def parameters(model: CurveFitModel) -> Sequence[float]:
    """The fitted parameters in CurveFit_Weights order (train.md §8.2)."""
    return [float(v) for v in (model.popt if model.popt is not None else [])]
