"""One ONNX graph per trained model: raw features in, watts per component out. Pure.

The graph holds what kepler-model-server does with a model folder: MaxAbsScaler (a Div by
`scale_`), PolynomialFeatures where the trainer has it, then each component's estimator, so a
consumer feeds the raw feature vector and needs no pickle.

Interface (the same for every trainer):
  input   `features`     float64 [N, F], columns in the model's feature order (metadata `features`)
  outputs `<component>`  float64 [N, 1] in watts, one per component (metadata `components`)
One input tensor rather than one per feature: a Go (onnxruntime_go) or C caller then builds one
tensor from a row slice, and the feature order is the model's `features` list. Doubles: Kepler's
feature values are float64 (counters reach 1e10, beyond float32's 7 digits) and so are the
model's own scaled inputs. Estimators whose ONNX Runtime kernels are float32 only (trees, SVM:
the trainer table's `onnx_float32`) get the scaled features cast to float32, as scikit-learn's
trees and XGBoost cast them themselves; their outputs are cast back to float64.

Converters: skl2onnx (scikit-learn), onnxmltools (XGBoost), the `onnx` helpers (the curve fits).
They are imported when a model is converted (slow to import; train's fork server preloads them).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..common.domain import CURVEFIT, SCIKIT, XGBOOST
from .fit import FittedModel

INPUT = "features"
OPSET = 15  # the highest default-domain opset onnxmltools' XGBoost converter supports
ML_OPSET = 3  # ai.onnx.ml opset asked of skl2onnx (trees, SVM); XGBoost brings 1, the graph imports the highest
IR_VERSION = 8  # the IR of opset 15: loadable by ONNX Runtime >= 1.10
PRODUCER = "kepler-model-pipeline"


class Graph:
    """Nodes and initializers being collected into one graph, with unique tensor names."""

    def __init__(self) -> None:
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self.opsets: Dict[str, int] = {"": OPSET}

    def constant(self, name: str, value: Any, dtype: Any = np.float64) -> str:
        """A named initializer; its name."""
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: List[str], output: str, **attributes: Any) -> str:
        """A default-domain node with one output; the output's name."""
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def embed(self, sub: Any, prefix: str, source: str, output: str) -> str:
        """A converter's one-input, one-output model, its names prefixed, reading `source`, writing `output`."""
        from onnx import compose

        sub = compose.add_prefix(sub, prefix)
        self.node("Identity", [source], sub.graph.input[0].name)
        self.nodes.extend(sub.graph.node)
        self.initializers.extend(sub.graph.initializer)
        for opset in sub.opset_import:
            self.opsets[opset.domain] = max(self.opsets.get(opset.domain, 0), opset.version)
        return self.node("Identity", [sub.graph.output[0].name], output)


# -- estimators: each converter maps (estimator, input width, float32?) to a one-input, one-output model
def _tensor_type(width: int, float32: bool) -> Any:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return (FloatTensorType if float32 else DoubleTensorType)([None, width])


def _scikit(estimator: Any, width: int, float32: bool) -> Any:
    from skl2onnx import convert_sklearn

    opsets = {"": OPSET, "ai.onnx.ml": ML_OPSET}
    return convert_sklearn(estimator, initial_types=[("X", _tensor_type(width, float32))], target_opset=opsets)


def _xgboost(estimator: Any, width: int, float32: bool) -> Any:
    """onnxmltools reads the base score from the booster's configuration: a derived model's lowered one too."""
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    return convert_xgboost(estimator, initial_types=[("X", FloatTensorType([None, width]))], target_opset=OPSET)


CONVERTERS: Dict[str, Callable[[Any, int, bool], Any]] = {SCIKIT: _scikit, XGBOOST: _xgboost}


# -- curve fits (steps/train/curvefit.py): built from ONNX operators on the main feature's column
def _log_curve(g: Graph, x: str, p: str, params: List[float]) -> str:
    """a·ln(b·x + 1) + c."""
    a, b, c = (g.constant(f"{p}{n}", v) for n, v in zip("abc", params))
    inner = g.node("Add", [g.node("Mul", [x, b], f"{p}bx"), g.constant(f"{p}one", 1.0)], f"{p}bx1")
    return g.node("Add", [g.node("Mul", [g.node("Log", [inner], f"{p}ln"), a], f"{p}aln"), c], f"{p}y")


def _logistic_curve(g: Graph, x: str, p: str, params: List[float]) -> str:
    """A / (1 + e^(−k·(x − x0))) + off, as the curve writes it (Exp and Div, not Sigmoid)."""
    amplitude, x0, k, off = (g.constant(f"{p}{n}", v) for n, v in zip(("A", "x0", "k", "off"), params))
    exponent = g.node("Neg", [g.node("Mul", [g.node("Sub", [x, x0], f"{p}dx"), k], f"{p}kdx")], f"{p}z")
    denominator = g.node("Add", [g.constant(f"{p}one", 1.0), g.node("Exp", [exponent], f"{p}ez")], f"{p}den")
    return g.node("Add", [g.node("Div", [amplitude, denominator], f"{p}frac"), off], f"{p}y")


def _exponential_curve(g: Graph, x: str, p: str, params: List[float]) -> str:
    """a·e^(b·x) + c."""
    a, b, c = (g.constant(f"{p}{n}", v) for n, v in zip("abc", params))
    grown = g.node("Exp", [g.node("Mul", [x, b], f"{p}bx")], f"{p}ebx")
    return g.node("Add", [g.node("Mul", [grown, a], f"{p}aebx"), c], f"{p}y")


# By the trainer table's `curve` argument (steps/common/domain.py TRAINERS).
CURVES: Dict[str, Callable[[Graph, str, str, List[float]], str]] = {
    "log_func": _log_curve,
    "logi_func": _logistic_curve,
    "expo_func": _exponential_curve,
}


def _curve(g: Graph, model: FittedModel, estimator: Any, scaled: str, prefix: str) -> str:
    curve = CURVES[str(dict(model.trainer.estimator.arguments)["curve"])]
    index = g.constant(f"{prefix}index", [int(estimator.feature_index)], np.int64)
    column = g.node("Gather", [scaled, index], f"{prefix}x", axis=1)  # [N, 1]
    return curve(g, column, prefix, [float(v) for v in estimator.popt])


def _filled(g: Graph, like: str, value: float, name: str) -> str:
    """A float64 [N, 1] of `value`, N the rows of `like`."""
    from onnx import TensorProto, helper

    rows = g.node("Shape", [like], f"{name}/rows", end=1)
    shape = g.node("Concat", [rows, g.constant(f"{name}/one", [1], np.int64)], f"{name}/shape", axis=0)
    fill = helper.make_tensor(f"{name}/value", TensorProto.DOUBLE, [1], [float(value)])
    return g.node("ConstantOfShape", [shape], name, value=fill)


def _polynomial(g: Graph, poly: Any, scaled: str, output: str) -> str:
    """PolynomialFeatures of degree <= 2 by its `powers_`: each output column is a product of two columns of
    [1, x] (a power-1 term times the 1). skl2onnx's converter mixes float into a double graph."""
    powers = np.asarray(poly.powers_)
    if powers.sum(axis=1).max() > 2:
        raise ValueError(f"PolynomialFeatures of degree {int(powers.sum(axis=1).max())}: only degree <= 2 converts")
    pairs = []
    for row in powers:
        factors = [i + 1 for i, power in enumerate(row) for _ in range(int(power))]  # columns of [1, x]
        pairs.append((factors + [0, 0])[:2])
    left, right = (g.constant(f"{output}/{side}", [p[k] for p in pairs], np.int64) for k, side in enumerate("lr"))
    ones = _filled(g, scaled, 1.0, f"{output}/ones")
    padded = g.node("Concat", [ones, scaled], f"{output}/1x", axis=1)
    return g.node(
        "Mul",
        [
            g.node("Gather", [padded, left], f"{output}/left", axis=1),
            g.node("Gather", [padded, right], f"{output}/right", axis=1),
        ],
        output,
    )


def _constant_estimator(estimator: Any) -> Optional[float]:
    """The value of an estimator that ignores its input (an SVR without support vectors: a flat target),
    which skl2onnx cannot convert; None for the others."""
    vectors = getattr(estimator, "support_vectors_", None)
    if vectors is None or len(vectors):
        return None
    return float(np.asarray(estimator.predict(np.zeros((1, vectors.shape[1])))).ravel()[0])


# -- the model
def _component(g: Graph, model: FittedModel, component: str, scaled: str) -> str:
    """Append one component's estimator reading `scaled` (or its polynomial features); its float64 output."""
    from onnx import TensorProto

    estimator, prefix = model.estimators[component], f"{component}/"
    if model.trainer.model_class == CURVEFIT:
        return _curve(g, model, estimator, scaled, prefix)
    constant = _constant_estimator(estimator)
    if constant is not None:
        return _filled(g, scaled, constant, f"{prefix}y")
    source, width = scaled, len(model.features)
    if model.poly is not None:
        source, width = "poly", int(model.poly.n_output_features_)
    float32 = model.trainer.onnx_float32
    if float32:
        source = g.node("Cast", [source], f"{prefix}x32", to=TensorProto.FLOAT)
    sub = CONVERTERS[model.trainer.model_class](estimator, width, float32)
    predicted = g.embed(sub, prefix, source, f"{prefix}predicted")
    return g.node("Cast", [predicted], f"{prefix}y", to=TensorProto.DOUBLE) if float32 else predicted


def metadata(model: FittedModel) -> Dict[str, str]:
    """What a consumer needs to feed and read the graph, as the model's metadata_props."""
    return {
        "model_name": model.name,
        "trainer": model.trainer.name,
        "features": json.dumps(list(model.features)),
        "components": json.dumps(list(model.components)),
        "input": INPUT,
        "unit": "W",
    }


def to_onnx(model: FittedModel) -> Any:
    """The onnx.ModelProto of a fitted model: raw features [N, F] float64 -> per component [N, 1] float64 watts."""
    from onnx import TensorProto, helper

    g = Graph()
    width = len(model.features)
    scaled = g.node("Div", [INPUT, g.constant("scale", model.scaler.scale_)], "scaled")
    if model.poly is not None:
        _polynomial(g, model.poly, scaled, "poly")
    outputs = []
    for component in model.components:
        value = _component(g, model, component, scaled)
        g.node("Reshape", [value, g.constant(f"{component}/shape", [-1, 1], np.int64)], component)
        outputs.append(helper.make_tensor_value_info(component, TensorProto.DOUBLE, [None, 1]))
    features = ", ".join(model.features)
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.DOUBLE, [None, width])]
    inputs[0].doc_string = f"raw feature values, columns in this order: {features}"
    graph = helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    graph.doc_string = f"{model.name}: power in watts of {', '.join(model.components)} from {features}"
    opsets = [helper.make_opsetid(domain, version) for domain, version in sorted(g.opsets.items())]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name=PRODUCER, ir_version=IR_VERSION)
    proto.doc_string = graph.doc_string
    helper.set_model_props(proto, metadata(model))
    return proto
