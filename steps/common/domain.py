"""Domain tables of train.md §3: feature groups, energy sources and components, output types, trainers.

Each table lives here once; every other module looks names up instead of spelling them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .. import DEFAULT_PIPELINE_NAME, VERSION_FOLDER

# -- features (train.md §3.1)
COUNTER_FEATURES = ("cache_miss", "cpu_cycles", "cpu_instructions")
BPF_FEATURES = ("bpf_cpu_time_ms", "bpf_page_cache_hit")
IRQ_FEATURES = ("bpf_block_irq", "bpf_net_rx_irq", "bpf_net_tx_irq")
ACCELERATOR_FEATURES = ("accelerator_intel_qat",)
SYSTEM_FEATURES = ("node_info", "cpu_scaling_frequency_hertz")
WORKLOAD_FEATURES = COUNTER_FEATURES + BPF_FEATURES + IRQ_FEATURES
# Kepler 0.10 on (kepler-010.md §2.2, §3): CPU time keeps its 0.7 name; node values (never summed over containers)
CPU_TIME_FEATURE = "bpf_cpu_time_ms"
USAGE_RATIO_FEATURE = "cpu_usage_ratio"
OS_FEATURES = (
    "os_cpu_busy_ms",
    "os_context_switches",
    "os_interrupts",
    "os_page_faults",
    "os_major_page_faults",
    "os_memory_used_ratio",
    "os_load1",
    "os_procs_running",
)


@dataclass(frozen=True)
class FeatureGroup:
    """A named, fixed list of input features; `features` is already sorted (column order of X)."""

    name: str
    value: int
    features: Tuple[str, ...]
    main_feature: Optional[str]
    dram_main_feature: Optional[str]
    trainable: bool = True
    generations: Optional[Tuple[str, ...]] = None  # metric generations it is trained from; None: any

    def main_index(self, component: str, features: Optional[Tuple[str, ...]] = None) -> int:
        """Column of the curve-fit input: the main feature (dram has its own), else the first."""
        features = features or self.features
        wanted = self.dram_main_feature if component == "dram" else self.main_feature
        return features.index(wanted) if wanted in features else 0


BEFORE_010 = ("0.6", "0.7")  # the groups of train.md §3.1 each need a feature 0.10 lacks
FROM_010 = ("0.10",)  # published 0.7 models fix their lists: the new groups never change 0.6/0.7 runs


def _group(
    name: str,
    value: int,
    features: Tuple[str, ...],
    main: Optional[str],
    dram: Optional[str],
    trainable: bool = True,
    generations: Optional[Tuple[str, ...]] = BEFORE_010,
) -> FeatureGroup:
    return FeatureGroup(name, value, tuple(sorted(features)), main, dram, trainable, generations)


FEATURE_GROUPS: Dict[str, FeatureGroup] = {
    g.name: g
    for g in (
        _group("Full", 1, WORKLOAD_FEATURES + ACCELERATOR_FEATURES + SYSTEM_FEATURES, "cpu_instructions", "cache_miss"),
        _group("WorkloadOnly", 2, WORKLOAD_FEATURES + ACCELERATOR_FEATURES, "cpu_instructions", "cache_miss"),
        _group("CounterOnly", 3, COUNTER_FEATURES, "cpu_instructions", "cache_miss"),
        _group("BPFOnly", 4, BPF_FEATURES, "bpf_cpu_time_ms", "bpf_page_cache_hit"),
        _group("IRQOnly", 5, (), None, None, trainable=False),
        _group("CounterIRQCombined", 6, COUNTER_FEATURES + IRQ_FEATURES, "cpu_instructions", "cache_miss"),
        _group("Basic", 7, COUNTER_FEATURES + BPF_FEATURES, "cpu_instructions", "cache_miss"),
        _group("BPFIRQ", 8, BPF_FEATURES + IRQ_FEATURES, "bpf_cpu_time_ms", "bpf_page_cache_hit"),
        _group("AcceleratorOnly", 9, ACCELERATOR_FEATURES, "accelerator_intel_qat", "accelerator_intel_qat"),
        _group("ThirdParty", 10, (), None, None, generations=None),
        _group("CPUTimeOnly", 11, (CPU_TIME_FEATURE,), CPU_TIME_FEATURE, CPU_TIME_FEATURE, generations=FROM_010),
        _group(
            "CPUTimeUsage",
            12,
            (CPU_TIME_FEATURE, USAGE_RATIO_FEATURE),
            CPU_TIME_FEATURE,
            CPU_TIME_FEATURE,
            generations=FROM_010,
        ),
        _group("OSCounters", 13, OS_FEATURES, "os_cpu_busy_ms", "os_page_faults", generations=FROM_010),
    )
}

# Processing order of groups and of the "valid groups" list.
GROUP_ORDER = (
    "Full",
    "WorkloadOnly",
    "CounterOnly",
    "BPFOnly",
    "BPFIRQ",
    "CounterIRQCombined",
    "Basic",
    "AcceleratorOnly",
    "CPUTimeOnly",
    "CPUTimeUsage",
    "OSCounters",
    "ThirdParty",
)
NODE_VALUE_FEATURES = (USAGE_RATIO_FEATURE,) + OS_FEATURES  # one value per node: squeeze keeps, never sums


def feature_groups(thirdparty: Tuple[str, ...] = (), generation: Optional[str] = None) -> List[FeatureGroup]:
    """Trainable groups in processing order; third-party names join WorkloadOnly and form ThirdParty.

    With `generation`, only the groups trained from that metric generation.
    """
    groups = []
    for name in GROUP_ORDER:
        group = FEATURE_GROUPS[name]
        if generation is not None and group.generations is not None and generation not in group.generations:
            continue
        if name == "WorkloadOnly" and thirdparty:
            group = _group(
                name, group.value, group.features + tuple(thirdparty), group.main_feature, group.dram_main_feature
            )
        if name == "ThirdParty":
            if not thirdparty:
                continue
            ordered = tuple(sorted(thirdparty))
            group = FeatureGroup(name, group.value, ordered, ordered[0], ordered[0])
        groups.append(group)
    return groups


# -- energy sources (train.md §3.2)
@dataclass(frozen=True)
class EnergySource:
    """An energy source and its components, in the order of its power columns."""

    name: str
    components: Tuple[str, ...]
    unit_label: Optional[str]  # "package" when components are measured per package


ENERGY_SOURCES: Dict[str, EnergySource] = {
    s.name: s
    for s in (
        EnergySource("rapl-sysfs", ("package", "core", "uncore", "dram"), "package"),
        EnergySource("rapl-msr", ("package", "core", "uncore", "dram"), "package"),
        EnergySource("acpi", ("platform",), None),
        EnergySource("hmc", ("platform",), None),
        EnergySource("redfish", ("platform",), None),
        EnergySource("trained_power_model", ("package", "core", "uncore", "dram"), "package"),
    )
}
SOURCE_ORDER = tuple(ENERGY_SOURCES)  # rapl-sysfs, rapl-msr, acpi, hmc, redfish, trained_power_model
DEFAULT_ENERGY_SOURCE = "rapl-sysfs"

# -- output types (train.md §3.3)
OUTPUT_TYPES = {"AbsPower": 1, "DynPower": 2}
ABS_POWER, DYN_POWER = "AbsPower", "DynPower"

# -- trainers (train.md §3.4): one row per trainer, read by train (estimators, weights, derivation) and export
SCIKIT, XGBOOST, CURVEFIT = "scikit", "xgboost", "curvefit"  # model_class
WEIGHT_LINEAR, WEIGHT_CURVEFIT, WEIGHT_XGBOOST = "linear", "curvefit", "xgboost"  # weight.json kinds (§9.3)
# What absorbs a constant shift of the target in a fit, so that the DynPower model after the `min` or
# `none` isolator is the AbsPower model with its output lowered (steps/train/derive.py says how).
INTERCEPT, SVR_BIAS, INITIAL_CONSTANT, NEIGHBOUR_MEAN, BASE_SCORE = (
    "intercept",
    "bias",
    "initial constant",
    "neighbour mean",
    "base score",
)
SEED = "<seed>"  # an estimator argument given the run's --seed


@dataclass(frozen=True)
class Estimator:
    """How a trainer's estimator is built: a class or factory by `module:name`, and its keyword arguments.

    A reference, not an import: export and the query image read this table without scikit-learn
    or xgboost; train resolves it (steps/train/trainers.py). Arguments equal to SEED get --seed.
    """

    factory: str
    arguments: Tuple[Tuple[str, Any], ...] = ()


def _estimator(factory: str, **arguments: Any) -> Estimator:
    return Estimator(factory, tuple(arguments.items()))


@dataclass(frozen=True)
class Trainer:
    """One trainer: its name, model class, estimator, weight JSON, and what its fit absorbs.

    Hyper-parameters named by the spec are spelled here and nowhere else; every other one is the
    library default of the pinned scikit-learn 1.5.x / xgboost 2.1.x.
    """

    name: str
    model_class: str  # SCIKIT | XGBOOST | CURVEFIT
    estimator: Estimator  # built fresh for every (node type, component) fit
    weight: Optional[str] = None  # WEIGHT_* kind of its weight.json, None: no weight file
    published: bool = False  # export publishes its weight JSON (export.md §4.3)
    absorbs_shift: Optional[str] = None  # INTERCEPT ... BASE_SCORE, None: a DynPower model is always fitted
    polynomial: bool = False  # PolynomialFeatures(degree=2) before the estimator (poly_scaler.pkl)
    # The ONNX form of its estimator (steps/train/onnx_models.py) computes in float32: ONNX Runtime's
    # TreeEnsembleRegressor and SVMRegressor have no double kernels; the others run in double.
    onnx_float32: bool = False
    # A curve fit's optimum absorbs a shift of the target in its offset parameter, MINPACK's path does
    # not: its DynPower model is fitted afresh, its held-out predictions are the AbsPower fits' shifted
    # (steps/train/derive.py).
    scores_absorb_shift: bool = False
    # Relative CPU cost per row and component (measured, roughly 1e-5 s each), plus a per-row² term
    # for SVR, whose fit grows about quadratically; only used to start the slowest jobs first.
    cost: float = 1.0
    quadratic: float = 0.0

    @property
    def fe_files(self) -> Tuple[str, ...]:
        """The trainer's own transforms after the scaler (model metadata `fe_files`)."""
        return ("poly_scaler.pkl",) if self.polynomial else ()


# One thread for XGBoost, within the per-worker limit of train.md §10.1: the tables are small (thousands
# of rows), and on a busy machine OpenMP threads spin-wait, measured 10-20x slower with 2 threads. A
# fixed thread count also keeps the model bytes independent of --jobs.
TRAINERS: Dict[str, Trainer] = {
    t.name: t
    for t in (
        Trainer(
            "PolynomialRegressionTrainer",
            SCIKIT,
            _estimator("sklearn.linear_model:LinearRegression"),
            absorbs_shift=INTERCEPT,
            polynomial=True,
            cost=3,
        ),
        Trainer(
            "GradientBoostingRegressorTrainer",
            SCIKIT,
            _estimator(
                "sklearn.ensemble:GradientBoostingRegressor",
                n_estimators=100,
                max_depth=3,
                learning_rate=0.1,
                random_state=SEED,
            ),
            absorbs_shift=INITIAL_CONSTANT,
            cost=30,
            onnx_float32=True,
        ),
        Trainer(
            "KNeighborsRegressorTrainer",
            SCIKIT,
            _estimator("sklearn.neighbors:KNeighborsRegressor", n_neighbors=6),
            absorbs_shift=NEIGHBOUR_MEAN,
            cost=1,
        ),
        Trainer(
            "LinearRegressionTrainer",
            SCIKIT,
            _estimator("sklearn.linear_model:LinearRegression", positive=True),
            weight=WEIGHT_LINEAR,
            absorbs_shift=INTERCEPT,
            cost=0.5,
        ),
        Trainer(
            "SVRRegressorTrainer",
            SCIKIT,
            _estimator("sklearn.svm:SVR", C=1.0, epsilon=0.2),
            absorbs_shift=SVR_BIAS,
            cost=1,
            onnx_float32=True,
            quadratic=0.004,
        ),
        Trainer(
            "XgboostFitTrainer",
            XGBOOST,
            _estimator("xgboost:XGBRegressor", n_estimators=100, learning_rate=0.1, random_state=SEED, n_jobs=1),
            weight=WEIGHT_XGBOOST,
            absorbs_shift=BASE_SCORE,
            cost=15,
            onnx_float32=True,
        ),
        Trainer(
            "SGDRegressorTrainer",
            SCIKIT,
            _estimator("sklearn.linear_model:SGDRegressor", max_iter=1000, random_state=SEED),
            weight=WEIGHT_LINEAR,
            published=True,
            cost=4,
        ),
        # Curve fits (train.md §8.2): `curve` names the fit function, as kepler-model-server's trainer module does.
        Trainer(
            "LogarithmicRegressionTrainer",
            CURVEFIT,
            _estimator("steps.train.curvefit:curve_model", curve="log_func"),
            weight=WEIGHT_CURVEFIT,
            published=True,
            scores_absorb_shift=True,
            cost=6,
        ),
        Trainer(
            "LogisticRegressionTrainer",
            CURVEFIT,
            _estimator("steps.train.curvefit:curve_model", curve="logi_func"),
            weight=WEIGHT_CURVEFIT,
            published=True,
            scores_absorb_shift=True,
            cost=15,
        ),
        Trainer(
            "ExponentialRegressionTrainer",
            CURVEFIT,
            _estimator("steps.train.curvefit:curve_model", curve="expo_func"),
            weight=WEIGHT_CURVEFIT,
            published=True,
            scores_absorb_shift=True,
            cost=6,
        ),
    )
}
TRAINER_NAMES = tuple(TRAINERS)  # `default`: all ten, in this order

EXTRACTORS = ("default", "smooth")
# `active`: Kepler's own active energy counter as DynPower (kepler-010.md §2.1), 0.10 inputs only.
ISOLATORS = ("none", "min", "profile", "trainer", "active")
ACTIVE_ISOLATOR = "active"
METRIC_GENERATIONS = ("auto", "0.6", "0.7", "0.10")


@dataclass(frozen=True)
class ModelGeneration:
    """What varies with the metric generation a pipeline is trained from, besides metric names."""

    id: str
    default_pipeline: str  # --pipeline-name when not given
    default_isolator: str  # --isolator when not given
    version_folder: str  # export's folder in the model database
    curve_group: str  # the group whose local-best weights draw export's power curve (export.md §8)
    recorded: bool  # metadata.json files carry `kepler_generation` (0.6/0.7 files stay byte-identical)
    isolators: Tuple[str, ...] = ("none", "min", "profile", "trainer")


MODEL_GENERATIONS: Dict[str, ModelGeneration] = {
    g.id: g
    for g in (
        ModelGeneration("0.6", DEFAULT_PIPELINE_NAME, "min", VERSION_FOLDER, "BPFOnly", recorded=False),
        ModelGeneration("0.7", DEFAULT_PIPELINE_NAME, "min", VERSION_FOLDER, "BPFOnly", recorded=False),
        ModelGeneration(
            "0.10", "std_v0.10", ACTIVE_ISOLATOR, "v0.10", "CPUTimeOnly", recorded=True, isolators=ISOLATORS
        ),
    )
}
PRE_010_GENERATION = "0.7"  # what a pipeline without `kepler_generation` in its metadata.json was trained from


def model_name(trainer: str, node_type: int) -> str:
    """`<trainer>_<node type>`: a model's folder and file stem."""
    return f"{trainer}_{node_type}"


def split_model_name(name: str) -> Tuple[str, int]:
    """`SGDRegressorTrainer_0` -> ("SGDRegressorTrainer", 0); the node type follows the last `_`."""
    trainer, _, node = name.rpartition("_")
    return trainer, int(node)


# Every component, in power-column order: 0.10's `psys` zone is `platform`, after the others (kepler-010.md §2.1).
COMPONENT_ORDER = ("package", "core", "uncore", "dram", "platform")


def ordered_components(components: Iterable[str]) -> Tuple[str, ...]:
    """Known components in COMPONENT_ORDER, each once."""
    present = set(components)
    return tuple(c for c in COMPONENT_ORDER if c in present)


# Columns train appends to the model metadata CSV after `feature_group` (README, "Errors users can
# trust"): from the model's `<name>.scores.json` beside its folder, never from its metadata.json
# (kepler-model-server passes every key of that to its model class). CV_COLUMNS only when any model
# of the CSV was scored (--cv-folds > 0); NEGLIGIBLE always.
CV_COLUMNS = ("cv_mae", "cv_mae_std", "cv_mape", "cv_mape_std", "extrapolation_mae", "extrapolation_mape")
NEGLIGIBLE = "negligible"


def model_metadata_columns(source: str, components: Optional[Tuple[str, ...]] = None) -> Tuple[str, ...]:
    """Columns of `<source>_<ot>_model_metadata.csv` after the index (workspace.md §3.11).

    `components`: those of the pipeline's models when they are not the source's (0.10 zones).
    """
    components = components if components is not None else ENERGY_SOURCES[source].components
    return (
        (
            "model_name",
            "trainer",
            "model_class",
            "model_file",
            "features",
            "fe_files",
            "output_type",
            "mae",
            "mape",
            "node_type",
        )
        + tuple(f"{c}_mae" for c in components)
        + tuple(f"{c}_mape" for c in components)
        + ("feature_group",)
    )
