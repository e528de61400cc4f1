"""`kepler-model export`: flags only; the work is in run.py."""

from __future__ import annotations

from ..common.config import Environment
from ..common.console import Console
from ..common.flags import StepArgumentParser, bool_flag
from ..common.signals import Interrupted, mark_outcome
from .settings import DEFAULT_BASE_URL, VERSION_VARIABLE, settings_from_args


def build_parser() -> StepArgumentParser:
    parser = StepArgumentParser(
        prog="kepler-model export",
        description="Publish the models of a trained pipeline whose errors are under the thresholds into a "
        "kepler-model-db 'models' folder (<output>/<version>/<pipeline>), with reports and plots.",
    )
    parser.add_argument("-p", "--pipeline-name", help="pipeline under MODEL_PATH (required)")
    parser.add_argument("-o", "--output", help="kepler-model-db 'models' folder, created when missing (required)")
    parser.add_argument("--publisher", help="GitHub account of the publisher (required)")
    parser.add_argument("--benchmark", help="time-window file <data-path>/<name>.json whose start is the collect time")
    parser.add_argument("--collect-date", help="collect time as free text, e.g. 'February 2024'; wins over --benchmark")
    parser.add_argument("-i", "--input", help="workload names for the pipeline page, comma list")
    bool_flag(parser, "--zip", help="also write <output>/<version>/<pipeline>.zip")
    parser.add_argument("--data-path", help="folder of --benchmark and --input files (default: DATAPATH or /data)")
    parser.add_argument("--mae-threshold", help="MAE test in watts (default: EXPORT_MAE_THRESHOLD or 10)")
    parser.add_argument("--mape-threshold", help="MAPE test in percent (default: EXPORT_MAPE_THRESHOLD or 20)")
    parser.add_argument("--hard-threshold", help="cap on both MAE and MAPE (default: EXPORT_HARD_THRESHOLD or 100)")
    parser.add_argument("--base-url", help=f"base of report URLs (default: MODEL_DB_BASE_URL or {DEFAULT_BASE_URL})")
    parser.add_argument("--version", help=f"model-db version folder (default: {VERSION_VARIABLE} or v0.7)")
    parser.epilog = (
        "Environment: MODEL_PATH (trained pipelines, default: the data path), ERROR_KEY (mae or mape, "
        "orders models), CONFIG_PATH."
    )
    return parser


def run(args, env: Environment, console: Console) -> int:
    settings = settings_from_args(args, env)  # usage errors before the heavy imports
    try:
        from .run import export  # matplotlib only when exporting

        export(settings, console)
    except Interrupted as stop:
        mark_outcome(stop, f"{settings.database.pipeline(settings.pipeline).root} unchanged")
        raise
    return 0
