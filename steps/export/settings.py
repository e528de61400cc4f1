"""Export settings: flags and variables resolved and validated once, before any file is read.

Every check here is a usage error (exit 2); file problems come later, from the reader.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .. import VERSION_FOLDER
from ..common.config import Environment, is_set, resolve
from ..common.errors import UsageError
from ..common.flags import parse_bool, split_list
from ..common.names import check_flag_name, check_flag_names, check_name, check_pipeline_flag, resolve_name
from ..common.workspace import ModelDatabase, Workspace, plain_name
from .families import DEFAULT_FAMILY, parse_family
from .markdown import workload_name
from .select import ERROR_KEYS, Thresholds

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/sustainable-computing-io/kepler-model-db/main/models"
VERSION_VARIABLE = "MODEL_DB_VERSION"
SELECT_BY_VARIABLE = "EXPORT_SELECT_BY"
# GitHub account names: 1-39 letters, digits or '-', not starting with '-'.
PUBLISHER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")


@dataclass(frozen=True)
class ExportSettings:
    """Everything export needs to know, with defaults filled in."""

    workspace: Workspace
    pipeline: str
    database: ModelDatabase
    publisher: str
    benchmark: Optional[str]
    collect_date: Optional[str]
    inputs: Tuple[str, ...]
    make_zip: bool
    thresholds: Thresholds
    base_url: str
    error_key: str
    version_given: bool = False  # --version or MODEL_DB_VERSION set (a 0.10 pipeline refuses another folder)
    select_by: str = DEFAULT_FAMILY  # the error family models are judged by (families.py)


def _required(value: Optional[str], flag: str) -> str:
    if not is_set(value):
        raise UsageError(f"{flag} is required")
    return str(value).strip()


def threshold(flag_value: Optional[str], env: Environment, flag: str, variable: str, default: str) -> float:
    """A non-negative finite number from the flag or its variable; the message names where it came from."""
    value = resolve(flag_value, env, variable, default=default)
    where = flag if is_set(flag_value) else f"{variable} (default of {flag})"
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UsageError(f"{where} must be a number >= 0, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"{where} must be a number >= 0, not {value!r}")
    return number


def version_folder(value: str) -> str:
    """`v0.7` (kepler-model-server's `--version`); a bare `0.7` gets its `v`. `value` is a checked plain name."""
    return f"v{value}" if value[0].isdigit() else value


def _workloads(items: List[str]) -> List[str]:
    """--input items: each, and the workload (and window file `<name>.json`) it names, a plain name."""
    for item in check_flag_names(items, "--input"):
        check_name(workload_name(item), "--input", usage=True, hint=f"it names the workload of {item!r}")
    return items


def settings_from_args(args, env: Environment) -> ExportSettings:
    """Turn parsed flags plus the environment into settings, or raise UsageError."""
    pipeline = check_pipeline_flag(_required(args.pipeline_name, "-p/--pipeline-name"), "--pipeline-name")
    output = _required(args.output, "-o/--output")
    publisher = _required(args.publisher, "--publisher")
    if not PUBLISHER_PATTERN.fullmatch(publisher):
        raise UsageError(
            f"--publisher must be a GitHub account (1-39 letters, digits or '-', "
            f"not starting with '-'), not {publisher!r}"
        )
    collect_date = args.collect_date if is_set(args.collect_date) else None
    benchmark = args.benchmark.strip() if is_set(args.benchmark) else None
    if benchmark is not None:
        check_flag_name(plain_name(benchmark), "--benchmark")
    inputs = _workloads(split_list(args.input))
    if collect_date is None and benchmark is None:
        raise UsageError("give --benchmark (a time-window file) or --collect-date (free text)")
    if collect_date is not None and ("|" in collect_date or "\n" in collect_date or "\r" in collect_date):
        raise UsageError(
            f"--collect-date must not contain '|' or a line break (it goes into a Markdown table): {collect_date!r}"
        )
    make_zip = parse_bool(args.zip, "--zip") if args.zip is not None else False
    thresholds = Thresholds(
        mae=threshold(args.mae_threshold, env, "--mae-threshold", "EXPORT_MAE_THRESHOLD", "10"),
        mape=threshold(args.mape_threshold, env, "--mape-threshold", "EXPORT_MAPE_THRESHOLD", "20"),
        hard=threshold(args.hard_threshold, env, "--hard-threshold", "EXPORT_HARD_THRESHOLD", "100"),
    )
    error_key = (env.get("ERROR_KEY") or "mae").strip().lower()
    if error_key not in ERROR_KEYS:
        raise UsageError(f"ERROR_KEY must be one of {', '.join(ERROR_KEYS)}, not {error_key!r}")
    select_by = select_family(getattr(args, "select_by", None), env)
    base_url = str(resolve(args.base_url, env, "MODEL_DB_BASE_URL", default=DEFAULT_BASE_URL)).strip().rstrip("/")
    given = resolve_name(args.version, env, "--version", VERSION_VARIABLE)
    version = version_folder(str(given or VERSION_FOLDER))  # 0.10 pipelines go to v0.10 (export/generation.py)
    return ExportSettings(
        workspace=Workspace.from_settings(args.data_path, env),
        pipeline=pipeline,
        database=ModelDatabase(Path(output), version),
        publisher=publisher,
        benchmark=benchmark,
        collect_date=collect_date,
        inputs=tuple(inputs),
        make_zip=make_zip,
        thresholds=thresholds,
        base_url=base_url,
        error_key=error_key,
        version_given=given is not None,
        select_by=select_by,
    )


def select_family(flag_value: Optional[str], env: Environment) -> str:
    """--select-by, else EXPORT_SELECT_BY, else `cv`; a usage error names where a bad value came from."""
    value = resolve(flag_value, env, SELECT_BY_VARIABLE, default=DEFAULT_FAMILY)
    where = "--select-by" if is_set(flag_value) else SELECT_BY_VARIABLE
    try:
        return parse_family(str(value), where)
    except ValueError as failure:
        raise UsageError(str(failure)) from None
