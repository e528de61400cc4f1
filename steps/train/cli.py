"""`kepler-model train`: flags of train.md §1, checked before anything is read or written (exit 2).

A thin layer: it resolves flags against the environment into TrainOptions and hands them to
run.train, which does the work.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from .. import DEFAULT_PIPELINE_NAME
from ..common import flags
from ..common.config import Environment, is_set, resolve
from ..common.console import Console
from ..common.domain import (
    DEFAULT_ENERGY_SOURCE,
    ENERGY_SOURCES,
    EXTRACTORS,
    ISOLATORS,
    METRIC_GENERATIONS,
    MODEL_GENERATIONS,
    TRAINER_NAMES,
)
from ..common.errors import UsageError
from ..common.flags import StepArgumentParser, bool_flag, parse_bool, split_list
from ..common.names import check_flag_name, check_flag_names, check_pipeline_flag
from ..common.workspace import Workspace, plain_name
from .options import DEFAULT_CV_FOLDS, DEFAULT_EXTRAPOLATION_TOP, DEFAULT_MAPE_FLOOR, DEFAULT_MAX_FIT_ROWS
from .vm_map import vm_flags

if TYPE_CHECKING:
    from .options import TrainOptions

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def build_parser() -> StepArgumentParser:
    """train's flags; those other commands share come from steps/common/flags.py."""
    parser = StepArgumentParser(
        prog="kepler-model train",
        description="Train power models from query JSON files into MODEL_PATH/<pipeline> "
        "(kepler-model-server's pipeline layout). MODEL_PATH defaults to the data path.",
    )
    add = parser.add_argument
    flags.DATA_PATH.add(parser, "must exist")
    flags.INPUT.add(parser, "query JSON names in the workspace, comma list, .json optional; required")
    flags.PIPELINE_NAME.add(
        parser,
        f"default {DEFAULT_PIPELINE_NAME}, {MODEL_GENERATIONS['0.10'].default_pipeline} for Kepler >= 0.10 inputs",
    )
    flags.ID.add(parser)
    flags.MACHINE_SPEC.add(parser, "used instead of machine_spec/<id>.json")
    add(
        "-e",
        "--energy-source",
        help=f"energy sources, comma list of {', '.join(ENERGY_SOURCES)} (default {DEFAULT_ENERGY_SOURCE})",
    )
    add("--extractor", help=f"{' or '.join(EXTRACTORS)} (default default)")
    add(
        "--isolator",
        help=f"{', '.join(ISOLATORS)} (default min; active, Kepler's active energy, for Kepler >= 0.10 inputs)",
    )
    add("--profile", help="idle query JSON name; required by --isolator profile")
    add("--target-hints", help="container-name hints of the target workload (--isolator trainer)")
    add("--bg-hints", help="container-name hints of background containers (--isolator trainer)")
    add("--abs-pipeline-name", help="pipeline whose AbsPower models the trainer isolator uses; required by it")
    add("--abs-trainers", help="default (the ten trainers), none, or a comma list of trainer names")
    add("--dyn-trainers", help="default (the ten trainers), none, or a comma list of trainer names")
    flags.THIRDPARTY_METRICS.add(parser, "they form the ThirdParty group (env PROM_THIRDPARTY_METRICS)", nargs="*")
    bool_flag(parser, "--vm-train", help="train on VM/process metrics (Kepler >= 0.10: set by --vm-map)")
    flags.VM_MAP.add(parser)
    flags.VM_TARGET.add(parser, "with --vm-map")
    add("--seed", help="random seed, integer >= 0 (env TRAIN_SEED, default 0)")
    add("--jobs", help="trainer processes at once, >= 1 (env TRAIN_JOBS, default the CPUs this process may use)")
    add(
        "--metric-generation",
        help=f"Kepler metric generation: {', '.join(METRIC_GENERATIONS)} (env KEPLER_METRIC_GENERATION, default auto)",
    )
    add(
        "--cv-folds",
        help="time-block cross-validation folds, >= 2, or 0: no CV or extrapolation error (env CV_FOLDS, default 5)",
    )
    add(
        "--extrapolation-top",
        help="fraction of rows, by main feature, held out for the extrapolation error, in (0, 0.5] "
        "(env EXTRAPOLATION_TOP, default 0.2)",
    )
    add("--mape-floor", help="watts; labels below it enter no MAPE, >= 0 (env MAPE_FLOOR, default 0.5)")
    add(
        "--max-fit-rows",
        help="rows a fit sees at most: larger sets are fitted on a seeded sample and scored on all their "
        f"held-out rows; 0: every row (env TRAIN_MAX_FIT_ROWS, default {DEFAULT_MAX_FIT_ROWS})",
    )
    bool_flag(
        parser,
        "--onnx",
        help="also write each model as <model>.onnx, checked with ONNX Runtime against the model (env TRAIN_ONNX)",
        default=True,
    )
    add("--no-onnx", dest="onnx", action="store_const", const="false", help="same as --onnx=false")
    return parser


def available_cpus(affinity: Optional[int] = None, cpu_max: Optional[str] = None) -> int:
    """CPUs this process may use: the affinity mask, capped by the cgroup v2 cpu.max quota; >= 1."""
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            affinity = os.cpu_count() or 1
    if cpu_max is None:
        try:
            cpu_max = CGROUP_CPU_MAX.read_text()
        except OSError:
            cpu_max = ""
    count = affinity
    parts = cpu_max.split()
    if len(parts) == 2 and parts[0] != "max":
        try:
            quota, period = float(parts[0]), float(parts[1])
            if quota > 0 and period > 0:
                count = min(count, math.ceil(quota / period))
        except ValueError:
            pass
    return max(1, int(count))


def _trainer_list(value: Optional[str], flag: str) -> List[str]:
    items = split_list(value) if is_set(value) else ["default"]
    if items == ["default"]:
        return list(TRAINER_NAMES)
    if items == ["none"]:
        return []
    unknown = [i for i in items if i not in TRAINER_NAMES]
    if unknown:
        raise UsageError(
            f"{flag}: unknown trainer {', '.join(map(repr, unknown))}; choose default, none or "
            f"from: {', '.join(TRAINER_NAMES)}"
        )
    return list(dict.fromkeys(items))


def _integer(value: str, flag: str, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(f"{flag} must be an integer >= {minimum}, not {value!r}") from None
    if number < minimum:
        raise UsageError(f"{flag} must be an integer >= {minimum}, not {value!r}")
    return number


def _cv_folds(value: str) -> int:
    """0 (no scoring) or >= 2: one fold would leave nothing to train on."""
    try:
        folds = int(str(value).strip())
    except ValueError:
        folds = -1
    if folds == 0 or folds >= 2:
        return folds
    raise UsageError(f"--cv-folds must be 0 (off) or an integer >= 2, not {value!r}")


def _number(value: str, flag: str, accept: Callable[[float], bool], wanted: str) -> float:
    """A finite number that `accept`s, else a usage error saying what is `wanted`."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and accept(number)):
        raise UsageError(f"{flag} must be {wanted}, not {value!r}")
    return number


def _choice(value: Optional[str], flag: str, allowed: Any, default: Optional[str]) -> Optional[str]:
    """The flag's value if it is one of `allowed`, else a usage error; `default` when unset."""
    chosen = value.strip() if is_set(value) else default
    if chosen is not None and chosen not in allowed:
        raise UsageError(f"{flag}: unknown value {chosen!r}; choose one of {', '.join(allowed)}")
    return chosen


def _choice_or(value: Optional[str], flag: str, allowed: Any, default: str) -> str:
    """`_choice` of a flag that has a default."""
    return _choice(value, flag, allowed, default) or default


def _name(value: Optional[str], flag: str, check: Callable[[str, str], str] = check_flag_name) -> Optional[str]:
    """A flag naming a file or folder (pipeline, machine id): checked by `check`, or None when unset."""
    return check(value.strip(), flag) if is_set(value) else None


def _energy_sources(value: Optional[str]) -> List[str]:
    sources = split_list(value) if is_set(value) else [DEFAULT_ENERGY_SOURCE]
    unknown = [s for s in sources if s not in ENERGY_SOURCES]
    if unknown or not sources:
        raise UsageError(
            f"--energy-source: unknown source {', '.join(map(repr, unknown))}; choose from {', '.join(ENERGY_SOURCES)}"
        )
    return sources


def _isolator_inputs(args: Any, isolator: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """--profile and --abs-pipeline-name, each required by its isolator."""
    profile = check_flag_name(plain_name(args.profile.strip()), "--profile") if is_set(args.profile) else None
    if isolator == "profile" and not profile:
        raise UsageError("--isolator profile needs --profile <idle query JSON name>")
    abs_pipeline = _name(args.abs_pipeline_name, "--abs-pipeline-name", check_pipeline_flag)
    if isolator == "trainer" and not abs_pipeline:
        raise UsageError("--isolator trainer needs --abs-pipeline-name <pipeline with AbsPower models>")
    return profile, abs_pipeline


def options_from_args(args: Any, env: Environment) -> "TrainOptions":
    """Every usage check of train.md §12 (exit 2), before any file is read or written."""
    from .options import TrainOptions

    inputs = check_flag_names([plain_name(i) for i in split_list(args.input)], "--input")
    if not inputs:
        raise UsageError("--input is required: the query JSON name(s) in the workspace, e.g. --input kepler_query")
    pipeline = _name(args.pipeline_name, "--pipeline-name", check_pipeline_flag)  # None: the generation's default
    machine_id = _name(args.id, "--id")
    sources = _energy_sources(args.energy_source)
    extractor = _choice_or(args.extractor, "--extractor", EXTRACTORS, "default")
    isolator = _choice(args.isolator, "--isolator", ISOLATORS, None)  # None: the generation's default
    abs_trainers = _trainer_list(args.abs_trainers, "--abs-trainers")
    dyn_trainers = _trainer_list(args.dyn_trainers, "--dyn-trainers")
    if not abs_trainers and not dyn_trainers:
        raise UsageError("--abs-trainers and --dyn-trainers are both none: nothing to train")
    profile, abs_pipeline = _isolator_inputs(args, isolator)
    thirdparty = (
        split_list(args.thirdparty_metrics)
        if args.thirdparty_metrics
        else split_list(env.get("PROM_THIRDPARTY_METRICS"))
    )
    seed = _integer(resolve(args.seed, env, "TRAIN_SEED", default="0"), "--seed", 0)
    jobs_text = resolve(args.jobs, env, "TRAIN_JOBS")
    jobs = _integer(jobs_text, "--jobs", 1) if jobs_text is not None else available_cpus()
    generation = _choice_or(
        resolve(args.metric_generation, env, "KEPLER_METRIC_GENERATION"),
        "--metric-generation",
        METRIC_GENERATIONS,
        "auto",
    )
    vm = vm_flags(args, env, isolator, generation, dyn_trainers)  # vm, vm_map, vm_target
    error_key = _choice_or(env.get("ERROR_KEY"), "ERROR_KEY", ("mae", "mape"), "mae")
    cv_folds = _cv_folds(resolve(args.cv_folds, env, "CV_FOLDS", default=str(DEFAULT_CV_FOLDS)))
    top = resolve(args.extrapolation_top, env, "EXTRAPOLATION_TOP", default=str(DEFAULT_EXTRAPOLATION_TOP))
    floor = resolve(args.mape_floor, env, "MAPE_FLOOR", default=str(DEFAULT_MAPE_FLOOR))
    max_rows = resolve(args.max_fit_rows, env, "TRAIN_MAX_FIT_ROWS", default=str(DEFAULT_MAX_FIT_ROWS))
    return TrainOptions(
        data_path_flag=args.data_path if is_set(args.data_path) else None,
        inputs=inputs,
        pipeline=pipeline,
        machine_id=machine_id,
        machine_spec=args.machine_spec.strip() if is_set(args.machine_spec) else None,
        sources=list(dict.fromkeys(sources)),
        extractor=extractor,
        isolator=isolator,
        profile=profile,
        target_hints=split_list(args.target_hints),
        bg_hints=split_list(args.bg_hints),
        abs_pipeline=abs_pipeline,
        abs_trainers=abs_trainers,
        dyn_trainers=dyn_trainers,
        thirdparty=thirdparty,
        **vm,
        seed=seed,
        jobs=jobs,
        generation=generation,
        error_key=error_key,
        vm_job_name=env.get("VM_JOB_NAME") or "vm",
        cpus=available_cpus(),
        cv_folds=cv_folds,
        extrapolation_top=_number(top, "--extrapolation-top", lambda v: 0 < v <= 0.5, "a fraction in (0, 0.5]"),
        mape_floor=_number(floor, "--mape-floor", lambda v: v >= 0, "a number of watts >= 0"),
        onnx=parse_bool(resolve(args.onnx, env, "TRAIN_ONNX", default="true"), "--onnx"),
        max_fit_rows=_integer(max_rows, "--max-fit-rows", 0),
    )


def run(args: Any, env: Environment, console: Console) -> int:
    """`kepler-model train`: the options checked, then the training (run.py)."""
    from .run import train

    options = options_from_args(args, env)
    workspace = Workspace.from_settings(options.data_path_flag, env)
    return train(options, workspace, console).exit_code
