"""The three curve fits of train.md §8.2 and their kepler-model-server-compatible pickles.

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
import os
import pickle
import tempfile
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from joblib.numpy_pickle import NumpyPickler, NumpyUnpickler

MAXFEV = 30000


# -- fit functions (parameter order = CurveFit_Weights order)
def log_func(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * np.log(b * x + 1) + c


def logi_func(x: np.ndarray, A: float, x0: float, k: float, off: float) -> np.ndarray:  # noqa: N803
    return A / (1 + np.exp(-k * (x - x0))) + off


def expo_func(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * np.exp(b * x) + c


# -- initial guesses (train.md §8.2)
def log_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    return [float(y.max() - y.min()), 1.0, float(y.min())]


def logi_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    amplitude = float(y.max() - y.min())
    spread = float(np.std(y))  # population std
    # A constant target has std 0: the reference computed 0/0 here and lost the whole model.
    k = 1.0 if spread == 0 else float(math.floor(amplitude / spread))
    return [amplitude, 0.5, k, float(y.min())]


def expo_p0(x: np.ndarray, y: np.ndarray) -> List[float]:
    a = float(math.floor(float(y.max() - y.min()) / math.e))
    return [a, 1.0, float(y.min()) - a]


@dataclass(frozen=True)
class Curve:
    trainer: str
    func: Callable[..., np.ndarray]
    p0: Callable[[np.ndarray, np.ndarray], List[float]]
    func_name: str  # name of the fit function in kepler-model-server's trainer module

    @property
    def module(self) -> str:
        return f"kepler_model.train.trainer.{self.trainer}.main"


CURVES: Dict[str, Curve] = {
    c.trainer: c
    for c in (
        Curve("LogarithmicRegressionTrainer", log_func, log_p0, "log_func"),
        Curve("LogisticRegressionTrainer", logi_func, logi_p0, "logi_func"),
        Curve("ExponentialRegressionTrainer", expo_func, expo_p0, "expo_func"),
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


class CurveMemo:
    """Curve-fit results by content (curve, x, y), shared by the worker processes of one run.

    A curve fit sees one column and the target, and feature groups share their main feature (the
    counter groups `cpu_instructions`, the BPF groups `bpf_cpu_time_ms`), so most groups repeat
    another group's fits exactly. The first process to fit a (curve, x, y) stores the result in
    `folder`, written to a temporary name and renamed; later fits read it. A result is the same
    bits whether fitted or read, so models do not depend on which process fitted first.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch(
        self,
        func: Callable[..., np.ndarray],
        x: np.ndarray,
        y: np.ndarray,
        fit: Callable[[], Tuple[np.ndarray, np.ndarray]],
    ) -> Tuple[np.ndarray, np.ndarray]:
        digest = hashlib.sha256(func.__name__.encode() + b"|%d|%d|" % (x.size, MAXFEV))
        digest.update(np.ascontiguousarray(x, dtype=float).tobytes())
        digest.update(np.ascontiguousarray(y, dtype=float).tobytes())
        path = self.folder / digest.hexdigest()
        try:
            with open(path, "rb") as handle:
                outcome = pickle.load(handle)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            try:
                outcome = ("fitted",) + fit()
            except CurveFitFailure as failure:
                outcome = ("failed", str(failure))
            self._store(path, outcome)
        if outcome[0] == "failed":
            raise CurveFitFailure(outcome[1])
        return outcome[1], outcome[2]

    def _store(self, path: Path, outcome: Tuple[Any, ...]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=".partial-", dir=self.folder)
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(outcome, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)


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

    @classmethod
    def for_curve(cls, curve: Curve) -> "CurveFitModel":
        return cls(curve.func, curve.p0)

    def set_feature_index(self, index: int) -> None:
        self.feature_index = int(index)

    def _column(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.asarray(X, dtype=float)[:, self.feature_index].ravel()

    def fit(self, X: Any, y: Any, memo: Optional[CurveMemo] = None) -> "CurveFitModel":  # noqa: N803
        """Fit on the feature column; `memo` (not part of the model) may hold this very fit already."""
        x = self._column(X)
        target = np.asarray(y, dtype=float).ravel()
        fit = lambda: fit_curve(self.fit_func, self.p0_func, x, target)  # noqa: E731
        self.popt, self.pcov = memo.fetch(self.fit_func, x, target, fit) if memo is not None else fit()
        return self

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        if self.popt is None:
            return np.zeros(len(X))
        with np.errstate(all="ignore"):
            return np.asarray(self.fit_func(self._column(X), *self.popt), dtype=float)


# -- pickling under kepler-model-server's names
GLOBAL_NAMES: Dict[Any, Tuple[str, str]] = {CurveFitModel: (CLASS_MODULE, "CurveFitModel")}
for _curve in CURVES.values():
    GLOBAL_NAMES[_curve.func] = (_curve.module, _curve.func_name)
    GLOBAL_NAMES[_curve.p0] = (_curve.module, "p0_func")
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
